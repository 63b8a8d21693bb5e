//! Sending reports by email: composing the message ([`compose`]), handing it to SMTP
//! ([`smtp`]) or the local MTA ([`sendmail`]). Which periods were sent is kept in the store
//! ([`crate::store::sends`]), so that a failed or missed day is sent later instead of skipped.
//! [`alert`] sends one alert to one channel (a webhook, or email through the same transports);
//! [`outbox`] delivers the alerts the store queued, with retries.

pub mod alert;
pub mod outbox;
pub mod sendmail;
pub mod smtp;

use std::io::Write;

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};

use crate::config::{EmailConfig, EmailTransport};
use crate::report::Report;

/// Why a report could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// `[email]` is incomplete or wrong.
    #[error("[email] in the configuration: {0}")]
    Config(String),
    /// The message could not be built.
    #[error("cannot build the message: {0}")]
    Compose(String),
    /// The SMTP server refused or could not be reached; the text has its reply.
    #[error("SMTP {host}:{port}: {message}")]
    Smtp {
        /// Server.
        host: String,
        /// Port.
        port: u16,
        /// lettre's error, with the server's reply code and text when there was one.
        message: String,
        /// The server refused with a 5xx reply: sending the same message again will fail again.
        permanent: bool,
    },
    /// The sendmail binary failed.
    #[error("{path}: {message}")]
    Sendmail {
        /// The binary.
        path: String,
        /// Its error output or exit status.
        message: String,
    },
}

impl DeliverError {
    /// True when the server refused the message for good (an SMTP 5xx reply); everything else (a
    /// server that cannot be reached, a 4xx reply, a local problem) may pass on a later try.
    pub fn is_permanent(&self) -> bool {
        matches!(self, DeliverError::Smtp { permanent: true, .. })
    }
}

/// `[MailLogSentinel] mx1: 1,234 failed logins, 2 possible compromises (2026-11-23)`, with
/// `, auth backend errors` and `, may be incomplete` when the report warns of those.
pub fn subject(prefix: &str, r: &Report) -> String {
    let n = r.compromises.len();
    let mut s = format!(
        "{prefix} {}: {} failed login{}, {n} possible compromise{} ({})",
        r.server,
        crate::report::format::thousands(r.totals.failed_attempts),
        if r.totals.failed_attempts == 1 { "" } else { "s" },
        if n == 1 { "" } else { "s" },
        r.period.label
    );
    if r.backend_outages.events > 0 {
        s.push_str(", auth backend errors");
    }
    if r.last_scan.as_ref().is_some_and(|scan| !scan.warnings().is_empty()) {
        s.push_str(", may be incomplete");
    }
    s.trim_start().to_string()
}

/// The CSV attachment: the rows as is, or gzipped when larger than `gzip_over` bytes.
pub fn csv_attachment(
    rows: Vec<u8>,
    gzip_over: u64,
    label: &str,
) -> Result<(String, Vec<u8>, ContentType), DeliverError> {
    let name = format!("intrusions-{}.csv", label.replace([' ', ':', '–'], "_"));
    let csv_type = |t: &str| ContentType::parse(t).map_err(|e| DeliverError::Compose(e.to_string()));
    if rows.len() as u64 <= gzip_over {
        return Ok((name, rows, csv_type("text/csv; charset=utf-8")?));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&rows).and_then(|_| gz.try_finish()).map_err(|e| DeliverError::Compose(e.to_string()))?;
    let bytes = gz.finish().map_err(|e| DeliverError::Compose(e.to_string()))?;
    Ok((format!("{name}.gz"), bytes, csv_type("application/gzip")?))
}

/// The sender: `from`, else `maillogsentinel@<server_name>`.
pub(crate) fn sender(cfg: &EmailConfig, server: &str) -> Result<Mailbox, DeliverError> {
    if let Some(from) = &cfg.from {
        return Ok(from.clone());
    }
    let from = format!("maillogsentinel@{server}");
    from.parse().map_err(|e| DeliverError::Config(format!("from = {from:?} is not an address: {e}")))
}

/// A `Message-ID` unique to this message (time in nanoseconds, process id, a counter), in the
/// sender's domain: some smarthosts refuse mail without one, and spam filters score it down.
pub(crate) fn message_id(from: &Mailbox) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("<{nanos}.{}.{n}.maillogsentinel@{}>", std::process::id(), from.email.domain())
}

/// Builds the message: `multipart/mixed` of `multipart/alternative` (text, HTML) and, when
/// given, the CSV attachment, with `Date` and `Message-ID`. Without `from`, it is sent as
/// `maillogsentinel@host` (the `server_name` of the machine sending it).
pub fn compose(
    cfg: &EmailConfig,
    host: &str,
    report: &Report,
    text: String,
    html: String,
    csv: Option<(String, Vec<u8>, ContentType)>,
) -> Result<Message, DeliverError> {
    if cfg.to.is_empty() {
        return Err(DeliverError::Config("`to` is empty: list at least one recipient".into()));
    }
    let from = sender(cfg, host)?;
    let mut builder = Message::builder()
        .message_id(Some(message_id(&from)))
        .date_now()
        .from(from)
        .subject(subject(&cfg.subject_prefix, report))
        .user_agent(format!("maillogsentinel {}", report.version));
    for to in &cfg.to {
        builder = builder.to(to.clone());
    }
    let body = MultiPart::alternative_plain_html(text, html);
    let message = match csv {
        Some((name, bytes, content_type)) => builder
            .multipart(MultiPart::mixed().multipart(body).singlepart(Attachment::new(name).body(bytes, content_type))),
        None => builder.multipart(body),
    };
    message.map_err(|e| DeliverError::Compose(e.to_string()))
}

/// Sends `message` with the configured transport.
pub fn send(cfg: &EmailConfig, message: &Message) -> Result<(), DeliverError> {
    match cfg.transport {
        EmailTransport::Smtp => smtp::send(cfg, message),
        EmailTransport::Sendmail => sendmail::send(cfg, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_csv_is_attached_as_is_and_large_csv_gzipped() {
        let (name, bytes, _) = csv_attachment(b"a,b\n".to_vec(), 100, "2026-11-23").unwrap();
        assert_eq!((name.as_str(), bytes.as_slice()), ("intrusions-2026-11-23.csv", &b"a,b\n"[..]));
        let big = b"x,y\n".repeat(100);
        let (name, bytes, _) = csv_attachment(big.clone(), 100, "2026-11-23").unwrap();
        assert_eq!(name, "intrusions-2026-11-23.csv.gz");
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut back).unwrap();
        assert_eq!(back, big);
    }
}
