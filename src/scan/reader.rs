//! Reading and parsing one file on threads of their own.
//!
//! Finding the candidate lines of a gigabyte of log, parsing them and placing them in time is
//! most of a scan's work, and it is split over two threads beside the scan thread (which
//! correlates the events) and the store's: the *chunk* thread reads the file in buffers of whole
//! lines, counts them and finds the candidate lines in them (the prefilter), which it copies
//! out, one buffer's worth together, while they are still in its cache (about one byte in eight;
//! the parse thread reading them from the other thread's buffer instead took it a third longer);
//! the *parse* thread parses the candidates, places them in time and interns their texts, and
//! hands the scan thread [`Piece`]s: the events of one buffer with where the file stands after
//! it. The parse thread interns texts in a table of its own; each piece carries the texts it was
//! the first to use, for the scan thread to map onto the scan's table.

use std::collections::HashSet;
use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::enrich::Enricher;
use crate::model::event::{Event, Kind, Parsed, session_hash};
use crate::model::symbols::Symbols;
use crate::parse::time::{TimeResolver, YearState};
use crate::parse::{self, Prefilter, same};
use crate::source::lines::{Chunk, Lines, MAX_LINE};
use crate::source::mapped::Shrank;

use super::problems::{Problem, listed};

/// Pieces parsed ahead of the scan thread, and blocks of candidate lines ahead of the parse
/// thread: enough to keep every thread busy, few enough to keep memory flat (a block holds the
/// candidates of up to 2 MiB of log). With 3, two cores were idle a tenth of a first scan's
/// time, one thread waiting for another's burst; 8 took ~3% off its wall time for 8 MB more.
const AHEAD: usize = 8;

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
        /// Its lines that could not be read, for the user.
        problems: Vec<Problem>,
    },
    /// Nothing more can be read.
    End {
        /// Why reading stopped early, if it did.
        failed: Option<std::io::Error>,
        /// Bytes after the last complete line.
        partial_len: usize,
        /// How many lines were skipped for an impossible date, and for having no timestamp (only
        /// the first [`super::problems::PROBLEMS_PER_FILE`] of each were listed).
        bad_times: usize,
        untimed: usize,
    },
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
}

