//! `event_totals`: running totals of the stored attempts by kind, reason and service, for
//! counters that survive restarts (the Prometheus metrics' `_total` counters).
//!
//! The totals are kept in the commit's own transaction rather than summed from the blocks on
//! demand: `watch` writes its metrics after every pass (about once a second under attack), and a
//! sum over the blocks decodes every stored event. A store written by a build before this table
//! is filled once, from its blocks, when it is first opened by this one.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use rusqlite::{Connection, TransactionBehavior, params};

use super::{Result, Store, blocks, schema};
use crate::model::event::{Kind, Reason};

/// Created (and filled) by [`fill_if_new`].
const SCHEMA: &str = "
CREATE TABLE event_totals (
    kind INTEGER NOT NULL,
    reason INTEGER NOT NULL,
    service INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (kind, reason, service)
) WITHOUT ROWID;
";

/// Attempts newly stored by a commit, by (kind, reason, service id).
#[derive(Debug, Default)]
pub(super) struct Tally(HashMap<(u8, u8, i64), u64, RandomState>);

impl Tally {
    /// Counts a newly stored event.
    pub(super) fn add(&mut self, row: &blocks::Row) {
        *self.0.entry((row.kind, row.reason, row.service)).or_default() += u64::from(row.count.max(1));
    }

    /// Adds the tally to the table, in the caller's transaction.
    pub(super) fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO event_totals (kind, reason, service, attempts) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, reason, service) DO UPDATE SET attempts = attempts + ?4",
        )?;
        for (&(kind, reason, service), &n) in &self.0 {
            stmt.execute(params![kind, reason, service, n as i64])?;
        }
        Ok(())
    }
}

/// Creates the table when the store has none, with the totals of the events it already holds.
/// Under an immediate transaction, so that two runs opening an older store at once do not both
/// fill it.
pub(super) fn fill_if_new(conn: &Connection) -> Result<()> {
    if schema::has_table(conn, "event_totals")? {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    if schema::has_table(&tx, "event_totals")? {
        return Ok(());
    }
    tx.execute_batch(SCHEMA)?;
    let mut tally = Tally::default();
    blocks::for_each(&tx, |row| {
        tally.add(row);
        Ok::<(), super::StoreError>(())
    })?;
    tally.save(&tx)?;
    tx.commit()?;
    Ok(())
}

/// The attempts of one kind and reason stored for one service, since the store was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Total {
    /// What happened.
    pub kind: Kind,
    /// Why.
    pub reason: Reason,
    /// The daemon's syslog name, as logged (attacker-influenced text: escape it to show it).
    pub service: String,
    /// Attempts (an event that stands for several attempts counts each).
    pub attempts: u64,
}

impl Store {
    /// Every stored attempt, totalled by kind, reason and service: one small read, however many
    /// events are stored. Rows of a kind or reason this build does not know are left out.
    pub fn totals(&self) -> Result<Vec<Total>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.kind, t.reason, s.s, t.attempts FROM event_totals t
             LEFT JOIN strings s ON s.id = t.service ORDER BY s.s, t.kind, t.reason",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, u8>(0)?, r.get::<_, u8>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, i64>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, reason, service, attempts) = row?;
            if let (Some(kind), Some(reason)) = (Kind::from_code(kind), Reason::from_code(reason)) {
                out.push(Total {
                    kind,
                    reason,
                    service: service.unwrap_or_default(),
                    attempts: attempts.max(0) as u64,
                });
            }
        }
        Ok(out)
    }

    /// How many addresses the reverse DNS cache holds, by the status of their answer (`ok`,
    /// `nxdomain`, ...; addresses never looked up are not counted).
    pub fn dns_statuses(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rdns_status, COUNT(*) FROM ip_info WHERE rdns_status IS NOT NULL
             GROUP BY rdns_status ORDER BY rdns_status",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The committed offset of the file with this device and inode, if the store has read it.
    pub fn offset_of(&self, dev: u64, ino: u64) -> Result<Option<u64>> {
        use rusqlite::OptionalExtension;
        let offset: Option<i64> = self
            .conn
            .prepare_cached("SELECT offset FROM sources WHERE dev = ?1 AND ino = ?2 ORDER BY last_seen DESC LIMIT 1")?
            .query_row(params![dev as i64, ino as i64], |r| r.get(0))
            .optional()?;
        Ok(offset.map(|o| o.max(0) as u64))
    }
}
