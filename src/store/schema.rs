//! The store's tables and their upgrades: what a store of each schema version holds, and how an
//! older one is brought up to this build's.
//!
//! A store is opened by scans and reports of possibly different builds (an upgrade leaves the
//! timer's scan and a manual report side by side): a newer schema is refused, an older one
//! migrated once, under an immediate transaction.

use rusqlite::{Connection, TransactionBehavior};

use super::{Result, blocks, correlation, ip_from_blob, meta_get, meta_set};
use crate::correlate::Correlator;
use crate::model::symbols::Symbols;

/// Schema version this build writes.
///
/// 2: the `events_ts` index was replaced by `spans`, a table of which rowid ranges of `events`
/// hold which times.
/// 3: `events` (one row per event) and `spans` were replaced by `event_blocks` ([`blocks`](super::blocks));
/// `ips` keeps only each address's first time ([`history`](super::history)).
pub(super) const SCHEMA_VERSION: i64 = 3;

/// The tables every store has (the others are created by the modules that own them).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS strings (id INTEGER PRIMARY KEY, s TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY,
    fp_len INTEGER NOT NULL,
    fp_hash INTEGER NOT NULL,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    offset INTEGER NOT NULL DEFAULT 0,
    lines INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0,
    year INTEGER,
    month INTEGER,
    last_seen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_fp ON sources (fp_len, fp_hash);
";

/// Brings a store written by an older build (schema `version`) up to [`SCHEMA_VERSION`]. From
/// schemas 1 and 2: the events of the `events` table are packed into blocks, and the table and
/// its time index (`events_ts` in 1, `spans` in 2) are dropped, as are the failure columns of
/// `ips`.
pub(super) fn migrate(conn: &mut Connection, version: i64) -> Result<()> {
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    // Immediate, and the version read again inside: a scan and a report opening an old store at
    // the same moment must not both migrate it.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if meta_get::<i64>(&tx, "schema_version")?.unwrap_or(SCHEMA_VERSION) >= SCHEMA_VERSION {
        return Ok(());
    }
    if has_table(&tx, "events")? {
        let mut keys = blocks::KeyIndex::default();
        let mut buf = Vec::new();
        let mut stmt = tx.prepare(
            "SELECT id, ts, kind, reason, count, ip, server, service, username, mechanism, logged_hostname
             FROM events ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut new = blocks::NewEvents::default();
        while let Some(r) = rows.next()? {
            let Some(ip) = ip_from_blob(r.get_ref(5)?.as_blob().map_err(rusqlite::Error::from)?) else { continue };
            let (ip, ip_len) = blocks::Row::ip_parts(&ip);
            let row = blocks::Row {
                key: r.get(0)?,
                ts: r.get(1)?,
                kind: r.get(2)?,
                reason: r.get(3)?,
                count: r.get::<_, u32>(4)?.max(1),
                ip,
                ip_len,
                server: r.get(6)?,
                service: r.get(7)?,
                username: r.get(8)?,
                mechanism: r.get(9)?,
                logged_hostname: r.get(10)?,
            };
            new.add(&tx, &mut keys, row)?;
            if new.len() >= blocks::MAX_EVENTS {
                new.write(&tx, &mut buf)?;
                new.clear();
            }
        }
        new.write(&tx, &mut buf)?;
        drop(rows);
        drop(stmt);
        tx.execute_batch("DROP TABLE events; DROP TABLE IF EXISTS spans;")?;
    }
    let failure_columns: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM pragma_table_info('ips') WHERE name = 'last_failure')", [], |r| {
            r.get(0)
        })?;
    if failure_columns {
        tx.execute_batch(
            "CREATE TABLE ips_3 (ip BLOB PRIMARY KEY, first_seen INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO ips_3 SELECT ip, first_seen FROM ips;
             DROP TABLE ips;
             ALTER TABLE ips_3 RENAME TO ips;",
        )?;
    }
    meta_set(&tx, "schema_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Columns of `report_sends` added after its first release, with their definitions: `scheduled`
/// (old rows get 0: whether a person or the schedule sent them is not known, so they do not
/// start catch-up) and `recipients` (old rows get NULL: to whom is not known).
const SEND_COLUMNS: [(&str, &str); 2] = [("scheduled", "INTEGER NOT NULL DEFAULT 0"), ("recipients", "TEXT")];

/// Adds the [`SEND_COLUMNS`] missing from a `report_sends` table written by an older build.
/// Additive: older builds still read and write the table. Under an immediate transaction, so
/// that two runs upgrading at once do not both add a column.
pub(super) fn add_send_columns(conn: &Connection) -> Result<()> {
    let missing = |c: &Connection| -> rusqlite::Result<Vec<(&str, &str)>> {
        let mut out = Vec::new();
        for (name, definition) in SEND_COLUMNS {
            let has: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('report_sends') WHERE name = ?1)",
                [name],
                |r| r.get(0),
            )?;
            if !has {
                out.push((name, definition));
            }
        }
        Ok(out)
    };
    if missing(conn)?.is_empty() {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    for (name, definition) in missing(&tx)? {
        tx.execute_batch(&format!("ALTER TABLE report_sends ADD COLUMN {name} {definition}"))?;
    }
    tx.commit()?;
    Ok(())
}

/// Converts the correlator's state saved by a build before its tables (one JSON value in
/// `meta`, the whole state) into the rows of [`correlation`](super::correlation), once. A value
/// that cannot be read is left for the next scan, which says so and starts afresh (replacing
/// it). Under an immediate transaction, so that two runs upgrading at once do not both convert it.
pub(super) fn convert_correlator_blob(conn: &Connection) -> Result<()> {
    let legacy = |c: &Connection| correlation::meta_bytes(c, correlation::LEGACY);
    if legacy(conn)?.is_none() {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let Some(blob) = legacy(&tx)? else { return Ok(()) };
    let mut symbols = Symbols::new();
    if let Ok(mut state) = Correlator::restore_legacy(&blob, &mut symbols) {
        // Replaces any rows, and removes the JSON value.
        correlation::save(&tx, &state.changes(&symbols))?;
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)", [name], |r| {
        r.get(0)
    })
}
