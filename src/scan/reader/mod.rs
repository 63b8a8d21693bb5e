//! Reading and parsing one file on threads of their own.
//!
//! Finding the candidate lines of a gigabyte of log, parsing them and placing them in time is
//! most of a scan's work, and it is split over two threads beside the scan thread (which
//! correlates the events) and the store's: the *chunk* thread (here) reads the file in buffers
//! of whole lines, counts them and finds the candidate lines in them (the prefilter), which it
//! copies out, one buffer's worth together, while they are still in its cache, rather than have
//! the parse thread read them from the other thread's buffer; the *parse* thread (`parser`)
//! parses the candidates, places them in time and interns their texts, and hands the scan thread
//! [`Piece`]s: the events of one buffer with where the file stands after it. The parse thread
//! interns texts in a table of its own; each piece carries the texts it was the first to use,
//! for the scan thread to map onto the scan's table.
//!
//! sysklogd's `last message repeated N times` holds no needle: the chunk thread looks at the line
//! after each candidate (and, where reading resumes, the parse thread is given the line before
//! the start), so that a repeat of an event counts N more attempts without a search of every
//! line.

pub(super) mod journal;
mod parser;
#[cfg(test)]
mod tests;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use self::parser::Parser;
use super::problems::Problem;
use crate::enrich::Enricher;
use crate::model::event::Event;
use crate::parse::time::{TimeResolver, YearState};
use crate::parse::{self, Prefilter};
use crate::source::lines::{Chunk, Lines};
use crate::source::mapped::Shrank;

/// Pieces parsed ahead of the scan thread, and blocks of candidate lines ahead of the parse
/// thread: enough to keep every thread busy, few enough to keep memory flat (a block holds the
/// candidates of up to 2 MiB of log). With 3, two cores were idle a tenth of a first scan's
/// time, one thread waiting for another's burst; 8 took ~3% off its wall time for 8 MB more.
const AHEAD: usize = 4;

/// An event as the reader found it: its texts are symbols of the reader's table.
#[derive(Clone, Copy, Debug)]
pub(super) struct ReadEvent {
    /// Byte offset of its line in the content.
    pub offset: u64,
    /// Lines before its line.
    pub lines_before: u64,
    /// The year state just before its line (what a checkpoint there records).
    pub year: YearState,
    /// The event.
    pub event: Event,
}

/// Where the file stands after a piece: what a checkpoint there records.
#[derive(Clone, Copy, Debug)]
pub(super) struct Position {
    /// Content offset after the piece.
    pub offset: u64,
    /// Lines read up to there.
    pub lines: u64,
    /// The year state there.
    pub year: YearState,
}

/// What the reader hands over.
#[derive(Debug)]
pub(super) enum Piece {
    /// A chunk of lines (or a skipped overlong line) was read.
    Chunk {
        /// Bytes read.
        bytes: u64,
        /// Lines read.
        lines: u64,
        /// Where the file stands after it.
        end: Position,
        /// Its events, in line order.
        events: Vec<ReadEvent>,
        /// The texts of the reader's symbols first used in this chunk, in symbol order.
        texts: Vec<Arc<str>>,
        /// The reader started a new table of texts with this chunk (`texts` is its start):
        /// the symbols of earlier chunks mean nothing any more.
        new_table: bool,
        /// Its lines that could not be read, for the user.
        problems: Vec<Problem>,
    },
    /// Nothing more can be read.
    End(Ended),
}

/// How the reading of a file ended.
#[derive(Debug, Default)]
pub(super) struct Ended {
    /// Why reading stopped early, if it did.
    pub failed: Option<std::io::Error>,
    /// Bytes after the last complete line.
    pub partial_len: usize,
    /// How many lines were skipped for an impossible date...
    pub bad_times: usize,
    /// ...for having no timestamp...
    pub untimed: usize,
    /// ...and for looking like an authentication event that could not be read (only the first
    /// [`super::problems::PROBLEMS_PER_FILE`] of each were listed).
    pub unreadable: usize,
    /// Events dated more than a day after the scan's clock (stored all the same)...
    pub future: usize,
    /// ...and the line and time of the first.
    pub first_future: Option<(u64, jiff::Timestamp)>,
}

/// The reading threads of one file.
pub(super) struct FileReader {
    pieces: Option<Receiver<Piece>>,
    /// Event lists taken, going back to the parse thread to be filled again.
    spare_events: Sender<Vec<ReadEvent>>,
    threads: Vec<JoinHandle<()>>,
}

/// What the reading threads need to know.
pub(super) struct Setup {
    /// The file, for messages.
    pub path: PathBuf,
    /// Its lines, from `start` on.
    pub lines: Lines,
    /// Where reading starts.
    pub start: Position,
    /// Resolves its timestamps.
    pub times: TimeResolver,
    /// The server name of lines without a host.
    pub server_name: String,
    /// Reverse lookups start as soon as an attacker's line is parsed.
    pub enricher: Arc<Enricher>,
    /// The line before `start`, when reading resumes (a repeat line after it repeats it).
    pub previous: Option<Vec<u8>>,
}

