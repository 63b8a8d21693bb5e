//! The correlator's state, saved with the checkpoints of every commit: one row per attempt
//! record (`correlator_records`, by its number in arrival order), one per Dovecot session
//! (`correlator_sessions`), and the clocks in `meta`. A commit writes the rows of what changed
//! since the last one and deletes those of what was forgotten, so that its cost follows the
//! traffic since the last commit, not the size of the state. The rows are the correlator's own
//! encoding ([`crate::correlate::StateChanges`]); the store only keeps them.
//!
//! Builds before these tables saved the whole state as one JSON value in `meta`
//! (`correlator`); it is converted once ([`super::schema::convert_correlator_blob`]).

use std::net::IpAddr;

use rusqlite::{Connection, params};

use super::{Result, StoreError, ip_blob, ip_from_blob, ip_len, meta_set};
use crate::correlate::{SavedState, StateChanges};

/// The tables of the saved state.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS correlator_records (seq INTEGER PRIMARY KEY, ip BLOB NOT NULL, state BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS correlator_sessions (id INTEGER PRIMARY KEY, state BLOB NOT NULL);
";

/// The `meta` key of the clocks.
const GLOBALS: &str = "correlator_globals";
/// The `meta` key of the whole state as JSON, as builds before the tables saved it.
pub(super) const LEGACY: &str = "correlator";

/// Forgets the saved state (within the caller's transaction).
pub(super) fn clear(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "DELETE FROM correlator_records; DELETE FROM correlator_sessions;
         DELETE FROM meta WHERE key IN ('correlator', 'correlator_globals');",
    )?;
    Ok(())
}

/// Saves `changes` (within the caller's transaction).
pub(super) fn save(conn: &Connection, changes: &StateChanges) -> Result<()> {
    if changes.replace {
        clear(conn)?;
    }
    meta_set(conn, GLOBALS, changes.globals.as_slice())?;
    if !changes.records.is_empty() {
        let mut put =
            conn.prepare_cached("INSERT OR REPLACE INTO correlator_records (seq, ip, state) VALUES (?1, ?2, ?3)")?;
        let mut delete = conn.prepare_cached("DELETE FROM correlator_records WHERE seq = ?1")?;
        for (seq, record) in &changes.records {
            let seq = i64::try_from(*seq).map_err(|_| StoreError::Corrupt("a correlation record number".into()))?;
            match record {
                Some((ip, state)) => put.execute(params![seq, &ip_blob(ip)[..ip_len(ip)], state])?,
                None => delete.execute([seq])?,
            };
        }
    }
    if !changes.sessions.is_empty() {
        let mut put = conn.prepare_cached("INSERT OR REPLACE INTO correlator_sessions (id, state) VALUES (?1, ?2)")?;
        let mut delete = conn.prepare_cached("DELETE FROM correlator_sessions WHERE id = ?1")?;
        for (id, state) in &changes.sessions {
            // The id is a hash: all 64 bits, kept as SQLite's signed integer.
            let id = *id as i64;
            match state {
                Some(state) => put.execute(params![id, state])?,
                None => delete.execute([id])?,
            };
        }
    }
    Ok(())
}

/// The saved state, `None` when nothing was saved.
pub(super) fn load(conn: &Connection) -> Result<Option<SavedState>> {
    let legacy = meta_bytes(conn, LEGACY)?;
    let globals = meta_bytes(conn, GLOBALS)?;
    let mut records = Vec::new();
    let mut stmt = conn.prepare("SELECT seq, ip, state FROM correlator_records")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let ip: Option<IpAddr> = row.get_ref(1)?.as_blob().ok().and_then(ip_from_blob);
        let ip = ip.ok_or_else(|| StoreError::Corrupt("an address of the saved correlation state".into()))?;
        records.push((row.get::<_, i64>(0)? as u64, (ip, row.get(2)?)));
    }
    let mut stmt = conn.prepare("SELECT id, state FROM correlator_sessions")?;
    let sessions = stmt
        .query_map([], |row| Ok((row.get::<_, i64>(0)? as u64, row.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(u64, Vec<u8>)>>>()?;
    if legacy.is_none() && globals.is_none() && records.is_empty() && sessions.is_empty() {
        return Ok(None);
    }
    Ok(Some(SavedState { legacy, globals, records, sessions }))
}

/// A `meta` value as bytes, whether SQLite holds it as a blob or as text.
pub(super) fn meta_bytes(conn: &Connection, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    use rusqlite::OptionalExtension;
    use rusqlite::types::ValueRef;
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| {
            Ok(match r.get_ref(0)? {
                ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
                _ => None,
            })
        })
        .optional()
        .map(Option::flatten)
}

#[cfg(test)]
mod tests;
