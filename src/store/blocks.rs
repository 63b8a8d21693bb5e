//! Events, stored as packed blocks.
//!
//! A first scan stores close to a million events per gigabyte of log. Stored one SQLite row per
//! event, they cost the store as much CPU as parsing cost the scan: SQLite spends 0.3 to 1 µs
//! (depending on the machine's day) on every row it inserts, however the rows are handed to it
//! (bound one by one, 64 to a statement, or read from a virtual table in one
//! `INSERT ... SELECT`). So the events a batch stores from one file go into one row of
//! `event_blocks`: the events packed into a blob ([format](#format)), beside the block's key
//! range (`lo`, `hi`) and time range (`min_ts`, `max_ts`).
//!
//! - **Reading by time.** Reports ask for a period: [`for_each_in`] reads the blocks whose time
//!   range meets it (through the `max_ts` index; a file's lines are in time order, so a block
//!   covers a short stretch of time) and filters their events on time. This is also what the
//!   `events_ts` index and later the `spans` table of schemas 1 and 2 did.
//! - **Storing each line once.** An event's key is its file and line offset ([`EventKey`]),
//!   packed into an `i64` ([`EventKey::rowid`]). `KeyIndex` knows which keys are stored: every
//!   key above the highest one stored for its file is new (lines read for the first time: nearly
//!   every event); one at or below it (an event the correlator held back over a commit, a
//!   `--full` rescan, a replay after a crash) is looked up in the blocks whose key range covers
//!   it, each decoded at most once per scan.
//!
//! # Format
//!
//! A block's blob is a version byte (1) followed by its events, each encoded as:
//!
//! | field | encoding |
//! |---|---|
//! | key | zigzag varint, the difference to the previous event's key (the first: to `lo`) |
//! | time (Unix seconds) | zigzag varint, the difference to the previous event's (the first: to `min_ts`) |
//! | kind, reason | one byte each ([`Kind::code`](crate::model::event::Kind::code), [`Reason::code`](crate::model::event::Reason::code)) |
//! | count | varint |
//! | address | one length byte (4 or 16), then the address's bytes |
//! | server, service | varint `strings` ids |
//! | username, mechanism, logged host name | varint `strings` id + 1, or 0 for none |
//!
//! Varints are LEB128 (7 bits per byte, least significant first); zigzag maps 0, -1, 1, -2, ...
//! to 0, 1, 2, 3, .... A block holds the number of events its `events` column says, and nothing
//! after them: anything else is reported as a corrupt block, never read as events.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use foldhash::fast::RandomState;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, params};

use super::{ip_blob, ip_from_blob, ip_len};
use crate::model::event::EventKey;

/// The table, created by [`super::Store::open`]. The `max_ts` index lets a report on a recent
/// period read only the newest blocks; the `hi` index gives a file's blocks (and its highest
/// stored key) without reading the others.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS event_blocks (
    id INTEGER PRIMARY KEY,
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL,
    min_ts INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    events INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS event_blocks_max_ts ON event_blocks (max_ts);
CREATE INDEX IF NOT EXISTS event_blocks_hi ON event_blocks (hi);
";

/// The format version byte this build writes and reads.
const VERSION: u8 = 1;

/// Events per block when blocks are made from a list of events rather than a scan's batch (the
/// migration from schema 2, imports): about a scan batch.
pub(super) const MAX_EVENTS: usize = 16_384;

/// One stored event, with its texts as `strings` ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The packed [`EventKey`].
    pub key: i64,
    /// Unix seconds.
    pub ts: i64,
    /// [`Kind::code`](crate::model::event::Kind::code).
    pub kind: u8,
    /// [`Reason::code`](crate::model::event::Reason::code).
    pub reason: u8,
    /// Attempts (at least 1).
    pub count: u32,
    /// The client address as stored ([`ip_blob`]); `ip_len` bytes of it are used.
    pub ip: [u8; 16],
    /// 4 or 16.
    pub ip_len: u8,
    /// Server name.
    pub server: i64,
    /// Syslog name of the daemon.
    pub service: i64,
    /// Account tried.
    pub username: Option<i64>,
    /// SASL mechanism.
    pub mechanism: Option<i64>,
    /// The client name Postfix logged.
    pub logged_hostname: Option<i64>,
}

impl Row {
    /// The address's bytes as stored (4 or 16).
    pub fn ip_bytes(&self) -> &[u8] {
        &self.ip[..usize::from(self.ip_len).min(16)]
    }

    /// The client address.
    pub fn ip(&self) -> Option<IpAddr> {
        ip_from_blob(self.ip_bytes())
    }

