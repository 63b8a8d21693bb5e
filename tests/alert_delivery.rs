//! `deliver::alert::send` against real receivers on loopback: the scripted HTTP server of
//! tests/support/http_server.rs for webhooks (each format as received; what each failure means
//! for the outbox), and aiosmtpd (tests/support/smtp_server.py) for email.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

#[path = "support/fixture.rs"]
mod fixture;
#[path = "support/http_server.rs"]
mod http_server;
#[path = "support/smtp.rs"]
mod smtp;

use std::time::{Duration, Instant};

use http_server::{HttpServer, Replied, Reply};
use jiff::tz::TimeZone;
use maillogsentinel::config::EmailConfig;
use maillogsentinel::config::alerts::ChannelConfig;
use maillogsentinel::deliver::alert::{Outcome, send};
use maillogsentinel::model::alert::{Alert, RuleKind, Subject};

const KEY: &str = "bruteforce/203.0.113.5/1800000000";

fn alert(kind: RuleKind) -> Alert {
    Alert {
        key: KEY.into(),
        rule: "bruteforce".into(),
        kind: Some(kind),
        server: "mx1".into(),
        created: 1_800_000_600,
        digest: false,
        per: Some("ip".into()),
        threshold: Some(20),
        window_secs: Some(600),
        subjects: vec![Subject {
            name: "203.0.113.5".into(),
            attempts: 57,
            first_seen: 1_800_000_000,
            last_seen: 1_800_000_570,
            ips: vec!["203.0.113.5".into()],
            accounts: vec!["<!channel>".into(), "@here".into(), "*bold*".into(), "<script>x</script>".into()],
            account_count: 4,
            service: Some("smtp".into()),
            country: Some("CN".into()),
            asn: Some(4134),
            aso: Some("Evil & <Co>".into()),
            hostname: Some("scan\u{202e}.evil.example".into()),
            why: Vec::new(),
            again: false,
        }],
        more_subjects: 0,
        attempts: 57,
        first_seen: 1_800_000_000,
        last_seen: 1_800_000_570,
    }
}

fn utc() -> TimeZone {
    TimeZone::UTC
}

/// A webhook channel as `[[alerts.channel]]` would give it, with `extra` TOML lines (timeout
/// 2 s unless they say otherwise).
fn channel(url: &str, format: &str, extra: &str) -> ChannelConfig {
    let timeout = if extra.contains("timeout =") { "" } else { "timeout = \"2s\"\n" };
    toml::from_str(&format!(
        "name = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\nformat = \"{format}\"\n{timeout}{extra}"
    ))
    .unwrap()
}

fn post(channel: &ChannelConfig) -> Outcome {
    send(channel, &EmailConfig::default(), &alert(RuleKind::Threshold), &utc())
}

fn retry(outcome: Outcome) -> (Option<Duration>, String) {
    match outcome {
        Outcome::Retry { after, error } => (after, error),
        other => panic!("expected a retry, got {other:?}"),
    }
}

