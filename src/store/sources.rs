//! The log files the store knows: each one's content identity (fingerprint), where it was last
//! seen and how far it was read (the checkpoint a scan resumes from).

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError, now};
use crate::parse::time::YearState;
use crate::source::fingerprint::Fingerprint;

/// What the store remembers about one file's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRecord {
    /// Id used in event keys.
    pub id: u32,
    /// The content's identity.
    pub fingerprint: Fingerprint,
    /// Device and inode where it was last seen.
    pub dev: u64,
    /// See `dev`.
    pub ino: u64,
    /// Bytes of content consumed (complete lines only).
    pub offset: u64,
    /// Lines consumed, for line numbers in messages.
    pub lines: u64,
    /// The whole content was read from an archive (which cannot grow).
    pub complete: bool,
    /// Stored size of the file when last read, to notice a replaced archive.
    pub size: u64,
    /// Year inference state after the last consumed line.
    pub year: Option<YearState>,
}

/// A file's progress, saved with the batch that made it.
#[derive(Clone, Debug)]
pub struct Progress {
    /// The file's record with its new offset, lines, year state and completeness.
    pub source: SourceRecord,
    /// Where the file is now.
    pub path: String,
}

impl Store {
    /// Forgets every checkpoint (for `scan --full`): files are read again from the start. Events
    /// are kept, and re-reading a line already stored adds nothing.
    pub fn forget_checkpoints(&self) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute_batch("UPDATE sources SET offset = 0, lines = 0, complete = 0, year = NULL, month = NULL")?;
        super::correlation::clear(&tx)?;
        Ok(tx.commit()?)
    }

    /// The known file whose content starts like `prefix`, preferring the one last seen at
    /// `dev`/`ino`, then the one read furthest.
    pub fn find_source(&self, prefix: &[u8], dev: u64, ino: u64) -> Result<Option<SourceRecord>> {
        let mut lens = self.conn.prepare_cached("SELECT DISTINCT fp_len FROM sources")?;
        let lens: Vec<i64> = lens.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        let mut best: Option<SourceRecord> = None;
        for len in lens {
            let len = len as usize;
            if len > prefix.len() || len == 0 {
                continue;
            }
            let fp = Fingerprint::of(&prefix[..len]);
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, fp_len, fp_hash, dev, ino, offset, lines, complete, size, year, month
                 FROM sources WHERE fp_len = ?1 AND fp_hash = ?2",
            )?;
            let rows = stmt.query_map(params![fp.len, fp.hash_i64()], source_from_row)?;
            for row in rows {
                let candidate = row?;
                let same_inode = |s: &SourceRecord| s.dev == dev && s.ino == ino;
                let better = match &best {
                    None => true,
                    Some(b) => (same_inode(&candidate), candidate.offset) > (same_inode(b), b.offset),
                };
                if better {
                    best = Some(candidate);
                }
            }
        }
        Ok(best)
    }

    /// The checkpoint of the file last seen at `path`, if any.
    pub fn source_at(&self, path: &str) -> Result<Option<SourceRecord>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, fp_len, fp_hash, dev, ino, offset, lines, complete, size, year, month
                 FROM sources WHERE path = ?1 ORDER BY last_seen DESC, id DESC LIMIT 1",
            )?
            .query_row([path], source_from_row)
            .optional()?)
    }

    /// Registers a file not seen before.
    pub fn new_source(&self, fingerprint: Fingerprint, dev: u64, ino: u64, path: &str) -> Result<SourceRecord> {
        self.conn.execute(
            "INSERT INTO sources (fp_len, fp_hash, dev, ino, path, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![fingerprint.len, fingerprint.hash_i64(), dev as i64, ino as i64, path, now()],
        )?;
        let id = self.conn.last_insert_rowid();
        let id = u32::try_from(id).ok().filter(|&id| id < (1 << 23)).ok_or_else(|| {
            StoreError::Unusable(format!("too many log files recorded ({id}); start a new data directory"))
        })?;
        Ok(SourceRecord { id, fingerprint, dev, ino, offset: 0, lines: 0, complete: false, size: 0, year: None })
    }
}

pub(super) fn source_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceRecord> {
    let year: Option<i16> = r.get(9)?;
    let month: Option<i8> = r.get(10)?;
    Ok(SourceRecord {
        id: r.get(0)?,
        fingerprint: Fingerprint { len: r.get(1)?, hash: r.get::<_, i64>(2)? as u64 },
        dev: r.get::<_, i64>(3)? as u64,
        ino: r.get::<_, i64>(4)? as u64,
        offset: r.get::<_, i64>(5)? as u64,
        lines: r.get::<_, i64>(6)? as u64,
        complete: r.get(7)?,
        size: r.get::<_, i64>(8)? as u64,
        year: year.zip(month).map(|(year, month)| YearState { year, month }),
    })
}
