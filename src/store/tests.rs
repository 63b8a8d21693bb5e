use super::schema::{SCHEMA, SCHEMA_VERSION, has_table};
use super::*;
use crate::model::event::{Detail, EventKey, Kind, Layer, OwnedEvent, Reason};
use crate::model::ipinfo::IpInfo;

/// A failure of `user` from 192.0.2.1 logged at byte `offset` of file 1.
fn failure(offset: u64, user: &str) -> (EventKey, OwnedEvent) {
    let detail = Detail {
        kind: Kind::Failure,
        reason: Reason::PasswordMismatch,
        service: "dovecot/imap-login".into(),
        client_ip: "192.0.2.1".parse().unwrap(),
        username: Some(user.into()),
        mechanism: None,
        logged_hostname: None,
        count: 1,
        layer: Layer::LoginFront,
        session: None,
        duration_secs: None,
    };
    let time = jiff::Timestamp::from_second(1_773_100_800 + offset as i64).unwrap();
    (EventKey { source: 1, offset }, OwnedEvent { time, server: "mx1".into(), detail })
}

/// A data directory's store, CSV and row formatter, open as a scan holds them.
struct Opened {
    store: Store,
    csv: csv::IntrusionCsv,
    rows: csv::RowFormatter,
}

impl Opened {
    fn new(dir: &Path) -> Opened {
        let store = Store::open(&dir.join(STORE_FILE)).unwrap();
        let (csv, _) = csv::IntrusionCsv::open(&dir.join("intrusions.csv"), store.csv_len().unwrap()).unwrap();
        Opened { store, csv, rows: csv::RowFormatter::new(jiff::tz::TimeZone::UTC) }
    }

    /// Stores `events` as one batch, committed unless `keep_open`.
    fn put(&mut self, events: Vec<(EventKey, OwnedEvent)>, keep_open: bool) -> std::result::Result<Added, CommitError> {
        let batch = Batch { keep_open, ..Batch::of(events) };
        self.store.commit_batch(&batch, &mut self.csv, &mut self.rows, false, &mut |_| IpInfo::default())
    }
}

/// Commits `events` as one batch; returns what was added and the CSV's data rows.
fn commit(dir: &Path, events: Vec<(EventKey, OwnedEvent)>) -> (Added, usize) {
    let added = Opened::new(dir).put(events, false).unwrap();
    (added, std::fs::read_to_string(dir.join("intrusions.csv")).unwrap().lines().count() - 1)
}

#[test]
fn events_below_the_highest_stored_key_are_looked_up_not_assumed_stored() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(commit(dir.path(), vec![failure(100, "a"), failure(300, "b")]).0.failures, 2);
    // 200 was held back by the correlator (below the highest key, never stored), 300 is a
    // replay after a crash, 400 is new.
    let (added, rows) = commit(dir.path(), vec![failure(200, "c"), failure(300, "b"), failure(400, "d")]);
    assert_eq!((added.failures, rows), (2, 4));
    let store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
    let users: Vec<_> = store.events().unwrap().into_iter().filter_map(|e| e.username).collect();
    assert_eq!(users, ["a", "c", "b", "d"]);
}

#[test]
fn a_key_twice_in_one_batch_is_stored_and_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let (added, rows) = commit(dir.path(), vec![failure(100, "a"), failure(200, "b"), failure(100, "a")]);
    assert_eq!((added.failures, rows), (2, 2));
    let store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
    assert_eq!(store.events().unwrap().len(), 2);
    assert_eq!(commit(dir.path(), vec![failure(200, "b")]).0, Added::default());
}

