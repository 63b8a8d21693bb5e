//! The fuzz targets' bodies, one function per target, using only the crate's public API.
//!
//! Each `fuzz_targets/NAME.rs` runs `entries::NAME` under libFuzzer (nightly, `cargo fuzz`), and
//! `tests/fuzz_corpus.rs` includes this very file to run every committed input of
//! `fuzz/corpus/NAME/` and `fuzz/regressions/NAME/` through the same function on stable, so a
//! regression shows in the ordinary test suite. The rule they check: input an attacker can shape
//! (log lines, archives, journal output, geo databases, a configuration file) gives a result or
//! a clear error, never a panic; where the code documents an invariant, it is asserted too.

// Each fuzz target uses one of these functions.
#![allow(dead_code)]

use std::io::{Cursor, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use maillogsentinel::config::Config;
use maillogsentinel::enrich::geo::csv::{DbKind, read as read_geo_csv};
use maillogsentinel::enrich::geo::index::RangeIndex;
use maillogsentinel::enrich::geo::mmdb::{self, Mmdb};
use maillogsentinel::model::event::{Event, Kind, Layer, RawTime, Reason};
use maillogsentinel::model::ipinfo::{IpInfo, RdnsStatus};
use maillogsentinel::model::symbols::Symbols;
use maillogsentinel::parse::time::{TimeResolver, YearState};
use maillogsentinel::parse::{self, Prefilter, syslog};
use maillogsentinel::source::journal;
use maillogsentinel::source::lines::{Chunk, LineReader};
use maillogsentinel::source::open::{Compression, decoder};
use maillogsentinel::store::csv::{HEADER, RowFormatter, neutralise};
use maillogsentinel::text::{unvisible_bytes, visible, visible_upper};

/// Zones the time resolver and the CSV writer are run in: no offset, daylight saving time on the
/// hour, and a zone whose daylight saving time moves the clock by half an hour.
fn zones() -> &'static [TimeZone] {
    static ZONES: OnceLock<Vec<TimeZone>> = OnceLock::new();
    ZONES.get_or_init(|| {
        let mut zones = vec![TimeZone::UTC];
        zones.extend(
            ["Europe/Paris", "Australia/Lord_Howe", "Asia/Kathmandu"].iter().filter_map(|z| TimeZone::get(z).ok()),
        );
        zones
    })
}

fn prefilter() -> &'static Prefilter {
    static PREFILTER: OnceLock<Prefilter> = OnceLock::new();
    PREFILTER.get_or_init(Prefilter::default)
}