fn failed(outcome: Outcome) -> String {
    match outcome {
        Outcome::Failed { error } => error,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn each_format_arrives_with_its_headers_and_the_idempotency_key() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\nignored second line\n").unwrap();
    let server = HttpServer::start([]);
    let extra = format!("headers = {{ X-Custom = \"yes\" }}\ntoken_file = \"{}\"\n", token.display());
    for format in ["json", "slack", "ntfy", "gotify"] {
        let outcome = post(&channel(&server.url(&format!("/{format}")), format, &extra));
        assert_eq!(outcome, Outcome::Delivered, "{format}");
    }
    let requests = server.wait_for(4, Duration::from_secs(5));
    assert_eq!(requests.len(), 4);
    for r in &requests {
        assert_eq!(r.method, "POST", "{}", r.path);
        assert_eq!(r.header("idempotency-key"), Some(KEY), "{}", r.path);
        assert!(r.header("user-agent").unwrap().starts_with("maillogsentinel/"), "{}", r.path);
        assert_eq!(r.header("x-custom"), Some("yes"), "{}", r.path);
        assert_eq!(r.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("idempotency-key")).count(), 1);
        for (name, value) in &r.headers {
            assert!(value.bytes().all(|b| (0x20..0x7f).contains(&b)), "{}: header {name}: {value:?}", r.path);
        }
    }

    let json = &requests[0];
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(json.header("authorization"), Some("Bearer s3cret-token"));
    let v = json.json();
    assert_eq!(v["idempotency_key"], KEY);
    assert_eq!(v["subjects"][0]["accounts"][0], "<!channel>");
    assert_eq!(v["subjects"][0]["hostname"], "scan\\u{202E}.evil.example", "a raw bidi override is shown, not sent");
    assert_eq!(v["title"], "bruteforce on mx1: 203.0.113.5, 57 failed logins");

    let slack = requests[1].json();
    let text = slack["text"].as_str().unwrap();
    assert!(!text.contains("<!channel>") && !text.contains("@here") && !text.contains("<script>"), "{text}");
    assert!(text.contains("`&lt;!channel&gt;`, `\u{ff20}here`, `*bold*`, `&lt;script&gt;x&lt;/script&gt;`"), "{text}");
    assert!(text.contains("`Evil &amp; &lt;Co&gt;`"), "{text}");

    let ntfy = &requests[2];
    assert_eq!(ntfy.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(ntfy.header("title"), Some("bruteforce on mx1: threshold, 57 failed logins"));
    assert_eq!(ntfy.header("priority"), Some("default"));
    assert_eq!(ntfy.header("tags"), Some("warning,threshold"));
    assert_eq!(ntfy.header("authorization"), Some("Bearer s3cret-token"));
    assert!(ntfy.text().contains("203.0.113.5: 57 failed logins, 4 accounts, country CN, AS4134 Evil & <Co>"));

    let gotify = &requests[3];
    assert_eq!(gotify.header("x-gotify-key"), Some("s3cret-token"));
    assert_eq!(gotify.header("authorization"), None);
    let g = gotify.json();
    assert_eq!(g["priority"], 5);
    assert_eq!(g["extras"]["client::display"]["contentType"], "text/plain");
    assert!(g["message"].as_str().unwrap().contains("accounts tried (4): <!channel>, @here, *bold*"), "{g}");
}

#[test]
fn server_errors_and_throttling_are_retried_when_the_server_says() {
    let in_30s = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30)))
        .unwrap();
    let server = HttpServer::start([
        Reply::status(500).body("boom\x1b[2J\u{202e} at /var/www"),
        Reply::status(503).header("Retry-After", "120"),
        Reply::status(429).header("Retry-After", "7"),
        Reply::status(429).header("Retry-After", &in_30s),
        Reply::status(429).header("Retry-After", "86400"),
        Reply::status(408),
        Reply::status(502).header("Retry-After", "whenever"),
    ]);
    let ch = channel(&server.url("/services/T0/B0/SECRET"), "json", "");
    let (after, error) = retry(post(&ch));
    assert_eq!(after, None);
    assert!(error.contains("HTTP 500 Internal Server Error: boom\\x1B[2J\\u{202E} at /var/www"), "{error}");
    assert!(error.starts_with(&format!("http://{}:", server.addr().ip())), "{error}");
    assert!(!error.contains("SECRET"), "the path of a webhook is a secret: {error}");
    assert_eq!(retry(post(&ch)).0, Some(Duration::from_secs(120)));
    assert_eq!(retry(post(&ch)).0, Some(Duration::from_secs(7)));
    let after = retry(post(&ch)).0.unwrap();
    assert!((27..=30).contains(&after.as_secs()), "HTTP-date 30 s ahead: {after:?}");
    assert_eq!(retry(post(&ch)).0, Some(Duration::from_secs(3600)), "capped at an hour");
    assert!(retry(post(&ch)).1.contains("HTTP 408"));
    assert_eq!(retry(post(&ch)).0, None, "an unreadable Retry-After is ignored");
    assert_eq!(post(&ch), Outcome::Delivered);
    assert_eq!(server.delivered().len(), 1);
}