/// Stores `batches` of events (all but the last keeping the transaction open) with one
/// store, CSV and formatter, and drops them without committing when `commit` is false (as a
/// killed scan would); returns the CSV's length and its data rows' usernames after reopening.
fn store_batches(dir: &Path, batches: Vec<Vec<(EventKey, OwnedEvent)>>, commit: bool) -> (u64, Vec<String>) {
    let mut opened = Opened::new(dir);
    let last = batches.len() - 1;
    for (i, events) in batches.into_iter().enumerate() {
        opened.put(events, i < last || !commit).unwrap();
    }
    drop(opened);
    let Opened { store, csv, .. } = Opened::new(dir);
    let text = std::fs::read_to_string(dir.join("intrusions.csv")).unwrap();
    assert_eq!(csv.len(), text.len() as u64);
    let mut users: Vec<String> = store.events().unwrap().into_iter().filter_map(|e| e.username).collect();
    let csv_users: Vec<String> = text.lines().skip(1).map(|l| l.split(',').nth(4).unwrap().to_string()).collect();
    users.sort();
    let mut sorted = csv_users.clone();
    sorted.sort();
    assert_eq!(users, sorted, "the CSV holds the stored failures");
    (csv.len(), csv_users)
}

#[test]
fn batches_sent_in_one_transaction_are_stored_together_and_a_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let batches = vec![
        vec![failure(100, "a"), failure(200, "b")],
        // 200 again (a line read twice), and 150 below the highest key written in this
        // transaction: both looked up in the uncommitted block.
        vec![failure(200, "b"), failure(150, "c"), failure(300, "d")],
        vec![failure(150, "c"), failure(400, "e")],
    ];
    let (_, users) = store_batches(dir.path(), batches, true);
    assert_eq!(users, ["a", "b", "c", "d", "e"]);
}

#[test]
fn batches_of_a_transaction_never_committed_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (committed_len, users) = store_batches(dir.path(), vec![vec![failure(100, "a")]], true);
    assert_eq!(users, ["a"]);
    let batches = vec![vec![failure(200, "b")], vec![failure(300, "c")]];
    let (len, users) = store_batches(dir.path(), batches, false);
    assert_eq!((len, users), (committed_len, vec!["a".to_string()]), "the rows of b and c were cut back");
    let (_, users) = store_batches(dir.path(), vec![vec![failure(200, "b")], vec![failure(300, "c")]], true);
    assert_eq!(users, ["a", "b", "c"], "read again, they are stored once");
}

#[test]
fn a_batch_that_fails_rolls_back_the_batches_stored_before_it_since_the_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (committed_len, _) = store_batches(dir.path(), vec![vec![failure(100, "a")]], true);
    let mut opened = Opened::new(dir.path());
    opened.put(vec![failure(200, "b")], true).unwrap();
    opened.store.conn.execute_batch("CREATE TEMP TRIGGER no_blocks BEFORE INSERT ON event_blocks BEGIN SELECT RAISE(ABORT, 'disk on fire'); END").unwrap();
    let failed = opened.put(vec![failure(300, "c")], false).unwrap_err();
    assert!(failed.to_string().contains("disk on fire"), "{failed}");
    assert!(opened.store.conn.is_autocommit(), "no transaction is left open");
    drop(opened);
    let (len, users) = store_batches(dir.path(), vec![vec![failure(400, "d")]], true);
    assert_eq!(users, ["a", "d"], "b, stored before the failure, was rolled back with c");
    assert!(len > committed_len);
}

