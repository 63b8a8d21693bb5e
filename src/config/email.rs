//! `[email]`: how `report --send` delivers the report, kept apart from the rest of the
//! configuration because it is the largest section and only the delivery code reads it.

use std::path::PathBuf;

use lettre::message::Mailbox;
use serde::{Deserialize, Deserializer};

/// How `[email]` messages leave the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransport {
    /// SMTP to `smtp_host:smtp_port` (default).
    #[default]
    Smtp,
    /// Pipe to the local MTA's `sendmail` binary.
    Sendmail,
}

/// Encryption of the SMTP connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text (default; right for a local MTA on localhost).
    #[default]
    None,
    /// Plain connection upgraded with STARTTLS, which is then required.
    Starttls,
    /// Implicit TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// `[email]`: where `report --send` sends the report.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Recipients, `admin@example.org` or `Admin <admin@example.org>` (default none: `--send` is
    /// then an error).
    #[serde(deserialize_with = "deserialize_mailboxes")]
    pub to: Vec<Mailbox>,
    /// Sender address (default `maillogsentinel@<server_name>`).
    #[serde(deserialize_with = "deserialize_mailbox")]
    pub from: Option<Mailbox>,
    /// Put at the start of the subject (default `[MailLogSentinel]`).
    pub subject_prefix: String,
    /// `smtp` (default) or `sendmail`.
    pub transport: EmailTransport,
    /// SMTP server (default `localhost`).
    pub smtp_host: String,
    /// SMTP port (default 25 with `security = "none"`, 587 with `starttls`, 465 with `tls`).
    pub smtp_port: Option<u16>,
    /// `none` (default), `starttls` or `tls`.
    pub security: SmtpSecurity,
    /// SMTP AUTH user name (default: no AUTH).
    pub username: Option<String>,
    /// SMTP AUTH password, written in this file (prefer `password_file`, which can be made
    /// readable by the service user only).
    pub password: Option<String>,
    /// File holding the SMTP AUTH password (trailing newline ignored).
    pub password_file: Option<PathBuf>,
    /// PEM file of a CA to trust in addition to the system's (for a private or self-signed CA).
    pub ca_file: Option<PathBuf>,
    /// Check the server's certificate (default true; false accepts any certificate, which
    /// lets anyone on the path read the message and the password).
    pub tls_verify: bool,
    /// The `sendmail` binary for `transport = "sendmail"` (default `/usr/sbin/sendmail`).
    pub sendmail_path: PathBuf,
    /// Attach the period's intrusion rows as CSV (default true).
    pub attach_csv: bool,
    /// Gzip the CSV attachment when it is larger than this many bytes (default 1000000).
    pub gzip_over_bytes: u64,
    /// Seconds to wait for the SMTP server (default 60).
    pub timeout_secs: u64,
}

impl Default for EmailConfig {
    fn default() -> EmailConfig {
        EmailConfig {
            to: Vec::new(),
            from: None,
            subject_prefix: "[MailLogSentinel]".into(),
            transport: EmailTransport::Smtp,
            smtp_host: "localhost".into(),
            smtp_port: None,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            password_file: None,
            ca_file: None,
            tls_verify: true,
            sendmail_path: PathBuf::from("/usr/sbin/sendmail"),
            attach_csv: true,
            gzip_over_bytes: 1_000_000,
            timeout_secs: 60,
        }
    }
}

impl EmailConfig {
    /// The port to use: `smtp_port`, else the usual one for `security`.
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.security {
            SmtpSecurity::None => 25,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
        })
    }
}

/// Why an email address was refused.
#[derive(Debug, thiserror::Error)]
#[error("{text:?} is not an email address ({source}); write \"admin@example.org\" or \"Admin <admin@example.org>\"")]
pub struct AddressError {
    /// The text as given.
    pub text: String,
    /// What the address parser found wrong.
    pub source: lettre::address::AddressError,
}

/// Parses `addr@host` or `Name <addr@host>`.
pub fn parse_mailbox(text: &str) -> Result<Mailbox, AddressError> {
    text.trim().parse().map_err(|source| AddressError { text: text.to_string(), source })
}

fn deserialize_mailbox<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Mailbox>, D::Error> {
    let text = String::deserialize(d)?;
    parse_mailbox(&text).map(Some).map_err(serde::de::Error::custom)
}

fn deserialize_mailboxes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Mailbox>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts.iter().map(|t| parse_mailbox(t).map_err(serde::de::Error::custom)).collect()
}
