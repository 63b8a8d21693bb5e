//! Events, stored as packed blocks.
//!
//! A first scan stores close to a million events per gigabyte of log. Stored one SQLite row per
//! event, they cost the store as much CPU as parsing cost the scan: SQLite's cost per inserted
//! row is the same however the rows are handed to it (bound one by one, 64 to a statement, or
//! read from a virtual table in one `INSERT ... SELECT`; see bench/README.md for the
//! measurements). So the events a batch stores from one file go into one row of
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

use std::net::IpAddr;

use rusqlite::types::Type;
use rusqlite::{Connection, params};

use super::{ip_blob, ip_from_blob, ip_len};
use crate::model::event::EventKey;

mod keys;
pub(super) use keys::{KeyIndex, NewEvents};

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
mod tests;
