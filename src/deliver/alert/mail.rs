//! An alert by email: the `[email]` settings, sender and transports of `report --send`, one
//! `multipart/alternative` message (text and HTML), and what the server's answer means for the
//! outbox.

use jiff::tz::TimeZone;
use lettre::Message;
use lettre::message::MultiPart;

use super::Outcome;
use super::render;
use crate::config::EmailConfig;
use crate::deliver::{DeliverError, message_id, sender};
use crate::model::alert::Alert;

/// Sends `alert` to the `[email]` recipients; times in the text are shown in `tz`.
///
/// An SMTP 5xx reply is a permanent failure; anything else that fails (no connection, a
/// timeout, a 4xx reply, TLS, a `password_file` that cannot be read yet, sendmail) is worth
/// another try. A message that cannot be built (no recipient, a `from` that is not an address)
/// fails for good.
pub fn send(cfg: &EmailConfig, alert: &Alert, tz: &TimeZone) -> Outcome {
    let message = match message(cfg, alert, tz) {
        Ok(m) => m,
        Err(e) => return Outcome::Failed { error: e.to_string() },
    };
    match crate::deliver::send(cfg, &message) {
        Ok(()) => Outcome::Delivered,
        Err(e) if e.is_permanent() => Outcome::Failed { error: e.to_string() },
        Err(e) => Outcome::Retry { after: None, error: e.to_string() },
    }
}

/// The message: from `from` (else `maillogsentinel@SERVER`) to every `to`, with `Date`,
/// `Message-ID`, and the rendered subject, text and HTML.
pub fn message(cfg: &EmailConfig, alert: &Alert, tz: &TimeZone) -> Result<Message, DeliverError> {
    if cfg.to.is_empty() {
        return Err(DeliverError::Config("`to` is empty: list at least one recipient for email alerts".into()));
    }
    let body = render::email(&cfg.subject_prefix, alert, tz);
    let from = sender(cfg, &render::guard(&alert.server, false))?;
    let mut builder = Message::builder()
        .message_id(Some(message_id(&from)))
        .date_now()
        .from(from)
        .subject(body.subject)
        .user_agent(format!("maillogsentinel {}", env!("CARGO_PKG_VERSION")));
    for to in &cfg.to {
        builder = builder.to(to.clone());
    }
    builder
        .multipart(MultiPart::alternative_plain_html(body.text, body.html))
        .map_err(|e| DeliverError::Compose(e.to_string()))
}
