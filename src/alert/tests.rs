use std::net::IpAddr;
use std::path::Path;

use super::*;
use crate::config::Config;
use crate::model::event::{Detail, EventKey, Layer, OwnedEvent, Reason};
use crate::store::alerts::Queued;
use crate::store::csv::{IntrusionCsv, RowFormatter};
use crate::store::{Batch, STORE_FILE};

/// The wall clock of the tests: events are logged shortly before it.
const NOW: i64 = 1_800_000_000;

fn config(rules: &str) -> AlertsConfig {
    let text = format!(
        "[alerts]\nquiet_period = \"15m\"\n[[alerts.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \
         \"http://127.0.0.1:9/\"\n{rules}"
    );
    Config::parse(&text, Path::new("test.toml")).unwrap().alerts
}

fn event(kind: Kind, ip: &str, user: &str, ts: i64) -> OwnedEvent {
    OwnedEvent {
        time: jiff::Timestamp::from_second(ts).unwrap(),
        server: "mx1".into(),
        detail: Detail {
            kind,
            reason: if kind == Kind::Failure { Reason::PasswordMismatch } else { Reason::AuthenticationFailure },
            service: "dovecot/imap-login".into(),
            client_ip: ip.parse().unwrap(),
            username: Some(user.into()),
            mechanism: None,
            logged_hostname: None,
            count: 1,
            layer: Layer::LoginFront,
            session: None,
            duration_secs: None,
        },
    }
}

/// A store with the alert rules evaluated on every batch, as the scan's writer does.
struct Rig {
    _dir: tempfile::TempDir,
    store: Store,
    csv: IntrusionCsv,
    rows: RowFormatter,
    engine: Engine,
    cfg: AlertsConfig,
    offset: u64,
    country: Option<&'static str>,
}

impl Rig {
    fn new(rules: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(rules);
        let mut store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
        store.keep_stored(true);
        let (csv, _) = IntrusionCsv::open(&dir.path().join("intrusions.csv"), store.csv_len().unwrap()).unwrap();
        let engine = Engine::open(&cfg, "mx1", false, &store, NOW).unwrap();
        Rig {
            _dir: dir,
            store,
            csv,
            rows: RowFormatter::new(jiff::tz::TimeZone::UTC),
            engine,
            cfg,
            offset: 0,
            country: None,
        }
    }

    /// Stores `events` as one batch and evaluates them at `now`; returns the messages queued.
    fn put(&mut self, events: Vec<OwnedEvent>, now: i64) -> u64 {
        let keyed: Vec<(EventKey, OwnedEvent)> = events
            .into_iter()
            .map(|e| {
                self.offset += 100;
                (EventKey { source: 1, offset: self.offset }, e)
            })
            .collect();
        let batch = Batch::of(keyed);
        let country = self.country;
        let mut info = |_: IpAddr| IpInfo { country_code: country.map(String::from), ..IpInfo::default() };
        self.store.store_batch(&batch, &mut self.csv, &mut self.rows, false, &mut info).unwrap();
        let records: Vec<EventRecord> = self.store.stored_records().collect::<Result<_>>().unwrap();
        let fired = self.engine.evaluate(&self.store, &records, &mut info, now).unwrap();
        self.store.commit_open(&mut self.csv).unwrap();
        fired.queued
    }

    fn flush(&mut self, now: i64) -> u64 {
        self.engine.flush_due(&self.store, now).unwrap().queued
    }

    fn queued(&self) -> Vec<Queued> {
        self.store.due_alerts(i64::MAX).unwrap()
    }

    /// The engine as a new run opens it.
    fn restart(&mut self, now: i64) {
        self.engine = Engine::open(&self.cfg, "mx1", false, &self.store, now).unwrap();
    }
}

fn failures(ip: &str, n: usize, ts: i64) -> Vec<OwnedEvent> {
    (0..n).map(|i| event(Kind::Failure, ip, &format!("user{i}"), ts)).collect()
}

const THRESHOLD: &str =
    "[[alerts.rule]]\nname = \"brute\"\nkind = \"threshold\"\ncount = 5\nwindow = \"10m\"\nchannels = [\"hook\"]\n";

