//! `reports/intrusions.csv`: one row per failed attempt, appended in step with the store.
//!
//! The store records how long the CSV was at each commit. Rows are written and synced before the
//! store commits, so after a crash the file can only be longer than recorded; the extra tail
//! (rows whose events were not committed and will be read again) is cut on the next start.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use foldhash::fast::RandomState;
use jiff::tz::TimeZone;

use crate::model::event::{Event, Reason};
use crate::model::ipinfo::IpInfo;

/// The header row, exactly.
pub const HEADER: &str = "timestamp,server,service,client_ip,username,mechanism,reason,logged_hostname,hostname,\
                          reverse_dns_status,country_code,asn,aso\n";

/// Rows are written in pieces of about this many bytes, while they are still in the CPU's cache.
pub const WRITE_BYTES: usize = 128 << 10;

/// The CSV file, open for appending.
#[derive(Debug)]
pub struct IntrusionCsv {
    file: File,
    path: PathBuf,
    len: u64,
    /// Rows were written since the last sync.
    unsynced: bool,
}

impl IntrusionCsv {
    /// Opens `path` for appending and makes it agree with `committed`, the length the store
    /// recorded (`None` when the store is new). Returns the file and what was repaired, for the
    /// user to read.
    pub fn open(path: &Path, committed: Option<u64>) -> io::Result<(IntrusionCsv, Vec<String>)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let existed = path.exists();
        let file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        let mut len = file.metadata()?.len();
        let mut notices = Vec::new();
        let shown = path.display();
        match committed {
            Some(_) if !existed => notices.push(format!(
                "{shown} was missing: started a new one (events already in the store are not written again)"
            )),
            Some(c) if len > c => {
                file.set_len(c)?;
                notices.push(format!(
                    "{shown}: removed {} bytes of rows left by an interrupted scan (their lines are read again)",
                    len - c
                ));
                len = c;
            }
            Some(c) if len < c => notices.push(format!(
                "{shown} is shorter than this tool left it ({len} < {c} bytes): was it edited or rotated? \
                 New rows are appended after its current end"
            )),
            None if len > 0 => notices
                .push(format!("{shown} already has rows but the store is new: keeping them and appending after them")),
            _ => {}
        }
        let mut csv = IntrusionCsv { file, path: path.to_path_buf(), len, unsynced: false };
        if len == 0 {
            csv.append(HEADER.as_bytes())?;
        }
        Ok((csv, notices))
    }

    /// The file's length, to be recorded with the next commit.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when not even the header is there (never, once opened).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `rows` and syncs them to disk, so that the store never records rows that a power
    /// cut could lose.
    pub fn append(&mut self, rows: &[u8]) -> io::Result<()> {
        self.write(rows)?;
        self.sync()
    }

    /// Writes `rows` without syncing them ([`IntrusionCsv::sync`] does, before the commit): a
    /// batch's rows are written a piece at a time as they are formatted, while they are still in
    /// the CPU's cache.
    pub fn write(&mut self, rows: &[u8]) -> io::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.file.write_all(rows)?;
        self.len += rows.len() as u64;
        self.unsynced = true;
        Ok(())
    }

    /// Syncs the rows written since the last sync, if any.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }
}

/// Formats events as CSV rows.
///
/// A first scan of a big log writes close to a million rows, so rows are assembled from cells
/// encoded once, each with the comma before it: each text of the scan's
/// [`Symbols`](crate::model::event::Symbols) is neutralised and quoted when it is first learnt
/// ([`RowFormatter::learn`]), each address's cell once per scan, and its five enrichment columns
/// again only when its enrichment changes.
pub struct RowFormatter {
    tz: TimeZone,
    out: Vec<u8>,
    /// Timestamps are formatted often and change slowly: see [`TimeText`].
    time: TimeText,
    /// `,` and the encoded cell of every symbol, by symbol number.
    cells: Vec<Cell>,
    /// `,` and the text of every reason, by code.
    reasons: Vec<Cell>,
    /// `,` alone: an empty cell.
    empty: Cell,
    /// Per address: its cells, found by address (and for the address of the last row, without
    /// a lookup). Kept across batches (an address is formatted once per scan, not once per
    /// batch: a gigabyte has ~200 batches of the same few thousand addresses) up to
    /// [`MAX_CACHED_IPS`] addresses.
    ip_cells: Vec<IpCells>,
    ips: HashMap<IpAddr, usize, RandomState>,
    last_ip: Option<(IpAddr, usize)>,
    /// Counts [`RowFormatter::clear`]s: an address's enrichment is asked again in each batch.
    batch: u64,
}