fn newlines(data: &[u8]) -> u64 {
    data.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Line parsers: a buffer of log lines (syslog and RFC 3339 headers, Postfix, Dovecot's login,
/// backend and PAM lines, Dovecot's own log format, rsyslog and sysklogd repeats).
///
/// Checks that the prefilter's pass for this CPU finds the same candidate lines as its portable
/// pass, that every line [`parse::parse_line`] accepts is a candidate (the prefilter's
/// documented promise: otherwise the scan would never see the event), that the texts of an event
/// are made visible and read back to the bytes logged, and that an RFC 3339 timestamp reads as
/// the instant jiff reads it as.
pub fn lines(data: &[u8]) {
    let prefilter = prefilter();
    let mut found = Vec::new();
    let counted = prefilter.scan(data, |range, before| found.push((range, before)));
    assert_eq!(counted, newlines(data), "newlines counted by the prefilter");
    let portable: Vec<_> = prefilter.lines(data).collect();
    let fused: Vec<_> = found.iter().map(|(range, _)| range.clone()).collect();
    assert_eq!(fused, portable, "the prefilter's passes disagree");
    for (range, before) in &found {
        assert_eq!(*before, newlines(&data[..range.start]), "lines before candidate {range:?}");
    }

    let mut resolvers: Vec<TimeResolver> =
        zones().iter().map(|tz| TimeResolver::new(tz.clone(), YearState { year: 2026, month: 12 })).collect();
    let mut resolve = |time: &RawTime| {
        for r in &mut resolvers {
            let _ = r.resolve(time);
        }
    };
    for line in data.split(|&b| b == b'\n') {
        if let Some(parsed) = parse::parse_line(line) {
            assert!(prefilter.matches(line), "an event the prefilter does not see: {:?}", visible(line));
            assert!(parsed.fields.count >= 1);
            let f = &parsed.fields;
            for raw in [f.username, f.logged_hostname, f.session, parsed.host].into_iter().flatten() {
                let shown = visible(raw);
                assert!(!shown.chars().any(char::is_control), "not made visible: {shown:?}");
                assert_eq!(unvisible_bytes(&shown), raw, "visible text does not read back");
            }
            let detail = f.detail();
            let texts = [Some(&detail.service), detail.mechanism.as_ref(), detail.username.as_ref()];
            for text in texts.into_iter().flatten() {
                assert!(!text.chars().any(char::is_control), "not made visible: {text:?}");
            }
            resolve(&parsed.time);
        }
        let _ = parse::untimed(line);
        let _ = parse::unreadable(line);
        let _ = syslog::split(line);
        let _ = syslog::bare(line);
        if let Some((time, count)) = parse::repeated(line) {
            assert!(count > 0);
            resolve(&time);
        }
        let time = syslog::peek_time(line);
        if let Some(time) = &time {
            resolve(time);
        }
        rfc3339_agrees(syslog::clean(line), time);
    }
}

/// When `line` starts with a strict RFC 3339 timestamp (`T`, an offset or `Z`, at most nine
/// digits of fraction, no leap second), the parser's reading of it is jiff's.
fn rfc3339_agrees(line: &[u8], ours: Option<RawTime>) {
    let Some(text) = rfc3339_prefix(line) else { return };
    match (ours, text.parse::<Timestamp>()) {
        (Some(RawTime::Instant(ours)), Ok(theirs)) => assert_eq!(ours, theirs, "{text}"),
        (None, Err(_)) => {}
        (ours, theirs) => panic!("{text}: the parser reads {ours:?}, jiff {theirs:?}"),
    }
}

fn rfc3339_prefix(b: &[u8]) -> Option<&str> {
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    for (i, &p) in b"dddd-dd-ddTdd:dd:dd".iter().enumerate() {
        let ok = if p == b'd' { digit(i) } else { b.get(i) == Some(&p) };
        if !ok {
            return None;
        }
    }
    if &b[17..19] == b"60" {
        return None;
    }
    let mut end = 19;
    if b.get(end) == Some(&b'.') {
        let n = b[end + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        end += 1 + n;
    }
    match b.get(end)? {
        b'Z' => end += 1,
        b'+' | b'-'
            if digit(end + 1)
                && digit(end + 2)
                && b.get(end + 3) == Some(&b':')
                && digit(end + 4)
                && digit(end + 5) =>
        {
            end += 6
        }
        _ => return None,
    }
    std::str::from_utf8(&b[..end]).ok()
}

/// The journal: `journalctl -o json` output, as the reading thread reads it.
///
/// Checks that each piece has one cursor per line, each line ends in its own newline, and each
/// line's timestamp reads back as an instant (the parsers read what the journal reader writes).
pub fn journal(data: &[u8]) {
    let units: Vec<String> = journal::DEFAULT_UNITS.iter().map(|u| u.to_string()).collect();
    let mut pieces = Vec::new();
    let read = journal::read_output(data, &units, Some("s=0;i=1"), |piece| {
        pieces.push(piece);
        true
    });
    assert!(read.is_ok(), "reading from memory cannot fail: {read:?}");
    for piece in pieces {
        assert_eq!(newlines(&piece.lines), piece.cursors.len() as u64, "one cursor per line");
        assert!(piece.lines.is_empty() || piece.lines.ends_with(b"\n"));
        assert!(piece.read >= piece.cursors.len() as u64);
        for line in piece.lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let time = syslog::peek_time(line);
            assert!(matches!(time, Some(RawTime::Instant(_))), "unreadable time: {:?}", visible(line));
            assert!(syslog::split(line).is_some(), "unreadable header: {:?}", visible(line));
            let _ = parse::parse_line(line);
        }
        for cursor in piece.cursors.iter().chain(&piece.last_cursor) {
            let _ = journal::cursor_time(cursor);
        }
    }
}

/// Content read from an archive at most: enough for every seed, and a bound on the time a
/// decompression bomb takes (the scan itself reads archives of any size).
const ARCHIVE_CONTENT: u64 = 1 << 20;

/// Rotated files: the format detected from the magic bytes (gzip, xz, zstd, bzip2, or plain), the
/// content decompressed and cut into lines as a scan reads an archive. Damaged and truncated
/// archives give an error, never a panic.
///
/// Checks that the chunks follow each other without gap, and that the lines of a plain file are
/// its content up to its last newline.
pub fn archive(data: &[u8]) {
    let compression = Compression::detect(data);
    let Ok(content) = decoder(compression, Cursor::new(data.to_vec())) else { return };
    let mut lines = LineReader::new(content.take(ARCHIVE_CONTENT), 0);
    let mut read = Vec::new();
    let mut next = 0;
    loop {
        match lines.next_chunk() {
            Ok(Some(Chunk::Lines { offset, data: chunk })) => {
                assert_eq!(offset, next, "chunks leave a gap");
                assert!(chunk.ends_with(b"\n"));
                next += chunk.len() as u64;
                read.extend_from_slice(chunk);
            }
            Ok(Some(Chunk::Overlong { offset, len })) => {
                assert_eq!(offset, next);
                next += len;
            }
            Ok(None) | Err(_) => break,
        }
    }
    assert_eq!(lines.offset(), next);
    if compression == Compression::None {
        let whole = data.iter().rposition(|&b| b == b'\n').map_or(0, |nl| nl + 1);
        assert_eq!(read, &data[..whole], "plain content read back");
    }
}

/// Splits fuzz input into a fixed-size head and `\x1e`-separated fields (the record separator:
/// it cannot be in a field, but every other byte can).
struct Input<'a> {
    head: &'a [u8],
    fields: Vec<&'a [u8]>,
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8], head: usize) -> Option<Input<'a>> {
        let (head, rest) = data.split_at_checked(head)?;
        Some(Input { head, fields: rest.split(|&b| b == 0x1e).collect() })
    }

    fn field(&self, i: usize) -> Option<&'a [u8]> {
        self.fields.get(i).copied()
    }

    fn u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.head[at..at + 8].try_into().unwrap_or_default())
    }
}

