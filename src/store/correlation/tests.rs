use std::path::Path;

use super::super::{Batch, STORE_FILE, Store, csv, meta_get, meta_set};
use crate::correlate::Correlator;
use crate::model::event::{Detail, EventKey, Kind, Layer, OwnedEvent, Reason};
use crate::model::ipinfo::IpInfo;
use crate::model::symbols::Symbols;

/// A failure from `ip` at `secs` as Dovecot's auth process logs it for Postfix (held pending by
/// the correlator), interned in `symbols`.
fn backend(symbols: &mut Symbols, secs: i64, ip: &str) -> crate::model::event::Event {
    OwnedEvent {
        time: jiff::Timestamp::from_second(1_773_100_800 + secs).unwrap(),
        server: "mx1".into(),
        detail: Detail {
            kind: Kind::Failure,
            reason: Reason::PasswordMismatch,
            service: "dovecot/auth".into(),
            client_ip: ip.parse().unwrap(),
            username: Some(format!("user-{ip}")),
            mechanism: None,
            logged_hostname: None,
            count: 1,
            layer: Layer::Backend,
            session: None,
            duration_secs: None,
        },
    }
    .intern(symbols)
}

/// Commits the correlator's changes, with no events, as a scan's commit does.
fn commit(store: &mut Store, dir: &Path, c: &mut Correlator, symbols: &Symbols) {
    let (mut csv, _) = csv::IntrusionCsv::open(&dir.join("intrusions.csv"), store.csv_len().unwrap()).unwrap();
    let mut rows = csv::RowFormatter::new(jiff::tz::TimeZone::UTC);
    let batch = Batch { correlator: Some(c.changes(symbols)), ..Batch::default() };
    store.commit_batch(&batch, &mut csv, &mut rows, false, &mut |_| IpInfo::default()).unwrap();
}

fn rows(store: &Store, table: &str) -> i64 {
    store.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

#[test]
fn a_commit_writes_only_the_records_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
    let mut symbols = Symbols::new();
    let mut c = Correlator::new();
    let mut out = Vec::new();
    for i in 0..1000u16 {
        let ip = format!("10.0.{}.{}", i / 256, i % 256);
        c.push(EventKey { source: 1, offset: u64::from(i) }, backend(&mut symbols, 0, &ip), &mut out);
    }
    commit(&mut store, dir.path(), &mut c, &symbols);
    assert_eq!(rows(&store, "correlator_records"), 1000);

    // One line of one address among a thousand: its record's row, the clocks and the CSV's
    // length change, nothing else.
    c.push(EventKey { source: 1, offset: 5000 }, backend(&mut symbols, 1, "10.0.1.7"), &mut out);
    let before = store.conn.total_changes();
    commit(&mut store, dir.path(), &mut c, &symbols);
    assert_eq!(store.conn.total_changes() - before, 3);
    let ip: Vec<u8> =
        store.conn.query_row("SELECT ip FROM correlator_records WHERE seq = 1000", [], |r| r.get(0)).unwrap();
    assert_eq!(ip, [10, 0, 1, 7]);

    // Pruned records lose their rows; what is saved is the whole state.
    let mut late = Vec::new();
    for i in 0..3000u16 {
        c.push(
            EventKey { source: 1, offset: 10_000 + u64::from(i) },
            backend(&mut symbols, 3600 + i64::from(i), "10.9.9.9"),
            &mut late,
        );
    }
    commit(&mut store, dir.path(), &mut c, &symbols);
    assert_eq!(late.len() + out.len() + c.pending_len(), 1001 + 3000, "released, not lost");
    assert_eq!(rows(&store, "correlator_records") as usize, c.len());
    assert!(c.len() < 1000);
    let saved = store.correlator_state().unwrap().unwrap();
    let back = Correlator::restore(&saved, &mut symbols).unwrap();
    assert_eq!((back.len(), back.pending_len(), back.sessions_len()), (c.len(), c.pending_len(), 0));

    // scan --full forgets it all.
    store.forget_checkpoints().unwrap();
    assert_eq!(store.correlator_state().unwrap(), None);
}

/// The state a build before the tables saved (tests/fixtures/store/correlator-0.1.json): a
/// Postfix failure from 192.0.2.8 (emitted), a Backend line of Postfix's from 192.0.2.7 and one
/// of a Dovecot session from 2001:db8::9 (both pending), and that session's counters.
const LEGACY: &[u8] = include_bytes!("../../../tests/fixtures/store/correlator-0.1.json");

#[test]
fn the_state_of_a_build_before_the_tables_is_converted_once() {
    for as_text in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        {
            let store = Store::open(&path).unwrap();
            if as_text {
                meta_set(&store.conn, "correlator", std::str::from_utf8(LEGACY).unwrap()).unwrap();
            } else {
                meta_set(&store.conn, "correlator", LEGACY).unwrap();
            }
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(meta_get::<Vec<u8>>(&store.conn, "correlator").unwrap(), None, "the JSON is gone");
        assert_eq!((rows(&store, "correlator_records"), rows(&store, "correlator_sessions")), (3, 1));
        let saved = store.correlator_state().unwrap().unwrap();
        assert_eq!(saved.legacy, None);
        let mut symbols = Symbols::new();
        let mut c = Correlator::restore(&saved, &mut symbols).unwrap();
        assert_eq!((c.len(), c.pending_len(), c.sessions_len()), (3, 2, 1));
        let mut out = Vec::new();
        c.flush_before(jiff::Timestamp::MAX, &mut out);
        let mut got: Vec<_> = out
            .iter()
            .map(|o| (o.event.client_ip.to_string(), symbols.get(o.event.username.unwrap()).to_string()))
            .collect();
        got.sort();
        assert_eq!(got, [("192.0.2.7".into(), "alice".into()), ("2001:db8::9".into(), "bob@example.org".to_string())]);
        // The clocks came along: the window and the next record number.
        assert_eq!(c.window(), crate::correlate::DEFAULT_WINDOW);
    }
}

#[test]
fn an_unreadable_old_state_is_left_for_the_scan_to_report_and_replace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(STORE_FILE);
    meta_set(&Store::open(&path).unwrap().conn, "correlator", &b"{\"state\": 7"[..]).unwrap();
    let mut store = Store::open(&path).unwrap();
    let saved = store.correlator_state().unwrap().unwrap();
    assert!(Correlator::restore(&saved, &mut Symbols::new()).is_err());
    // The scan starts afresh; its first commit replaces the old state.
    let mut c = Correlator::new();
    commit(&mut store, dir.path(), &mut c, &Symbols::new());
    let saved = store.correlator_state().unwrap().unwrap();
    assert_eq!(saved.legacy, None);
    assert!(Correlator::restore(&saved, &mut Symbols::new()).is_ok());
}
