//! Alerts end to end, with the real binary and a real HTTP server on loopback
//! (tests/support/http_server.rs): `watch` alerts within a second and delivers each alert
//! exactly once through failures, a `kill -9` between the commit and the delivery loses nothing,
//! a flood is a bounded number of messages that count every attempt, and `alerts` lists them.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;
#[path = "support/http_server.rs"]
mod http_server;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::watch::Watch;
use common::*;
use http_server::{HttpServer, Replied, Reply};
use serde_json::Value;

/// Now, as the logs' clock.
fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The syslog timestamp (UTC) of Unix second `ts`: `Dec  7 15:04:05`.
fn stamp(ts: i64) -> String {
    jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::from_second(ts).unwrap())
        .strftime("%b %e %H:%M:%S")
        .to_string()
}

/// A Postfix SASL failure of `user` from `ip` at `ts`.
fn failure_at(ts: i64, ip: &str, user: &str) -> String {
    format!(
        "{} mx1 postfix/submission/smtpd[4242]: warning: unknown[{ip}]: SASL LOGIN authentication failed: \
         UGFzc3dvcmQ6, sasl_username={user}\n",
        stamp(ts)
    )
}

/// A Postfix SASL login of `user` from `ip` at `ts`.
fn login_at(ts: i64, ip: &str, user: &str) -> String {
    format!(
        "{} mx1 postfix/submission/smtpd[4243]: 1D8CC1CA0A7F: client=unknown[{ip}]:50123, sasl_method=PLAIN, \
         sasl_username={user}\n",
        stamp(ts)
    )
}

/// A configuration with a webhook channel `hook` to `url` (format `format`, timeout 1 s) and
/// `rules`, in `dir`.
fn config(dir: &Path, url: &str, format: &str, quiet: &str, rules: &str) -> PathBuf {
    let path = dir.join("maillogsentinel.toml");
    std::fs::write(
        &path,
        format!(
            "server_name = \"mx1\"\ntimezone = \"UTC\"\n[dns]\nenabled = false\n[alerts]\nquiet_period = \
             \"{quiet}\"\n[[alerts.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\nformat = \
             \"{format}\"\ntimeout = \"1s\"\n{rules}"
        ),
    )
    .unwrap();
    path
}

const BRUTE: &str =
    "[[alerts.rule]]\nname = \"brute\"\nkind = \"threshold\"\ncount = 5\nwindow = \"10m\"\nchannels = [\"hook\"]\n";
const TAKEOVER: &str = "[[alerts.rule]]\nname = \"takeover\"\nkind = \"compromise\"\nchannels = [\"hook\"]\n";

struct Setup {
    _dir: tempfile::TempDir,
    log: PathBuf,
    data: PathBuf,
    config: PathBuf,
}

fn setup(url: &str, format: &str, quiet: &str, rules: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    std::fs::write(&log, "").unwrap();
    let data = dir.path().join("data");
    let config = config(dir.path(), url, format, quiet, rules);
    Setup { _dir: dir, log, data, config }
}

impl Setup {
    fn watch(&self) -> Watch {
        Watch::start(&self.data, &[self.config_arg().as_ref(), "--log".as_ref(), self.log.as_os_str()])
    }

    fn config_arg(&self) -> String {
        format!("--config={}", self.config.display())
    }

    /// Runs `maillogsentinel ARGS` with this configuration; returns the output.
    fn run(&self, args: &[&str]) -> std::process::Output {
        command().arg("--config").arg(&self.config).args(args).arg("--data-dir").arg(&self.data).output().unwrap()
    }