/// The CSV writer: events with arbitrary texts (as logged: made visible by the symbol table, as
/// the scan does) and enrichment, formatted as rows and read back with the `csv` crate.
///
/// Each cell must read back as exactly the writer's documented transformation of its text: made
/// visible, then neutralised against formulas (`'` before `=`, `+`, `-`, `@`); nothing invisible
/// is left, and without the `'` the cell reads back to the bytes logged. Timestamps are RFC 3339
/// in the zone, the second event's from the writer's cached quarter hour.
///
/// Input: 40 bytes (time, second event's delay, zone, count, flags, reason, AS number, address),
/// then the texts.
pub fn csv_writer(data: &[u8]) {
    let Some(input) = Input::new(data, 40) else { return };
    let h = input.head;
    let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    // Seconds outside jiff's range are folded into it; those inside are taken as they are.
    let raw = input.u64(0) as i64;
    let first = if (min..=max).contains(&raw) { raw } else { min + (input.u64(0) % (max - min) as u64) as i64 };
    let second = (first + (input.u64(8) % 7200) as i64 - 1800).clamp(min, max);
    let zones = zones();
    let tz = &zones[usize::from(h[16]) % zones.len()];
    let counts = [u32::from(h[17] % 3) + 1, u32::from(h[17] / 3 % 3) + 1];
    let flags = h[18];
    let reason = Reason::ALL[usize::from(h[19]) % Reason::ALL.len()];
    let asn = (flags & 1 != 0).then(|| u32::from_le_bytes(h[20..24].try_into().unwrap_or_default()));
    let ip_bytes: [u8; 16] = h[24..40].try_into().unwrap_or_default();
    let ip = if flags & 2 != 0 {
        IpAddr::V6(Ipv6Addr::from(ip_bytes))
    } else {
        IpAddr::V4(Ipv4Addr::new(ip_bytes[0], ip_bytes[1], ip_bytes[2], ip_bytes[3]))
    };
    let rdns = RdnsStatus::ALL.get(usize::from(flags >> 4)).copied();
    let text = |i: usize| input.field(i).unwrap_or(b"");
    let optional = |i: usize| input.field(i).filter(|t| !t.is_empty());

    let mut symbols = Symbols::new();
    let server = symbols.visible(text(0));
    let service = symbols.prefixed(if flags & 4 != 0 { b"dovecot/" } else { b"" }, text(1));
    let username = optional(2).map(|t| symbols.visible(t));
    let mechanism = optional(3).map(|t| symbols.visible_upper(t));
    let logged_hostname = optional(4).map(|t| symbols.visible(t));
    let info = IpInfo {
        hostname: optional(5).map(visible),
        rdns_status: rdns,
        country_code: optional(6).map(visible),
        asn,
        aso: optional(7).map(visible),
        resolved_at: None,
    };
    let event = |seconds: i64, count: u32| Event {
        time: Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH),
        client_ip: ip,
        server,
        service,
        username,
        mechanism,
        logged_hostname,
        session: None,
        count,
        duration_secs: None,
        kind: Kind::Failure,
        reason,
        layer: Layer::SmtpFront,
    };
    let events = [event(first, counts[0]), event(second, counts[1])];
    let mut formatter = RowFormatter::new(tz.clone());
    formatter.learn(0, symbols.since(0));
    for e in &events {
        formatter.push(e, |_| &info);
    }
    let mut rows = HEADER.as_bytes().to_vec();
    rows.extend_from_slice(formatter.rows());

    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(&rows[..]);
    let header: Vec<String> = reader.headers().expect("the header reads").iter().map(String::from).collect();
    assert_eq!(header.len(), 13);
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows read back");
    let expected_rows = events.iter().flat_map(|e| std::iter::repeat_n(e, e.count as usize));
    assert_eq!(records.len(), (counts[0] + counts[1]) as usize);
    let cell = |raw: Option<&[u8]>, upper: bool| {
        raw.map(|r| if upper { visible_upper(r) } else { visible(r) }).map(|t| neutralise(&t).into_owned())
    };
    let service_text = if flags & 4 != 0 { [&b"dovecot/"[..], text(1)].concat() } else { text(1).to_vec() };
    for (record, e) in records.iter().zip(expected_rows) {
        let fields: Vec<&str> = record.iter().collect();
        let expected = [
            rfc3339_expected(e.time, tz),
            cell(Some(text(0)), false).unwrap_or_default(),
            cell(Some(&service_text), false).unwrap_or_default(),
            ip.to_string(),
            cell(optional(2), false).unwrap_or_default(),
            cell(optional(3), true).unwrap_or_default(),
            reason.as_str().to_string(),
            cell(optional(4), false).unwrap_or_default(),
            cell(optional(5), false).unwrap_or_default(),
            rdns.map_or("", |s| s.as_str()).to_string(),
            cell(optional(6), false).unwrap_or_default(),
            asn.map(|a| a.to_string()).unwrap_or_default(),
            cell(optional(7), false).unwrap_or_default(),
        ];
        assert_eq!(fields, expected, "a row does not read back as written");
        for (i, raw) in [(1, Some(text(0))), (4, optional(2)), (7, optional(4)), (8, optional(5)), (12, optional(7))] {
            let Some(raw) = raw else { continue };
            let field = fields[i];
            assert!(!field.chars().any(char::is_control), "column {i} not visible: {field:?}");
            let formula = visible(raw).starts_with(['=', '+', '-', '@']);
            let unquoted = if formula { field.strip_prefix('\'').expect("neutralised") } else { field };
            assert_eq!(unvisible_bytes(unquoted), raw, "column {i} does not read back to the bytes logged");
        }
    }
}

