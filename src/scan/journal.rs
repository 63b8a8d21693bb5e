//! Where the reading of a journal starts: after its saved cursor, or, for `scan --full`, from its
//! first entry when that cannot store anything twice.

use crate::source::journal::{JournalError, JournalQuery, JournalReader, cursor_exists, cursor_time};
use crate::store::journal::JournalCheckpoint;
use crate::store::{Store, StoreError};

use super::Summary;

/// A journal whose reading has started.
pub(super) struct JournalStart {
    /// `journalctl`, reading.
    pub reader: JournalReader,
    /// Where its reading starts (the cursor it reads after, and the index of the next entry).
    pub checkpoint: JournalCheckpoint,
    /// `journal` or `journal:DIR`.
    pub location: String,
}

/// Why a journal cannot be read.
pub(super) enum StartError {
    /// The store.
    Store(StoreError),
    /// `journalctl`.
    Journal(JournalError),
}

/// Starts reading the journal of `query` where its last reading stopped.
///
/// An event's key is its entry's index among those read, so entries must be read again from
/// exactly where the indices were counted from: after the saved cursor. `--full` starts again at
/// index 0 only when the entry first read is still the first (it still exists, and the same units
/// are read); otherwise it keeps the cursor and says so.
pub(super) fn start_journal(
    store: &Store,
    query: &JournalQuery,
    full: bool,
    summary: &mut Summary,
) -> Result<JournalStart, StartError> {
    // One record per journal directory however it is named.
    let directory = query.directory.as_ref().map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()));
    let query = &JournalQuery { directory, ..query.clone() };
    let location = query.location();
    let mut checkpoint = store.journal_checkpoint(&location).map_err(StartError::Store)?;
    let units = query.unit_patterns().join(",");
    if let Some(cursor) = checkpoint.cursor.clone() {
        let exists = |c: &str| cursor_exists(query, c).map_err(StartError::Journal);
        let first_again = full
            && checkpoint.units == units
            && match checkpoint.first_cursor.as_deref() {
                Some(first) => exists(first)?,
                None => false,
            };
        if first_again {
            (checkpoint.cursor, checkpoint.count) = (None, 0);
        } else {
            if full {
                summary.notices.push(format!(
                    "{location}: --full does not read the journal again: its first entry read is no longer in it, \
                     or other units are read now, so its entries could not be told from those already stored; \
                     reading goes on after the last entry read"
                ));
            }
            if !exists(&cursor)? {
                let when = cursor_time(&cursor).map_or_else(|| "an unknown time".to_string(), |t| t.to_string());
                summary.notices.push(format!(
                    "{location}: the last entry read (of {when}) is no longer in the journal: journald removed \
                     (vacuumed or rotated away) the entries after it before this scan read them; reading goes on \
                     from the oldest entry left. Scan more often, or let the journal keep more (SystemMaxUse=, \
                     MaxRetentionSec= in journald.conf)"
                ));
            }
        }
    }
    checkpoint.units = units;
    let query = JournalQuery { after_cursor: checkpoint.cursor.clone(), follow: false, ..query.clone() };
    let reader = JournalReader::spawn(&query).map_err(StartError::Journal)?;
    Ok(JournalStart { reader, checkpoint, location })
}