impl FileReader {
    /// Starts reading.
    pub fn start(setup: Setup) -> std::io::Result<FileReader> {
        let (block_tx, blocks) = bounded(AHEAD);
        let (recycle, recycled) = bounded(AHEAD + 2);
        let (piece_tx, pieces) = bounded(AHEAD);
        let (spare_events, spares) = bounded(AHEAD + 2);
        let previous = setup.previous.filter(|line| Prefilter::default().matches(line));
        let after_candidate = previous.is_some();
        let chunker = std::thread::Builder::new()
            .name("chunk".into())
            .spawn(move || chunk(setup.lines, setup.start.lines, after_candidate, &block_tx, &recycled))?;
        let mut reader = FileReader { pieces: None, spare_events, threads: vec![chunker] };
        let mut parser = Parser::new(setup.path, setup.times, &setup.server_name, setup.enricher, spares);
        if let (Some(line), Some(before)) = (previous, setup.start.lines.checked_sub(1)) {
            parser.prime(&line, before);
        }
        let parse = std::thread::Builder::new().name("parse".into()).spawn(move || {
            for block in blocks {
                let (piece, buffers) = parser.piece(block);
                let end = matches!(piece, Piece::End(_));
                // A failed send means the scan has stopped.
                if piece_tx.send(piece).is_err() || end {
                    return;
                }
                if let Some(buffers) = buffers {
                    let _ = recycle.try_send(buffers);
                }
            }
        })?;
        reader.threads.push(parse);
        reader.pieces = Some(pieces);
        Ok(reader)
    }

    /// The next piece; `None` after [`Piece::End`].
    pub fn next(&self) -> Option<Piece> {
        self.pieces.as_ref()?.recv().ok()
    }

