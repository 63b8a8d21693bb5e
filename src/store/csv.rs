//! `reports/intrusions.csv`: one row per failed attempt, appended in step with the store.
//!
//! The store records how long the CSV was at each commit. Rows are written and synced before the
//! store commits, so after a crash the file can only be longer than recorded; the extra tail
//! (rows whose events were not committed and will be read again) is cut on the next start.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
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
            super::files::create_dir_all(dir)?;
        }
        let existed = path.exists();
        let file = super::files::options().read(true).append(true).create(true).open(path)?;
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
/// [`Symbols`](crate::model::symbols::Symbols) is neutralised and quoted when it is first learnt
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
const MAX_CACHED_IPS: usize = 1 << 14;

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
                if ip_cells.len() >= MAX_CACHED_IPS && !ips.contains_key(&ip) {
                    // A batch of many addresses (a burst's held-back events released at once).
                    ip_cells.clear();
                    ips.clear();
                }
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
    }
}

/// Bytes of zeros after each [`Cell`]'s text.
const PAD: usize = 32;

/// A cell's text (with its comma) and [`PAD`] zero bytes after it, so that a row copies a short
/// cell as one block of fixed size and then cuts what the block added past the text: 7 to 9
/// `memcpy` calls per row, each of a length that changed from call to call, were a large share
/// of the store thread's time (bench/README.md has the measurement).
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
                // The minutes and seconds are rewritten in place, where a four-digit year puts
                // them: a year before -999 (which jiff allows) is one character longer.
                let in_place = self.text.len == "YYYY-MM-DDTHH:MM:SS+HH:MM".len();
                self.block = (offset % Self::BLOCK == 0 && in_place).then_some((block, offset));
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
mod tests;
