use super::*;
use crate::model::event::{Detail, Kind, Layer, OwnedEvent, Reason};
use crate::model::symbols::Symbols;

/// A formatter for `tz` and the event it knows the texts of.
fn formatter(tz: TimeZone, user: &str, count: u32) -> (RowFormatter, Event) {
    let mut symbols = Symbols::new();
    let e = owned(user, count).intern(&mut symbols);
    let mut f = RowFormatter::new(tz);
    f.learn(0, symbols.since(0));
    (f, e)
}

fn owned(user: &str, count: u32) -> OwnedEvent {
    OwnedEvent {
        time: "2026-11-24T09:00:00Z".parse().unwrap(),
        server: "mx1".into(),
        detail: Detail {
            kind: Kind::Failure,
            reason: Reason::AuthenticationFailure,
            service: "postfix/submission/smtpd".into(),
            client_ip: "2001:db8::1".parse().unwrap(),
            username: Some(user.into()),
            mechanism: Some("LOGIN".into()),
            logged_hostname: Some("unknown".into()),
            count,
            layer: Layer::SmtpFront,
            session: None,
            duration_secs: None,
        },
    }
}

#[test]
fn rows_are_rfc4180_with_the_zone_offset_and_one_row_per_attempt() {
    let (mut f, e) = formatter(TimeZone::get("Europe/Paris").unwrap(), "a,b\"c", 2);
    let none = IpInfo::default();
    f.push(&e, |_| &none);
    let text = String::from_utf8(f.rows().to_vec()).unwrap();
    let row = "2026-11-24T10:00:00+01:00,mx1,postfix/submission/smtpd,2001:db8::1,\"a,b\"\"c\",LOGIN,\
               authentication failure,unknown,,,,,\n";
    assert_eq!(text, format!("{row}{row}"));
}

#[test]
fn enrichment_fills_the_last_five_columns() {
    let (mut f, e) = formatter(TimeZone::UTC, "u", 1);
    let info = IpInfo {
        hostname: Some("-x,y.example".into()),
        rdns_status: Some(crate::model::ipinfo::RdnsStatus::Unverified),
        country_code: Some("DE".into()),
        asn: Some(3320),
        aso: Some("Deutsche Telekom AG".into()),
        resolved_at: Some(0),
    };
    f.push(&e, |_| &info);
    let text = String::from_utf8(f.rows().to_vec()).unwrap();
    assert!(text.ends_with(",unknown,\"'-x,y.example\",unverified,DE,3320,Deutsche Telekom AG\n"), "{text}");
}

#[test]
fn enrichment_is_asked_once_per_batch_and_a_change_shows_in_the_next() {
    let (mut f, e) = formatter(TimeZone::UTC, "u", 1);
    let none = IpInfo::default();
    let de = IpInfo { country_code: Some("DE".into()), asn: Some(3320), ..IpInfo::default() };
    let mut asked = 0;
    let mut row = |f: &mut RowFormatter, info: &IpInfo| {
        f.push(&e, |_| {
            asked += 1;
            info
        });
        let text = String::from_utf8(f.rows().to_vec()).unwrap();
        text.lines().last().unwrap().to_string()
    };
    assert!(row(&mut f, &none).ends_with(",2001:db8::1,u,LOGIN,authentication failure,unknown,,,,,"));
    // Same batch: the address's cells are reused, its enrichment is not asked again.
    assert!(row(&mut f, &de).ends_with(",,,,,"));
    f.clear();
    assert!(row(&mut f, &de).ends_with(",2001:db8::1,u,LOGIN,authentication failure,unknown,,,DE,3320,"));
    f.clear();
    assert!(row(&mut f, &none).ends_with(",unknown,,,,,"));
    assert_eq!(asked, 3, "once per batch");
}

#[test]
fn cells_of_every_length_are_appended_whole_and_alone() {
    for len in 0..3 * PAD {
        let text: String = (0..len).map(|k| char::from(b'a' + (k % 26) as u8)).collect();
        let mut out = b"row:".to_vec();
        Cell::new(text.clone()).put(&mut out);
        Cell::new(",end".into()).put(&mut out);
        assert_eq!(out, format!("row:{text},end").as_bytes(), "{len}");
    }
}

#[test]
fn cached_timestamps_match_a_full_format_across_hours_days_and_dst() {
    for zone in ["UTC", "Europe/Paris", "Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe"] {
        let tz = TimeZone::get(zone).unwrap();
        let mut cache = TimeText::default();
        // Around the end of daylight saving time in Europe, in steps that cross every boundary.
        let mut t: i64 = 1_792_800_000;
        while t < 1_792_800_000 + 3 * 86_400 {
            let ts = jiff::Timestamp::from_second(t).unwrap();
            assert_eq!(cache.format(ts, &tz).text(), rfc3339(ts, &tz).as_bytes(), "{zone} at {t}");
            t += 37;
        }
    }
}

/// Found by the `csv_writer` fuzz target (fuzz/regressions/csv_writer/): the cached quarter hour
/// rewrote the minutes and seconds where a four-digit year puts them, so the second timestamp
/// of a quarter hour before year -999 came out as `-9943-12-08T11599599+00:00`.
#[test]
fn cached_timestamps_of_years_before_minus_999_are_whole() {
    let mut cache = TimeText::default();
    for t in [jiff::Timestamp::MIN.as_second() + 1_000, jiff::Timestamp::MIN.as_second() + 1_001] {
        let ts = jiff::Timestamp::from_second(t).unwrap();
        assert_eq!(cache.format(ts, &TimeZone::UTC).text(), rfc3339(ts, &TimeZone::UTC).as_bytes());
    }
}

#[test]
fn cells_are_encoded_as_the_csv_crate_would() {
    for text in ["plain", "a,b", "say \"hi\"", "", "=1+2", "x\\x0A"] {
        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        w.write_record([neutralise(text).as_ref(), "z"]).unwrap();
        let want = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(format!("{},z\n", cell(text)), want, "{text:?}");
    }
}

#[test]
fn formula_prefixes_are_neutralised() {
    for bad in ["=cmd|' /C calc'!A0", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"] {
        assert_eq!(neutralise(bad), format!("'{bad}"));
    }
    assert_eq!(neutralise("admin"), "admin");
    let (mut f, e) = formatter(TimeZone::UTC, "=HYPERLINK(\"x\")", 1);
    let none = IpInfo::default();
    f.push(&e, |_| &none);
    let text = String::from_utf8(f.rows().to_vec()).unwrap();
    assert!(text.contains(",\"'=HYPERLINK(\"\"x\"\")\","), "{text}");
}

#[test]
fn a_torn_tail_is_cut_back_to_the_committed_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reports/intrusions.csv");
    let (mut csv, notes) = IntrusionCsv::open(&path, None).unwrap();
    assert!(notes.is_empty());
    csv.append(b"row1\n").unwrap();
    let committed = csv.len();
    csv.append(b"row2 half").unwrap();
    drop(csv);
    let (csv, notes) = IntrusionCsv::open(&path, Some(committed)).unwrap();
    assert_eq!(csv.len(), committed);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{HEADER}row1\n"));
}

#[test]
fn a_missing_file_is_recreated_with_its_header_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("intrusions.csv");
    let (csv, notes) = IntrusionCsv::open(&path, Some(500)).unwrap();
    assert_eq!(csv.len(), HEADER.len() as u64);
    assert!(notes[0].contains("missing"), "{notes:?}");
}
