use super::*;
use crate::model::event::{Detail, Layer, OwnedEvent};
use crate::store::csv::{IntrusionCsv, RowFormatter};
use crate::store::{Batch, STORE_FILE};

fn key(ip: &str) -> IpKey {
    IpKey::of(ip.parse().unwrap())
}

#[test]
fn addresses_keep_their_stored_form_and_order() {
    let stored = |ip: &str| {
        let ip: IpAddr = ip.parse().unwrap();
        super::super::ip_blob(&ip)[..super::super::ip_len(&ip)].to_vec()
    };
    for ip in ["192.0.2.1", "0.0.0.0", "2001:db8::1", "::", "c000:201::"] {
        assert_eq!(IpKey::from_bytes(&stored(ip)).to_bytes(), stored(ip), "{ip}");
        assert_eq!(IpKey::from_bytes(&stored(ip)), key(ip), "{ip}");
        assert_eq!(key(ip).addr(), ip.parse::<IpAddr>().unwrap());
    }
    assert_ne!(key("192.0.2.1"), key("c000:201::"));
    let mut keys: Vec<IpKey> = ["2001:db8::1", "::", "192.0.2.1", "10.0.0.1", "255.255.255.255"].map(key).to_vec();
    keys.sort();
    let mut addrs: Vec<IpAddr> = keys.iter().map(|k| k.addr()).collect();
    let sorted = addrs.clone();
    addrs.sort();
    assert_eq!(addrs, sorted, "keys sort as addresses do");
    assert_eq!(key("203.0.113.77").network(), key("203.0.113.0"));
    assert_eq!(key("2001:db8:1:2:3:4:5:6").network(), key("2001:db8:1:2::"));
}

/// A failure (or, with `ok`, a login) of `user` from `ip` at `ts` logged at byte `offset` of file 1.
fn event(offset: u64, ts: i64, ip: &str, user: &str, ok: bool) -> (EventKey, OwnedEvent) {
    let detail = Detail {
        kind: if ok { Kind::Success } else { Kind::Failure },
        reason: if ok { Reason::LoginOk } else { Reason::PasswordMismatch },
        service: "dovecot/imap-login".into(),
        client_ip: ip.parse().unwrap(),
        username: Some(user.into()),
        mechanism: None,
        logged_hostname: None,
        count: 2,
        layer: Layer::LoginFront,
        session: None,
        duration_secs: None,
    };
    let time = jiff::Timestamp::from_second(ts).unwrap();
    (EventKey { source: 1, offset }, OwnedEvent { time, server: "mx1".into(), detail })
}

fn store_with(dir: &std::path::Path, events: Vec<(EventKey, OwnedEvent)>) -> Store {
    let mut store = Store::open(&dir.join(STORE_FILE)).unwrap();
    let (mut csv, _) = IntrusionCsv::open(&dir.join("intrusions.csv"), None).unwrap();
    let mut rows = RowFormatter::new(jiff::tz::TimeZone::UTC);
    let de = IpInfo { country_code: Some("DE".into()), ..IpInfo::default() };
    store.commit_batch(&Batch::of(events), &mut csv, &mut rows, false, &mut |_| de.clone()).unwrap();
    store
}

#[test]
fn events_are_read_back_typed_with_their_texts_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(
        dir.path(),
        vec![
            event(100, 1_000, "192.0.2.1", "a", false),
            event(200, 2_000, "2001:db8::1", "b", false),
            event(300, 3_000, "192.0.2.1", "a", true),
        ],
    );
    let _snapshot = store.snapshot().unwrap();
    assert_eq!(store.event_count().unwrap(), 3);
    let mut got = Vec::new();
    store.events_in(1_500, 3_001, |e| got.push(*e)).unwrap();
    assert_eq!(got.len(), 2, "only the period");
    let (fail, login) = (got[0], got[1]);
    assert_eq!((fail.ts, fail.kind, fail.count, fail.ip), (2_000, Kind::Failure, 2, key("2001:db8::1")));
    assert!(fail.is_counted_failure(false) && !login.is_counted_failure(true));
    assert_eq!(store.text(fail.service).unwrap(), "dovecot/imap-login");
    assert_eq!(store.text(login.username.unwrap()).unwrap(), "a");
    assert_eq!(store.text(TextId(9_999)).unwrap(), "", "an unknown id");
    assert_eq!(fail.mechanism, None);

    let ips = [key("192.0.2.1"), key("2001:db8::1"), key("198.51.100.1")];
    assert_eq!(store.first_seen(&ips).unwrap(), [Some(1_000), Some(2_000), None]);
    let user = login.username.unwrap();
    assert_eq!(store.earlier_login_ips(user, 3_001).unwrap(), ["192.0.2.1".parse::<IpAddr>().unwrap()]);
    assert!(store.earlier_login_ips(user, 3_000).unwrap().is_empty(), "before the login: none");
    assert!(store.has_enrichment().unwrap());
    let infos = store.ip_infos(&ips).unwrap();
    assert_eq!(infos[0].as_ref().and_then(|i| i.country_code.as_deref()), Some("DE"));
    assert!(infos[2].is_none());
}

