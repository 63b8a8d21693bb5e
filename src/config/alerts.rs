//! `[alerts]`, `[[alerts.channel]]` and `[[alerts.rule]]`: which events raise an alert, where it
//! goes, and how often a channel may speak.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::Duration;

/// `[alerts]` with its channels and rules.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// At most one message per rule and channel per quiet period; what fires meanwhile goes into
    /// a digest sent when it ends (default `15m`). Compromise alerts are never held back.
    pub quiet_period: Duration,
    /// A message not delivered after this long is given up and reported as dropped (default
    /// `24h`).
    pub give_up_after: Duration,
    /// Events older than this when they are stored raise no alert (default `1h`): a first scan of
    /// last month's logs, or a scan after a week off, fills the store without paging anyone.
    pub ignore_older_than: Duration,
    /// Where alerts go.
    #[serde(rename = "channel")]
    pub channels: Vec<ChannelConfig>,
    /// What raises an alert.
    #[serde(rename = "rule")]
    pub rules: Vec<RuleConfig>,
}

impl Default for AlertsConfig {
    fn default() -> AlertsConfig {
        AlertsConfig {
            quiet_period: Duration::from_secs(15 * 60),
            give_up_after: Duration::from_secs(86_400),
            ignore_older_than: Duration::from_secs(3600),
            channels: Vec::new(),
            rules: Vec::new(),
        }
    }
}

/// How a channel sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// An HTTP POST to `url`.
    Webhook,
    /// An email, with the `[email]` settings.
    Email,
}

/// The body a webhook posts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// Every field of the alert as JSON (default).
    #[default]
    Json,
    /// `{"text": ...}` for Slack and Mattermost incoming webhooks.
    Slack,
    /// ntfy: the message as the body, title, priority and tags as headers.
    Ntfy,
    /// Gotify: `{"title", "message", "priority"}`.
    Gotify,
}

impl WebhookFormat {
    /// The name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Ntfy => "ntfy",
            WebhookFormat::Gotify => "gotify",
        }
    }
}

/// `[[alerts.channel]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// What rules call it by.
    pub name: String,
    /// `webhook` or `email`.
    pub kind: ChannelKind,
    /// Webhook: where to POST (`http://` or `https://`).
    pub url: Option<String>,
    /// Webhook: the body's format.
    #[serde(default)]
    pub format: WebhookFormat,
    /// Webhook: extra HTTP headers (`{ Authorization = "Bearer ..." }`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Webhook: a file whose first line is a token, sent as `Authorization: Bearer TOKEN`
    /// (Gotify: `X-Gotify-Key: TOKEN`), so that the secret need not be in this file.
    pub token_file: Option<PathBuf>,
    /// Webhook: how long one delivery may take (default `10s`).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// What a threshold rule counts attempts of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    /// One address (default).
    #[default]
    Ip,
    /// A /24 (IPv4) or /64 (IPv6).
    Network,
    /// An autonomous system (needs the geo databases).
    Asn,
    /// One account, from any address.
    Account,
}

impl Per {
    /// The name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Per::Ip => "ip",
            Per::Network => "network",
            Per::Asn => "asn",
            Per::Account => "account",
        }
    }
}

/// What kind of events a rule looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKindConfig {
    /// `count` failures from one subject within `window`.
    Threshold,
    /// A successful login from an address that failed in the 7 days before, or from a country
    /// never seen for the account.
    Compromise,
    /// Any attempt on one of `usernames`.
    Honeypot,
    /// Authentication backend errors (`count` within `window`; default: the first).
    Outage,
}

/// `[[alerts.rule]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Its name, shown in messages and kept in the store.
    pub name: String,
    /// What it looks for.
    pub kind: RuleKindConfig,
    /// Threshold: what a subject is (default `ip`).
    #[serde(default)]
    pub per: Per,
    /// Threshold: failures that fire (default 20); outage: backend errors (default 1).
    pub count: Option<u64>,
    /// Threshold and outage: the span they are counted in (default `10m`).
    pub window: Option<Duration>,
    /// Honeypot: the trap accounts.
    #[serde(default)]
    pub usernames: Vec<String>,
    /// The channels it speaks on, by name.
    pub channels: Vec<String>,
}

