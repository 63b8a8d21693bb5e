//! An alert as each channel shows it: JSON, Slack/Mattermost Markdown, ntfy, Gotify, and an
//! email's subject, text and HTML.
//!
//! The wording is built once, as a `Doc` of lines whose pieces are either our own text or a
//! value (a rule or server name from the configuration, an address, an account, a host name from
//! the logs). Each format then writes the values its own safe way: JSON escaping, HTML escaping,
//! a code span in Markdown, nothing at all in an HTTP header. [`guard`] runs on every output at
//! the end, so that no raw control character or bidi control reaches a receiver even if a value
//! slipped past the store's [`crate::text::visible`].

use std::borrow::Cow;
use std::fmt::Write;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::config::alerts::WebhookFormat;
use crate::model::alert::{Alert, RuleKind, Subject};
use crate::report::format::{thousands, truncate};

/// What a webhook posts: the body, its content type, and the headers the format needs (ntfy's
/// title, priority and tags), all ASCII.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookBody {
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
    /// Headers of the format (names and printable-ASCII values).
    pub headers: Vec<(&'static str, String)>,
}

/// An alert as an email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailBody {
    /// `[MailLogSentinel] mx1: alert bruteforce: 203.0.113.5, 57 failed logins`.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part, every value escaped.
    pub html: String,
}

/// ntfy turns a longer message into an attachment: the compact wording plus a cut keeps it a
/// notification.
const NTFY_MAX_BYTES: usize = 4000;
/// Mattermost splits posts longer than 16,383 characters, Slack cuts at 40,000; a digest of
/// [`Alert::SHOWN`] subjects needs about 8,000.
const SLACK_MAX_BYTES: usize = 15_000;
/// Accounts named per subject; the rest are counted.
const ACCOUNTS_SHOWN: usize = 8;
/// Characters of a value in an email subject.
const SUBJECT_VALUE_CHARS: usize = 80;

/// True for a character no output may carry raw: C0 and C1 controls and DEL (`\n` is allowed in
/// bodies by [`guard`]'s caller), and the invisible format characters that reorder or hide text
/// on screen (bidi embeddings, overrides, isolates and marks, the Arabic letter mark, zero-width
/// characters, line and paragraph separators, the BOM, interlinear annotations, the soft hyphen).
pub fn forbidden(c: char) -> bool {
    c.is_control() || crate::text::is_hidden(c)
}

