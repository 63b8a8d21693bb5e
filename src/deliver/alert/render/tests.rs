use super::*;
use crate::model::alert::{Alert, RuleKind, Subject};

/// Everything an attacker can put in a name, and a few things the store should have stopped (a
/// raw ESC, NUL, a C1 CSI, bidi overrides and isolates), which the renderers must stop again.
const HOSTILE: &str = "\x1b[31m<!channel> @here *bold* _it_ ~s~ [x](https://evil.example) # <script>alert(1)</script> \
                       =cmd|' /C calc'!A0 `tick` \\x1B\u{202e}gnp.exe\u{2066}i\u{2069}\u{200f}\u{61c}\0\u{9b}31m\u{7f}";

fn tz() -> TimeZone {
    TimeZone::fixed(jiff::tz::offset(1))
}

fn hostile_subject() -> Subject {
    Subject {
        name: HOSTILE.into(),
        attempts: 57,
        first_seen: 1_800_000_000,
        last_seen: 1_800_000_570,
        ips: vec!["203.0.113.5".into(), "203.0.113.9".into()],
        accounts: vec!["@channel".into(), "<@U123>".into(), "a&b".into(), "line\nbreak".into(), " spaced ".into()],
        account_count: 12,
        service: Some("smtp".into()),
        country: Some("C\rN".into()),
        asn: Some(4134),
        aso: Some("Evil <b>Corp</b> & Co _x_".into()),
        hostname: Some("scan.evil.example\u{202e}".into()),
        why: vec!["failed before".into(), "new country".into()],
        again: false,
    }
}

fn alert(kind: RuleKind) -> Alert {
    Alert {
        key: "bruteforce:203.0.113.5:1800000000".into(),
        rule: "brute\u{202e}force".into(),
        kind: Some(kind),
        server: "mx1-\u{e9}".into(),
        created: 1_800_000_600,
        digest: false,
        per: (kind == RuleKind::Threshold).then(|| "ip".into()),
        threshold: Some(20),
        window_secs: Some(600),
        subjects: vec![hostile_subject()],
        more_subjects: 0,
        attempts: 57,
        first_seen: 1_800_000_000,
        last_seen: 1_800_000_570,
    }
}

fn digest() -> Alert {
    let mut a = alert(RuleKind::Threshold);
    a.digest = true;
    a.subjects = (0..Alert::SHOWN)
        .map(|i| Subject { name: format!("203.0.113.{i}"), again: i % 2 == 0, ..hostile_subject() })
        .collect();
    a.more_subjects = 37;
    a.attempts = 12_345;
    a
}

/// Panics on a character no output may carry (`\n` allowed where `newlines`).
fn assert_clean(what: &str, s: &str, newlines: bool) {
    for c in s.chars() {
        assert!(!forbidden(c) || (newlines && c == '\n'), "{what}: raw U+{:04X} in {s:?}", c as u32);
    }
}

/// Every string of a JSON value, keys included.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out);
        }),
        _ => {}
    }
}

fn all_kinds() -> Vec<Alert> {
    let mut all: Vec<Alert> =
        [RuleKind::Threshold, RuleKind::Compromise, RuleKind::Honeypot, RuleKind::Outage, RuleKind::Test]
            .into_iter()
            .map(alert)
            .collect();
    all.push(digest());
    all
}

#[test]
fn no_output_of_any_format_carries_a_control_or_bidi_character() {
    for a in all_kinds() {
        for format in [WebhookFormat::Json, WebhookFormat::Slack, WebhookFormat::Ntfy, WebhookFormat::Gotify] {
            let w = webhook(format, &a, &tz());
            let what = format!("{} {:?}", format.as_str(), a.kind);
            assert_clean(&what, &w.body, format == WebhookFormat::Ntfy);
            for (name, value) in &w.headers {
                assert!(value.bytes().all(|b| (0x20..0x7f).contains(&b)), "{what}: header {name}: {value:?}");
            }
            if format != WebhookFormat::Ntfy {
                let v: Value = serde_json::from_str(&w.body).unwrap();
                let mut all = Vec::new();
                strings(&v, &mut all);
                for s in all {
                    assert_clean(&what, &s, true);
                }
            }
        }
        let e = email("[MailLogSentinel]", &a, &tz());
        assert_clean("subject", &e.subject, false);
        assert_clean("text", &e.text, true);
        assert_clean("html", &e.html, true);
        assert_clean("title", &title(&a, &tz()), false);
        assert_clean("text()", &text(&a, &tz()), true);
    }
}