impl RuleConfig {
    /// Events that fire the rule within its window.
    pub fn count(&self) -> u64 {
        self.count.unwrap_or(match self.kind {
            RuleKindConfig::Threshold => 20,
            _ => 1,
        })
    }

    /// The span events are counted in.
    pub fn window(&self) -> Duration {
        self.window.unwrap_or(Duration::from_secs(600))
    }
}

impl AlertsConfig {
    /// Whether any rule is configured (without one, nothing is evaluated).
    pub fn enabled(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The channel called `name`.
    pub fn channel(&self, name: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// Checks what serde cannot: unique names, known channels, the keys each kind needs.
    /// Returns the key at fault and what to do.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let mut names = std::collections::BTreeSet::new();
        for c in &self.channels {
            if c.name.trim().is_empty() {
                return Err(("alerts.channel.name", "a channel needs a name".into()));
            }
            if !names.insert(c.name.as_str()) {
                return Err(("alerts.channel.name", format!("two channels are called {:?}", c.name)));
            }
            match c.kind {
                ChannelKind::Webhook => {
                    let url = c.url.as_deref().unwrap_or("");
                    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
                    if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                        return Err((
                            "alerts.channel.url",
                            format!(
                                "channel {:?}: a webhook needs url = \"https://host/path\" (http:// or https://), \
                                 not {url:?}",
                                c.name
                            ),
                        ));
                    }
                    for (k, v) in &c.headers {
                        let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b':');
                        if !token(k) || v.bytes().any(|b| b.is_ascii_control()) {
                            return Err((
                                "alerts.channel.headers",
                                format!("channel {:?}: header {k:?} is not a valid HTTP header", c.name),
                            ));
                        }
                    }
                }
                ChannelKind::Email => {
                    if c.url.is_some() || !c.headers.is_empty() || c.token_file.is_some() {
                        return Err((
                            "alerts.channel.url",
                            format!(
                                "channel {:?}: an email channel takes no url, headers or token_file (it uses the \
                                 [email] settings)",
                                c.name
                            ),
                        ));
                    }
                }
            }
        }
        let mut rules = std::collections::BTreeSet::new();
        for r in &self.rules {
            if r.name.trim().is_empty() {
                return Err(("alerts.rule.name", "a rule needs a name".into()));
            }
            if !rules.insert(r.name.as_str()) {
                return Err(("alerts.rule.name", format!("two rules are called {:?}", r.name)));
            }
            if r.channels.is_empty() {
                return Err((
                    "alerts.rule.channels",
                    format!("rule {:?}: name at least one channel, e.g. channels = [\"mail\"]", r.name),
                ));
            }
            for c in &r.channels {
                if self.channel(c).is_none() {
                    return Err((
                        "alerts.rule.channels",
                        format!("rule {:?}: no [[alerts.channel]] is called {c:?}", r.name),
                    ));
                }
            }
            if r.count == Some(0) {
                return Err(("alerts.rule.count", format!("rule {:?}: count must be at least 1", r.name)));
            }
            if r.window.is_some_and(|w| w.as_secs() == 0) {
                return Err(("alerts.rule.window", format!("rule {:?}: window must be at least 1s", r.name)));
            }
            if r.kind == RuleKindConfig::Honeypot && r.usernames.is_empty() {
                return Err((
                    "alerts.rule.usernames",
                    format!("rule {:?}: a honeypot rule needs usernames = [\"trap-account\"]", r.name),
                ));
            }
            if r.kind != RuleKindConfig::Honeypot && !r.usernames.is_empty() {
                return Err((
                    "alerts.rule.usernames",
                    format!("rule {:?}: only honeypot rules take usernames", r.name),
                ));
            }
            if r.kind != RuleKindConfig::Threshold && r.per != Per::Ip {
                return Err(("alerts.rule.per", format!("rule {:?}: only threshold rules take per", r.name)));
            }
        }
        if self.quiet_period.as_secs() == 0 {
            return Err(("alerts.quiet_period", "quiet_period must be at least 1s".into()));
        }
        Ok(())
    }
}