#[test]
fn a_threshold_fires_once_and_what_follows_waits_for_the_digest() {
    let mut rig = Rig::new(THRESHOLD);
    assert_eq!(rig.put(failures("192.0.2.1", 4, NOW - 60), NOW), 0, "below the count");
    assert_eq!(rig.put(failures("192.0.2.1", 1, NOW - 50), NOW), 1);
    let first = rig.queued();
    assert_eq!(first.len(), 1);
    let a = &first[0].alert;
    assert!(!a.digest);
    assert_eq!((a.rule.as_str(), a.attempts, a.subjects.len()), ("brute", 5, 1));
    assert_eq!(a.subjects[0].name, "192.0.2.1");
    assert_eq!(a.subjects[0].account_count, 4, "user0..user3 (user0 twice)");
    assert!(a.key.starts_with("mls-"), "{}", a.key);

    // Another address fires, the first goes on: nothing is sent before the quiet period ends.
    assert_eq!(rig.put(failures("192.0.2.2", 6, NOW + 10), NOW + 10), 0);
    assert_eq!(rig.put(failures("192.0.2.1", 3, NOW + 20), NOW + 20), 0);
    assert_eq!(rig.flush(NOW + 100), 0, "quiet period not over");
    assert_eq!(rig.engine.next_flush(), Some(NOW + 900));
    assert_eq!(rig.flush(NOW + 900), 1);
    let all = rig.queued();
    assert_eq!(all.len(), 2);
    let d = &all[1].alert;
    assert!(d.digest);
    assert_eq!(d.attempts, 9);
    let names: Vec<(&str, u64, bool)> = d.subjects.iter().map(|s| (s.name.as_str(), s.attempts, s.again)).collect();
    assert_eq!(names, [("192.0.2.2", 6, false), ("192.0.2.1", 3, true)]);
    assert_ne!(all[0].alert.key, d.key);
    // The digest opened a new quiet period; with nothing gathered, its end sends nothing.
    assert_eq!(rig.flush(NOW + 1800), 0);
}

#[test]
fn a_flood_is_one_message_and_one_digest_that_count_every_attempt() {
    let mut rig = Rig::new(
        "[[alerts.rule]]\nname = \"brute\"\nkind = \"threshold\"\ncount = 20\nwindow = \"10m\"\nchannels = [\"hook\"]\n",
    );
    // 10,000 failures from 500 addresses within a minute, in batches as a scan commits them.
    let mut events = Vec::new();
    // The first 1,000 come from 50 of them (the first to fire), the rest from the others.
    for i in 0..10_000u32 {
        let n = if i < 1000 { i % 50 } else { 50 + i % 450 };
        let ip = format!("198.51.{}.{}", n / 250, n % 250);
        events.push(event(Kind::Failure, &ip, &format!("u{}", i % 37), NOW - 60 + i64::from(i / 170)));
    }
    let mut queued = 0;
    for chunk in events.chunks(1000) {
        queued += rig.put(chunk.to_vec(), NOW);
    }
    queued += rig.flush(NOW + 900);
    assert_eq!(queued, 2, "one first alert, one digest");
    let sent = rig.queued();
    let total: u64 = sent.iter().map(|q| q.alert.attempts).sum();
    assert_eq!(total, 10_000, "every attempt is counted in a message");
    let subjects: u64 = sent.iter().map(|q| q.alert.subjects.len() as u64 + q.alert.more_subjects).sum();
    assert_eq!(subjects, 500);
    assert_eq!((sent[0].alert.subjects.len(), sent[0].alert.more_subjects), (20, 30), "the first 50 to fire");
    assert!(sent[1].alert.digest);
    assert_eq!((sent[1].alert.subjects.len(), sent[1].alert.more_subjects), (20, 430));
}

#[test]
fn a_compromise_goes_at_once_once_per_account_and_address() {
    let mut rig = Rig::new(&format!(
        "{THRESHOLD}[[alerts.rule]]\nname = \"takeover\"\nkind = \"compromise\"\nchannels = [\"hook\"]\n"
    ));
    assert_eq!(rig.put(failures("203.0.113.9", 5, NOW - 300), NOW), 1, "the threshold fires");
    // The threshold rule is quiet now; the compromise is not held back.
    assert_eq!(rig.put(vec![event(Kind::Success, "203.0.113.9", "alice", NOW - 200)], NOW), 1);
    assert_eq!(rig.put(vec![event(Kind::Success, "203.0.113.9", "alice", NOW - 100)], NOW), 0, "once per pair");
    assert_eq!(rig.put(vec![event(Kind::Success, "192.0.2.77", "alice", NOW - 90)], NOW), 0, "never failed");
    let all = rig.queued();
    let c = &all[1].alert;
    assert_eq!(c.kind, Some(RuleKind::Compromise));
    assert_eq!(c.subjects[0].accounts, ["alice"]);
    assert_eq!(c.subjects[0].why, ["failed before"]);
    // A new run remembers the pair.
    rig.restart(NOW + 10);
    assert_eq!(rig.put(vec![event(Kind::Success, "203.0.113.9", "alice", NOW + 5)], NOW + 10), 0);
    // Another account from that address is a new pair.
    assert_eq!(rig.put(vec![event(Kind::Success, "203.0.113.9", "bob", NOW + 6)], NOW + 10), 1);
}