/// `s` without a [`forbidden`] character: each becomes the escape [`crate::text::visible`] writes
/// (`\x1B`, `\u{202E}`), so what was there can still be seen. Newlines are kept when `newlines`
/// is true (a body), escaped otherwise (a title, a header, a field). Backslashes are left alone:
/// texts from the store already have theirs doubled, and doubling them again would show
/// `\\x1B` for a logged `\x1B`.
pub fn guard(s: &str, newlines: bool) -> Cow<'_, str> {
    let bad = |c: char| forbidden(c) && !(newlines && c == '\n');
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !bad(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02X}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:04X}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// [`guard`] on every string of a JSON value, keys included (newlines kept: JSON escapes them),
/// so that what a receiver decodes is as clean as what it receives.
fn guard_json(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(o) = guard(s, true) {
                *s = o;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(guard_json),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut x) in entries {
                guard_json(&mut x);
                map.insert(guard(&k, false).into_owned(), x);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// A copy of `alert` whose every text has been through [`guard`] (single line).
pub fn guarded(alert: &Alert) -> Alert {
    let g = |s: &mut String| {
        if let Cow::Owned(o) = guard(s, false) {
            *s = o;
        }
    };
    let mut a = alert.clone();
    g(&mut a.key);
    g(&mut a.rule);
    g(&mut a.server);
    a.per.iter_mut().for_each(g);
    for s in &mut a.subjects {
        g(&mut s.name);
        s.ips.iter_mut().for_each(g);
        s.accounts.iter_mut().for_each(g);
        s.service.iter_mut().for_each(g);
        s.country.iter_mut().for_each(g);
        s.aso.iter_mut().for_each(g);
        s.hostname.iter_mut().for_each(g);
        s.why.iter_mut().for_each(g);
    }
    a
}

/// The body and headers a webhook of `format` posts for `alert`; times are shown in `tz`.
pub fn webhook(format: WebhookFormat, alert: &Alert, tz: &TimeZone) -> WebhookBody {
    let alert = guarded(alert);
    let doc = Doc::of(&alert, tz);
    let json_body = |mut v: Value| {
        guard_json(&mut v);
        WebhookBody { content_type: "application/json", body: v.to_string(), headers: Vec::new() }
    };
    match format {
        WebhookFormat::Json => {
            let mut v = serde_json::to_value(&alert).unwrap_or_default();
            if let Value::Object(map) = &mut v {
                map.insert("idempotency_key".into(), Value::String(alert.key.clone()));
                map.insert("title".into(), Value::String(plain_line(&doc.title)));
                map.insert("text".into(), Value::String(plain(&doc, false)));
            }
            json_body(v)
        }
        WebhookFormat::Slack => json_body(json!({ "text": fit(&slack(&doc), SLACK_MAX_BYTES) })),
        WebhookFormat::Gotify => json_body(json!({
            "title": plain_line(&doc.title),
            "message": plain(&doc, false),
            "priority": doc.priority.gotify(),
            "extras": {
                "client::display": { "contentType": "text/plain" },
                "maillogsentinel::alert": { "idempotency_key": alert.key },
            },
        })),
        WebhookFormat::Ntfy => WebhookBody {
            content_type: "text/plain; charset=utf-8",
            body: guard(&fit(&plain(&doc, true), NTFY_MAX_BYTES), true).into_owned(),
            headers: vec![
                ("Title", header_value(&doc.header_title)),
                ("Priority", doc.priority.ntfy().to_string()),
                ("Tags", doc.tags()),
            ],
        },
    }
}

/// `alert` as an email with the subject prefix `prefix` (`[email] subject_prefix`); times in
/// `tz`.
pub fn email(prefix: &str, alert: &Alert, tz: &TimeZone) -> EmailBody {
    let alert = guarded(alert);
    let doc = Doc::of(&alert, tz);
    let server = truncate(&alert.server, SUBJECT_VALUE_CHARS);
    let about = if alert.kind == Some(RuleKind::Test) {
        short_line(&doc.summary)
    } else {
        format!("alert {}: {}", truncate(&alert.rule, SUBJECT_VALUE_CHARS), short_line(&doc.summary))
    };
    let subject = format!("{} {server}: {about}", guard(prefix, false));
    EmailBody { subject: subject.trim_start().to_string(), text: plain(&doc, false), html: html(&doc) }
}

/// The alert's one-line title, as the JSON and Gotify formats give it (for listings).
pub fn title(alert: &Alert, tz: &TimeZone) -> String {
    plain_line(&Doc::of(&guarded(alert), tz).title)
}

/// The alert as plain text, as the JSON, Gotify and email formats give it (for listings).
pub fn text(alert: &Alert, tz: &TimeZone) -> String {
    plain(&Doc::of(&guarded(alert), tz), false)
}

/// A piece of a line: our own wording, or a value that each format writes its safe way.
#[derive(Clone, Debug)]
enum Span {
    Text(String),
    Value(String),
}

type Line = Vec<Span>;

fn t(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

fn v(s: impl Into<String>) -> Span {
    Span::Value(s.into())
}

/// One subject: a head line, detail lines, and the one line of the compact (ntfy) wording.
struct Item {
    head: Line,
    details: Vec<Line>,
    compact: Line,
}

/// How loudly a receiver should ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Priority {
    Low,
    Default,
    High,
}

impl Priority {
    fn ntfy(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Default => "default",
            Priority::High => "high",
        }
    }

    /// Gotify's 0-10: Android shows 4-7 with a sound, 8-10 also pops up.
    fn gotify(self) -> u8 {
        match self {
            Priority::Low => 3,
            Priority::Default => 5,
            Priority::High => 8,
        }
    }
}

/// The wording of one alert, shared by every format.
struct Doc {
    kind: Option<RuleKind>,
    digest: bool,
    priority: Priority,
    /// `RULE on SERVER: SUMMARY`.
    title: Line,
    /// What the title says after `RULE on SERVER: ` (the email subject's end).
    summary: Line,
    /// Built from the rule, the server and counts only, never from logged text: it goes in an
    /// HTTP header.
    header_title: String,
    intro: Vec<Line>,
    items: Vec<Item>,
    more: Option<String>,
    footer: Line,
}

impl Doc {
    fn of(a: &Alert, tz: &TimeZone) -> Doc {
        let what = What::of(a.kind);
        let unit = Unit::of(a);
        let rule_on_server = |mut line: Line| {
            let mut l = vec![v(&a.rule), t(" on "), v(&a.server), t(": ")];
            l.append(&mut line);
            l
        };
        let subjects = a.subjects.len() as u64 + a.more_subjects;
        let first = a.subjects.first();
        let test = a.kind == Some(RuleKind::Test);
        let summary: Line = if test {
            vec![t("test message from maillogsentinel on "), v(&a.server)]
        } else if a.digest {
            vec![t(format!("digest, {}, {}", unit.count(subjects), what.count(a.attempts)))]
        } else {
            let mut l = match (a.kind, first) {
                (Some(RuleKind::Compromise), Some(s)) => {
                    let mut l = vec![t("possible compromise: "), v(&s.name)];
                    if let Some(ip) = s.ips.first() {
                        l.extend([t(" from "), v(ip)]);
                    }
                    l
                }
                (Some(RuleKind::Honeypot), Some(s)) => {
                    vec![t("honeypot: "), v(&s.name), t(format!(", {}", what.count(a.attempts)))]
                }
                (Some(RuleKind::Outage), _) => vec![t(what.count(a.attempts))],
                (_, Some(s)) => vec![v(&s.name), t(format!(", {}", what.count(a.attempts)))],
                (_, None) => vec![t(what.count(a.attempts))],
            };
            if a.more_subjects > 0 && first.is_some() {
                l.push(t(format!(" (and {} more {})", thousands(a.more_subjects), unit.name(a.more_subjects))));
            }
            l
        };
        let title = if test { summary.clone() } else { rule_on_server(summary.clone()) };
        let header_title = if test {
            format!("test message from maillogsentinel on {}", a.server)
        } else if a.digest {
            format!("{} on {}: digest, {}, {}", a.rule, a.server, unit.count(subjects), what.count(a.attempts))
        } else {
            let kind = match a.kind {
                Some(RuleKind::Compromise) => "possible compromise",
                Some(k) => k.as_str(),
                None => "alert",
            };
            format!("{} on {}: {kind}, {}", a.rule, a.server, what.count(a.attempts))
        };
        let priority = match (a.kind, a.digest) {
            (Some(RuleKind::Compromise), _) | (Some(RuleKind::Honeypot), false) => Priority::High,
            (Some(RuleKind::Threshold) | None, true) => Priority::Low,
            _ => Priority::Default,
        };

        let mut intro = Vec::new();
        if test {
            intro.push(vec![
                t("This is a test message from maillogsentinel on "),
                v(&a.server),
                t(" (maillogsentinel alerts test): alerts sent through this channel arrive."),
            ]);
        } else {
            let mut rule = vec![t("Rule "), v(&a.rule), t(" (")];
            rule.extend(rule_description(a, what));
            rule.extend([t(") fired on "), v(&a.server), t(".")]);
            intro.push(rule);
            let span = span_of(a.first_seen, a.last_seen, tz);
            intro.push(vec![t(if a.digest {
                format!("Digest of the quiet period: {}, {}{span}.", unit.count(subjects), what.count(a.attempts))
            } else {
                format!("First alert: {}{span}.", what.count(a.attempts))
            })]);
        }
        let items = a.subjects.iter().map(|s| item(s, a.kind, what, tz)).collect();
        let more = (a.more_subjects > 0)
            .then(|| format!("… and {} more {}", thousands(a.more_subjects), unit.name(a.more_subjects)));
        let footer = vec![t(format!("maillogsentinel {}, alert ", env!("CARGO_PKG_VERSION"))), v(&a.key)];
        Doc { kind: a.kind, digest: a.digest, priority, title, summary, header_title, intro, items, more, footer }
    }

    /// ntfy tags: an emoji (ntfy shows a tag named like an emoji short code as the emoji), the
    /// kind and `digest`: a fixed vocabulary, never a logged value.
    fn tags(&self) -> String {
        let (emoji, kind) = match self.kind {
            Some(RuleKind::Threshold) | None => ("warning", "threshold"),
            Some(RuleKind::Compromise) => ("rotating_light", "compromise"),
            Some(RuleKind::Honeypot) => ("honey_pot", "honeypot"),
            Some(RuleKind::Outage) => ("electric_plug", "outage"),
            Some(RuleKind::Test) => ("white_check_mark", "test"),
        };
        let mut tags = format!("{emoji},{kind}");
        if self.digest {
            tags.push_str(",digest");
        }
        tags
    }

    /// The Slack and Mattermost emoji short code leading the title.
    fn emoji(&self) -> &'static str {
        match self.kind {
            Some(RuleKind::Compromise) => ":rotating_light:",
            Some(RuleKind::Honeypot) => ":honey_pot:",
            Some(RuleKind::Outage) => ":electric_plug:",
            Some(RuleKind::Test) => ":white_check_mark:",
            Some(RuleKind::Threshold) | None => ":warning:",
        }
    }
}