    /// Gives back the events of a piece, all taken, for the parse thread to fill again (a fresh
    /// list per piece cost an allocation and page faults on one thread and a free on another).
    pub fn give_back(&self, mut events: Vec<ReadEvent>) {
        events.clear();
        let _ = self.spare_events.try_send(events);
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        // Closing the channel first makes the parse thread's next send fail, so it ends, which
        // closes the chunk thread's channel.
        drop(self.pieces.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The candidate lines of a buffer of whole lines, from the chunk thread.
enum Block {
    Lines {
        /// Content offset and length of the buffer.
        offset: u64,
        len: u64,
        /// Lines before the buffer, and in it.
        lines_before: u64,
        lines: u64,
        /// The candidate lines, one after the other (without newlines).
        text: Vec<u8>,
        /// Each candidate: where it is in `text`, its offset in the buffer and the lines before it.
        candidates: Vec<Candidate>,
    },
    Overlong {
        offset: u64,
        len: u64,
        lines_before: u64,
    },
    End {
        failed: Option<std::io::Error>,
        partial_len: usize,
    },
}

/// A [`Block`]'s lists, going back to the chunk thread to be filled again.
type Buffers = (Vec<u8>, Vec<Candidate>);

/// A candidate line of a [`Block`].
struct Candidate {
    text: Range<usize>,
    offset: usize,
    lines_before: u64,
}

/// Takes the sysklogd repeat lines (`last message repeated N times`, which no needle finds) that
/// follow a candidate line, from `start` in `data` (the line after the candidate, with
/// `lines_before` lines before it in `data`): they repeat the candidate, and only the line after
/// a candidate needs this look. Returns where the lines taken end, and whether `data` ends
/// there (the next chunk's first line may be a repeat line too).
fn take_repeats(
    data: &[u8],
    mut start: usize,
    mut lines_before: u64,
    take: &mut impl FnMut(Range<usize>, u64),
) -> (usize, bool) {
    loop {
        if start >= data.len() {
            return (start, true);
        }
        let Some(end) = memchr::memchr(b'\n', &data[start..]).map(|k| start + k) else {
            return (start, false);
        };
        let line = &data[start..end];
        // Most lines after a candidate are another event or noise: a look at the end first.
        let ends = |s: &[u8]| line.strip_suffix(b"\r").unwrap_or(line).ends_with(s);
        if !(ends(b" times") || ends(b" time") || ends(b"---")) || parse::repeated(line).is_none() {
            return (start, false);
        }
        take(start..end, lines_before);
        start = end + 1;
        lines_before += 1;
    }
}

/// A block holds the candidates of at most this many lines, besides at most a chunk's worth of
/// log: a log of nothing but candidates (a flood of short Dovecot auth lines) puts about 20,000
/// in a chunk, against 2,000 in an ordinary log, and the events of the pieces ahead of the scan
/// thread, and their lines, grew with them (about 45 MB of a scan's peak memory).
const BLOCK_CANDIDATES: usize = 4096;

/// The block the chunk thread is filling: the candidates of a chunk's lines from `start` on.
struct Filling {
    /// Content offset of the chunk, and lines before it.
    offset: u64,
    lines_before: u64,
    /// Where the block starts in the chunk, and the chunk's lines before there.
    start: usize,
    start_lines: u64,
    /// The chunk's lines up to the end of the last candidate taken.
    taken_lines: u64,
    text: Vec<u8>,
    candidates: Vec<Candidate>,
}

impl Filling {
    /// A block from the start of the chunk at content `offset`, after `lines_before` lines.
    fn new(offset: u64, lines_before: u64, recycled: &Receiver<Buffers>) -> Filling {
        let (text, candidates) = buffers(recycled);
        Filling { offset, lines_before, start: 0, start_lines: 0, taken_lines: 0, text, candidates }
    }

    /// Copies out the candidate `line` of `data` (the chunk), after `lines_before` of its lines.
    fn take(&mut self, data: &[u8], line: Range<usize>, lines_before: u64) {
        let at = self.text.len();
        self.text.extend_from_slice(&data[line.clone()]);
        self.candidates.push(Candidate {
            text: at..self.text.len(),
            offset: line.start - self.start,
            lines_before: self.lines_before + lines_before,
        });
        self.taken_lines = lines_before + 1;
    }

    /// The block of the chunk's lines up to `end`, the chunk's first `lines` lines; the next
    /// block starts there.
    fn cut(&mut self, end: usize, lines: u64, recycled: &Receiver<Buffers>) -> Block {
        let next = Filling { start: end, start_lines: lines, ..Filling::new(self.offset, self.lines_before, recycled) };
        std::mem::replace(self, next).finish(end, lines)
    }

    /// The block of the chunk's lines up to `end`, the chunk's first `lines` lines.
    fn finish(self, end: usize, lines: u64) -> Block {
        Block::Lines {
            offset: self.offset + self.start as u64,
            len: (end - self.start) as u64,
            lines_before: self.lines_before + self.start_lines,
            lines: lines - self.start_lines,
            text: self.text,
            candidates: self.candidates,
        }
    }
}

/// Emptied lists for a block, given back by the parse thread if it has some.
fn buffers(recycled: &Receiver<Buffers>) -> Buffers {
    let (mut text, mut candidates) = recycled.try_recv().unwrap_or_default();
    text.clear();
    candidates.clear();
    (text, candidates)
}

/// The chunk thread: reads `lines` (after `line_count` lines, the last a candidate when
/// `after_candidate`) and sends [`Block`]s until the end
/// or until the parse thread is gone.
fn chunk(
    mut lines: Lines,
    mut line_count: u64,
    after_candidate: bool,
    blocks: &Sender<Block>,
    recycled: &Receiver<Buffers>,
) {
    let prefilter = Prefilter::default();
    // Whether the previous chunk (or, reading resumed, the line before) ended with a candidate
    // line: a sysklogd repeat line at the start of this one repeats it.
    let mut last_was_candidate = after_candidate;
    loop {
        let block = match lines.next_chunk() {
            Ok(Some(Chunk::Lines { offset, data })) => {
                let mut filling = Filling::new(offset, line_count, recycled);
                let mut gone = false;
                // Lines before this were taken already, as repeat lines.
                let mut taken_to = 0;
                if last_was_candidate {
                    (taken_to, last_was_candidate) =
                        take_repeats(data, 0, 0, &mut |line, before| filling.take(data, line, before));
                }
                let newlines = prefilter.scan(data, |line, lines_before| {
                    if line.start < taken_to || gone {
                        return;
                    }
                    let start = line.end + 1;
                    filling.take(data, line, lines_before);
                    (taken_to, last_was_candidate) =
                        take_repeats(data, start, lines_before + 1, &mut |line, before| {
                            filling.take(data, line, before)
                        });
                    // Cut after the candidate's repeat lines, so that a repeat line never
                    // starts a block: only where a chunk ends does the next one look for them.
                    if filling.candidates.len() >= BLOCK_CANDIDATES && taken_to < data.len() {
                        let block = filling.cut(taken_to, filling.taken_lines, recycled);
                        gone = blocks.send(block).is_err();
                    }
                });
                if gone {
                    return;
                }
                line_count += newlines;
                filling.finish(data.len(), newlines)
            }
            Ok(Some(Chunk::Overlong { offset, len })) => {
                last_was_candidate = false;
                let block = Block::Overlong { offset, len, lines_before: line_count };
                line_count += u64::from(len > 0);
                block
            }
            Ok(None) => Block::End { failed: None, partial_len: lines.partial_len() },
            Err(e) => Block::End { failed: Some(e), partial_len: lines.partial_len() },
        };
        // A mapped file that shrank under the map read zeros where its lines were: the block is
        // dropped, and reading ends where the file was intact (as a read ends at its new end).
        let block = if lines.intact() {
            block
        } else {
            Block::End { failed: Some(std::io::Error::other(Shrank)), partial_len: 0 }
        };
        let end = matches!(block, Block::End { .. });
        if blocks.send(block).is_err() || end {
            return;
        }
    }
}