#[test]
fn a_compromise_from_a_new_country() {
    let mut rig = Rig::new("[[alerts.rule]]\nname = \"takeover\"\nkind = \"compromise\"\nchannels = [\"hook\"]\n");
    rig.country = Some("FR");
    assert_eq!(rig.put(vec![event(Kind::Success, "192.0.2.10", "alice", NOW - 500)], NOW), 0, "no country before");
    rig.country = Some("KP");
    assert_eq!(rig.put(vec![event(Kind::Success, "192.0.2.11", "alice", NOW - 400)], NOW), 1);
    assert_eq!(rig.queued()[0].alert.subjects[0].why, ["new country"]);
}

#[test]
fn honeypot_and_outage_rules() {
    let mut rig = Rig::new(
        "[[alerts.rule]]\nname = \"trap\"\nkind = \"honeypot\"\nusernames = [\"backup-admin\"]\nchannels = \
         [\"hook\"]\n[[alerts.rule]]\nname = \"auth-down\"\nkind = \"outage\"\nchannels = [\"hook\"]\n",
    );
    assert_eq!(rig.put(failures("192.0.2.5", 3, NOW - 10), NOW), 0, "not a trap account");
    assert_eq!(rig.put(vec![event(Kind::Failure, "192.0.2.5", "Backup-Admin", NOW - 5)], NOW), 1);
    assert_eq!(rig.put(vec![event(Kind::BackendError, "192.0.2.6", "carol", NOW - 4)], NOW), 1);
    let all = rig.queued();
    assert_eq!(all[0].alert.kind, Some(RuleKind::Honeypot));
    assert_eq!(all[0].alert.subjects[0].accounts, ["Backup-Admin"]);
    assert_eq!(all[1].alert.kind, Some(RuleKind::Outage));
    assert_eq!(all[1].alert.subjects[0].name, "mx1");
}

#[test]
fn old_events_raise_nothing() {
    let mut rig = Rig::new(THRESHOLD);
    assert_eq!(rig.put(failures("192.0.2.1", 50, NOW - 7200), NOW), 0);
    assert!(rig.queued().is_empty());
}

#[test]
fn a_new_run_goes_on_counting_from_the_stored_events() {
    let mut rig = Rig::new(THRESHOLD);
    assert_eq!(rig.put(failures("192.0.2.1", 3, NOW - 120), NOW - 100), 0);
    rig.restart(NOW);
    assert_eq!(rig.put(failures("192.0.2.1", 2, NOW - 30), NOW), 1);
    // ...and keeps a subject quiet across runs.
    rig.restart(NOW + 60);
    assert_eq!(rig.put(failures("192.0.2.1", 9, NOW + 50), NOW + 60), 0);
    assert_eq!(rig.flush(NOW + 900), 1);
    assert_eq!(rig.queued()[1].alert.attempts, 9);
}

#[test]
fn per_network_and_per_account() {
    let mut rig = Rig::new(
        "[[alerts.rule]]\nname = \"nets\"\nkind = \"threshold\"\nper = \"network\"\ncount = 4\nchannels = \
         [\"hook\"]\n[[alerts.rule]]\nname = \"accounts\"\nkind = \"threshold\"\nper = \"account\"\ncount = \
         3\nchannels = [\"hook\"]\n",
    );
    let events: Vec<OwnedEvent> =
        (1..=4).map(|i| event(Kind::Failure, &format!("192.0.2.{i}"), &format!("x{i}"), NOW - 10)).collect();
    assert_eq!(rig.put(events, NOW), 1);
    let events: Vec<OwnedEvent> =
        (1..=3).map(|i| event(Kind::Failure, &format!("198.51.100.{}", i * 60), "victim", NOW - 5)).collect();
    assert_eq!(rig.put(events, NOW), 1);
    let all = rig.queued();
    assert_eq!(all[0].alert.subjects[0].name, "192.0.2.0/24");
    assert_eq!(all[0].alert.subjects[0].ips.len(), 4);
    assert_eq!(all[1].alert.subjects[0].name, "victim");
}
