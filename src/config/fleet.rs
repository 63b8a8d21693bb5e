//! `[fleet]`: the shared PostgreSQL database that many servers ship their events to.
//!
//! The URL is a libpq connection URI. Its `sslmode` is taken out here, because the client library
//! knows only `disable`, `prefer` and `require`, and the verifying modes are what a fleet across
//! a network should use: the TLS setup (`store::postgres`) does the verifying itself. The
//! password never stays in what is shown: [`FleetUrl::redacted`] is what messages print.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// How the connection is encrypted and what is checked of the server, as libpq's `sslmode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text.
    Disable,
    /// TLS when the server offers it, plain text otherwise; the certificate is not checked
    /// (libpq's default).
    #[default]
    Prefer,
    /// TLS, without checking the certificate unless `ca_file` is set (then as `verify-ca`).
    Require,
    /// TLS, with a certificate signed by `ca_file` (or the system's authorities).
    VerifyCa,
    /// As `verify-ca`, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "prefer" | "allow" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The mode as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A checked fleet database URL.
#[derive(Clone)]
pub struct FleetUrl {
    /// The connection settings, `sslmode` aside.
    pub pg: tokio_postgres::Config,
    /// The `sslmode` asked for.
    pub sslmode: SslMode,
    /// The URL without its password, for messages.
    redacted: String,
}

impl std::fmt::Debug for FleetUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl FleetUrl {
    /// The URL as messages show it: scheme, user, host, port, database and `sslmode`, never a
    /// password.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Whether the URL itself carries a password (a secret in the configuration file).
    pub fn has_password(&self) -> bool {
        self.pg.get_password().is_some()
    }
}

impl FromStr for FleetUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<FleetUrl, String> {
        let url = url.trim();
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            return Err("expected a URL like postgresql://mls_ship@db.example.org:5432/mls?sslmode=verify-full".into());
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut sslmode = SslMode::default();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", value)) => {
                    sslmode = SslMode::parse(value).ok_or_else(|| {
                        "sslmode must be one of disable, prefer, require, verify-ca, verify-full".to_string()
                    })?;
                }
                _ => kept.push(pair),
            }
        }
        let without = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        // The client library's own message quotes no part of the URL; it is kept.
        let pg = tokio_postgres::Config::from_str(&without).map_err(|e| format!("not a usable PostgreSQL URL: {e}"))?;
        if pg.get_user().is_none() {
            return Err("the URL names no user: write it as postgresql://USER@HOST:PORT/DATABASE".into());
        }
        let redacted = redact(&pg, sslmode);
        Ok(FleetUrl { pg, sslmode, redacted })
    }
}

/// `postgresql://user@host:port/db?sslmode=…`, from the parsed settings (never the text, which
/// may hold a password).
fn redact(pg: &tokio_postgres::Config, sslmode: SslMode) -> String {
    use tokio_postgres::config::Host;
    let hosts: Vec<String> = pg
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => format!("({})", path.display()),
            };
            match pg.get_ports().get(i).or_else(|| pg.get_ports().first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    format!(
        "postgresql://{}@{}/{}?sslmode={}",
        pg.get_user().unwrap_or(""),
        hosts.join(","),
        pg.get_dbname().unwrap_or(""),
        sslmode.as_str()
    )
}

/// `[fleet]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// The database (default none: this server is not part of a fleet).
    #[serde(deserialize_with = "deserialize_url")]
    pub url: Option<FleetUrl>,
    /// File holding the password of the URL's user (trailing newline ignored).
    pub password_file: Option<PathBuf>,
    /// PEM file of the authorities that sign the server's certificate (default: the system's).
    pub ca_file: Option<PathBuf>,
    /// Events per shipment: one COPY and one transaction each.
    pub batch: usize,
}

impl Default for FleetConfig {
    fn default() -> FleetConfig {
        FleetConfig { url: None, password_file: None, ca_file: None, batch: 50_000 }
    }
}

fn deserialize_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FleetUrl>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

impl FleetConfig {
    /// The mistakes that only show when the keys are seen together: the key and why.
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.batch == 0 || self.batch > 1_000_000 {
            return Err(("fleet.batch", format!("{} events per shipment: use 1 to 1000000", self.batch)));
        }
        if let Some(url) = &self.url
            && url.has_password()
            && self.password_file.is_some()
        {
            return Err(("fleet.password_file", "the URL holds a password too: keep it in one place".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_taken_out_and_the_password_never_shown() {
        let url: FleetUrl =
            "postgresql://mls_ship:s3cret@db.example.org:5433/mls?sslmode=verify-full&connect_timeout=5"
                .parse()
                .unwrap();
        assert_eq!(url.sslmode, SslMode::VerifyFull);
        assert!(url.has_password());
        assert_eq!(url.redacted(), "postgresql://mls_ship@db.example.org:5433/mls?sslmode=verify-full");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(url.pg.get_connect_timeout(), Some(&std::time::Duration::from_secs(5)));
    }

    #[test]
    fn bad_urls_say_what_is_expected() {
        let err = |s: &str| s.parse::<FleetUrl>().unwrap_err();
        assert!(err("mysql://x@y/z").contains("postgresql://"));
        assert!(err("postgresql://u@h/d?sslmode=maybe").contains("verify-full"));
        assert!(err("postgresql://h/d").contains("no user"));
        let e = err("postgresql://u:pw@h/d?bogus=1");
        assert!(!e.contains("pw@"), "{e}");
    }
}
