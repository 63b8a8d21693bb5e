//! SMTP delivery with lettre (rustls + ring): plain, STARTTLS (required) or implicit TLS, with
//! optional AUTH.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use super::DeliverError;
use crate::config::{EmailConfig, SmtpSecurity};

/// The AUTH password: `password`, else the first line of `password_file`.
pub fn password(cfg: &EmailConfig) -> Result<Option<String>, DeliverError> {
    if let Some(p) = &cfg.password {
        return Ok(Some(p.clone()));
    }
    let Some(path) = &cfg.password_file else { return Ok(None) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| DeliverError::Config(format!("password_file {}: {e}", path.display())))?;
    Ok(Some(text.lines().next().unwrap_or_default().to_string()))
}

fn tls_parameters(cfg: &EmailConfig) -> Result<TlsParameters, DeliverError> {
    let mut builder = TlsParameters::builder(cfg.smtp_host.clone());
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca).map_err(|e| DeliverError::Config(format!("ca_file {}: {e}", ca.display())))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| DeliverError::Config(format!("ca_file {}: not a PEM certificate: {e}", ca.display())))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .dangerous_accept_invalid_certs(!cfg.tls_verify)
        .build_rustls()
        .map_err(|e| DeliverError::Config(format!("TLS settings: {e}")))
}

/// Sends `message` through `smtp_host:smtp_port`.
pub fn send(cfg: &EmailConfig, message: &Message) -> Result<(), DeliverError> {
    let port = cfg.port();
    let tls = match cfg.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::Starttls => Tls::Required(tls_parameters(cfg)?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(cfg)?),
    };
    // `builder_dangerous` only means "no TLS preset": the TLS mode is set explicitly just above.
    let mut builder = SmtpTransport::builder_dangerous(&cfg.smtp_host)
        .port(port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(cfg.timeout_secs.max(1))));
    if let Some(user) = &cfg.username {
        let pass = password(cfg)?.ok_or_else(|| {
            DeliverError::Config("`username` is set but neither `password` nor `password_file` is".into())
        })?;
        builder = builder.credentials(Credentials::new(user.clone(), pass));
    }
    let timeout = cfg.timeout_secs.max(1);
    builder.build().send(message).map(|_| ()).map_err(|e| DeliverError::Smtp {
        host: cfg.smtp_host.clone(),
        port,
        message: if timed_out(&e) {
            format!("no reply: timed out after {timeout} s (timeout_secs in [email])")
        } else {
            e.to_string()
        },
        permanent: e.is_permanent(),
    })
}

/// True when `e` comes from a read or write that waited longer than the timeout: Linux reports
/// a socket timeout as `EAGAIN` ("Resource temporarily unavailable"), other systems as
/// `ETIMEDOUT`.
fn timed_out(e: &lettre::transport::smtp::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && matches!(io.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = s.source();
    }
    e.is_timeout()
}