    /// The address in the stored form, for building rows.
    pub fn ip_parts(ip: &IpAddr) -> ([u8; 16], u8) {
        (ip_blob(ip), ip_len(ip) as u8)
    }

    /// The file the event came from.
    pub fn source(&self) -> u32 {
        EventKey::from_rowid(self.key).source
    }
}

/// A block that cannot be read: its events are skipped, and the error names it.
#[derive(Debug, thiserror::Error)]
#[error(
    "event block {id} of the store is corrupt ({what}); its events cannot be read (restore the store from a \
     backup, or delete the block: DELETE FROM event_blocks WHERE id = {id})"
)]
pub struct CorruptBlock {
    /// The block's rowid.
    pub id: i64,
    /// What is wrong.
    pub what: &'static str,
}

impl From<CorruptBlock> for rusqlite::Error {
    fn from(e: CorruptBlock) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(6, Type::Blob, Box::new(e))
    }
}

/// A block's row, before its blob is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Header {
    pub lo: i64,
    pub hi: i64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub events: usize,
}

/// Packs `rows` (at least one) into `out` (cleared first); returns the block's header.
pub(super) fn encode(rows: &[Row], out: &mut Vec<u8>) -> Header {
    let mut h = Header { lo: i64::MAX, hi: i64::MIN, min_ts: i64::MAX, max_ts: i64::MIN, events: rows.len() };
    for r in rows {
        h.lo = h.lo.min(r.key);
        h.hi = h.hi.max(r.key);
        h.min_ts = h.min_ts.min(r.ts);
        h.max_ts = h.max_ts.max(r.ts);
    }
    out.clear();
    out.reserve(rows.len() * 24);
    out.push(VERSION);
    let (mut key, mut ts) = (h.lo, h.min_ts);
    for r in rows {
        varint(out, zigzag(r.key.wrapping_sub(key)));
        varint(out, zigzag(r.ts.wrapping_sub(ts)));
        (key, ts) = (r.key, r.ts);
        out.extend_from_slice(&[r.kind, r.reason]);
        varint(out, u64::from(r.count));
        out.push(r.ip_len);
        out.extend_from_slice(r.ip_bytes());
        varint(out, r.server as u64);
        varint(out, r.service as u64);
        for id in [r.username, r.mechanism, r.logged_hostname] {
            varint(out, id.map_or(0, |id| (id as u64).wrapping_add(1)));
        }
    }
    h
}

/// Calls `f` on every event of block `id`, in the order they were stored.
pub(super) fn decode(
    id: i64,
    (lo, min_ts, events): (i64, i64, i64),
    data: &[u8],
    mut f: impl FnMut(&Row),
) -> Result<(), CorruptBlock> {
    let corrupt = |what| CorruptBlock { id, what };
    let (&version, mut rest) = data.split_first().ok_or(corrupt("empty"))?;
    if version != VERSION {
        return Err(corrupt("unknown format version"));
    }
    let (mut key, mut ts) = (lo, min_ts);
    for _ in 0..events {
        let mut r = Reader { rest };
        key = key.wrapping_add(unzigzag(r.varint().ok_or(corrupt("truncated key"))?));
        ts = ts.wrapping_add(unzigzag(r.varint().ok_or(corrupt("truncated time"))?));
        let (Some(kind), Some(reason)) = (r.byte(), r.byte()) else { return Err(corrupt("truncated event")) };
        let count = r.varint().and_then(|c| u32::try_from(c).ok()).ok_or(corrupt("bad count"))?;
        let ip_len = r.byte().ok_or(corrupt("truncated event"))?;
        if ip_len != 4 && ip_len != 16 {
            return Err(corrupt("bad address length"));
        }
        let bytes = r.take(usize::from(ip_len)).ok_or(corrupt("truncated address"))?;
        let mut ip = [0u8; 16];
        ip[..bytes.len()].copy_from_slice(bytes);
        let mut ids = [0u64; 5];
        for slot in &mut ids {
            *slot = r.varint().ok_or(corrupt("truncated text id"))?;
        }
        let opt = |v: u64| (v != 0).then(|| v.wrapping_sub(1) as i64);
        f(&Row {
            key,
            ts,
            kind,
            reason,
            count,
            ip,
            ip_len,
            server: ids[0] as i64,
            service: ids[1] as i64,
            username: opt(ids[2]),
            mechanism: opt(ids[3]),
            logged_hostname: opt(ids[4]),
        });
        rest = r.rest;
    }
    if !rest.is_empty() {
        return Err(corrupt("bytes after its last event"));
    }
    Ok(())
}

