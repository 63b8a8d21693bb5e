//! The fleet's outbox: which stored events have been shipped to the fleet database.
//!
//! Blocks of events are only ever appended (`event_blocks`, ids rising), so what is shipped is
//! one number, the highest block id shipped ([`Store::mark_shipped`]); what is not is every
//! block above it ([`Store::unshipped`]). The mark is set after the fleet database committed a
//! shipment, so a crash in between ships the same events again: the fleet database keys each
//! event by server, source and offset and stores it once.
//!
//! The source of an event in the fleet is not the store's own id of its file (which a new store
//! would give out again in another order) but the file's content identity, taken once, the first
//! time one of its events is shipped (`fleet_sources`): a file's fingerprint grows with a file
//! shorter than the fingerprint's length, and a key that changed between a shipment and its
//! repetition would store the events twice.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use rusqlite::{OptionalExtension, params};
use xxhash_rust::xxh3::xxh3_64;

use super::{Result, Store, blocks, ipinfo, meta_get};
use crate::model::event::EventKey;
use crate::model::ipinfo::IpInfo;

/// The table, created when the store is opened (older builds ignore it).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS fleet_sources (source INTEGER PRIMARY KEY, fleet_id INTEGER NOT NULL);
";

/// `meta` key of the highest block id shipped.
const SHIPPED: &str = "fleet_shipped_block";
/// `meta` key: when the fleet database last held every event of the store (Unix seconds).
const SYNCED: &str = "fleet_synced_at";

/// One event as shipped: its fleet-wide key, what it says, and its texts as indexes in
/// [`Shipment::texts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShipEvent {
    /// The content identity of the file (or journal) it came from.
    pub source: i64,
    /// The line's offset in it (for a journal: the entry's index).
    pub offset: i64,
    /// Unix seconds.
    pub ts: i64,
    /// [`Kind::code`](crate::model::event::Kind::code).
    pub kind: u8,
    /// [`Reason::code`](crate::model::event::Reason::code).
    pub reason: u8,
    /// Attempts it stands for.
    pub count: u32,
    /// The client address.
    pub ip: IpAddr,
    /// The host name the log line carried.
    pub host: u32,
    /// The daemon's syslog name.
    pub service: u32,
    /// The account tried.
    pub username: Option<u32>,
    /// The SASL mechanism.
    pub mechanism: Option<u32>,
    /// The client name Postfix logged.
    pub logged_hostname: Option<u32>,
}

/// Stored events not shipped yet, in the order they were stored, with what the fleet needs
/// beside them.
#[derive(Debug, Default)]
pub struct Shipment {
    /// The events.
    pub events: Vec<ShipEvent>,
    /// The texts the events name.
    pub texts: Vec<String>,
    /// Each address of the events, with what enrichment knows of it.
    pub ips: Vec<(IpAddr, Option<IpInfo>)>,
    /// The highest block id in the shipment: the mark once it is stored.
    pub last_block: i64,
}

impl Store {
    /// The highest block id shipped to the fleet database (0: none).
    pub fn shipped_mark(&self) -> Result<i64> {
        Ok(meta_get::<i64>(&self.conn, SHIPPED)?.unwrap_or(0))
    }

    /// Records that every block up to `block` is in the fleet database. Never moves the mark
    /// back: a `fleet ship` beside a `watch` may finish after it.
    pub fn mark_shipped(&self, block: i64) -> Result<()> {
        self.raise_meta(SHIPPED, block)
    }

    /// Records that at `at` (Unix seconds) the fleet database held every event of the store:
    /// shipping ended with nothing left. Never moves back.
    pub fn mark_synced(&self, at: i64) -> Result<()> {
        self.raise_meta(SYNCED, at)
    }