#[test]
fn json_carries_every_field_as_the_store_has_it_and_the_key() {
    let a = alert(RuleKind::Threshold);
    let w = webhook(WebhookFormat::Json, &a, &tz());
    assert_eq!(w.content_type, "application/json");
    let v: Value = serde_json::from_str(&w.body).unwrap();
    assert_eq!(v["idempotency_key"], a.key);
    assert_eq!(v["key"], a.key);
    // The fields read back as an alert: the one the store gave, with only the raw characters the
    // store should not have let through made visible.
    let back: Alert = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(back, guarded(&a));
    let name = v["subjects"][0]["name"].as_str().unwrap();
    assert!(name.contains("<!channel> @here *bold*") && name.contains("<script>alert(1)</script>"), "{name}");
    assert!(name.contains("=cmd|' /C calc'!A0"), "data stays data: {name}");
    // A logged `\x1B` (shown by the store as `\x1B` text) is not escaped again; the raw ESC is shown.
    assert!(name.starts_with("\\x1B[31m") && name.contains(" \\x1B\\u{202E}gnp.exe"), "{name}");
    assert!(!name.contains("\\\\"), "no backslash doubled: {name}");
    assert!(name.contains("\\x00\\u{009B}31m\\x7F"), "{name}");
    assert_eq!(v["subjects"][0]["accounts"][3], "line\\x0Abreak");
    assert_eq!(v["rule"], "brute\\u{202E}force");
    assert_eq!(v["kind"], "threshold");
    assert_eq!(v["title"], "brute\\u{202E}force on mx1-\u{e9}: ".to_string() + name + ", 57 failed logins");
    let text = v["text"].as_str().unwrap();
    assert!(
        text.contains("First alert: 57 failed logins, from 2027-01-15T09:00:00+01:00 to 2027-01-15T09:09:30+01:00"),
        "{text}"
    );
    assert!(
        text.contains("accounts tried (12): @channel, <@U123>, a&b, line\\x0Abreak,  spaced  and 7 more"),
        "{text}"
    );
    assert!(text.contains("threshold: 20 failed logins within 10m per ip"), "{text}");
}

#[test]
fn slack_defuses_mentions_links_and_markdown() {
    let w = webhook(WebhookFormat::Slack, &alert(RuleKind::Threshold), &tz());
    let v: Value = serde_json::from_str(&w.body).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1, "only text: {v}");
    let text = v["text"].as_str().unwrap();
    for bad in ["<!channel>", "<@U123>", "@here", "@channel", "<script>", "<b>", "<https://", "\n#", "\n>"] {
        assert!(!text.contains(bad), "{bad:?} in {text}");
    }
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
    assert!(text.contains("&lt;!channel&gt; \u{ff20}here *bold*"), "{text}");
    assert!(text.contains("`\u{ff20}channel`, `&lt;\u{ff20}U123&gt;`, `a&amp;b`"), "{text}");
    assert!(text.contains("`\u{2423}spaced\u{2423}`"), "{text}");
    assert!(text.contains("`Evil &lt;b&gt;Corp&lt;/b&gt; &amp; Co _x_`"), "{text}");
    // Every value is inside a code span: between an odd and an even backtick of its line, and
    // no backtick of a value closes its span early.
    for line in text.lines() {
        let parts: Vec<&str> = line.split('`').collect();
        assert!(parts.len() % 2 == 1, "unbalanced backticks: {line}");
        for (i, part) in parts.iter().enumerate() {
            if i % 2 == 0 {
                for bad in ["*bold*", "_it_", "~s~", "[x]", "calc", "tick", "evil.example", "Corp", "channel"] {
                    assert!(!part.contains(bad), "{bad:?} outside a code span in {line}");
                }
            }
        }
    }
    assert!(text.contains("\u{2cb}tick\u{2cb}"), "{text}");
    assert!(text.starts_with(":warning: `brute\\u{202E}force` on `mx1-\u{e9}`: `"), "{text}");
}

