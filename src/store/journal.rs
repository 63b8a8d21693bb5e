//! Where the reading of each systemd journal stands: its cursor, saved in the transaction of the
//! events read up to it, so that the journal, like a file, is read exactly once.
//!
//! A journal (the local one, or the files of a directory) is one record of `sources`, whose id
//! keys its events; an event's offset is the index of its entry among the mail daemons' entries
//! read from that journal, counted on from the saved `count`. Its record is told from a file's
//! by an empty fingerprint (no file is looked up by one) and its path, `journal` or
//! `journal:DIR`.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, now};
use crate::source::fingerprint::Fingerprint;

/// The table of this module, created when the store is opened (older builds ignore it).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal_cursors (
    source INTEGER PRIMARY KEY,
    cursor TEXT,
    count INTEGER NOT NULL DEFAULT 0,
    first_cursor TEXT,
    units TEXT NOT NULL DEFAULT ''
);
";

/// Where the reading of a journal stands, as saved with the events read up to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalCheckpoint {
    /// The journal's id in event keys.
    pub source: u32,
    /// The cursor of the last entry read; `None` before any.
    pub cursor: Option<String>,
    /// The mail daemons' entries read up to it: the offset of the next one's events.
    pub count: u64,
    /// The cursor of the first entry ever read (index 0), for `scan --full`.
    pub first_cursor: Option<String>,
    /// The unit patterns the entries were chosen by (`,`-joined), for `scan --full`.
    pub units: String,
}

impl Store {
    /// The checkpoint of the journal at `location` (`journal`, `journal:DIR`), registering the
    /// journal when it was never read.
    pub fn journal_checkpoint(&self, location: &str) -> Result<JournalCheckpoint> {
        let found: Option<u32> = self
            .conn
            .query_row("SELECT id FROM sources WHERE path = ?1 AND fp_len = 0 ORDER BY id LIMIT 1", [location], |r| {
                r.get(0)
            })
            .optional()?;
        let source = match found {
            Some(id) => id,
            None => {
                let fingerprint = Fingerprint { len: 0, hash: xxhash_rust::xxh3::xxh3_64(location.as_bytes()) };
                self.new_source(fingerprint, 0, 0, location)?.id
            }
        };
        let saved = self
            .conn
            .query_row(
                "SELECT cursor, count, first_cursor, units FROM journal_cursors WHERE source = ?1",
                [source],
                |r| {
                    Ok(JournalCheckpoint {
                        source,
                        cursor: r.get(0)?,
                        count: r.get::<_, i64>(1)? as u64,
                        first_cursor: r.get(2)?,
                        units: r.get(3)?,
                    })
                },
            )
            .optional()?;
        Ok(saved.unwrap_or(JournalCheckpoint { source, ..JournalCheckpoint::default() }))
    }
}

/// Saves the journals' checkpoints in the transaction `tx` of the events read up to them.
pub(super) fn save(tx: &rusqlite::Connection, checkpoints: &[JournalCheckpoint]) -> rusqlite::Result<()> {
    if checkpoints.is_empty() {
        return Ok(());
    }
    let mut put = tx.prepare_cached(
        "INSERT OR REPLACE INTO journal_cursors (source, cursor, count, first_cursor, units) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut seen = tx.prepare_cached("UPDATE sources SET offset = ?2, lines = ?2, last_seen = ?3 WHERE id = ?1")?;
    for c in checkpoints {
        put.execute(params![c.source, c.cursor, c.count as i64, c.first_cursor, c.units])?;
        seen.execute(params![c.source, c.count as i64, now()])?;
    }
    Ok(())
}
