//! A journal beside the files: opening it for the merge loop, taking its pieces, the checkpoint
//! (cursor and index) of any point of its reading, and wrapping it up.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Reading, Scanner, Source};
use crate::parse::time::{TimeResolver, YearState};
use crate::scan::Summary;
use crate::scan::journal::JournalStart;
use crate::scan::plan::FilePlan;
use crate::scan::problems::Problem;
use crate::scan::reader::journal::{JournalChunk, JournalParse};
use crate::scan::reader::{Ended, Piece};
use crate::source::fingerprint::Fingerprint;
use crate::source::journal::JournalError;
use crate::store::SourceRecord;
use crate::store::journal::JournalCheckpoint;

/// A journal being read.
pub(super) struct JournalReading {
    parse: JournalParse,
    /// Where its reading stands after the last piece taken.
    checkpoint: JournalCheckpoint,
    /// ...and where it stood before it (the cursor to read after, and the index of the piece's
    /// first line)...
    piece_start: (Option<String>, u64),
    /// ...with the cursor of each of the piece's lines.
    cursors: Vec<String>,
    /// Why `journalctl` failed, if it did.
    error: Option<JournalError>,
    /// Entries skipped for an overlong message.
    overlong: u64,
}

impl Scanner {
    /// The reading of a started journal, for the merge loop.
    pub(super) fn open_journal(&mut self, start: JournalStart, summary: &mut Summary) -> Option<Reading> {
        let JournalStart { reader, checkpoint, location } = start;
        let path = PathBuf::from(&location);
        let now = jiff::Timestamp::now().to_zoned_datetime(self.opts.timezone.clone());
        // Journal times are instants: the year state is never used.
        let year = YearState { year: now.year(), month: now.month() };
        let times = TimeResolver::new(self.opts.timezone.clone(), year);
        let parse = match JournalParse::start(
            reader,
            checkpoint.count,
            path.clone(),
            times,
            &self.opts.server_name,
            Arc::clone(&self.enricher),
        ) {
            Ok(p) => p,
            Err(e) => {
                summary.problems.push(Problem {
                    path,
                    line: None,
                    message: format!("cannot start a thread to read it: {e}; skipped, the files were scanned"),
                });
                return None;
            }
        };
        let source = SourceRecord {
            id: checkpoint.source,
            fingerprint: Fingerprint { len: 0, hash: 0 },
            dev: 0,
            ino: 0,
            offset: checkpoint.count,
            lines: checkpoint.count,
            complete: false,
            size: 0,
            year: None,
        };
        let plan =
            FilePlan { path, source, size: 0, fresh_year: None, older: None, seen: Default::default(), file: None };
        Some(Reading {
            reader: Source::Journal(Box::new(JournalReading {
                parse,
                piece_start: (checkpoint.cursor.clone(), checkpoint.count),
                checkpoint,
                cursors: Vec::new(),
                error: None,
                overlong: 0,
            })),
            compression: crate::source::open::Compression::None,
            start_offset: plan.source.offset,
            texts: Default::default(),
            events: Vec::new(),
            at: 0,
            ended: None,
            content: None,
            plan,
        })
    }

    /// Takes the journal's next piece, whose events replace those of the last one.
    pub(super) fn read_journal_chunk(&mut self, r: &mut Reading, summary: &mut Summary) {
        let Source::Journal(j) = &mut r.reader else { return };
        let (piece, marks) = match j.parse.next() {
            Some(JournalChunk::Chunk(piece, marks)) => (piece, marks),
            Some(JournalChunk::End(piece, error)) => {
                j.error = error;
                r.ended = Some(match piece {
                    Piece::End(ended) => ended,
                    Piece::Chunk { .. } => Ended::default(),
                });
                return;
            }
            None => {
                let failed = std::io::Error::other("its reading thread stopped unexpectedly");
                r.ended = Some(Ended { failed: Some(failed), ..Ended::default() });
                return;
            }
        };
        let Piece::Chunk { bytes, lines, end, events, texts, new_table, problems } = piece else { return };
        summary.problems.extend(problems);
        r.texts.learn(texts, new_table, &mut self.symbols);
        r.events = events;
        r.at = 0;
        j.piece_start = (j.checkpoint.cursor.clone(), j.checkpoint.count);
        if marks.start == 0 && j.checkpoint.first_cursor.is_none() {
            j.checkpoint.first_cursor = marks.cursors.first().cloned();
        }
        if marks.last_cursor.is_some() {
            j.checkpoint.cursor = marks.last_cursor;
        }
        j.checkpoint.count = marks.start + marks.cursors.len() as u64;
        j.cursors = marks.cursors;
        j.overlong += marks.overlong;
        (r.plan.source.offset, r.plan.source.lines) = (end.offset, end.lines);
        *summary.journal_entries.get_or_insert(0) += lines;
        summary.lines += lines;
        summary.bytes += bytes;
        self.bar.inc(bytes);
        self.batch_bytes += bytes;
    }

    /// Wraps up a journal read to its end (or to `journalctl`'s failure).
    pub(super) fn end_journal(&mut self, r: Reading, summary: &mut Summary) {
        let Reading { plan, reader, ended, .. } = r;
        let Source::Journal(j) = reader else { return };
        let problem = |line, message| Problem { path: plan.path.clone(), line, message };
        let ended = ended.unwrap_or_default();
        if let Some(e) = ended.failed {
            summary.problems.push(problem(None, format!("{e}: the entries read up to there were kept")));
        }
        if let Some(e) = j.error {
            summary.problems.push(problem(None, format!("{e}; the entries read up to there were kept")));
        }
        if j.overlong > 0 {
            summary.notices.push(format!(
                "{}: {} mail daemon entr{} with a message over 64 KiB skipped (no mail daemon writes such messages)",
                plan.path.display(),
                j.overlong,
                if j.overlong == 1 { "y" } else { "ies" }
            ));
        }
        summary.journal_entries.get_or_insert(0);
        self.journal_checkpoint(j.checkpoint);
        self.flush();
    }

    /// Adds a journal's checkpoint to the current batch.
    pub(super) fn journal_checkpoint(&mut self, checkpoint: JournalCheckpoint) {
        self.batch.journal.retain(|c| c.source != checkpoint.source);
        self.batch.journal.push(checkpoint);
    }
}

impl JournalReading {
    /// Where reading resumes so that the event waiting at `front` (an entry's index), if any, is
    /// read again: after the entry before it.
    pub(super) fn resume_at(&self, front: Option<u64>) -> JournalCheckpoint {
        let mut checkpoint = self.checkpoint.clone();
        let Some(index) = front else { return checkpoint };
        let (cursor, start) = &self.piece_start;
        // An index outside the piece cannot be: reading again from the piece's start is safe.
        let at = index.checked_sub(start + 1).and_then(|k| self.cursors.get(k as usize)).filter(|_| index > *start);
        (checkpoint.cursor, checkpoint.count) = match at {
            Some(c) => (Some(c.clone()), index),
            None => (cursor.clone(), *start),
        };
        checkpoint
    }
}
