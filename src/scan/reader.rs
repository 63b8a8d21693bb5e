//! Reading and parsing one file on a thread of its own.
//!
//! Finding the candidate lines of a gigabyte of log, parsing them and placing them in time is
//! most of a scan's work. A [`FileReader`] does it beside the thread that correlates the events
//! (and the one that stores them): it hands over [`Piece`]s, each the parsed events of one chunk
//! of whole lines with where the file stands after it, so that the scan thread never touches the
//! text. The reader's texts are interned in a table of its own; each piece carries the texts it
//! was the first to use, for the scan thread to map onto the scan's table.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, bounded};

use crate::enrich::Enricher;
use crate::event::{Event, Kind, Parsed, Symbols, session_hash};
use crate::parse::time::{TimeResolver, YearState};
use crate::parse::{self, Prefilter};
use crate::source::lines::{Chunk, LineReader, MAX_LINE};

use super::{Problem, listed};

/// Pieces parsed ahead of the scan thread: enough to keep both sides busy, few enough to keep
/// memory flat (a piece is the events of up to 2 MiB of log).
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
        /// the first [`super::PROBLEMS_PER_FILE`] of each were listed).
        bad_times: usize,
        untimed: usize,
    },
}

/// The reading thread of one file.
pub(super) struct FileReader {
    pieces: Option<Receiver<Piece>>,
    handle: Option<JoinHandle<()>>,
}