#[test]
fn a_batch_whose_rows_are_written_in_pieces_leaves_them_all_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let user = |i: u64| format!("{i:05}{}", "u".repeat(95));
    let n = 3 * csv::WRITE_BYTES as u64 / 150;
    let (added, rows) = commit(dir.path(), (0..n).map(|i| failure(100 * (i + 1), &user(i))).collect());
    assert_eq!((added.failures, rows as u64), (n, n));
    let text = std::fs::read_to_string(dir.path().join("intrusions.csv")).unwrap();
    assert!(text.len() > 2 * csv::WRITE_BYTES, "the rows took more than one piece: {} bytes", text.len());
    let users: Vec<&str> = text.lines().skip(1).map(|l| l.split(',').nth(4).unwrap()).collect();
    assert_eq!(users, (0..n).map(user).collect::<Vec<_>>());
    let store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
    assert_eq!(store.csv_len().unwrap(), Some(text.len() as u64), "the store records the whole file");
}
fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Writes a store as version `version` (1 or 2) left it: one row per event in `events`, with
/// the `events_ts` index (1) or the `spans` table (2).
fn old_store(path: &Path, version: i64) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute_batch(ipinfo::SCHEMA).unwrap();
    conn.execute_batch(
        "CREATE TABLE ips (ip BLOB PRIMARY KEY, first_seen INTEGER NOT NULL, first_failure INTEGER,
             last_failure INTEGER) WITHOUT ROWID;
         INSERT INTO ips VALUES (X'C6336401', 42, 42, 43);
         CREATE TABLE logins (username INTEGER NOT NULL, ip BLOB NOT NULL, first_seen INTEGER NOT NULL,
             PRIMARY KEY (username, ip)) WITHOUT ROWID;
         CREATE TABLE events (
             id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind INTEGER NOT NULL,
             reason INTEGER NOT NULL, count INTEGER NOT NULL, ip BLOB NOT NULL,
             server INTEGER NOT NULL, service INTEGER NOT NULL, username INTEGER,
             mechanism INTEGER, logged_hostname INTEGER);
         INSERT INTO strings VALUES (1, 'mx1'), (2, 'dovecot/imap-login'), (3, 'admin');",
    )
    .unwrap();
    let time_index = match version {
        1 => "CREATE INDEX events_ts ON events (ts)",
        _ => {
            "CREATE TABLE spans (lo INTEGER NOT NULL, hi INTEGER NOT NULL, min_ts INTEGER NOT NULL,
                  max_ts INTEGER NOT NULL)"
        }
    };
    conn.execute_batch(time_index).unwrap();
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?1)", [version]).unwrap();
    let day = 1_773_100_800; // 2026-03-10T00:00:00Z
    // (source, offset, ts, kind, count): failures from two files on the day, one on the day
    // before, a login; and an IPv6 address.
    let events = [
        (1_i64, 0_i64, day - 3_600, 1, 1, "198.51.100.1"),
        (1, 100, day + 3_600, 1, 1, "198.51.100.1"),
        (1, 200, day + 7_200, 2, 1, "198.51.100.1"),
        (2, 0, day + 1_800, 1, 3, "2001:db8::7"),
        (2, 100, day + 86_399, 1, 1, "198.51.100.1"),
    ];
    for (source, offset, ts, kind, n, ip) in events {
        let ip: IpAddr = ip.parse().unwrap();
        conn.execute(
            "INSERT INTO events (id, ts, kind, reason, count, ip, server, service, username)
             VALUES (?1, ?2, ?3, 2, ?4, ?5, 1, 2, 3)",
            params![source << 40 | offset, ts, kind, n, &ip_blob(&ip)[..ip_len(&ip)]],
        )
        .unwrap();
    }
}