/// Addresses whose cells are kept between batches; past this many the cache starts again, so
/// that a scan of many short-lived addresses keeps its memory flat.
const MAX_CACHED_IPS: usize = 1 << 16;

/// [`IpCells::batch`] of an address not asked for yet: [`RowFormatter::clear`] never counts
/// this far.
const NEVER: u64 = u64::MAX;

/// One address's cells.
struct IpCells {
    /// `,` and the address.
    ip: Cell,
    /// The enrichment `tail` was made from...
    info: IpInfo,
    /// ...as the last five columns, each with its comma.
    tail: Cell,
    /// The batch that last asked for the address's enrichment.
    batch: u64,
}

impl RowFormatter {
    /// Timestamps are written as RFC 3339 with the offset of `tz`.
    pub fn new(tz: TimeZone) -> RowFormatter {
        RowFormatter {
            tz,
            out: Vec::with_capacity(1 << 20),
            time: TimeText::default(),
            cells: Vec::new(),
            reasons: (0..=Reason::ALL.iter().map(|r| r.code()).max().unwrap_or(0))
                .map(|code| Cell::new(Reason::from_code(code).map(|r| format!(",{}", r.as_str())).unwrap_or_default()))
                .collect(),
            empty: Cell::new(",".into()),
            ip_cells: Vec::new(),
            ips: HashMap::default(),
            last_ip: None,
            batch: 0,
        }
    }

    /// Learns the texts of symbols `start..`; a `start` below what is known starts a new table.
    pub fn learn(&mut self, start: usize, texts: &[std::sync::Arc<str>]) {
        self.cells.truncate(start);
        self.cells.extend(texts.iter().map(|t| Cell::new(format!(",{}", cell(t)))));
    }

    /// Adds `event.count` identical rows, one per attempt. `info` gives the enrichment of the
    /// event's address; it is asked once per address and batch (batches end with
    /// [`RowFormatter::clear`]).
    pub fn push<'i>(&mut self, event: &Event, info: impl FnOnce(IpAddr) -> &'i IpInfo) {
        let RowFormatter { tz, out, time, cells, reasons, empty, ip_cells, ips, last_ip, batch } = self;
        let sym = |s: crate::model::symbols::Sym| cells.get(s as usize).unwrap_or(empty);
        let opt = |s: Option<crate::model::symbols::Sym>| s.map_or(&*empty, sym);
        let ip = event.client_ip;
        let at = match *last_ip {
            Some((last, at)) if last == ip => at,
            _ => {
                let at = *ips.entry(ip).or_insert_with(|| {
                    let (info, batch) = (IpInfo::default(), NEVER);
                    ip_cells.push(IpCells { ip: Cell::new(format!(",{ip}")), tail: tail(&info), info, batch });
                    ip_cells.len() - 1
                });
                if let Some(c) = ip_cells.get_mut(at).filter(|c| c.batch != *batch) {
                    let info = info(ip);
                    if *info != c.info {
                        c.tail = tail(info);
                        c.info = info.clone();
                    }
                    c.batch = *batch;
                }
                at
            }
        };
        *last_ip = Some((ip, at));
        let Some(IpCells { ip, tail: enrichment, .. }) = ip_cells.get(at) else { return };
        let start = out.len();
        for part in [
            time.format(event.time, tz),
            sym(event.server),
            sym(event.service),
            ip,
            opt(event.username),
            opt(event.mechanism),
            reasons.get(usize::from(event.reason.code())).unwrap_or(empty),
            opt(event.logged_hostname),
            enrichment,
        ] {
            part.put(out);
        }
        out.push(b'\n');
        // The same attempt repeated (rsyslog's "message repeated N times"): the same row again.
        let row = out.len() - start;
        for _ in 1..event.count {
            out.extend_from_within(start..start + row);
        }
    }

    /// The rows formatted since [`RowFormatter::clear`] or [`RowFormatter::take_rows`]...
    pub fn rows(&self) -> &[u8] {
        &self.out
    }

    /// ...which forgets them, within the batch.
    pub fn take_rows(&mut self) {
        self.out.clear();
    }

    /// Forgets the rows formatted; the buffer is kept for the next rows. The addresses' cells
    /// are kept, but their enrichment (which may change between batches) is asked again.
    pub fn clear(&mut self) {
        self.take_rows();
        self.last_ip = None;
        self.batch += 1;
        if self.ip_cells.len() > MAX_CACHED_IPS {
            self.ip_cells.clear();
            self.ips.clear();
        }
    }
}