    /// Sets `meta` `key` to `value` unless it holds more.
    fn raise_meta(&self, key: &str, value: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
            )?
            .execute(params![key, value])?;
        Ok(())
    }

    /// When the fleet database last held every event of the store, if ever.
    pub fn synced_at(&self) -> Result<Option<i64>> {
        Ok(meta_get::<i64>(&self.conn, SYNCED)?)
    }

    /// Events and blocks stored but not shipped.
    pub fn ship_backlog(&self) -> Result<(u64, u64)> {
        let (events, blocks): (i64, i64) = self.conn.query_row(
            "SELECT coalesce(sum(events), 0), count(*) FROM event_blocks WHERE id > ?1",
            [self.shipped_mark()?],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((events as u64, blocks as u64))
    }

    /// The next blocks after the mark, whole, until they hold `max_events` or more events;
    /// `None` when everything is shipped.
    pub fn unshipped(&self, max_events: usize) -> Result<Option<Shipment>> {
        let mark = self.shipped_mark()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, lo, min_ts, events, data FROM event_blocks WHERE id > ?1 ORDER BY id LIMIT 64",
        )?;
        let mut rows = stmt.query([mark])?;
        let mut out = Shipment::default();
        let mut sources: HashMap<u32, i64> = HashMap::new();
        let mut texts: HashMap<i64, u32> = HashMap::new();
        let mut ips: HashSet<IpAddr> = HashSet::new();
        let mut failed: Option<super::StoreError> = None;
        while let Some(b) = rows.next()? {
            if out.events.len() >= max_events {
                break;
            }
            let id: i64 = b.get(0)?;
            let mut decoded = Vec::new();
            blocks::decode(
                id,
                (b.get(1)?, b.get(2)?, b.get(3)?),
                b.get_ref(4)?.as_blob().map_err(rusqlite::Error::from)?,
                |row| decoded.push(*row),
            )?;
            for row in decoded {
                let key = EventKey::from_rowid(row.key);
                let source = match sources.get(&key.source) {
                    Some(&s) => s,
                    None => {
                        let s = self.fleet_source(key.source)?;
                        sources.insert(key.source, s);
                        s
                    }
                };
                let Some(ip) = row.ip() else {
                    failed.get_or_insert(super::StoreError::Corrupt(format!("event {key:?} has no address")));
                    continue;
                };
                let mut text = |id: i64| -> Result<u32> {
                    if let Some(&i) = texts.get(&id) {
                        return Ok(i);
                    }
                    let i = out.texts.len() as u32;
                    out.texts.push(self.text(super::TextId(id))?);
                    texts.insert(id, i);
                    Ok(i)
                };
                let event = ShipEvent {
                    source,
                    offset: key.offset as i64,
                    ts: row.ts,
                    kind: row.kind,
                    reason: row.reason,
                    count: row.count.max(1),
                    ip,
                    host: text(row.server)?,
                    service: text(row.service)?,
                    username: row.username.map(&mut text).transpose()?,
                    mechanism: row.mechanism.map(&mut text).transpose()?,
                    logged_hostname: row.logged_hostname.map(&mut text).transpose()?,
                };
                ips.insert(ip);
                out.events.push(event);
            }
            out.last_block = id;
        }
        if let Some(e) = failed {
            return Err(e);
        }
        if out.last_block == 0 {
            return Ok(None);
        }
        for ip in ips {
            let info = ipinfo::lookup(&self.conn, ip)?;
            out.ips.push((ip, info));
        }
        Ok(Some(out))
    }

    /// The fleet-wide id of the file (or journal) the store knows as `source`, taken the first
    /// time it is asked for and kept.
    fn fleet_source(&self, source: u32) -> Result<i64> {
        let known: Option<i64> = self
            .conn
            .prepare_cached("SELECT fleet_id FROM fleet_sources WHERE source = ?1")?
            .query_row([source], |r| r.get(0))
            .optional()?;
        if let Some(id) = known {
            return Ok(id);
        }
        let (fp_len, fp_hash, path): (i64, i64, String) = self
            .conn
            .query_row("SELECT fp_len, fp_hash, path FROM sources WHERE id = ?1", [source], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?
            .unwrap_or((0, 0, format!("source {source}")));
        let id = if fp_len > 0 {
            fp_hash
        } else {
            // A journal: its location and the first entry ever read, which stay its own.
            let first: Option<String> = self
                .conn
                .query_row("SELECT first_cursor FROM journal_cursors WHERE source = ?1", [source], |r| r.get(0))
                .optional()?
                .flatten();
            xxh3_64(format!("journal\0{path}\0{}", first.unwrap_or_default()).as_bytes()) as i64
        };
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO fleet_sources (source, fleet_id) VALUES (?1, ?2)")?
            .execute(params![source, id])?;
        Ok(id)
    }
}