#[test]
fn stores_of_schemas_1_and_2_have_their_events_packed_into_blocks() {
    for version in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        old_store(&path, version);
        let store = Store::open(&path).unwrap();
        let conn = &store.conn;
        assert_eq!(meta_get::<i64>(conn, "schema_version").unwrap(), Some(SCHEMA_VERSION));
        for table in ["events", "spans"] {
            assert!(!has_table(conn, table).unwrap(), "v{version}: {table} dropped");
        }
        let ips: (i64, i64) =
            conn.query_row("SELECT count(*), first_seen FROM ips", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(ips, (1, 42), "addresses keep their first time");
        let columns = count(conn, "SELECT count(*) FROM pragma_table_info('ips')");
        assert_eq!(columns, 2, "without the failure columns");
        let events = store.events().unwrap();
        let got: Vec<_> = events.iter().map(|e| (e.rowid, e.count, e.ip.unwrap().to_string())).collect();
        assert_eq!(
            got,
            [
                (1 << 40, 1, "198.51.100.1".to_string()),
                ((1 << 40) + 100, 1, "198.51.100.1".into()),
                ((1 << 40) + 200, 1, "198.51.100.1".into()),
                (2 << 40, 3, "2001:db8::7".into()),
                ((2 << 40) + 100, 1, "198.51.100.1".into()),
            ]
        );
        assert!(events.iter().all(|e| e.service == "dovecot/imap-login" && e.username.as_deref() == Some("admin")));

        // Read back by time: the day of 2026-03-10, and the day before.
        let day = 1_773_100_800;
        let (mut failed, mut logins, mut before) = (0, 0, 0);
        store
            .events_in(day, day + 86_400, |e| match e.kind {
                Kind::Failure => failed += e.count,
                Kind::Success => logins += e.count,
                Kind::BackendError => {}
            })
            .unwrap();
        store.events_in(day - 86_400, day, |e| before += e.count).unwrap();
        assert_eq!((failed, logins, before), (5, 1, 1));

        // One block per file; opening again changes nothing.
        let blocks = count(conn, "SELECT count(*) FROM event_blocks");
        assert_eq!(blocks, 2);
        drop(store);
        let again = Store::open(&path).unwrap();
        assert_eq!(count(&again.conn, "SELECT count(*) FROM event_blocks"), blocks);
        assert_eq!(again.events().unwrap(), events);
    }
}

#[test]
fn a_store_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(STORE_FILE);
    drop(Store::open(&path).unwrap());
    let newer = SCHEMA_VERSION + 1;
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE meta SET value = ?1 WHERE key = 'schema_version'", [newer])
        .unwrap();
    assert!(matches!(Store::open(&path), Err(StoreError::Unusable(_))));
}

#[test]
fn totals_count_each_stored_attempt_once_and_are_filled_for_an_older_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(STORE_FILE);
    let totals = |store: &Store| -> Vec<(Kind, Reason, String, u64)> {
        store.totals().unwrap().into_iter().map(|t| (t.kind, t.reason, t.service, t.attempts)).collect()
    };
    let expected = vec![(Kind::Failure, Reason::PasswordMismatch, "dovecot/imap-login".to_string(), 3)];
    let mut opened = Opened::new(dir.path());
    opened.put(vec![failure(100, "a"), failure(200, "b")], false).unwrap();
    // A replay (200) is not counted again.
    opened.put(vec![failure(200, "b"), failure(300, "c")], false).unwrap();
    assert_eq!(totals(&opened.store), expected);
    // Nor is a transaction never committed (a crash before the commit).
    opened.put(vec![failure(400, "d")], true).unwrap();
    drop(opened);
    assert_eq!(totals(&Store::open(&path).unwrap()), expected);
    // A store of a build before the table: filled from its blocks when opened.
    Connection::open(&path).unwrap().execute_batch("DROP TABLE event_totals").unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(totals(&store), expected);
}

#[test]
fn dns_statuses_count_the_cached_addresses_by_answer() {
    use crate::model::ipinfo::RdnsStatus;
    let dir = tempfile::tempdir().unwrap();
    let mut opened = Opened::new(dir.path());
    let events: Vec<_> = (1..=3u8)
        .map(|n| {
            let (key, mut e) = failure(u64::from(n) * 100, "a");
            e.detail.client_ip = std::net::IpAddr::from([192, 0, 2, n]);
            (key, e)
        })
        .collect();
    let batch = Batch::of(events);
    let mut enrich = |ip: std::net::IpAddr| IpInfo {
        rdns_status: Some(if ip == std::net::IpAddr::from([192, 0, 2, 1]) {
            RdnsStatus::Ok
        } else {
            RdnsStatus::Nxdomain
        }),
        resolved_at: Some(1),
        ..IpInfo::default()
    };
    opened.store.commit_batch(&batch, &mut opened.csv, &mut opened.rows, false, &mut enrich).unwrap();
    assert_eq!(opened.store.dns_statuses().unwrap(), [("nxdomain".to_string(), 2), ("ok".to_string(), 1)]);
}
