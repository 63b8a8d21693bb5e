//! An alert: what a rule found, as the outbox keeps it and every channel renders it.
//!
//! `alert/` builds alerts from the events of a commit and keeps them in the store's outbox as
//! JSON; `deliver/` renders one per channel format and sends it. The texts are those of the store
//! (usernames and host names already made visible by [`crate::text::visible`]), so they hold no
//! raw control characters; a renderer still escapes them for its format (JSON, HTML, Markdown).

use serde::{Deserialize, Serialize};

/// What kind of rule fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// Many failures from one subject within a window.
    Threshold,
    /// A successful login that looks like a guessed password.
    Compromise,
    /// An attempt on an account that exists only to be attacked.
    Honeypot,
    /// The authentication backend failed.
    Outage,
    /// `alerts test`: a message that only checks a channel.
    Test,
}

impl RuleKind {
    /// The name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Threshold => "threshold",
            RuleKind::Compromise => "compromise",
            RuleKind::Honeypot => "honeypot",
            RuleKind::Outage => "outage",
            RuleKind::Test => "test",
        }
    }
}

/// One alert message: a first alert names one subject; a digest sums up what fired during a quiet
/// period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// A key unique to this message, the same at every retry: receivers drop repeats by it
    /// (header `Idempotency-Key` and field `idempotency_key` of webhooks).
    pub key: String,
    /// The rule's name (`[[alerts.rule]] name`).
    pub rule: String,
    /// The rule's kind.
    pub kind: Option<RuleKind>,
    /// The server the logs are from (`server_name`).
    pub server: String,
    /// When the alert was made (Unix seconds).
    pub created: i64,
    /// A digest of what fired during a quiet period, rather than a first alert.
    pub digest: bool,
    /// For threshold rules: what a subject is (`ip`, `network`, `asn`, `account`), the count and
    /// the window (seconds) of the rule.
    pub per: Option<String>,
    /// See `per`.
    pub threshold: Option<u64>,
    /// See `per`.
    pub window_secs: Option<u64>,
    /// The subjects, most attempts first, at most [`Alert::SHOWN`] of them.
    pub subjects: Vec<Subject>,
    /// Subjects not listed in `subjects` ("… and 37 more").
    pub more_subjects: u64,
    /// Attempts (or backend errors, or logins) counted, over all subjects, listed or not.
    pub attempts: u64,
    /// The first and last event counted (Unix seconds).
    pub first_seen: i64,
    /// See `first_seen`.
    pub last_seen: i64,
}

impl Alert {
    /// Subjects listed in one message; the rest are counted in `more_subjects`.
    pub const SHOWN: usize = 20;
}

impl Subject {
    /// Distinct accounts counted per subject: a subject tried on a million accounts costs the
    /// memory of this many (messages say "20+").
    pub const ACCOUNTS_COUNTED: u64 = 20;
}

/// What an alert is about: an address, a network, an AS, an account, a login.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The subject as shown: `203.0.113.5`, `203.0.113.0/24`, `AS64500`, an account name, or
    /// (outage) the server.
    pub name: String,
    /// Attempts counted for it (backend errors for an outage, logins for a compromise).
    pub attempts: u64,
    /// First event counted (Unix seconds).
    pub first_seen: i64,
    /// Last event counted (Unix seconds).
    pub last_seen: i64,
    /// The addresses involved (for a network, an AS or an account), at most a few.
    pub ips: Vec<String>,
    /// The accounts tried, at most a few.
    pub accounts: Vec<String>,
    /// Distinct accounts tried (may exceed `accounts.len()`), counted up to
    /// [`Subject::ACCOUNTS_COUNTED`]: at that number there may be more.
    pub account_count: u64,
    /// The service (`smtp`, `imap`, …) of the last event.
    pub service: Option<String>,
    /// Country code of the (first) address.
    pub country: Option<String>,
    /// AS number of the (first) address.
    pub asn: Option<u32>,
    /// AS organisation.
    pub aso: Option<String>,
    /// Reverse DNS name (forward-confirmed) of the address, when known.
    pub hostname: Option<String>,
    /// Why a login looks like a compromise (`failed before`, `new country`).
    pub why: Vec<String>,
    /// Whether this subject had already fired in the quiet period (a digest adds its new
    /// attempts).
    pub again: bool,
}
