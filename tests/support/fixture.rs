//! A store with known events, written through the real store API, for the report and email
//! tests. The report day is yesterday (UTC), so that the default period and catch-up work.
#![allow(dead_code)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jiff::ToSpan;
use jiff::civil::Date;
use maillogsentinel::model::event::{Detail, EventKey, Kind, Layer, OwnedEvent, Reason};
use maillogsentinel::model::ipinfo::IpInfo;
use maillogsentinel::model::ipinfo::RdnsStatus;
use maillogsentinel::store::csv::{IntrusionCsv, RowFormatter};
use maillogsentinel::store::{Batch, STORE_FILE, Store};

/// The report day: yesterday in UTC.
pub fn day() -> Date {
    jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date().checked_sub(1.day()).unwrap()
}

/// A username with an escape sequence, stored raw to check that reports re-check it.
pub const EVIL_USER: &str = "evil\x1b[31m";
/// A username that is markup.
pub const SCRIPT_USER: &str = "<script>alert(1)</script>";

struct Builder {
    outputs: Vec<(EventKey, OwnedEvent)>,
    offset: u64,
}

impl Builder {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        day: Date,
        hms: &str,
        kind: Kind,
        reason: Reason,
        service: &str,
        ip: &str,
        user: &str,
        count: u32,
    ) {
        let time = format!("{day}T{hms}Z").parse().unwrap();
        self.offset += 100;
        self.outputs.push((
            EventKey { source: 1, offset: self.offset },
            OwnedEvent {
                time,
                server: "mx1".into(),
                detail: Detail {
                    kind,
                    reason,
                    service: service.into(),
                    client_ip: ip.parse().unwrap(),
                    username: Some(user.into()),
                    mechanism: Some("LOGIN".into()),
                    logged_hostname: Some("unknown".into()),
                    count,
                    layer: Layer::SmtpFront,
                    session: None,
                    duration_secs: None,
                },
            },
        ));
    }
}

/// Expected facts about [`fill`]'s report day.
pub const FAILED: u64 = 15;
/// Distinct attacker IPs on the day.
pub const IPS: u64 = 3;
/// Failed attempts on the day before.
pub const PREVIOUS_FAILED: u64 = 4;

/// Writes the fixture into `data/` and, with `enrich`, an `ip_info` table.
///
/// Day before: 198.51.100.7 fails 4 times; alice logs in from 192.0.2.10 (FR).
/// Report day: 203.0.113.5 fails 10 times (two lines of 5, submission, admin and test);
/// 198.51.100.7 fails 3 times (IMAP, a script tag as user) then bob logs in from it;
/// 2001:db8::1 fails twice (POP3, a username with an escape sequence); alice logs in from
/// 203.0.113.99 (RU); one mechanism probe; two backend errors.
pub fn fill(data: &Path, enrich: bool) {
    std::fs::create_dir_all(data).unwrap();
    let mut store = Store::open(&data.join(STORE_FILE)).unwrap();
    let (mut csv, _) = IntrusionCsv::open(&data.join("reports/intrusions.csv"), store.csv_len().unwrap()).unwrap();
    let mut rows = RowFormatter::new(jiff::tz::TimeZone::UTC);
    let d = day();
    let before = d.checked_sub(1.day()).unwrap();
    let mut b = Builder { outputs: vec![], offset: 0 };
    use Kind::*;
    use Reason::*;
    let sub = "postfix/submission/smtpd";
    b.add(before, "10:00:00", Failure, AuthenticationFailure, sub, "198.51.100.7", "admin", 4);
    b.add(before, "11:00:00", Success, LoginOk, "dovecot/imap-login", "192.0.2.10", "alice", 1);
    b.add(d, "03:10:00", Failure, AuthenticationFailure, sub, "203.0.113.5", "admin", 5);
    b.add(d, "03:20:00", Failure, PasswordMismatch, sub, "203.0.113.5", "test", 5);
    b.add(d, "08:00:00", Failure, PasswordMismatch, "dovecot/imap-login", "198.51.100.7", SCRIPT_USER, 3);
    b.add(d, "08:30:00", Success, LoginOk, "dovecot/imap-login", "198.51.100.7", "bob", 1);
    b.add(d, "09:00:00", Failure, UnknownUser, "dovecot/pop3-login", "2001:db8::1", EVIL_USER, 2);
    b.add(d, "12:00:00", Success, LoginOk, sub, "203.0.113.99", "alice", 1);
    b.add(d, "13:00:00", Failure, MechanismInvalid, "postfix/smtpd", "203.0.113.50", "probe", 1);
    b.add(d, "14:00:00", BackendError, BackendOutage, "dovecot/auth", "127.0.0.1", "alice", 2);
    let batch = Batch::of(b.outputs);
    type Row = (&'static str, Option<&'static str>, RdnsStatus, &'static str, u32, &'static str);
    let known: [Row; 5] = [
        ("203.0.113.5", Some("scanner.example.net"), RdnsStatus::Ok, "CN", 64500, "Evil Hosting <b>Ltd</b>"),
        ("198.51.100.7", None, RdnsStatus::Nxdomain, "BR", 64501, "Other Net"),
        ("2001:db8::1", None, RdnsStatus::Timeout, "US", 64502, "V6 Corp"),
        ("192.0.2.10", Some("home.example.fr"), RdnsStatus::Ok, "FR", 3215, "Orange"),
        ("203.0.113.99", None, RdnsStatus::Nxdomain, "RU", 64503, "Far Away"),
    ];
    // The enrichment a scan would have found, given to the store the way a scan gives it.
    let mut enrichment = |ip: IpAddr| match known.iter().find(|k| k.0.parse::<IpAddr>().ok() == Some(ip)) {
        Some(&(_, host, status, cc, asn, aso)) if enrich => IpInfo {
            hostname: host.map(str::to_string),
            rdns_status: Some(status),
            country_code: Some(cc.to_string()),
            asn: Some(asn),
            aso: Some(aso.to_string()),
            resolved_at: Some(jiff::Timestamp::now().as_second()),
        },
        _ => IpInfo::default(),
    };
    store.commit_batch(&batch, &mut csv, &mut rows, false, &mut enrichment).unwrap();
}

/// Writes a config file in `dir` (data in `dir/data`, UTC, server mx1) with `extra` appended.
pub fn config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("config.toml");
    let text =
        format!("data_dir = \"{}\"\ntimezone = \"UTC\"\nserver_name = \"mx1\"\n{extra}", dir.join("data").display());
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary with `--config config` and `args`.
pub fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_maillogsentinel"))
        .env_remove("MAILLOGSENTINEL_CONFIG")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run maillogsentinel")
}

/// A tool a test needs is missing: under CI that is a failure, elsewhere the test is skipped.
/// Returns true when the test should go on.
pub fn require(tool: &str, present: bool, install: &str) -> bool {
    if present {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{tool} is required under CI=true but missing; .ci/run installs it ({install})");
    }
    eprintln!("SKIPPED: {tool} is not installed ({install})");
    false
}