/// RFC 3339 of `ts` in `tz` to the second, the offset in whole minutes, computed apart from the
/// writer's own formatting.
fn rfc3339_expected(ts: Timestamp, tz: &TimeZone) -> String {
    let zoned = ts.to_zoned_datetime(tz.clone());
    let secs = zoned.offset().seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    format!("{}{sign}{:02}:{:02}", zoned.strftime("%Y-%m-%dT%H:%M:%S"), abs / 3600, abs % 3600 / 60)
}

/// The configuration loader: any text gives a configuration or an error that names the file.
pub fn config(data: &[u8]) {
    // The loader reads the file as UTF-8 text; other bytes are refused before parsing.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("/etc/maillogsentinel/fuzz.toml");
    match Config::parse(text, path) {
        Ok(config) => {
            let _ = config.geo.country_paths(&config.data_dir);
            let _ = config.geo.asn_paths(&config.data_dir);
            let _ = (config.geo.country_urls(), config.geo.asn_urls());
            let _ = config.alerts.enabled();
            for rule in &config.alerts.rules {
                let _ = (rule.count(), rule.window());
            }
            let _ = format!("{config:?}");
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("fuzz.toml"), "the error does not name the file: {message}");
        }
    }
}

/// Addresses looked up in every geo database: both families, the edges of the space, and one
/// taken from the input.
fn probes(data: &[u8]) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = [
        "0.0.0.0",
        "1.0.0.1",
        "8.8.8.8",
        "192.0.2.1",
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:1.0.0.1",
        "2001:db8::1",
        "2001:200::1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ]
    .iter()
    .filter_map(|s| s.parse().ok())
    .collect();
    let mut tail = [0u8; 16];
    let n = data.len().min(16);
    tail[..n].copy_from_slice(&data[data.len() - n..]);
    ips.push(IpAddr::V6(Ipv6Addr::from(tail)));
    ips.push(IpAddr::V4(Ipv4Addr::new(tail[0], tail[1], tail[2], tail[3])));
    ips
}