/// What a rule fires on, in the words of the configuration's documentation.
fn rule_description(a: &Alert, what: What) -> Line {
    match a.kind {
        Some(RuleKind::Threshold) | None => {
            let mut l = vec![t("threshold")];
            if let Some(n) = a.threshold {
                l.push(t(format!(": {}", what.count(n))));
                if let Some(w) = a.window_secs {
                    l.push(t(format!(" within {}", crate::config::Duration::from_secs(w))));
                }
                if let Some(per) = &a.per {
                    l.extend([t(" per "), v(per)]);
                }
            }
            l
        }
        Some(RuleKind::Compromise) => {
            vec![t("compromise: a successful login from an address that failed before, or from a country never seen \
             for the account")]
        }
        Some(RuleKind::Honeypot) => vec![t("honeypot: an attempt on an account that exists only to be attacked")],
        Some(RuleKind::Outage) => vec![t("outage: the authentication backend failed")],
        Some(RuleKind::Test) => vec![t("test")],
    }
}

/// A count of accounts: `20+` at the number counted per subject, where there may be more.
fn counted(n: u64) -> String {
    if n >= Subject::ACCOUNTS_COUNTED { format!("{}+", thousands(n)) } else { thousands(n) }
}

fn item(s: &Subject, kind: Option<RuleKind>, what: What, tz: &TimeZone) -> Item {
    let mut head = vec![v(&s.name), t(format!(": {}", what.count(s.attempts)))];
    if s.again {
        head.push(t(" (alerted before in this quiet period)"));
    }
    let mut details = Vec::new();
    let mut compact = head.clone();
    if !s.accounts.is_empty() {
        let total = s.account_count.max(s.accounts.len() as u64);
        let label = match (kind == Some(RuleKind::Compromise), total == 1) {
            (true, true) => "account: ".to_string(),
            (true, false) => format!("accounts ({}): ", counted(total)),
            (false, true) => "account tried: ".to_string(),
            (false, false) => format!("accounts tried ({}): ", counted(total)),
        };
        let mut l = vec![t(label)];
        list(&mut l, s.accounts.iter().take(ACCOUNTS_SHOWN));
        let shown = s.accounts.len().min(ACCOUNTS_SHOWN) as u64;
        if total > shown {
            l.push(t(format!(" and {} more", counted(total - shown))));
        }
        details.push(l);
        compact.push(t(format!(", {} {}", counted(total), if total == 1 { "account" } else { "accounts" })));
    }
    if s.ips.iter().any(|ip| *ip != s.name) {
        let mut l = vec![t("addresses: ")];
        list(&mut l, s.ips.iter());
        details.push(l);
    }
    if s.first_seen == s.last_seen && s.first_seen > 0 {
        details.push(vec![t(format!("seen at {}", time(s.first_seen, tz)))]);
    } else if s.first_seen > 0 || s.last_seen > 0 {
        details.push(vec![t(format!("first seen {}, last seen {}", time(s.first_seen, tz), time(s.last_seen, tz)))]);
    }
    let mut place = Vec::new();
    if let Some(c) = &s.country {
        place.push(vec![t("country "), v(c)]);
    }
    if let Some(asn) = s.asn {
        let mut l = vec![t(format!("AS{asn}"))];
        if let Some(org) = &s.aso {
            l.extend([t(" "), v(org)]);
        }
        place.push(l);
    } else if let Some(org) = &s.aso {
        place.push(vec![t("AS "), v(org)]);
    }
    if let Some(h) = &s.hostname {
        place.push(vec![t("host "), v(h)]);
    }
    if !place.is_empty() {
        let mut l = Vec::new();
        for (i, p) in place.into_iter().enumerate() {
            if i > 0 {
                l.push(t(", "));
            }
            compact.push(t(", "));
            compact.extend(p.iter().cloned());
            l.extend(p);
        }
        details.push(l);
    }
    if let Some(svc) = &s.service {
        details.push(vec![t("service "), v(svc)]);
    }
    if !s.why.is_empty() {
        let mut l = vec![t("why: ")];
        list(&mut l, s.why.iter());
        compact.push(t(", why: "));
        list(&mut compact, s.why.iter());
        details.push(l);
    }
    if s.last_seen > 0 {
        compact.push(t(format!(", last seen {}", time(s.last_seen, tz))));
    }
    Item { head, details, compact }
}

