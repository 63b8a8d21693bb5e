//! The connection and its encryption, by the URL's `sslmode` (libpq's meanings):
//!
//! | sslmode | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | no |
//! | `prefer` (default) | when the server offers it | no |
//! | `require` | yes | only when `ca_file` is set (then as `verify-ca`) |
//! | `verify-ca` | yes | signed by `ca_file`, or by the system's authorities |
//! | `verify-full` | yes | as `verify-ca`, and issued for the host connected to |

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{FleetError, Result};
use crate::config::{FleetUrl, SslMode};

/// Connects with `pg` (the URL's settings and the password) as `url` asks.
pub(super) async fn connect(mut pg: tokio_postgres::Config, url: &FleetUrl, ca_file: Option<&Path>) -> Result<Client> {
    let failed = |message: String| FleetError::Connect { url: url.redacted().to_string(), message };
    let mode = match (url.sslmode, ca_file) {
        (SslMode::Require, Some(_)) => SslMode::VerifyCa,
        (mode, _) => mode,
    };
    // The client library negotiates TLS by its own mode; `disable` never uses the settings.
    pg.ssl_mode(match mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
    });
    let config = client_config(mode, ca_file).map_err(FleetError::Config)?;
    let (client, connection) =
        pg.connect(MakeRustlsConnect::new(config)).await.map_err(|e| failed(connect_message(&e)))?;
    tokio::spawn(connection);
    Ok(client)
}

/// The client library's message, with the TLS error behind it (a refused certificate says why).
fn connect_message(e: &tokio_postgres::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = s.source();
    }
    message
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS settings of `mode`.
fn client_config(mode: SslMode, ca_file: Option<&Path>) -> std::result::Result<ClientConfig, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let config = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require | SslMode::VerifyCa => {
            let roots = if mode == SslMode::VerifyCa { Some(Arc::new(roots(ca_file)?)) } else { None };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly { roots, provider: provider() }))
                .with_no_client_auth()
        }
        SslMode::VerifyFull => {
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(ca_file)?), provider())
                .build()
                .map_err(|e| format!("TLS: {e}"))?;
            builder.with_webpki_verifier(verifier).with_no_client_auth()
        }
    };
    Ok(config)
}

/// The authorities of `ca_file`, or the system's.
fn roots(ca_file: Option<&Path>) -> std::result::Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(file) => {
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| format!("[fleet] ca_file {}: cannot read its certificates: {e}", file.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "[fleet] ca_file {}: holds no certificate: give the PEM file of the authority that signed the \
                     database server's certificate",
                    file.display()
                ));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err("no certificate authorities found on this system: set [fleet] ca_file".into());
            }
        }
    }
    Ok(roots)
}

/// `prefer` and `require` (no roots: encryption without a check of whom it is with, libpq's
/// meaning) and `verify-ca` (the chain must lead to one of `roots`; the name in the certificate
/// is not compared with the host).
#[derive(Debug)]
struct ChainOnly {
    roots: Option<Arc<RootCertStore>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