/// What the reading thread needs to know.
pub(super) struct Setup {
    /// The file, for messages.
    pub path: PathBuf,
    /// Its content, positioned at `start`.
    pub content: Box<dyn Read + Send>,
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
        let (tx, pieces) = bounded(AHEAD);
        let handle = std::thread::Builder::new().name("read".into()).spawn(move || {
            let mut reader = Reader::new(setup);
            while let Some(piece) = reader.next() {
                let end = matches!(piece, Piece::End { .. });
                // A failed send means the scan has stopped.
                if tx.send(piece).is_err() || end {
                    return;
                }
            }
        })?;
        Ok(FileReader { pieces: Some(pieces), handle: Some(handle) })
    }

    /// The next piece; `None` after [`Piece::End`].
    pub fn next(&self) -> Option<Piece> {
        self.pieces.as_ref()?.recv().ok()
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        // Closing the channel first makes the thread's next send fail, so it ends.
        drop(self.pieces.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The reading thread's state.
struct Reader {
    path: PathBuf,
    lines: LineReader<Box<dyn Read + Send>>,
    prefilter: Prefilter,
    times: TimeResolver,
    /// Lines read before the next chunk.
    line_count: u64,
    symbols: Symbols,
    /// How many of `symbols` were handed over.
    sent: usize,
    server_name: u32,
    enricher: Arc<Enricher>,
    bad_times: usize,
    untimed: usize,
    ended: bool,
}

impl Reader {
    fn new(setup: Setup) -> Reader {
        let mut symbols = Symbols::new();
        let server_name = symbols.visible(setup.server_name.as_bytes());
        Reader {
            path: setup.path,
            lines: LineReader::new(setup.content, setup.start.offset),
            prefilter: Prefilter::default(),
            times: setup.times,
            line_count: setup.start.lines,
            symbols,
            sent: 0,
            server_name,
            enricher: setup.enricher,
            bad_times: 0,
            untimed: 0,
            ended: false,
        }
    }

    /// The next piece, `None` once [`Piece::End`] was given.
    fn next(&mut self) -> Option<Piece> {
        if self.ended {
            return None;
        }
        let end = |r: &mut Reader, failed| {
            r.ended = true;
            Some(Piece::End { failed, partial_len: r.lines.partial_len(), bad_times: r.bad_times, untimed: r.untimed })
        };
        match self.lines.next_chunk() {
            Ok(Some(Chunk::Lines { offset, data })) => {
                let (events, problems, lines) = parse_chunk(
                    data,
                    offset,
                    self.line_count,
                    &self.path,
                    &mut Context {
                        prefilter: &self.prefilter,
                        times: &mut self.times,
                        symbols: &mut self.symbols,
                        server_name: self.server_name,
                        enricher: &self.enricher,
                        bad_times: &mut self.bad_times,
                        untimed: &mut self.untimed,
                    },
                );
                self.line_count += lines;
                let texts = self.symbols.since(self.sent).to_vec();
                self.sent = self.symbols.len();
                let bytes = data.len() as u64;
                Some(Piece::Chunk { bytes, lines, end: self.position(offset + bytes), events, texts, problems })
            }
            Ok(Some(Chunk::Overlong { offset, len })) => {
                // Past it for good: the next scan neither reads nor reports it again.
                let mut problems = Vec::new();
                let lines = u64::from(len > 0);
                if len > 0 {
                    problems.push(Problem {
                        path: self.path.clone(),
                        line: Some(self.line_count + 1),
                        message: format!(
                            "line at byte {offset} is {len} bytes long, over the {} MiB limit: skipped (no mail \
                             daemon writes such lines)",
                            MAX_LINE >> 20
                        ),
                    });
                }
                self.line_count += lines;
                Some(Piece::Chunk {
                    bytes: 0,
                    lines: 0,
                    end: self.position(offset + len),
                    events: Vec::new(),
                    texts: Vec::new(),
                    problems,
                })
            }
            Ok(None) => end(self, None),
            Err(e) => end(self, Some(e)),
        }
    }

    fn position(&self, offset: u64) -> Position {
        Position { offset, lines: self.line_count, year: self.times.state() }
    }
}

/// What parsing a chunk updates.
struct Context<'a> {
    prefilter: &'a Prefilter,
    times: &'a mut TimeResolver,
    symbols: &'a mut Symbols,
    server_name: u32,
    enricher: &'a Enricher,
    bad_times: &'a mut usize,
    untimed: &'a mut usize,
}

/// The events of `data` (whole lines starting at content `offset`, after `lines_before` lines),
/// the problems of its lines, and how many lines it holds.
fn parse_chunk(
    data: &[u8],
    offset: u64,
    lines_before: u64,
    path: &std::path::Path,
    cx: &mut Context<'_>,
) -> (Vec<ReadEvent>, Vec<Problem>, u64) {
    let mut events = Vec::new();
    let mut problems = Vec::new();
    // Lines are counted up to each candidate as it comes: one pass over the chunk in all.
    let (mut counted_to, mut lines) = (0, lines_before);
    for line in cx.prefilter.lines(data) {
        let start = line.start;
        lines += bytecount::count(&data[counted_to..start], b'\n') as u64;
        counted_to = start;
        let problem =
            |message: &str| Problem { path: path.to_path_buf(), line: Some(lines + 1), message: message.into() };
        let Some(parsed) = parse::parse_line(&data[line.clone()]) else {
            if parse::untimed(&data[line]) && listed(cx.untimed) {
                problems.push(problem(
                    "authentication event without a timestamp: skipped, it cannot be placed in time (make the \
                     daemon log one: Dovecot's log_timestamp, or an rsyslog template with a date)",
                ));
            }
            continue;
        };
        let year = cx.times.state();
        let Some(time) = cx.times.resolve(&parsed.time) else {
            if listed(cx.bad_times) {
                problems.push(problem(
                    "timestamp names a date that does not exist (e.g. Feb 29 in a non-leap year; check --year): \
                     event skipped",
                ));
            }
            continue;
        };
        if parsed.fields.kind != Kind::BackendError {
            cx.enricher.submit(parsed.fields.client_ip);
        }
        let event = intern(cx.symbols, cx.server_name, time, &parsed);
        events.push(ReadEvent { offset: offset + start as u64, lines_before: lines, year, event });
    }
    lines += bytecount::count(&data[counted_to..], b'\n') as u64;
    (events, problems, lines - lines_before)
}

/// The event `parsed` describes, its texts interned in `s`.
fn intern(s: &mut Symbols, server_name: u32, time: jiff::Timestamp, parsed: &Parsed<'_>) -> Event {
    let f = &parsed.fields;
    Event {
        time,
        client_ip: f.client_ip,
        server: parsed.host.map_or(server_name, |h| s.visible(h)),
        service: s.service(f.service),
        username: f.username.map(|u| s.visible(u)),
        mechanism: f.mechanism.map(|m| s.visible_upper(m)),
        logged_hostname: f.logged_hostname.map(|h| s.visible(h)),
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
            content: Box::new(content),
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