#[test]
fn a_hang_past_the_timeout_is_retried_in_time() {
    let server = HttpServer::start([Reply::hang(Duration::from_secs(30))]);
    let ch = channel(&server.url("/hook"), "json", "timeout = \"1s\"\n");
    let started = Instant::now();
    let outcome = post(&ch);
    let took = started.elapsed();
    let (after, error) = retry(outcome);
    assert_eq!(after, None);
    assert!(error.contains("no answer within 1 s"), "{error}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(server.requests()[0].replied, Replied::Hung);
    assert_eq!(post(&ch), Outcome::Delivered);
}

#[test]
fn no_answer_at_all_is_retried() {
    let server = HttpServer::start([Reply::close()]);
    let (_, error) = retry(post(&channel(&server.url("/hook"), "slack", "")));
    assert!(!error.is_empty());
    assert_eq!(server.requests()[0].replied, Replied::Closed);

    // A port nobody listens on: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (_, error) = retry(post(&channel(&format!("http://127.0.0.1:{port}/hook"), "json", "")));
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
}

#[test]
fn client_errors_and_redirects_fail_for_good() {
    let elsewhere = HttpServer::start([]);
    let server = HttpServer::start([
        Reply::status(404).body(format!("<html>no such hook{}</html>", "x".repeat(500))),
        Reply::status(400).body("invalid_payload"),
        Reply::status(401),
        Reply::status(301).header("Location", &elsewhere.url("/moved")),
        Reply::status(308).header("Location", &elsewhere.url("/moved")),
    ]);
    let ch = channel(&server.url("/hook"), "slack", "");
    let error = failed(post(&ch));
    assert!(error.contains("HTTP 404 Not Found: <html>no such hookxxx"), "{error}");
    assert!(error.ends_with("x…") && error.len() < 300, "the body is cut: {error}");
    assert!(failed(post(&ch)).contains("HTTP 400 Bad Request: invalid_payload"));
    assert!(failed(post(&ch)).ends_with("HTTP 401 Unauthorized"));
    for status in [301, 308] {
        let error = failed(post(&ch));
        assert!(error.contains(&format!("HTTP {status}")) && error.contains(&elsewhere.url("/moved")), "{error}");
        assert!(error.contains("not followed"), "{error}");
    }
    assert_eq!(server.requests().len(), 5);
    assert!(elsewhere.requests().is_empty(), "no redirect was followed");
}

#[test]
fn a_token_file_that_cannot_be_read_is_named() {
    let server = HttpServer::start([]);
    let ch = channel(&server.url("/hook"), "gotify", "token_file = \"/nonexistent/gotify.token\"\n");
    let (_, error) = retry(post(&ch));
    assert!(error.contains("token_file /nonexistent/gotify.token"), "{error}");
    assert!(server.requests().is_empty(), "nothing is sent without the token");
}

// ---------------------------------------------------------------------------------------------
// Email, through a real SMTP server.

fn email_config(port: u16) -> EmailConfig {
    EmailConfig {
        to: vec![maillogsentinel::config::email::parse_mailbox("admin@example.org").unwrap()],
        smtp_host: "127.0.0.1".into(),
        smtp_port: Some(port),
        timeout_secs: 5,
        ..EmailConfig::default()
    }
}

fn mail_channel() -> ChannelConfig {
    toml::from_str("name = \"mail\"\nkind = \"email\"\n").unwrap()
}

#[test]
fn an_email_alert_arrives_with_its_html_escaped() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = smtp::start(dir.path(), &[]);
    let mut a = alert(RuleKind::Compromise);
    a.subjects[0].name = "alice".into();
    let outcome = send(&mail_channel(), &email_config(server.port), &a, &utc());
    assert_eq!(outcome, Outcome::Delivered);
    let msgs = server.messages(1);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m["subject"], "[MailLogSentinel] mx1: alert bruteforce: possible compromise: alice from 203.0.113.5");
    assert_eq!(m["mail_from"], "maillogsentinel@mx1");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["admin@example.org"]));
    assert_eq!(m["content_type"], "multipart/alternative");
    let part = |t: &str| {
        m["parts"].as_array().unwrap().iter().find(|p| p["content_type"] == t).unwrap()["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (text, html) = (part("text/plain"), part("text/html"));
    assert!(text.contains("accounts (4): <!channel>, @here, *bold*, <script>x</script>"), "{text}");
    assert!(text.contains("host scan\\u{202E}.evil.example"), "{text}");
    assert!(!html.contains("<script>") && !html.contains("<!channel>") && !html.contains("<Co>"), "{html}");
    assert!(html.contains("<code>&lt;script&gt;x&lt;/script&gt;</code>"), "{html}");
    assert!(html.contains("<code>Evil &amp; &lt;Co&gt;</code>"), "{html}");
}

#[test]
fn an_email_refused_for_good_fails_and_a_busy_server_is_retried() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = alert(RuleKind::Honeypot);
    let refused = smtp::start(&dir.path().join("550"), &["--reject", "550"]);
    let error = failed(send(&mail_channel(), &email_config(refused.port), &a, &utc()));
    assert!(error.contains("550") && error.contains("mailbox unavailable"), "{error}");
    let busy = smtp::start(&dir.path().join("451"), &["--reject", "451"]);
    let (_, error) = retry(send(&mail_channel(), &email_config(busy.port), &a, &utc()));
    assert!(error.contains("451"), "{error}");
    drop(busy);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    retry(send(&mail_channel(), &email_config(port), &a, &utc()));
    // No recipient: nothing will ever be sent until the configuration changes.
    let none = EmailConfig { to: Vec::new(), ..email_config(port) };
    assert!(failed(send(&mail_channel(), &none, &a, &utc())).contains("`to` is empty"));
}