/// Writes one block of `rows` inside the caller's transaction; returns its rowid and header.
pub(super) fn insert(conn: &Connection, rows: &[Row], buf: &mut Vec<u8>) -> rusqlite::Result<(i64, Header)> {
    let h = encode(rows, buf);
    conn.prepare_cached(
        "INSERT INTO event_blocks (lo, hi, min_ts, max_ts, events, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![h.lo, h.hi, h.min_ts, h.max_ts, h.events as i64, &buf[..]])?;
    Ok((conn.last_insert_rowid(), h))
}

/// Calls `f` on every stored event with `start <= ts < end`, block by block (so in no
/// particular order across blocks).
pub fn for_each_in<E: From<rusqlite::Error> + From<CorruptBlock>>(
    conn: &Connection,
    start: i64,
    end: i64,
    mut f: impl FnMut(&Row) -> Result<(), E>,
) -> Result<(), E> {
    if start >= end {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT id, lo, min_ts, events, data FROM event_blocks WHERE max_ts >= ?1 AND min_ts < ?2 ORDER BY id",
    )?;
    let mut blocks = stmt.query(params![start, end])?;
    while let Some(b) = blocks.next()? {
        let mut failed = Ok(());
        decode(
            b.get(0)?,
            (b.get(1)?, b.get(2)?, b.get(3)?),
            b.get_ref(4)?.as_blob().map_err(rusqlite::Error::from)?,
            |row| {
                if failed.is_ok() && (start..end).contains(&row.ts) {
                    failed = f(row);
                }
            },
        )?;
        failed?;
    }
    Ok(())
}

/// Calls `f` on every stored event (none can be at `i64::MAX` seconds: timestamps end in 9999).
pub fn for_each<E: From<rusqlite::Error> + From<CorruptBlock>>(
    conn: &Connection,
    f: impl FnMut(&Row) -> Result<(), E>,
) -> Result<(), E> {
    for_each_in(conn, i64::MIN, i64::MAX, f)
}

/// Which event keys the store holds, per file. Loaded per file on first use (the file's block
/// directory: a few rows per scan that read it), kept up to date by [`KeyIndex::committed`].
#[derive(Debug, Default)]
pub(super) struct KeyIndex {
    sources: HashMap<u32, SourceKeys, RandomState>,
}

#[derive(Debug)]
struct SourceKeys {
    /// The highest key stored (`i64::MIN` when none).
    max: i64,
    /// Every block of the file.
    blocks: Vec<BlockKeys>,
}

#[derive(Debug)]
struct BlockKeys {
    id: i64,
    lo: i64,
    hi: i64,
    /// The block's keys, sorted, once a lookup needed them.
    keys: Option<Vec<i64>>,
}

/// The smallest and largest key of file `source`.
fn key_range(source: u32) -> (i64, i64) {
    (EventKey { source, offset: 0 }.rowid(), EventKey { source, offset: u64::MAX }.rowid())
}

impl KeyIndex {
    fn source(&mut self, conn: &Connection, source: u32) -> rusqlite::Result<&mut SourceKeys> {
        match self.sources.entry(source) {
            Entry::Occupied(known) => Ok(known.into_mut()),
            Entry::Vacant(slot) => {
                let (first, last) = key_range(source);
                // A block holds the events of one file, so its `hi` says whose it is.
                let mut stmt = conn.prepare_cached("SELECT id, lo, hi FROM event_blocks WHERE hi BETWEEN ?1 AND ?2")?;
                let blocks = stmt
                    .query_map([first, last], |r| {
                        Ok(BlockKeys { id: r.get(0)?, lo: r.get(1)?, hi: r.get(2)?, keys: None })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let max = blocks.iter().map(|b| b.hi).max().unwrap_or(i64::MIN);
                Ok(slot.insert(SourceKeys { max, blocks }))
            }
        }
    }

    /// The highest key stored for `source` (`i64::MIN` when none).
    pub(super) fn max(&mut self, conn: &Connection, source: u32) -> rusqlite::Result<i64> {
        Ok(self.source(conn, source)?.max)
    }

    /// Whether the event with `key` is stored.
    pub(super) fn contains(&mut self, conn: &Connection, key: i64) -> rusqlite::Result<bool> {
        let keys = self.source(conn, EventKey::from_rowid(key).source)?;
        if key > keys.max {
            return Ok(false);
        }
        for block in keys.blocks.iter_mut().filter(|b| b.lo <= key && key <= b.hi) {
            if block.keys.is_none() {
                block.keys = Some(block_keys(conn, block.id)?);
            }
            if block.keys.as_ref().is_some_and(|k| k.binary_search(&key).is_ok()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Records a block written in the store's transaction. (A transaction that fails to commit
    /// ends the scan, and this index with it.)
    pub(super) fn written(&mut self, id: i64, h: &Header) {
        let source = EventKey::from_rowid(h.lo).source;
        // Files not looked at yet are loaded from the store, block included, when first needed.
        if let Some(keys) = self.sources.get_mut(&source) {
            keys.max = keys.max.max(h.hi);
            keys.blocks.push(BlockKeys { id, lo: h.lo, hi: h.hi, keys: None });
        }
    }
}

/// The new events of a batch (or of an import), per file, ready to be written as blocks.
#[derive(Debug, Default)]
pub(super) struct NewEvents {
    groups: Vec<Group>,
    /// Emptied row and key lists of earlier batches: a first scan of a gigabyte stores some
    /// fifty batches of 16 k rows, and growing fresh lists each time cost 2% of its CPU.
    spare: Vec<(Vec<Row>, Vec<i64>)>,
}

#[derive(Debug)]
struct Group {
    source: u32,
    /// The highest key stored or added so far: events above it are new.
    max: i64,
    rows: Vec<Row>,
    /// The keys of the rows added above `max` (so in ascending order)...
    ascending: Vec<i64>,
    /// ...and of the few added below it (events the correlator held back).
    others: HashSet<i64, RandomState>,
}

impl NewEvents {
    /// Adds `row` unless its key is stored already or was added before; returns whether it was.
    pub(super) fn add(&mut self, conn: &Connection, index: &mut KeyIndex, row: Row) -> rusqlite::Result<bool> {
        let source = row.source();
        let g = match self.groups.iter().position(|g| g.source == source) {
            Some(i) => &mut self.groups[i],
            None => {
                let max = index.max(conn, source)?;
                let (rows, ascending) = self.spare.pop().unwrap_or_default();
                let others = HashSet::default();
                self.groups.push(Group { source, max, rows, ascending, others });
                let last = self.groups.len() - 1;
                &mut self.groups[last]
            }
        };
        if row.key > g.max {
            g.max = row.key;
            g.ascending.push(row.key);
        } else if index.contains(conn, row.key)?
            || g.ascending.binary_search(&row.key).is_ok()
            || !g.others.insert(row.key)
        {
            return Ok(false);
        }
        g.rows.push(row);
        Ok(true)
    }

    /// Forgets the events added, keeping the lists' room for the next batch.
    pub(super) fn clear(&mut self) {
        for Group { mut rows, mut ascending, .. } in self.groups.drain(..) {
            rows.clear();
            ascending.clear();
            self.spare.push((rows, ascending));
        }
    }

    /// How many events were added.
    pub(super) fn len(&self) -> usize {
        self.groups.iter().map(|g| g.rows.len()).sum()
    }

    /// Writes one block per file inside the caller's transaction; returns what to give
    /// [`KeyIndex::written`].
    pub(super) fn write(&self, conn: &Connection, buf: &mut Vec<u8>) -> rusqlite::Result<Vec<(i64, Header)>> {
        self.groups.iter().filter(|g| !g.rows.is_empty()).map(|g| insert(conn, &g.rows, buf)).collect()
    }
}

/// The sorted keys of block `id`.
fn block_keys(conn: &Connection, id: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT lo, min_ts, events, data FROM event_blocks WHERE id = ?1")?;
    let mut keys = Vec::new();
    let found = stmt
        .query_row([id], |b| {
            decode(id, (b.get(0)?, b.get(1)?, b.get(2)?), b.get_ref(3)?.as_blob()?, |r| keys.push(r.key))?;
            Ok(())
        })
        .optional()?;
    if found.is_some() {
        keys.sort_unstable();
    }
    Ok(keys)
}

/// Appends `v` as a LEB128 varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// A cursor over a blob.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(taken)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
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
        let (a, ha) =
            insert(&conn, &[row(k(1, 100), 10, "192.0.2.1"), row(k(1, 300), 11, "192.0.2.1")], &mut buf).unwrap();
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
        let (c, hc) =
            insert(&conn, &[row(k(1, 250), 14, "192.0.2.1"), row(k(1, 600), 15, "192.0.2.1")], &mut buf).unwrap();
        index.written(c, &hc);
        assert!(index.contains(&conn, k(1, 250)).unwrap());
        assert_eq!(index.max(&conn, 1).unwrap(), k(1, 600));
        assert!(a < c && ha.events == 2 && hc.lo == k(1, 250));
    }

    #[test]
    fn reading_by_time_filters_events_and_skips_blocks_outside_the_period() {
        let conn = store_conn();
        let mut buf = Vec::new();
        insert(&conn, &[row(1, 100, "192.0.2.1"), row(2, 199, "192.0.2.2"), row(3, 200, "192.0.2.3")], &mut buf)
            .unwrap();
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
}
