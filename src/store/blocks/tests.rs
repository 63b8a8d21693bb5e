use super::*;

fn row(key: i64, ts: i64, ip: &str) -> Row {
    let (ip, ip_len) = Row::ip_parts(&ip.parse().unwrap());
    Row {
        key,
        ts,
        kind: 1,
        reason: 2,
        count: 1,
        ip,
        ip_len,
        server: 1,
        service: 2,
        username: Some(3),
        mechanism: None,
        logged_hostname: Some(0),
    }
}

fn roundtrip(rows: &[Row]) -> Vec<Row> {
    let mut buf = Vec::new();
    let h = encode(rows, &mut buf);
    let mut out = Vec::new();
    decode(7, (h.lo, h.min_ts, h.events as i64), &buf, |r| out.push(*r)).unwrap();
    out
}

#[test]
fn blocks_give_back_what_was_packed_in_order() {
    let mut rows = vec![
        row(1 << 40, 1_700_000_000, "192.0.2.1"),
        row((1 << 40) + 90, 1_699_999_000, "2001:db8::1"),
        row((1 << 40) + 50, 1_700_000_500, "198.51.100.7"),
    ];
    rows[1].count = 300;
    rows[1].username = None;
    rows[2].mechanism = Some(i64::from(u32::MAX) + 5);
    rows[2].kind = 3;
    assert_eq!(roundtrip(&rows), rows, "keys and times may go backwards");
    let extremes = [row(i64::MAX, i64::MIN, "192.0.2.1"), row(i64::MIN, i64::MAX, "192.0.2.1")];
    assert_eq!(roundtrip(&extremes), extremes);
    // Every field at its widest: the most bytes an event can take.
    let mut widest = [row(i64::MIN, i64::MIN, "192.0.2.1"), row(i64::MAX, i64::MAX, "2001:db8::1")];
    let w = &mut widest[1];
    (w.count, w.server, w.service) = (u32::MAX, i64::MIN, -1);
    (w.username, w.mechanism, w.logged_hostname) = (Some(i64::MAX - 1), Some(i64::MIN), Some(-2));
    assert_eq!(roundtrip(&widest), widest);
}

#[test]
fn corrupt_blocks_are_errors_never_events() {
    let rows = [row(1 << 40, 1_700_000_000, "192.0.2.1"), row((1 << 40) + 9, 1_700_000_001, "192.0.2.2")];
    let mut buf = Vec::new();
    let h = encode(&rows, &mut buf);
    let meta = (h.lo, h.min_ts, h.events as i64);
    let read = |data: &[u8], events: i64| decode(9, (meta.0, meta.1, events), data, |_| {}).map_err(|e| e.what);
    assert!(read(&buf, 2).is_ok());
    for cut in 0..buf.len() {
        assert!(read(&buf[..cut], 2).is_err(), "cut at {cut}");
    }
    assert_eq!(read(&buf, 1), Err("bytes after its last event"));
    let mut v2 = buf.clone();
    v2[0] = 2;
    assert_eq!(read(&v2, 2), Err("unknown format version"));
    let mut bad_len = buf.clone();
    bad_len[6] = 7; // the first event's address length (after version, key, time, kind, reason, count)
    assert_eq!(read(&bad_len, 2), Err("bad address length"));
    let overlong = [VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert_eq!(read(&overlong, 1), Err("truncated key"));
    let message = CorruptBlock { id: 9, what: "empty" }.to_string();
    assert!(message.contains("event block 9") && message.contains("DELETE FROM event_blocks WHERE id = 9"));
}

#[test]
fn varints_and_zigzag_cover_the_whole_range() {
    for v in [0, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1 << 40] {
        assert_eq!(unzigzag(zigzag(v)), v);
        let mut buf = Vec::new();
        varint(&mut buf, zigzag(v));
        assert_eq!(Reader { rest: &buf }.varint(), Some(zigzag(v)));
    }
    assert_eq!(zigzag(-1), 1);
    assert_eq!(zigzag(1), 2);
}

fn store_conn() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    conn
}

#[test]
fn the_key_index_finds_stored_keys_in_the_blocks_that_cover_them() {
    let conn = store_conn();
    let k = |source: u32, offset: u64| EventKey { source, offset }.rowid();
    let mut buf = Vec::new();
    let (a, ha) = insert(&conn, &[row(k(1, 100), 10, "192.0.2.1"), row(k(1, 300), 11, "192.0.2.1")], &mut buf).unwrap();
    // A later block holding an event the correlator held back (inside the first's range).
    insert(&conn, &[row(k(1, 200), 12, "192.0.2.1"), row(k(1, 400), 13, "192.0.2.1")], &mut buf).unwrap();
    insert(&conn, &[row(k(2, 50), 12, "192.0.2.1")], &mut buf).unwrap();
    let mut index = KeyIndex::default();
    assert_eq!(index.max(&conn, 1).unwrap(), k(1, 400));
    assert_eq!(index.max(&conn, 3).unwrap(), i64::MIN, "a file without events");
    for (key, stored) in [(k(1, 100), true), (k(1, 200), true), (k(1, 250), false), (k(1, 400), true)] {
        assert_eq!(index.contains(&conn, key).unwrap(), stored, "{key}");
    }
    assert!(!index.contains(&conn, k(1, 500)).unwrap());
    assert!(index.contains(&conn, k(2, 50)).unwrap());
    assert!(!index.contains(&conn, k(2, 49)).unwrap());

    // A block committed later is known without reading the directory again.
    let (c, hc) = insert(&conn, &[row(k(1, 250), 14, "192.0.2.1"), row(k(1, 600), 15, "192.0.2.1")], &mut buf).unwrap();
    index.written(c, &hc);
    assert!(index.contains(&conn, k(1, 250)).unwrap());
    assert_eq!(index.max(&conn, 1).unwrap(), k(1, 600));
    assert!(a < c && ha.events == 2 && hc.lo == k(1, 250));
}

#[test]
fn reading_by_time_filters_events_and_skips_blocks_outside_the_period() {
    let conn = store_conn();
    let mut buf = Vec::new();
    insert(&conn, &[row(1, 100, "192.0.2.1"), row(2, 199, "192.0.2.2"), row(3, 200, "192.0.2.3")], &mut buf).unwrap();
    insert(&conn, &[row(4, 50, "192.0.2.4")], &mut buf).unwrap();
    // A block that cannot be read, outside the period: never decoded.
    conn.execute(
        "INSERT INTO event_blocks (lo, hi, min_ts, max_ts, events, data) VALUES (9, 9, 500, 600, 1, x'01')",
        [],
    )
    .unwrap();
    let mut seen = Vec::new();
    for_each_in(&conn, 100, 200, |r| {
        seen.push(r.key);
        Ok::<(), rusqlite::Error>(())
    })
    .unwrap();
    assert_eq!(seen, [1, 2]);
    for_each_in::<rusqlite::Error>(&conn, 200, 100, |_| panic!("an empty period has no events")).unwrap();
    let err = for_each(&conn, |_| Ok::<(), rusqlite::Error>(())).unwrap_err().to_string();
    assert!(err.contains("event block 3 of the store is corrupt"), "{err}");
}