/// Bytes of zeros after each [`Cell`]'s text.
const PAD: usize = 32;

/// A cell's text (with its comma) and [`PAD`] zero bytes after it, so that a row copies a short
/// cell as one block of fixed size and then cuts what the block added past the text: 7 to 9
/// `memcpy` calls per row, each of a length that changed from call to call, took an eighth of
/// the store thread's time (measured 2026-12-03).
#[derive(Clone, Debug)]
struct Cell {
    /// The text, then the zeros.
    bytes: Box<[u8]>,
    len: usize,
}

impl Default for Cell {
    fn default() -> Cell {
        Cell::new(String::new())
    }
}

impl Cell {
    fn new(text: String) -> Cell {
        let len = text.len();
        let mut bytes = text.into_bytes();
        bytes.resize(len + PAD, 0);
        Cell { bytes: bytes.into_boxed_slice(), len }
    }

    /// The text.
    fn text(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Appends the text to `out`.
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        match self.bytes.first_chunk::<PAD>() {
            Some(block) if self.len <= PAD => {
                let end = out.len() + self.len;
                out.extend_from_slice(block);
                out.truncate(end);
            }
            _ => out.extend_from_slice(self.text()),
        }
    }
}

/// An address's enrichment columns (each with its leading comma).
fn tail(info: &IpInfo) -> Cell {
    let opt = |s: &Option<String>| s.as_deref().map(cell).unwrap_or_default();
    let asn = info.asn.map(|a| a.to_string()).unwrap_or_default();
    let status = info.rdns_status.map_or("", |s| s.as_str());
    Cell::new(format!(",{},{status},{},{asn},{}", opt(&info.hostname), opt(&info.country_code), opt(&info.aso)))
}

/// A text as one RFC 4180 cell: neutralised ([`neutralise`]), and quoted when it holds a comma,
/// a quote or a line break.
pub fn cell(text: &str) -> String {
    let text = neutralise(text);
    if text.contains([',', '"', '\r', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.into_owned() }
}

/// RFC 3339 text of successive timestamps, reusing the date, hour and offset of the previous one.
///
/// Zone offsets are whole quarter hours (since the early 20th century), so within one
/// quarter hour of UTC the local date, hour and offset stay the same and only the minutes and
/// seconds need writing.
#[derive(Debug, Default)]
struct TimeText {
    /// The quarter hour (Unix seconds / 900) the cached text belongs to, and its offset.
    block: Option<(i64, i64)>,
    /// ASCII.
    text: Cell,
}

impl TimeText {
    const BLOCK: i64 = 900;

    fn format(&mut self, ts: jiff::Timestamp, tz: &TimeZone) -> &Cell {
        let second = ts.as_second();
        let block = second.div_euclid(Self::BLOCK);
        match self.block {
            Some((b, offset)) if b == block => {
                let local = (second + offset).rem_euclid(3600);
                // "YYYY-MM-DDTHH:" is 14 bytes; minutes and seconds follow.
                let digits = [b'0' + (local / 600) as u8, b'0' + (local / 60 % 10) as u8];
                let secs = [b'0' + (local % 60 / 10) as u8, b'0' + (local % 10) as u8];
                self.text.bytes[14..16].copy_from_slice(&digits);
                self.text.bytes[17..19].copy_from_slice(&secs);
            }
            _ => {
                let offset = i64::from(tz.to_offset(ts).seconds());
                self.text = Cell::new(rfc3339(ts, tz));
                self.block = (offset % Self::BLOCK == 0).then_some((block, offset));
            }
        }
        &self.text
    }
}

/// `2026-11-24T10:00:00+01:00`: RFC 3339 in `tz`, whole seconds.
pub fn rfc3339(ts: jiff::Timestamp, tz: &TimeZone) -> String {
    let offset = tz.to_offset(ts);
    let dt = offset.to_datetime(ts);
    let secs = offset.seconds();
    let (sign, abs) = if secs < 0 { ('-', -secs) } else { ('+', secs) };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        abs / 3600,
        abs % 3600 / 60
    )
}

/// Prefixes `'` to a cell a spreadsheet would run as a formula (OWASP CSV injection advice).
/// Control characters never reach here: [`crate::text::visible`] escaped them at parse time.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
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
}