    fn scan(&self) -> String {
        let out = command()
            .arg("--config")
            .arg(&self.config)
            .args(["scan", "--year", "2026", "--no-dns", "--no-geo", "--log"])
            .arg(&self.log)
            .arg("--data-dir")
            .arg(&self.data)
            .output()
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "scan failed: {said}");
        said
    }

    /// `alerts --format json`.
    fn listed(&self) -> Vec<Value> {
        let out = self.run(&["alerts", "--format", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
    }
}

/// The idempotency keys of the requests, in order.
fn keys(requests: &[http_server::Request]) -> Vec<String> {
    requests.iter().map(|r| r.header("idempotency-key").unwrap_or("").to_string()).collect()
}

#[test]
fn watch_alerts_within_a_second_and_delivers_once_through_failures() {
    let server = HttpServer::start([
        Reply::status(500).body("try later"),
        Reply::hang(Duration::from_secs(30)),
        Reply::status(429).header("Retry-After", "2"),
    ]);
    let s = setup(&server.url("/hook"), "json", "1h", &format!("{BRUTE}{TAKEOVER}"));
    let watch = s.watch();
    let t = now();
    let lines: String = (0..5).map(|i| failure_at(t - 5 + i, "203.0.113.7", &format!("user{i}"))).collect();
    let written = Instant::now();
    append(&s.log, &lines);
    let first = server.wait_for(1, Duration::from_secs(10));
    let latency = first[0].at.duration_since(written);
    assert!(latency < Duration::from_secs(1), "first try {latency:?} after the lines were written");
    // 500, a hang past the 1 s timeout, 429 with Retry-After: 2, then 200.
    watch.wait_for("the alert delivered", || !server.delivered().is_empty());
    let requests = server.requests();
    assert_eq!(requests.len(), 4, "{requests:?}");
    let replied: Vec<&Replied> = requests.iter().map(|r| &r.replied).collect();
    assert_eq!(replied, [&Replied::Status(500), &Replied::Hung, &Replied::Status(429), &Replied::Status(200)]);
    let k = keys(&requests);
    assert!(k[0].starts_with("mls-") && k.iter().all(|x| *x == k[0]), "one message, one key: {k:?}");
    assert!(requests[3].at.duration_since(requests[2].at) >= Duration::from_secs(2), "Retry-After honoured");
    let body = requests[3].json();
    assert_eq!(body["idempotency_key"], k[0].as_str());
    assert_eq!(body["rule"], "brute");
    assert_eq!(body["attempts"], 5);
    assert_eq!(body["subjects"][0]["name"], "203.0.113.7");

    // The address logs in: a compromise goes out at once, though the threshold rule is quiet.
    let written = Instant::now();
    append(&s.log, &login_at(now(), "203.0.113.7", "alice"));
    let all = server.wait_for(5, Duration::from_secs(10));
    assert!(all[4].at.duration_since(written) < Duration::from_secs(1));
    assert_eq!(all[4].json()["rule"], "takeover");
    assert_ne!(keys(&all)[4], k[0]);
    // More failures from the same address within the quiet period send nothing now.
    append(&s.log, &(5..15).map(|i| failure_at(now(), "203.0.113.7", &format!("user{i}"))).collect::<String>());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(server.requests().len(), 5);
    let said = watch.stop();
    assert!(said.contains("alert"), "{said}");

    let listed = s.listed();
    let states: Vec<(&str, &str, u64)> = listed
        .iter()
        .map(|x| (x["rule"].as_str().unwrap(), x["status"].as_str().unwrap(), x["tries"].as_u64().unwrap()))
        .collect();
    assert_eq!(states, [("brute", "sent", 4), ("takeover", "sent", 1)]);
    let text = String::from_utf8(s.run(&["alerts"]).stdout).unwrap();
    assert!(text.contains("brute (threshold)") && text.contains("hook  sent"), "{text}");
}

#[test]
fn a_kill_between_the_commit_and_the_delivery_loses_nothing() {
    let server = HttpServer::start([Reply::hang(Duration::from_secs(60))]);
    let s = setup(&server.url("/hook"), "slack", "1h", BRUTE);
    // The channel's timeout is longer than the hang is needed: the delivery is under way when
    // the process is killed.
    let text = std::fs::read_to_string(&s.config).unwrap().replace("timeout = \"1s\"", "timeout = \"30s\"");
    std::fs::write(&s.config, text).unwrap();
    let mut watch = s.watch();
    let t = now();
    append(&s.log, &(0..5).map(|i| failure_at(t - 5 + i, "198.51.100.9", &format!("u{i}"))).collect::<String>());
    server.wait_for(1, Duration::from_secs(10));
    watch.child.kill().unwrap();
    watch.child.wait().unwrap();
    assert!(server.delivered().is_empty());
    let listed = s.listed();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "pending");

    // The next run delivers it, once.
    let watch = s.watch();
    watch.wait_for("the delivery", || !server.delivered().is_empty());
    std::thread::sleep(Duration::from_millis(500));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let k = keys(&requests);
    assert_eq!(k[0], k[1], "the repeat carries the same key");
    let text = requests[1].json()["text"].as_str().unwrap().to_string();
    assert!(text.contains("198.51.100.9"), "{text}");
    watch.stop();
    assert_eq!(s.listed()[0]["status"], "sent");
}

#[test]
fn sigterm_during_a_hanging_delivery_stops_within_two_seconds() {
    let server = HttpServer::start([Reply::hang(Duration::from_secs(60))]);
    let s = setup(&server.url("/hook"), "gotify", "1h", BRUTE);
    let text = std::fs::read_to_string(&s.config).unwrap().replace("timeout = \"1s\"", "timeout = \"30s\"");
    std::fs::write(&s.config, text).unwrap();
    let watch = s.watch();
    let t = now();
    append(&s.log, &(0..5).map(|i| failure_at(t - 5 + i, "198.51.100.9", &format!("u{i}"))).collect::<String>());
    server.wait_for(1, Duration::from_secs(10));
    // Exit 0 within 2 s (Watch::stop checks both); the alert stays queued for the next run.
    watch.stop();
    assert_eq!(s.listed()[0]["status"], "pending");
}

