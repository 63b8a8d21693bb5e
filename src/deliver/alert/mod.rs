//! Delivering one alert to one channel: a webhook ([`webhook`]: JSON, Slack/Mattermost, ntfy,
//! Gotify) or an email with the `[email]` settings ([`mail`]), each rendered for its format
//! ([`render`]). [`send`] says what happened in the terms the outbox needs: delivered, worth
//! another try (and when), or refused for good.
//!
//! Nothing here keeps state or retries: the outbox in the store decides when to call [`send`]
//! again. A message may therefore arrive twice when the process dies between a delivery and its
//! commit; webhooks carry the alert's key (`Idempotency-Key`) so that a receiver can drop the
//! repeat.

pub mod mail;
pub mod render;
pub mod webhook;

use std::time::Duration;

use jiff::tz::TimeZone;

use crate::config::EmailConfig;
use crate::config::alerts::{ChannelConfig, ChannelKind};
use crate::model::alert::Alert;

/// What became of one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver accepted it (HTTP 2xx, SMTP 250): never send it again.
    Delivered,
    /// It failed in a way that may pass later (no connection, a timeout, HTTP 5xx, 408 or 429,
    /// an SMTP 4xx reply, a token or password file that cannot be read yet).
    Retry {
        /// How long the receiver asked to be left alone (`Retry-After`, at most
        /// [`webhook::MAX_RETRY_AFTER`]), if it said.
        after: Option<Duration>,
        /// What went wrong, one line, safe to show.
        error: String,
    },
    /// The receiver or the configuration refused it for good (HTTP 4xx other than 408 and 429, a
    /// redirect, SMTP 5xx, no recipient): sending it again would fail again.
    Failed {
        /// What went wrong, one line, safe to show.
        error: String,
    },
}

impl Outcome {
    /// The error, for a delivery that did not happen.
    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Delivered => None,
            Outcome::Retry { error, .. } | Outcome::Failed { error } => Some(error),
        }
    }
}

/// Sends `alert` through `channel` (emails with the `[email]` settings `email`), showing times
/// in `tz`. It blocks for at most the channel's `timeout` (webhooks) or `[email] timeout_secs`
/// per SMTP step. The error of the outcome is one line without control characters.
pub fn send(channel: &ChannelConfig, email: &EmailConfig, alert: &Alert, tz: &TimeZone) -> Outcome {
    let outcome = match channel.kind {
        ChannelKind::Webhook => webhook::send(channel, alert, tz),
        ChannelKind::Email => mail::send(email, alert, tz),
    };
    let clean = |e: String| render::guard(&e, false).into_owned();
    match outcome {
        Outcome::Delivered => Outcome::Delivered,
        Outcome::Retry { after, error } => Outcome::Retry { after, error: clean(error) },
        Outcome::Failed { error } => Outcome::Failed { error: clean(error) },
    }
}