/// Appends `values` to `line`, separated by commas.
fn list<'a>(line: &mut Line, values: impl Iterator<Item = &'a String>) {
    for (i, x) in values.enumerate() {
        if i > 0 {
            line.push(t(", "));
        }
        line.push(v(x));
    }
}

/// What the counted events are.
#[derive(Clone, Copy)]
struct What(&'static str, &'static str);

impl What {
    fn of(kind: Option<RuleKind>) -> What {
        match kind {
            Some(RuleKind::Compromise) => What("login", "logins"),
            Some(RuleKind::Outage) => What("backend error", "backend errors"),
            Some(RuleKind::Test) => What("event", "events"),
            Some(RuleKind::Threshold | RuleKind::Honeypot) | None => What("failed login", "failed logins"),
        }
    }

    fn count(self, n: u64) -> String {
        format!("{} {}", thousands(n), if n == 1 { self.0 } else { self.1 })
    }
}

/// What a subject is, for "… and 37 more IPs".
#[derive(Clone, Copy)]
struct Unit(&'static str, &'static str);

impl Unit {
    fn of(a: &Alert) -> Unit {
        match (a.per.as_deref(), a.kind) {
            (Some("ip"), _) => Unit("IP", "IPs"),
            (Some("network"), _) => Unit("network", "networks"),
            (Some("asn"), _) => Unit("AS", "ASes"),
            (Some("account"), _) => Unit("account", "accounts"),
            (None, Some(RuleKind::Threshold)) => Unit("IP", "IPs"),
            (None, Some(RuleKind::Compromise)) => Unit("login", "logins"),
            (None, Some(RuleKind::Outage)) => Unit("server", "servers"),
            _ => Unit("subject", "subjects"),
        }
    }