#[test]
fn many_addresses_are_answered_in_one_pass_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let events = (0..10u64).map(|i| event(100 * (i + 1), 1_000 + i as i64, &format!("192.0.2.{i}"), "u", true));
    let store = store_with(dir.path(), events.collect());
    // More addresses than BULK, most unknown: the one-pass answer matches lookups one by one.
    let ips: Vec<IpKey> =
        (0..BULK as u32 + 10).map(|n| IpKey::of(IpAddr::from((0xc000_0200 + n).to_be_bytes()))).collect();
    let seen = store.first_seen(&ips).unwrap();
    let infos = store.ip_infos(&ips).unwrap();
    for (i, ip) in ips.iter().enumerate() {
        assert_eq!(seen[i], store.first_seen(&[*ip]).unwrap()[0], "{:?}", ip.addr());
        assert_eq!(infos[i], store.ip_info(ip.addr()).unwrap());
    }
    assert_eq!(seen.iter().flatten().count(), 10);
    assert_eq!(infos.iter().flatten().count(), 10);
}

#[test]
fn an_unknown_event_kind_is_an_error_not_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
    let ids = store.intern_texts(&["mx1", "imap"]).unwrap();
    assert_eq!(store.intern_texts(&["imap"]).unwrap(), [ids[1]], "a text is stored once");
    let (ip, ip_len) = blocks::Row::ip_parts(&"192.0.2.1".parse().unwrap());
    let row = blocks::Row {
        key: 1,
        ts: 10,
        kind: 9,
        reason: 2,
        count: 1,
        ip,
        ip_len,
        server: ids[0].0,
        service: ids[1].0,
        username: None,
        mechanism: None,
        logged_hostname: None,
    };
    store.import_rows([row]).unwrap();
    let err = store.events_in(0, 100, |_| panic!("no event")).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
}

#[test]
fn imported_events_are_read_back_as_given_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
    let ids = store.intern_texts(&["mx1", "postfix/smtpd", "alice"]).unwrap();
    let record = |offset: u64, ts: i64, ip: &str| EventRecord {
        key: EventKey { source: 3, offset },
        ts,
        kind: Kind::Failure,
        reason: Reason::AuthenticationFailure,
        count: 4,
        ip: key(ip),
        server: ids[0],
        service: ids[1],
        username: Some(ids[2]),
        mechanism: None,
        logged_hostname: Some(ids[0]),
    };
    let events = [record(10, 500, "192.0.2.9"), record(20, 400, "2001:db8::9")];
    assert_eq!(store.import_events(events).unwrap(), 2);
    assert_eq!(store.import_events([record(10, 500, "192.0.2.9")]).unwrap(), 0, "a key already stored");
    let mut got = Vec::new();
    store.events_in(0, 1_000, |e| got.push(*e)).unwrap();
    assert_eq!(got, events);
    assert_eq!(store.event_count().unwrap(), 2);
}

#[test]
fn a_files_checkpoint_is_found_by_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
    let fp = crate::source::fingerprint::Fingerprint::of(b"first line\n");
    let made = store.new_source(fp, 1, 2, "/var/log/mail.log").unwrap();
    assert_eq!(store.source_at("/var/log/mail.log").unwrap(), Some(made));
    assert_eq!(store.source_at("/var/log/other.log").unwrap(), None);
}

#[test]
fn the_periods_intrusion_rows_are_those_of_intrusions_csv() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = vec![
        event(100, 1_000, "192.0.2.1", "=cmd", false),
        event(200, 2_000, "2001:db8::1", "a,b", false),
        event(300, 2_500, "192.0.2.1", "a", true),
    ];
    // Logged by a second file in the same hours: rows come in time order across files.
    let (mut key, other) = event(50, 1_500, "192.0.2.7", "c", false);
    key.source = 2;
    events.push((key, other));
    let store = store_with(dir.path(), events);
    let file = std::fs::read_to_string(dir.path().join("intrusions.csv")).unwrap();
    let rows = store.intrusion_rows(0, 3_000, &jiff::tz::TimeZone::UTC, false).unwrap();
    let rows = String::from_utf8(rows).unwrap();
    let mut want: Vec<&str> = file.lines().collect();
    want[1..].sort();
    assert_eq!(rows.lines().collect::<Vec<_>>(), want, "the file's header and rows, in time order");
    let one = store.intrusion_rows(1_500, 2_000, &jiff::tz::TimeZone::UTC, false).unwrap();
    assert_eq!(String::from_utf8(one).unwrap().lines().count(), 1 + 2, "the header and 192.0.2.7's two attempts");
}
