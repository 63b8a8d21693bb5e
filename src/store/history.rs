//! Per-address and per-account history that reports need, kept small enough to update with every
//! batch.
//!
//! Reports ask "was this address seen before this period?", "did it fail in the 7 days before
//! this login?" and "from which addresses did this account log in before?". Indexes on `events`
//! by address or account would answer them but double the cost of storing every event; these
//! two tables hold one row per address and one per (account, address) pair instead.

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;
use rusqlite::{Connection, params};

use super::Result;
use crate::event::Kind;

/// The tables, created by [`super::Store::open`].
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ips (
    ip BLOB PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    first_failure INTEGER,
    last_failure INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logins (
    username INTEGER NOT NULL,
    ip BLOB NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (username, ip)
) WITHOUT ROWID;
";

/// An address as stored: its bytes and their length (4 or 16).
type IpKey = ([u8; 16], u8);

/// An (account id, address) pair of the `logins` table.
pub(super) type LoginKey = (i64, IpKey);

fn key(ip: &[u8]) -> IpKey {
    let mut k = [0u8; 16];
    let len = ip.len().min(16);
    k[..len].copy_from_slice(&ip[..len]);
    (k, len as u8)
}

/// One batch's contribution to the history tables.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Address → (first seen, first failure, last failure) within the batch.
    ips: HashMap<IpKey, (i64, Option<i64>, Option<i64>), RandomState>,
    /// (account, address) → first login within the batch.
    logins: HashMap<(i64, IpKey), i64, RandomState>,
}

impl Tally {
    /// Counts one stored event; `failure` for any failed attempt (mechanism probes included: the
    /// span only tells a report where to look).
    pub(super) fn event(&mut self, ip: &[u8], ts: i64, failure: bool) {
        let e = self.ips.entry(key(ip)).or_insert((ts, None, None));
        e.0 = e.0.min(ts);
        if failure {
            e.1 = Some(e.1.map_or(ts, |f| f.min(ts)));
            e.2 = Some(e.2.map_or(ts, |l| l.max(ts)));
        }
    }

    /// Counts one successful login of account `username` (a `strings` id).
    pub(super) fn login(&mut self, username: i64, ip: &[u8], ts: i64) {
        let first = self.logins.entry((username, key(ip))).or_insert(ts);
        *first = (*first).min(ts);
    }

    /// Merges the batch into the tables inside the caller's transaction. `known_logins` remembers
    /// pairs already stored, so that repeated logins cost no statement.
    pub(super) fn save(&self, conn: &Connection, known_logins: &mut HashSet<LoginKey>) -> Result<()> {
        let mut ips = conn.prepare_cached(
            "INSERT INTO ips (ip, first_seen, first_failure, last_failure) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (ip) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen),
                 first_failure = coalesce(min(first_failure, excluded.first_failure), first_failure,
                                          excluded.first_failure),
                 last_failure = coalesce(max(last_failure, excluded.last_failure), last_failure,
                                         excluded.last_failure)",
        )?;
        for ((ip, len), (first, first_failure, last_failure)) in &self.ips {
            ips.execute(params![&ip[..usize::from(*len)], first, first_failure, last_failure])?;
        }
        let mut logins = conn.prepare_cached(
            "INSERT INTO logins (username, ip, first_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT (username, ip) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen)",
        )?;
        for (&(user, ip), first) in &self.logins {
            // Logs are read oldest first, so a pair stored once keeps its first login.
            if known_logins.insert((user, ip)) {
                logins.execute(params![user, &ip.0[..usize::from(ip.1)], first])?;
            }
        }
        Ok(())
    }
}

impl super::Store {
    /// Recomputes `ips` and `logins` from the stored events (for stores filled by other means,
    /// such as the report benchmark).
    pub fn rebuild_history(&self) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute_batch("DELETE FROM ips; DELETE FROM logins;")?;
        let mut tally = Tally::default();
        super::blocks::for_each(&tx, |r| {
            tally.event(r.ip_bytes(), r.ts, r.kind == Kind::Failure.code());
            if let (Some(Kind::Success), Some(user)) = (Kind::from_code(r.kind), r.username) {
                tally.login(user, r.ip_bytes(), r.ts);
            }
            Ok(())
        })?;
        tally.save(&tx, &mut HashSet::new())?;
        Ok(tx.commit()?)
    }
}