    fn name(self, n: u64) -> &'static str {
        if n == 1 { self.0 } else { self.1 }
    }

    fn count(self, n: u64) -> String {
        format!("{} {}", thousands(n), self.name(n))
    }
}

/// `ts` (Unix seconds) as RFC 3339 with the offset of `tz` at that instant.
fn time(ts: i64, tz: &TimeZone) -> String {
    match Timestamp::from_second(ts) {
        Ok(t) => t.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => ts.to_string(),
    }
}

/// `, from T1 to T2` (`, at T` when both are the same), or nothing without times.
fn span_of(first: i64, last: i64, tz: &TimeZone) -> String {
    match (first > 0, last > 0) {
        (true, true) if first == last => format!(", at {}", time(first, tz)),
        (true, true) => format!(", from {} to {}", time(first, tz), time(last, tz)),
        (true, false) => format!(", from {}", time(first, tz)),
        (false, true) => format!(", until {}", time(last, tz)),
        (false, false) => String::new(),
    }
}

/// A line as plain text.
fn plain_line(line: &Line) -> String {
    let mut out = String::new();
    for span in line {
        match span {
            Span::Text(s) | Span::Value(s) => out.push_str(&guard(s, false)),
        }
    }
    out
}

/// A line as plain text with each value cut to [`SUBJECT_VALUE_CHARS`] (an email subject).
fn short_line(line: &Line) -> String {
    let mut out = String::new();
    for span in line {
        match span {
            Span::Text(s) => out.push_str(&guard(s, false)),
            Span::Value(s) => out.push_str(&truncate(&guard(s, false), SUBJECT_VALUE_CHARS)),
        }
    }
    out
}

