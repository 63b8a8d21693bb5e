//! Typed reads: the questions reports (and later alerts and fleet shipping) ask the store.
//!
//! Callers never see SQL, blobs or the block format: answers are model types and the plain
//! structs below. Texts come as [`TextId`]s and addresses as [`IpKey`]s, numbers that are cheap
//! to hash and compare, because a report over a year aggregates millions of events: it groups by
//! these and turns into text only the few rows it shows ([`Store::text`]).
//!
//! Every read of the events decodes the blocks that meet the period ([`Store::events_in`]); the
//! questions about history ("seen before?", "where did this account log in from before?") are
//! lookups in the small tables the scan keeps beside them (`ips`, `logins`, `ip_info`), so their
//! cost does not grow with the number of events.

use std::collections::HashMap;
use std::net::IpAddr;

use foldhash::fast::RandomState;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, StoreError, blocks, ip_from_blob, ipinfo};
use crate::model::event::{EventKey, Kind, Reason};
use crate::model::ipinfo::IpInfo;

/// A stored text (server, service, account, mechanism, host name): the `strings` id the store
/// keeps it under. Two ids are equal exactly when their texts are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TextId(pub(super) i64);

impl TextId {
    /// The id as a number: small and dense from 1, so that tables of many texts can be indexed
    /// by it.
    pub fn number(self) -> i64 {
        self.0
    }

    /// The id whose [`TextId::number`] is `n`: only meaningful for the store that gave it out
    /// (the alerts keep their subjects' ids in the same store).
    pub fn from_number(n: i64) -> TextId {
        TextId(n)
    }
}

/// A client address as one number: IPv6 as itself, IPv4 as its IPv4-mapped IPv6 form. Stored
/// events never hold a mapped address (the parser turns those into IPv4), so no two addresses
/// share a key. Ordered as [`IpAddr`] is: every IPv4 address before every IPv6 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpKey(pub(super) u128);

const MAPPED: u128 = 0xffff_0000_0000;

impl IpKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> IpKey {
        match ip {
            IpAddr::V4(v4) => IpKey(MAPPED | u128::from(u32::from(v4))),
            IpAddr::V6(v6) => IpKey(u128::from(v6)),
        }
    }

    /// The key of an address as stored (4 or 16 bytes; anything shorter is padded with zeros).
    pub(super) fn from_bytes(ip: &[u8]) -> IpKey {
        match *ip {
            [a, b, c, d] => IpKey(MAPPED | u128::from(u32::from_be_bytes([a, b, c, d]))),
            _ => {
                let mut k = [0u8; 16];
                let len = ip.len().min(16);
                k[..len].copy_from_slice(&ip[..len]);
                IpKey(u128::from_be_bytes(k))
            }
        }
    }

    /// The key as one number (IPv4 as `::ffff:a.b.c.d`), to pack into compact tables.
    pub fn bits(self) -> u128 {
        self.0
    }

    /// Whether the address is IPv4.
    pub fn is_ipv4(self) -> bool {
        self.0 >> 32 == MAPPED >> 32
    }

    /// The address as stored: 4 bytes for IPv4, 16 for IPv6.
    pub(super) fn to_bytes(self) -> Vec<u8> {
        let bytes = self.0.to_be_bytes();
        if self.is_ipv4() { bytes[12..].to_vec() } else { bytes.to_vec() }
    }

    /// The address.
    pub fn addr(self) -> IpAddr {
        if self.is_ipv4() { IpAddr::from((self.0 as u32).to_be_bytes()) } else { IpAddr::from(self.0.to_be_bytes()) }
    }

    /// The key of the address's network: its /24 (IPv4) or /64 (IPv6), host bits zero.
    pub fn network(self) -> IpKey {
        if self.is_ipv4() { IpKey(self.0 & !0xff) } else { IpKey(self.0 & !u128::from(u64::MAX)) }
    }
}

impl Ord for IpKey {
    fn cmp(&self, other: &IpKey) -> std::cmp::Ordering {
        (!self.is_ipv4(), self.0).cmp(&(!other.is_ipv4(), other.0))
    }
}

impl PartialOrd for IpKey {
    fn partial_cmp(&self, other: &IpKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One stored event, as the store reads it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// The line it came from.
    pub key: EventKey,
    /// Unix seconds.
    pub ts: i64,
    /// Failure, success or backend error.
    pub kind: Kind,
    /// Short reason class.
    pub reason: Reason,
    /// Attempts it stands for (at least 1).
    pub count: u32,
    /// The client address.
    pub ip: IpKey,
    /// The server's name.
    pub server: TextId,
    /// The daemon's syslog name.
    pub service: TextId,
    /// The account tried.
    pub username: Option<TextId>,
    /// The SASL mechanism.
    pub mechanism: Option<TextId>,
    /// The client name Postfix logged.
    pub logged_hostname: Option<TextId>,
}

impl EventRecord {
    /// Whether the event is a failure counted as an intrusion (a row of `intrusions.csv`):
    /// mechanism probes count only when `probes_count` (the `[scan]` setting).
    pub fn is_counted_failure(&self, probes_count: bool) -> bool {
        self.kind == Kind::Failure && (self.reason != Reason::MechanismInvalid || probes_count)
    }