#[test]
fn ntfy_headers_carry_no_logged_text() {
    let w = webhook(WebhookFormat::Ntfy, &alert(RuleKind::Compromise), &tz());
    assert_eq!(w.content_type, "text/plain; charset=utf-8");
    let header = |n: &str| w.headers.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str()).unwrap();
    assert_eq!(header("Priority"), "high");
    assert_eq!(header("Tags"), "rotating_light,compromise");
    // The server's é makes the title an RFC 2047 encoded word.
    let t = header("Title");
    assert!(t.starts_with("=?UTF-8?B?") && t.ends_with("?="), "{t}");
    assert_eq!(t, header_value("brute\\u{202E}force on mx1-\u{e9}: possible compromise, 57 logins"));
    assert!(w.body.contains("possible compromise: \\x1B[31m<!channel>"), "{}", w.body);
    assert!(w.body.contains("why: failed before, new country"), "{}", w.body);

    let d = webhook(WebhookFormat::Ntfy, &digest(), &tz());
    let header = |n: &str| d.headers.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(header("Priority"), "low");
    assert_eq!(header("Tags"), "warning,threshold,digest");
    assert!(d.body.len() <= NTFY_MAX_BYTES, "{}", d.body.len());
    assert!(d.body.contains("digest, 57 IPs, 12,345 failed logins"), "{}", d.body);
}

#[test]
fn gotify_is_plain_text_json_with_a_priority() {
    let w = webhook(WebhookFormat::Gotify, &alert(RuleKind::Honeypot), &tz());
    let v: Value = serde_json::from_str(&w.body).unwrap();
    assert_eq!(v["priority"], 8);
    assert_eq!(v["extras"]["client::display"]["contentType"], "text/plain");
    assert_eq!(v["extras"]["maillogsentinel::alert"]["idempotency_key"], "bruteforce:203.0.113.5:1800000000");
    let title = v["title"].as_str().unwrap();
    assert!(title.starts_with("brute\\u{202E}force on mx1-\u{e9}: honeypot: \\x1B[31m<!channel>"), "{title}");
    assert!(v["message"].as_str().unwrap().contains("an attempt on an account that exists only to be attacked"));
}

#[test]
fn email_html_is_escaped_and_the_subject_names_the_rule() {
    let e = email("[MailLogSentinel]", &alert(RuleKind::Threshold), &tz());
    assert!(
        e.subject.starts_with("[MailLogSentinel] mx1-\u{e9}: alert brute\\u{202E}force: \\x1B[31m<!channel>"),
        "{}",
        e.subject
    );
    assert!(e.subject.ends_with("…, 57 failed logins"), "the name is cut: {}", e.subject);
    assert!(!e.html.contains("<script>") && !e.html.contains("<b>Corp"), "{}", e.html);
    assert!(e.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", e.html);
    assert!(e.html.contains("<code>Evil &lt;b&gt;Corp&lt;/b&gt; &amp; Co _x_</code>"), "{}", e.html);
    assert!(e.html.contains("<code>a&amp;b</code>"), "{}", e.html);
    assert!(e.text.contains("- \\x1B[31m<!channel> @here"), "{}", e.text);
    assert!(
        e.text.contains("country C\\x0DN, AS4134 Evil <b>Corp</b> & Co _x_, host scan.evil.example\\u{202E}"),
        "{}",
        e.text
    );

    let t = email("[MLS]", &alert(RuleKind::Test), &tz());
    assert_eq!(t.subject, "[MLS] mx1-\u{e9}: test message from maillogsentinel on mx1-\u{e9}");
    assert!(t.text.starts_with("test message from maillogsentinel on mx1-\u{e9}\n"), "{}", t.text);
    assert!(!t.text.contains("Rule "), "{}", t.text);
}

#[test]
fn a_digest_says_so_and_counts_what_is_not_listed() {
    let d = digest();
    let e = email("[MailLogSentinel]", &d, &tz());
    assert_eq!(
        e.subject,
        "[MailLogSentinel] mx1-\u{e9}: alert brute\\u{202E}force: digest, 57 IPs, 12,345 failed logins"
    );
    assert!(e.text.contains("Digest of the quiet period: 57 IPs, 12,345 failed logins, from "), "{}", e.text);
    assert!(e.text.contains("\n… and 37 more IPs\n"), "{}", e.text);
    assert!(e.text.contains("203.0.113.0: 57 failed logins (alerted before in this quiet period)"), "{}", e.text);
    assert!(e.html.contains("… and 37 more IPs"));
    let slack: Value = serde_json::from_str(&webhook(WebhookFormat::Slack, &d, &tz()).body).unwrap();
    assert!(slack["text"].as_str().unwrap().contains("\n… and 37 more IPs\n"));
    let gotify: Value = serde_json::from_str(&webhook(WebhookFormat::Gotify, &d, &tz()).body).unwrap();
    assert_eq!(gotify["priority"], 3);
}

#[test]
fn guard_escapes_once_and_keeps_newlines_only_in_bodies() {
    assert!(matches!(guard("plain \\x1B text", false), Cow::Borrowed(_)));
    assert_eq!(guard("a\x1bb\nc\u{202e}", false), "a\\x1Bb\\x0Ac\\u{202E}");
    assert_eq!(guard("a\x1bb\nc\u{202e}", true), "a\\x1Bb\nc\\u{202E}");
    let once = guard("\u{61c}\u{2066}\u{9b}\0", false).into_owned();
    assert_eq!(once, "\\u{061C}\\u{2066}\\u{009B}\\x00");
    assert_eq!(guard(&once, false), once);
}

#[test]
fn header_values_are_ascii_and_encoded_words_are_short() {
    assert_eq!(header_value("mx1: 3 failed logins"), "mx1: 3 failed logins");
    assert_eq!(header_value("\u{e9}"), "=?UTF-8?B?w6k=?=");
    assert_eq!(header_value("a\r\nX-Evil: 1"), "a\\x0D\\x0AX-Evil: 1");
    let long = header_value(&"\u{e9}t\u{e9} ".repeat(20));
    for word in long.split(' ') {
        assert!(word.len() <= 75 && word.starts_with("=?UTF-8?B?"), "{word}");
    }
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"f"), "Zg==");
}