/// The whole alert as plain text; `compact` gives one line per subject (ntfy).
fn plain(doc: &Doc, compact: bool) -> String {
    let mut out = plain_line(&doc.title);
    out.push_str("\n\n");
    for l in &doc.intro {
        out.push_str(&plain_line(l));
        out.push('\n');
    }
    if !doc.items.is_empty() {
        out.push('\n');
    }
    for item in &doc.items {
        out.push_str("- ");
        if compact {
            out.push_str(&plain_line(&item.compact));
            out.push('\n');
            continue;
        }
        out.push_str(&plain_line(&item.head));
        out.push('\n');
        for d in &item.details {
            out.push_str("  ");
            out.push_str(&plain_line(d));
            out.push('\n');
        }
    }
    if let Some(more) = &doc.more {
        out.push_str(more);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&plain_line(&doc.footer));
    out.push('\n');
    guard(&out, true).into_owned()
}

/// Our own text for Slack: the three characters Slack requires escaped (Mattermost decodes the
/// entities in plain text too).
fn slack_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A value for Slack and Mattermost: a code span, in which neither renders Markdown (`*bold*`,
/// `_x_`, `~x~`, `[text](url)`, `# heading`, `> quote`, `|` tables), emoji short codes or bare
/// URLs as links, and Mattermost finds no mentions. Inside it:
///
/// - `&`, `<` and `>` become `&amp;`, `&lt;`, `&gt;`, as Slack requires everywhere: this is what
///   kills `<!channel>`, `<!here>`, `<@U123>` and `<https://evil|text>` links, which Slack
///   parses even in code, and which Mattermost's Slack compatibility also turns into mentions
///   and links before Markdown, code spans included. The cost: Mattermost shows the entity
///   itself in a code span (`&lt;`), which is rare in a name and still plain to read;
/// - a backtick would close the span, and neither Slack nor Mattermost lets one be escaped
///   inside it: it becomes `ˋ` (U+02CB, modifier letter grave accent);
/// - `@` becomes `＠` (U+FF20, fullwidth commercial at), so that `@here`, `@channel`, `@all`
///   never notify, whatever either product does with mentions in code;
/// - a space at either end becomes `␣` (U+2423): Slack does not start or end formatting next to
///   a space, and Mattermost trims one, so the span would not be a span, or lose a space.
///
/// Backslash escapes were not chosen: Slack does not know them (it shows the backslash), and
/// look-alike characters for every Markdown character would change names such as `test_user`.
fn slack_value(s: &str) -> String {
    if s.is_empty() {
        return "(empty)".into();
    }
    let last = s.chars().count() - 1;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('`');
    for (i, c) in s.chars().enumerate() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\u{2cb}'),
            '@' => out.push('\u{ff20}'),
            ' ' if i == 0 || i == last => out.push('\u{2423}'),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

fn slack_line(line: &Line) -> String {
    let mut out = String::new();
    for span in line {
        match span {
            Span::Text(s) => out.push_str(&slack_text(&guard(s, false))),
            Span::Value(s) => out.push_str(&slack_value(&guard(s, false))),
        }
    }
    out
}

/// Slack/Mattermost Markdown: only code spans and plain text, as the two disagree on the rest
/// (`*bold*` is italic in Mattermost, lists and headings are Mattermost's alone). Detail lines
/// are indented by three spaces, not four, which Markdown would read as code.
fn slack(doc: &Doc) -> String {
    let mut out = format!("{} {}\n", doc.emoji(), slack_line(&doc.title));
    for l in &doc.intro {
        out.push_str(&slack_line(l));
        out.push('\n');
    }
    for item in &doc.items {
        out.push_str("• ");
        out.push_str(&slack_line(&item.head));
        out.push('\n');
        for d in &item.details {
            out.push_str("   ◦ ");
            out.push_str(&slack_line(d));
            out.push('\n');
        }
    }
    if let Some(more) = &doc.more {
        out.push_str(&slack_text(more));
        out.push('\n');
    }
    out.push_str(&slack_line(&doc.footer));
    guard(&out, true).into_owned()
}

fn html_line(line: &Line) -> String {
    let mut out = String::new();
    for span in line {
        match span {
            Span::Text(s) => out.push_str(&crate::report::html::escape(&guard(s, false))),
            Span::Value(s) => {
                out.push_str("<code>");
                out.push_str(&crate::report::html::escape(&guard(s, false)));
                out.push_str("</code>");
            }
        }
    }
    out
}

/// One self-contained HTML page, every text escaped; long values wrap rather than widen it.
fn html(doc: &Doc) -> String {
    let title = html_line(&doc.title);
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family:sans-serif;font-size:14px;color:#222;overflow-wrap:anywhere\">\n\
         <h2 style=\"font-size:18px\">{title}</h2>\n",
        crate::report::html::escape(&plain_line(&doc.title))
    );
    for l in &doc.intro {
        let _ = writeln!(out, "<p>{}</p>", html_line(l));
    }
    if !doc.items.is_empty() {
        out.push_str("<ul>\n");
        for item in &doc.items {
            let _ = write!(out, "<li><b>{}</b>", html_line(&item.head));
            for d in &item.details {
                let _ = write!(out, "<br>{}", html_line(d));
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    if let Some(more) = &doc.more {
        let _ = writeln!(out, "<p>{}</p>", crate::report::html::escape(more));
    }
    let _ = writeln!(out, "<p style=\"color:#777;font-size:12px\">{}</p>\n</body></html>", html_line(&doc.footer));
    guard(&out, true).into_owned()
}

/// `s` cut at a line end so that it fits in `max` bytes, saying so.
fn fit(s: &str, max: usize) -> String {
    const CUT: &str = "… (cut: the rest did not fit in one message)\n";
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(CUT.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let end = s[..end].rfind('\n').map_or(end, |i| i + 1);
    format!("{}{CUT}", &s[..end])
}

/// An HTTP header value: printable ASCII as it is; anything else as RFC 2047 encoded words
/// (`=?UTF-8?B?...?=`), which ntfy decodes. Never a raw control character or a line break.
pub fn header_value(s: &str) -> String {
    let s = guard(s, false);
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.into_owned();
    }
    // Encoded words are at most 75 characters: 45 bytes of text give 60 of base64.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in s.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
    }
    words.join(" ")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