#[test]
fn a_flood_is_a_bounded_number_of_messages_that_count_every_attempt() {
    let server = HttpServer::start([]);
    let s =
        setup(&server.url("/hook"), "json", "3s", &format!("{}{TAKEOVER}", BRUTE.replace("count = 5", "count = 20")));
    // 10,000 failures from 500 addresses within a minute: the first 1,000 from 50 of them. Two
    // scans read them (a scan commits what it read as one batch: one scan of the whole flood
    // would be one message).
    let t = now() - 70;
    let mut lines = Vec::new();
    for i in 0..10_000i64 {
        let n = if i < 1000 { i % 50 } else { 50 + i % 450 };
        lines.push(failure_at(t + i / 170, &format!("198.51.{}.{}", n / 250, n % 250 + 1), &format!("u{}", i % 37)));
    }
    lines.push(login_at(t + 60, "198.51.0.1", "carol"));
    std::fs::write(&s.log, lines[..3000].concat()).unwrap();
    let said = s.scan();
    assert!(said.contains("1 alert queued, 1 delivered"), "the first 50 addresses: {said}");
    append(&s.log, &lines[3000..].concat());
    let said = s.scan();
    assert!(said.contains("1 alert queued, 1 delivered"), "the compromise only: {said}");
    // The quiet period ends: the next scan sends the digest, and nothing more.
    std::thread::sleep(Duration::from_secs(4));
    let said = s.scan();
    assert!(said.contains("1 alert queued, 1 delivered"), "the digest: {said}");
    std::thread::sleep(Duration::from_secs(4));
    let said = s.scan();
    assert!(!said.contains("queued"), "{said}");
    let bodies: Vec<Value> = server.delivered().iter().map(|r| r.json()).collect();
    assert_eq!(bodies.len(), 3);
    let threshold: Vec<&Value> = bodies.iter().filter(|b| b["rule"] == "brute").collect();
    assert_eq!(threshold.len(), 2, "one first alert, one digest");
    assert_eq!(threshold[1]["digest"], true);
    let attempts: u64 = threshold.iter().map(|b| b["attempts"].as_u64().unwrap()).sum();
    assert_eq!(attempts, 10_000, "every attempt is counted");
    let subjects: u64 = threshold
        .iter()
        .map(|b| b["subjects"].as_array().unwrap().len() as u64 + b["more_subjects"].as_u64().unwrap())
        .sum();
    assert_eq!(subjects, 500);
    let compromise: Vec<&Value> = bodies.iter().filter(|b| b["rule"] == "takeover").collect();
    assert_eq!(compromise.len(), 1);
    assert_eq!(compromise[0]["subjects"][0]["accounts"][0], "carol");

    // The day's report tells what was sent.
    let out = s.run(&["report", "--since", "1h", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<(String, u64)> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule"].as_str().unwrap().to_string(), r["sent"].as_u64().unwrap()))
        .collect();
    assert_eq!(rows, [("brute".to_string(), 2), ("takeover".to_string(), 1)]);
}

#[test]
fn old_events_alert_nobody() {
    let server = HttpServer::start([]);
    let s = setup(&server.url("/hook"), "json", "1h", BRUTE);
    let t = now() - 3 * 3600;
    std::fs::write(&s.log, (0..50).map(|i| failure_at(t + i, "192.0.2.1", "x")).collect::<String>()).unwrap();
    let said = s.scan();
    assert!(!said.contains("queued"), "{said}");
    assert!(server.requests().is_empty());
}

#[test]
fn a_receiver_down_leaves_the_alert_for_the_next_run() {
    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let s = setup(&format!("http://{closed}/hook"), "json", "1h", BRUTE);
    let t = now();
    std::fs::write(&s.log, (0..5).map(|i| failure_at(t - 10 + i, "192.0.2.9", "x")).collect::<String>()).unwrap();
    let said = s.scan();
    assert!(said.contains("1 alert queued, 0 delivered, 1 waiting for a retry"), "{said}");
    assert!(said.contains("channel hook:"), "{said}");
    let listed = s.listed();
    assert_eq!(listed[0]["status"], "pending");
    assert!(listed[0]["tries"].as_u64().unwrap() >= 1);
    // `alerts test` says the channel is down, with exit code 6.
    let out = command().arg("--config").arg(&s.config).args(["alerts", "test"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("hook: failed:"));
}

#[test]
fn alerts_test_sends_through_each_channel() {
    let server = HttpServer::start([]);
    let s = setup(&server.url("/hook"), "ntfy", "1h", "");
    let out = command().arg("--config").arg(&s.config).args(["alerts", "test"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hook: delivered\n");
    assert!(out.status.success());
    let got = server.requests();
    assert_eq!(got.len(), 1);
    assert!(got[0].text().contains("mx1"), "{}", got[0].text());
    let out = command().arg("--config").arg(&s.config).args(["alerts", "test", "--channel", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}
