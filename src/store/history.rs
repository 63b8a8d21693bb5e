//! Per-address and per-account history that reports need, kept small enough to update with every
//! batch.
//!
//! Reports ask "was this address seen before this period?" and "from which addresses did this
//! account log in before?". Indexes on the events by address or account would answer them but
//! cost a first scan an index entry per event; these two tables hold one row per address and one
//! per (account, address) pair instead. Both only ever record a first time, which a scan reading
//! logs oldest first sets once: a scan remembers what it wrote (`Written`) and writes a row
//! again only when an earlier time turns up (an older archive read later, a `--full` rescan).

use std::collections::HashMap;

use foldhash::fast::RandomState;
use rusqlite::{Connection, params};

use super::Result;
use super::query::IpKey;
use crate::model::event::Kind;

/// The tables, created by [`super::Store::open`]. (Schemas 1 and 2 also kept each address's
/// first and last failure in `ips`; the migration to 3 drops those columns.)
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ips (
    ip BLOB PRIMARY KEY,
    first_seen INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logins (
    username INTEGER NOT NULL,
    ip BLOB NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (username, ip)
) WITHOUT ROWID;
";

/// One batch's contribution to the history tables.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Address → first time seen within the batch.
    ips: HashMap<IpKey, i64, RandomState>,
    /// (account, address) → first login within the batch.
    logins: HashMap<(i64, IpKey), i64, RandomState>,
}

/// What a store has written to the history tables during its life: the first time of each row,
/// or a later one (an upper bound of what the table holds).
#[derive(Debug, Default)]
pub(super) struct Written {
    ips: HashMap<IpKey, i64, RandomState>,
    logins: HashMap<(i64, IpKey), i64, RandomState>,
}

impl Tally {
    /// Counts one stored event (runs for every one, so it must stay cheap).
    pub(super) fn event(&mut self, ip: &[u8], ts: i64) {
        let first = self.ips.entry(IpKey::from_bytes(ip)).or_insert(ts);
        *first = (*first).min(ts);
    }

    /// Counts one successful login of account `username` (a `strings` id).
    pub(super) fn login(&mut self, username: i64, ip: &[u8], ts: i64) {
        let first = self.logins.entry((username, IpKey::from_bytes(ip))).or_insert(ts);
        *first = (*first).min(ts);
    }

    /// Merges the batch into the tables inside the caller's transaction; rows `written` already
    /// holds with an earlier or equal time cost no statement. (Should the transaction fail, the
    /// scan stops: `written` is never used with a rolled-back write.)
    pub(super) fn save(&self, conn: &Connection, written: &mut Written) -> Result<()> {
        let mut ips = conn.prepare_cached(
            "INSERT INTO ips (ip, first_seen) VALUES (?1, ?2)
             ON CONFLICT (ip) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen)",
        )?;
        for (&ip, &first) in &self.ips {
            if newer(&mut written.ips, ip, first) {
                ips.execute(params![ip.to_bytes(), first])?;
            }
        }
        let mut logins = conn.prepare_cached(
            "INSERT INTO logins (username, ip, first_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT (username, ip) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen)",
        )?;
        for (&(user, ip), &first) in &self.logins {
            if newer(&mut written.logins, (user, ip), first) {
                logins.execute(params![user, ip.to_bytes(), first])?;
            }
        }
        Ok(())
    }
}

/// Whether `first` is earlier than what `written` knows of `key` (or `key` is unknown), noting it.
fn newer<K: std::hash::Hash + Eq>(written: &mut HashMap<K, i64, RandomState>, key: K, first: i64) -> bool {
    match written.get_mut(&key) {
        Some(known) if *known <= first => false,
        Some(known) => {
            *known = first;
            true
        }
        None => {
            if written.len() >= MAX_WRITTEN {
                // Every attacker address would stay for the store's life (years, under `watch`):
                // forgetting costs a statement per address seen again.
                written.clear();
            }
            written.insert(key, first);
            true
        }
    }
}

/// Rows [`Written`] remembers, per table.
const MAX_WRITTEN: usize = 1 << 16;

impl super::Store {
    /// Recomputes `ips` and `logins` from the stored events (for stores filled by other means,
    /// such as the report benchmark).
    pub fn rebuild_history(&self) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute_batch("DELETE FROM ips; DELETE FROM logins;")?;
        let mut tally = Tally::default();
        super::blocks::for_each(&tx, |r| {
            tally.event(r.ip_bytes(), r.ts);
            if let (Some(Kind::Success), Some(user)) = (Kind::from_code(r.kind), r.username) {
                tally.login(user, r.ip_bytes(), r.ts);
            }
            Ok::<(), super::StoreError>(())
        })?;
        tally.save(&tx, &mut Written::default())?;
        Ok(tx.commit()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_seen(conn: &Connection) -> Vec<(Vec<u8>, i64)> {
        let mut stmt = conn.prepare("SELECT ip, first_seen FROM ips ORDER BY ip").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    }

    #[test]
    fn only_earlier_times_are_written_again() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let mut written = Written::default();
        let batch = |events: &[(&[u8], i64)]| {
            let mut t = Tally::default();
            for &(ip, ts) in events {
                t.event(ip, ts);
            }
            t
        };
        let (a, b): (&[u8], &[u8]) = (&[192, 0, 2, 1], &[192, 0, 2, 2]);
        batch(&[(a, 20), (a, 10), (b, 30)]).save(&conn, &mut written).unwrap();
        assert_eq!(first_seen(&conn), [(a.to_vec(), 10), (b.to_vec(), 30)]);
        // Another scan wrote an earlier time meanwhile: a later one must not be written over it,
        // nor an equal one written again.
        conn.execute("UPDATE ips SET first_seen = 5 WHERE ip = ?1", [a]).unwrap();
        conn.execute("UPDATE ips SET first_seen = 6 WHERE ip = ?1", [b]).unwrap();
        batch(&[(a, 15), (b, 30)]).save(&conn, &mut written).unwrap();
        assert_eq!(first_seen(&conn), [(a.to_vec(), 5), (b.to_vec(), 6)], "nothing written");
        batch(&[(a, 1)]).save(&conn, &mut written).unwrap();
        assert_eq!(first_seen(&conn)[0], (a.to_vec(), 1), "an earlier time is");
    }
}