/// The CSV geo databases (ip-location-db, country and AS kinds): any bytes give rows or an
/// error; the index built from the rows answers lookups with one of the rows' values.
pub fn geo_csv(data: &[u8]) {
    for kind in [DbKind::Country, DbKind::Asn] {
        let Ok(rows) = read_geo_csv(data, kind) else { continue };
        let values = rows.values.clone();
        let mut ips = probes(data);
        ips.extend(rows.v4.iter().take(8).flat_map(|r| [r.0, r.1, r.1.wrapping_add(1)]).map(|a| IpAddr::V4(a.into())));
        ips.extend(rows.v6.iter().take(8).flat_map(|r| [r.0, r.1, r.1.wrapping_add(1)]).map(|a| IpAddr::V6(a.into())));
        let index = RangeIndex::from_rows(rows, kind);
        for ip in ips {
            if let Some((asn, text)) = index.lookup(ip) {
                assert!(values.iter().any(|(a, t)| *a == asn && t == text), "{ip}: a value not in the file");
            }
        }
    }
}

/// MaxMind DB files: any bytes give a database or an error, and lookups on a database that
/// opened give an answer or none.
pub fn geo_mmdb(data: &[u8]) {
    let Ok(reader) = Mmdb::check_bytes(data.to_vec()) else { return };
    for ip in probes(data) {
        if let Some(code) = mmdb::country(&reader, ip) {
            assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()), "{code:?}");
        }
        if let Some((_, Some(org))) = mmdb::asn(&reader, ip) {
            assert!(!org.chars().any(char::is_control), "{org:?}");
        }
    }
}