impl FileReader {
    /// Starts reading.
    pub fn start(setup: Setup) -> std::io::Result<FileReader> {
        let (block_tx, blocks) = bounded(AHEAD);
        let (recycle, recycled) = bounded(AHEAD + 2);
        let (piece_tx, pieces) = bounded(AHEAD);
        let (spare_events, spares) = bounded(AHEAD + 2);
        let chunker = std::thread::Builder::new()
            .name("chunk".into())
            .spawn(move || chunk(setup.lines, setup.start.lines, &block_tx, &recycled))?;
        let mut reader = FileReader { pieces: None, spare_events, threads: vec![chunker] };
        let mut parser = Parser::new(setup.path, setup.times, &setup.server_name, setup.enricher, spares);
        let parse = std::thread::Builder::new().name("parse".into()).spawn(move || {
            for block in blocks {
                let (piece, buffers) = parser.piece(block);
                let end = matches!(piece, Piece::End { .. });
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

/// The chunk thread: reads `lines` (after `line_count` lines) and sends [`Block`]s until the end
/// or until the parse thread is gone.
fn chunk(mut lines: Lines, mut line_count: u64, blocks: &Sender<Block>, recycled: &Receiver<Buffers>) {
    let prefilter = Prefilter::default();
    loop {
        let block = match lines.next_chunk() {
            Ok(Some(Chunk::Lines { offset, data })) => {
                let (mut text, mut candidates) = recycled.try_recv().unwrap_or_default();
                text.clear();
                candidates.clear();
                let newlines = prefilter.scan(data, |line, lines_before| {
                    let at = text.len();
                    text.extend_from_slice(&data[line.clone()]);
                    candidates.push(Candidate {
                        text: at..text.len(),
                        offset: line.start,
                        lines_before: line_count + lines_before,
                    });
                });
                let (len, lines_before) = (data.len() as u64, line_count);
                line_count += newlines;
                Block::Lines { offset, len, lines_before, lines: newlines, text, candidates }
            }
            Ok(Some(Chunk::Overlong { offset, len })) => {
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

/// The parse thread's state.
struct Parser {
    path: PathBuf,
    times: TimeResolver,
    symbols: Symbols,
    recent: RecentTexts,
    /// How many of `symbols` were handed over.
    sent: usize,
    server_name: u32,
    enricher: Arc<Enricher>,
    /// The addresses handed to the enricher, when it resolves: most events are of an address
    /// seen before, and asking this set costs no lock (the enricher's map took 4% of a scan
    /// with DNS).
    submitted: Option<HashSet<IpAddr, foldhash::fast::RandomState>>,
    bad_times: usize,
    untimed: usize,
    /// Event lists given back by the scan thread.
    spare_events: Receiver<Vec<ReadEvent>>,
}

impl Parser {
    fn new(
        path: PathBuf,
        times: TimeResolver,
        server_name: &str,
        enricher: Arc<Enricher>,
        spare_events: Receiver<Vec<ReadEvent>>,
    ) -> Parser {
        let mut symbols = Symbols::new();
        let server_name = symbols.visible(server_name.as_bytes());
        Parser {
            path,
            times,
            symbols,
            recent: RecentTexts::default(),
            sent: 0,
            server_name,
            submitted: enricher.resolves().then(HashSet::default),
            enricher,
            bad_times: 0,
            untimed: 0,
            spare_events,
        }
    }

    /// The piece a block makes, and the block's lists to fill again.
    fn piece(&mut self, block: Block) -> (Piece, Option<Buffers>) {
        match block {
            Block::Lines { offset, len, lines_before, lines, text, candidates } => {
                let (events, problems) = self.parse(&text, offset, &candidates);
                let texts = self.symbols.since(self.sent).to_vec();
                self.sent = self.symbols.len();
                let end = Position { offset: offset + len, lines: lines_before + lines, year: self.times.state() };
                (Piece::Chunk { bytes: len, lines, end, events, texts, problems }, Some((text, candidates)))
            }
            Block::Overlong { offset, len, lines_before } => {
                // Past it for good: the next scan neither reads nor reports it again.
                let mut problems = Vec::new();
                if len > 0 {
                    problems.push(Problem {
                        path: self.path.clone(),
                        line: Some(lines_before + 1),
                        message: format!(
                            "line at byte {offset} is {len} bytes long, over the {} MiB limit: skipped (no mail \
                             daemon writes such lines)",
                            MAX_LINE >> 20
                        ),
                    });
                }
                let lines = u64::from(len > 0);
                let end = Position { offset: offset + len, lines: lines_before + lines, year: self.times.state() };
                (Piece::Chunk { bytes: 0, lines: 0, end, events: Vec::new(), texts: Vec::new(), problems }, None)
            }
            Block::End { failed, partial_len } => {
                (Piece::End { failed, partial_len, bad_times: self.bad_times, untimed: self.untimed }, None)
            }
        }
    }

    /// The events of the `candidates` (whose lines are in `text`) of a buffer at content
    /// `offset`, and the problems of those lines.
    fn parse(&mut self, text: &[u8], offset: u64, candidates: &[Candidate]) -> (Vec<ReadEvent>, Vec<Problem>) {
        let mut events = self.spare_events.try_recv().unwrap_or_default();
        events.reserve(candidates.len());
        let mut problems = Vec::new();
        for c in candidates {
            let (line, lines_before) = (&text[c.text.clone()], c.lines_before);
            let problem = |message: &str| Problem {
                path: self.path.clone(),
                line: Some(lines_before + 1),
                message: message.into(),
            };
            let Some(parsed) = parse::parse_line(line) else {
                if parse::untimed(line) && listed(&mut self.untimed) {
                    problems.push(problem(
                        "authentication event without a timestamp: skipped, it cannot be placed in time (make the \
                         daemon log one: Dovecot's log_timestamp, or an rsyslog template with a date)",
                    ));
                }
                continue;
            };
            let year = self.times.state();
            let Some(time) = self.times.resolve(&parsed.time) else {
                if listed(&mut self.bad_times) {
                    problems.push(problem(
                        "timestamp names a date that does not exist (e.g. Feb 29 in a non-leap year; check --year): \
                         event skipped",
                    ));
                }
                continue;
            };
            if parsed.fields.kind != Kind::BackendError
                && let Some(submitted) = &mut self.submitted
                && submitted.insert(parsed.fields.client_ip)
            {
                self.enricher.submit(parsed.fields.client_ip);
            }
            let event = intern(&mut self.symbols, &mut self.recent, self.server_name, time, &parsed);
            events.push(ReadEvent { offset: offset + c.offset as u64, lines_before, year, event });
        }
        (events, problems)
    }
}

/// The last few texts of a field and their symbols: a log's host and, line after line, the same
/// few services and mechanisms repeat, and comparing a few bytes costs less than a hash lookup.
/// (With only the last text kept, interleaved services and mechanisms missed it half the time.)
#[derive(Debug, Default)]
struct Recent {
    /// (prefix, raw text, symbol), replaced in turn.
    entries: Vec<(&'static [u8], Vec<u8>, u32)>,
    next: usize,
}

/// How many texts [`Recent`] keeps per field.
const RECENT: usize = 8;

impl Recent {
    fn get(&mut self, prefix: &'static [u8], raw: &[u8], intern: impl FnOnce() -> u32) -> u32 {
        let known = self.entries.iter().find(|(p, r, _)| same(r, raw) && same(p, prefix));
        if let Some(&(_, _, sym)) = known {
            return sym;
        }
        let sym = intern();
        if self.entries.len() < RECENT {
            self.entries.push((prefix, raw.to_vec(), sym));
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            slot.0 = prefix;
            slot.1.clear();
            slot.1.extend_from_slice(raw);
            slot.2 = sym;
            self.next = (self.next + 1) % RECENT;
        }
        sym
    }
}

/// The last host, service, mechanism, user and client name interned. (The user of a Postfix
/// line is often that of the Dovecot auth line before it, and most clients are `unknown`.)
#[derive(Debug, Default)]
struct RecentTexts {
    host: Recent,
    service: Recent,
    mechanism: Recent,
    user: Recent,
    client: Recent,
}

/// The event `parsed` describes, its texts interned in `s`.
fn intern(
    s: &mut Symbols,
    recent: &mut RecentTexts,
    server_name: u32,
    time: jiff::Timestamp,
    parsed: &Parsed<'_>,
) -> Event {
    let f = &parsed.fields;
    Event {
        time,
        client_ip: f.client_ip,
        server: parsed.host.map_or(server_name, |h| recent.host.get(b"", h, || s.visible(h))),
        service: recent.service.get(f.service.prefix, f.service.name, || s.prefixed(f.service.prefix, f.service.name)),
        username: f.username.map(|u| recent.user.get(b"", u, || s.visible(u))),
        mechanism: f.mechanism.map(|m| recent.mechanism.get(b"", m, || s.visible_upper(m))),
        logged_hostname: f.logged_hostname.map(|h| recent.client.get(b"", h, || s.visible(h))),
        session: f.session.map(session_hash),
        count: f.count,
        duration_secs: f.duration_secs,
        kind: f.kind,
        reason: f.reason,
        layer: f.layer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(content: &'static [u8], start: Position) -> Vec<Piece> {
        let reader = FileReader::start(Setup {
            path: "mail.log".into(),
            lines: Lines::Read(crate::source::lines::LineReader::new(Box::new(content), start.offset)),
            start,
            times: TimeResolver::new(jiff::tz::TimeZone::UTC, start.year),
            server_name: "mx0".into(),
            enricher: Arc::new(Enricher::disabled()),
        })
        .unwrap();
        std::iter::from_fn(|| reader.next()).collect()
    }

    #[test]
    fn pieces_carry_events_with_their_lines_and_the_position_after_them() {
        let log = b"Mar  1 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n\
Mar  1 10:00:01 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n\
postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x\n\
Feb 30 10:00:03 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.2]: SASL LOGIN authentication failed: x\n\
Mar  1 10:00:04 auth: Info: ldap(dog,198.51.100.81,): invalid credentials\n\
partial";
        let start = Position { offset: 1000, lines: 10, year: YearState { year: 2026, month: 3 } };
        let pieces = read_all(log, start);
        let [
            Piece::Chunk { bytes, lines, end, events, texts, problems },
            Piece::End { failed, partial_len, bad_times, untimed },
        ] = &pieces[..]
        else {
            panic!("{pieces:?}")
        };
        assert_eq!((*bytes, *lines), (log.len() as u64 - 7, 5));
        assert_eq!((end.offset, end.lines), (1000 + log.len() as u64 - 7, 15));
        let got: Vec<_> = events.iter().map(|e| (e.offset - 1000, e.lines_before)).collect();
        let last = log.len() - 7 - 74;
        assert_eq!(got, [(70, 11), (last as u64, 14)]);
        assert_eq!(&log[last..last + 16], b"Mar  1 10:00:04 ");
        let server = |e: &ReadEvent| texts[e.event.server as usize].to_string();
        assert_eq!((server(&events[0]), server(&events[1])), ("mx1".into(), "mx0".into()), "no host: the server name");
        let lines: Vec<_> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(13), Some(14)], "no timestamp, then an impossible date");
        assert!(failed.is_none());
        assert_eq!((*partial_len, *bad_times, *untimed), (7, 1, 1));
    }
}
