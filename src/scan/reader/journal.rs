//! Parsing the lines a journal reader makes of its entries, on a thread of its own.
//!
//! The journal's lines go through the same prefilter and parse thread code as a file's
//! ([`Parser`]); only the numbering differs: an event's offset is the index of its entry among
//! the mail daemons' entries read from the journal (the line's number, counted on from the
//! journal's saved count), which a replay from the same cursor gives again.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, bounded};

use super::parser::Parser;
use super::{AHEAD, Block, Candidate, Piece};
use crate::enrich::Enricher;
use crate::parse::Prefilter;
use crate::parse::time::TimeResolver;
use crate::source::journal::{JournalError, JournalPiece, JournalReader};

/// The cursors of a piece's entries, to resume reading after any of them.
#[derive(Debug, Default)]
pub(in crate::scan) struct Marks {
    /// The index of the piece's first line.
    pub start: u64,
    /// The cursor of each line's entry.
    pub cursors: Vec<String>,
    /// The cursor of the piece's last entry, a mail daemon's or not.
    pub last_cursor: Option<String>,
    /// Entries skipped for an overlong message.
    pub overlong: u64,
}

/// What the journal's parse thread hands over.
#[derive(Debug)]
pub(in crate::scan) enum JournalChunk {
    /// The events of a piece (a [`Piece::Chunk`]) and its entries' cursors.
    Chunk(Piece, Marks),
    /// The end (a [`Piece::End`]), and why `journalctl` failed if it did.
    End(Piece, Option<JournalError>),
}

/// The parse thread of a journal.
pub(in crate::scan) struct JournalParse {
    chunks: Option<Receiver<JournalChunk>>,
    thread: Option<JoinHandle<()>>,
}

impl JournalParse {
    /// Parses what `reader` reads, numbering its lines from `count`.
    pub fn start(
        reader: JournalReader,
        count: u64,
        location: PathBuf,
        times: TimeResolver,
        server_name: &str,
        enricher: Arc<Enricher>,
    ) -> std::io::Result<JournalParse> {
        let (tx, chunks) = bounded(AHEAD);
        // The event lists are not given back: a journal's pieces are small.
        let (_spare, spares) = bounded(1);
        let mut parser = Parser::new(location, times, server_name, enricher, spares);
        let thread = std::thread::Builder::new().name("journal-parse".into()).spawn(move || {
            let prefilter = Prefilter::default();
            let mut next = count;
            loop {
                let chunk = match reader.next() {
                    Some(JournalPiece::Entries(entries)) => {
                        let lines = entries.cursors.len() as u64;
                        let mut candidates = Vec::new();
                        // A line's "offset" within the piece is its number there, so that an
                        // event's offset is its entry's index.
                        prefilter.scan(&entries.lines, |line, before| {
                            candidates.push(Candidate {
                                text: line,
                                offset: before as usize,
                                lines_before: next + before,
                            })
                        });
                        let bytes = entries.lines.len() as u64;
                        let block = Block::Lines {
                            offset: next,
                            len: lines,
                            lines_before: next,
                            lines,
                            text: entries.lines,
                            candidates,
                        };
                        let (mut piece, _) = parser.piece(block);
                        if let Piece::Chunk { bytes: b, .. } = &mut piece {
                            *b = bytes;
                        }
                        let marks = Marks {
                            start: next,
                            cursors: entries.cursors,
                            last_cursor: entries.last_cursor,
                            overlong: entries.overlong,
                        };
                        next += lines;
                        JournalChunk::Chunk(piece, marks)
                    }
                    Some(JournalPiece::End(result)) => {
                        let (piece, _) = parser.piece(Block::End { failed: None, partial_len: 0 });
                        JournalChunk::End(piece, result.err())
                    }
                    None => {
                        let (piece, _) = parser.piece(Block::End { failed: None, partial_len: 0 });
                        let failed = std::io::Error::other("the journal's reading thread stopped unexpectedly");
                        JournalChunk::End(piece, Some(JournalError::Io { location: String::new(), source: failed }))
                    }
                };
                let end = matches!(chunk, JournalChunk::End(..));
                if tx.send(chunk).is_err() || end {
                    return;
                }
            }
        })?;
        Ok(JournalParse { chunks: Some(chunks), thread: Some(thread) })
    }

    /// The next chunk; `None` after [`JournalChunk::End`].
    pub fn next(&self) -> Option<JournalChunk> {
        self.chunks.as_ref()?.recv().ok()
    }
}

impl Drop for JournalParse {
    fn drop(&mut self) {
        // The thread's next send fails, and it drops the reader, which ends journalctl.
        drop(self.chunks.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