    /// The record of a decoded block row; an error for codes this build does not know (it
    /// writes no others, and refuses stores of newer schemas).
    pub(super) fn from_row(r: &blocks::Row) -> Result<EventRecord> {
        // `Reason::ALL` is in code order: found by place, not searched (this runs for every event
        // a report reads).
        let reason = Reason::ALL.get(usize::from(r.reason).wrapping_sub(1)).copied().filter(|x| x.code() == r.reason);
        let (Some(kind), Some(reason)) = (Kind::from_code(r.kind), reason) else {
            return Err(StoreError::Corrupt(format!(
                "event {:?} has an unknown kind or reason code ({}, {})",
                EventKey::from_rowid(r.key),
                r.kind,
                r.reason
            )));
        };
        let opt = |id: Option<i64>| id.map(TextId);
        Ok(EventRecord {
            key: EventKey::from_rowid(r.key),
            ts: r.ts,
            kind,
            reason,
            count: r.count.max(1),
            ip: IpKey::from_bytes(r.ip_bytes()),
            server: TextId(r.server),
            service: TextId(r.service),
            username: opt(r.username),
            mechanism: opt(r.mechanism),
            logged_hostname: opt(r.logged_hostname),
        })
    }
}

/// A read transaction, held while it lives: the reads made meanwhile see one state of the store
/// even while a scan commits, and do not each take and release the store's locks.
pub struct Snapshot<'a> {
    _tx: Option<rusqlite::Transaction<'a>>,
}