#[test]
fn fit_cuts_at_a_line_end() {
    let s = "first line\nsecond line\nthird line\n".repeat(50);
    let cut = fit(&s, 200);
    assert!(cut.len() <= 200 && cut.ends_with("did not fit in one message)\n"), "{cut}");
    assert!(cut.lines().rev().nth(1).unwrap().ends_with("line"), "{cut}");
    assert_eq!(fit("short", 200), "short");
}

#[test]
fn a_plain_alert_reads_as_a_message() {
    let a = Alert {
        key: "takeover/alice/198.51.100.7".into(),
        rule: "takeover".into(),
        kind: Some(RuleKind::Compromise),
        server: "mx1".into(),
        subjects: vec![Subject {
            name: "alice".into(),
            attempts: 1,
            first_seen: 1_800_000_000,
            last_seen: 1_800_000_000,
            ips: vec!["198.51.100.7".into()],
            accounts: vec!["alice".into()],
            account_count: 1,
            service: Some("imap".into()),
            country: Some("BR".into()),
            why: vec!["failed before".into()],
            ..Subject::default()
        }],
        attempts: 1,
        first_seen: 1_800_000_000,
        last_seen: 1_800_000_000,
        ..Alert::default()
    };
    let expected = format!(
        "takeover on mx1: possible compromise: alice from 198.51.100.7\n\
         \n\
         Rule takeover (compromise: a successful login from an address that failed before, or from a country \
         never seen for the account) fired on mx1.\n\
         First alert: 1 login, at 2027-01-15T08:00:00+00:00.\n\
         \n\
         - alice: 1 login\n\
         \x20 account: alice\n\
         \x20 addresses: 198.51.100.7\n\
         \x20 seen at 2027-01-15T08:00:00+00:00\n\
         \x20 country BR\n\
         \x20 service imap\n\
         \x20 why: failed before\n\
         \n\
         maillogsentinel {}, alert takeover/alice/198.51.100.7\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(text(&a, &TimeZone::UTC), expected);
    let w = webhook(WebhookFormat::Ntfy, &a, &TimeZone::UTC);
    assert!(
        w.body.contains(
            "\n- alice: 1 login, 1 account, country BR, why: failed before, last seen 2027-01-15T08:00:00+00:00\n"
        ),
        "{}",
        w.body
    );
}