impl Store {
    /// Opens a read transaction unless one is open already (see [`Snapshot`]).
    pub fn snapshot(&self) -> Result<Snapshot<'_>> {
        let tx = if self.conn.is_autocommit() { Some(self.conn.unchecked_transaction()?) } else { None };
        Ok(Snapshot { _tx: tx })
    }

    /// Calls `f` on every stored event with `start <= ts < end`, block by block: in the order
    /// each file's lines were stored, and in no particular order across files.
    pub fn events_in(&self, start: i64, end: i64, mut f: impl FnMut(&EventRecord)) -> Result<()> {
        blocks::for_each_in(&self.conn, start, end, |r| {
            f(&EventRecord::from_row(r)?);
            Ok::<(), StoreError>(())
        })
    }

    /// How many events the store holds.
    pub fn event_count(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row("SELECT coalesce(sum(events), 0) FROM event_blocks", [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// The text of `id` (empty for an id the store does not hold).
    pub fn text(&self, id: TextId) -> Result<String> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT s FROM strings WHERE id = ?1")?
            .query_row([id.0], |r| r.get(0))
            .optional()?;
        Ok(text.unwrap_or_default())
    }

    /// The ids of `texts`, storing those not stored yet (for tools that fill a store, with
    /// [`Store::import_events`]).
    pub fn intern_texts(&mut self, texts: &[&str]) -> Result<Vec<TextId>> {
        let tx = self.conn.unchecked_transaction()?;
        let ids = texts.iter().map(|t| super::intern(&tx, &mut self.strings, t).map(TextId)).collect::<Result<_>>()?;
        tx.commit()?;
        Ok(ids)
    }

    /// When each of `ips` was first seen (any event, any time), `None` for an address the store
    /// never saw. Many addresses are read in one pass over the table rather than one lookup each.
    pub fn first_seen(&self, ips: &[IpKey]) -> Result<Vec<Option<i64>>> {
        if ips.len() > BULK {
            let mut all: HashMap<IpKey, i64, RandomState> = HashMap::default();
            all.reserve(ips.len());
            let wanted: std::collections::HashSet<IpKey, RandomState> = ips.iter().copied().collect();
            let mut stmt = self.conn.prepare("SELECT ip, first_seen FROM ips")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let key = IpKey::from_bytes(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
                if wanted.contains(&key) {
                    all.insert(key, r.get(1)?);
                }
            }
            return Ok(ips.iter().map(|ip| all.get(ip).copied()).collect());
        }
        let mut stmt = self.conn.prepare_cached("SELECT first_seen FROM ips WHERE ip = ?1")?;
        ips.iter().map(|ip| Ok(stmt.query_row([ip.to_bytes()], |r| r.get(0)).optional()?)).collect()
    }

    /// Whether any address has been enriched (reverse DNS, country, AS): reports show those
    /// columns only then.
    pub fn has_enrichment(&self) -> Result<bool> {
        Ok(self.conn.query_row("SELECT EXISTS (SELECT 1 FROM ip_info)", [], |r| r.get(0))?)
    }

    /// What the store holds about each of `ips` (see [`Store::ip_info`]); many addresses are
    /// read in one pass over the table.
    pub fn ip_infos(&self, ips: &[IpKey]) -> Result<Vec<Option<IpInfo>>> {
        if ips.len() <= BULK {
            return ips.iter().map(|ip| self.ip_info(ip.addr())).collect();
        }
        let wanted: std::collections::HashSet<IpKey, RandomState> = ips.iter().copied().collect();
        let mut found: HashMap<IpKey, IpInfo, RandomState> = HashMap::default();
        ipinfo::for_each(&self.conn, |ip, info| {
            let key = IpKey::of(ip);
            if wanted.contains(&key) {
                found.insert(key, info);
            }
        })?;
        Ok(ips.iter().map(|ip| found.remove(ip)).collect())
    }

    /// The addresses any account logged in from successfully before `before` (Unix seconds),
    /// each once: the addresses a blocklist must not lock out.
    pub fn login_ips_before(&self, before: i64) -> Result<std::collections::HashSet<IpKey, RandomState>> {
        let mut stmt = self.conn.prepare_cached("SELECT DISTINCT ip FROM logins WHERE first_seen < ?1")?;
        let mut rows = stmt.query([before])?;
        let mut out = std::collections::HashSet::default();
        while let Some(r) = rows.next()? {
            out.insert(IpKey::from_bytes(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?));
        }
        Ok(out)
    }

    /// The addresses account `user` logged in from before `before` (Unix seconds), each once.
    pub fn earlier_login_ips(&self, user: TextId, before: i64) -> Result<Vec<IpAddr>> {
        let mut stmt = self.conn.prepare_cached("SELECT ip FROM logins WHERE username = ?1 AND first_seen < ?2")?;
        let mut rows = stmt.query(params![user.0, before])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            // An address this build cannot read is one the account cannot be compared with.
            if let Some(ip) = ip_from_blob(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?) {
                out.push(ip);
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Reads stored events back, oldest key first (used by tests and exports).
    pub fn events(&self) -> Result<Vec<StoredEvent>> {
        let mut rows = Vec::new();
        blocks::for_each(&self.conn, |r| {
            rows.push(*r);
            Ok::<(), StoreError>(())
        })?;
        rows.sort_by_key(|r| r.key);
        let mut names = Names::default();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut text = |id: Option<i64>| id.map(|id| names.get(&self.conn, id).map(str::to_string)).transpose();
            out.push(StoredEvent {
                rowid: r.key,
                ts: r.ts,
                kind: Kind::from_code(r.kind),
                reason: Reason::from_code(r.reason),
                count: r.count,
                ip: r.ip(),
                server: text(Some(r.server))?.unwrap_or_default(),
                service: text(Some(r.service))?.unwrap_or_default(),
                username: text(r.username)?,
                mechanism: text(r.mechanism)?,
                logged_hostname: text(r.logged_hostname)?,
            });
        }
        Ok(out)
    }
}

/// The texts of `strings` ids, each read once.
#[derive(Debug, Default)]
struct Names {
    cache: HashMap<i64, String, RandomState>,
}

impl Names {
    /// The text of `id` (empty for an id the table does not hold).
    fn get(&mut self, conn: &Connection, id: i64) -> rusqlite::Result<&str> {
        match self.cache.entry(id) {
            std::collections::hash_map::Entry::Occupied(known) => Ok(known.into_mut()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let text: Option<String> = conn
                    .prepare_cached("SELECT s FROM strings WHERE id = ?1")?
                    .query_row([id], |r| r.get(0))
                    .optional()?;
                Ok(slot.insert(text.unwrap_or_default()))
            }
        }
    }
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// The packed [`EventKey`].
    pub rowid: i64,
    /// Unix seconds.
    pub ts: i64,
    /// Decoded kind (None for a code this build does not know).
    pub kind: Option<Kind>,
    /// Decoded reason.
    pub reason: Option<Reason>,
    /// Attempts.
    pub count: u32,
    /// Client address.
    pub ip: Option<IpAddr>,
    /// Server name.
    pub server: String,
    /// Syslog name.
    pub service: String,
    /// Account tried.
    pub username: Option<String>,
    /// SASL mechanism.
    pub mechanism: Option<String>,
    /// Name Postfix logged.
    pub logged_hostname: Option<String>,
}

/// Above this many addresses, a question about each is answered by one pass over its table
/// rather than a lookup each (a lookup costs about as much as reading some ten rows).
const BULK: usize = 4096;

#[cfg(test)]
mod tests;
