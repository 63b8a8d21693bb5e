//! The parse thread: parses the candidate lines of each block, places them in time, interns
//! their texts in a table of its own, and makes them the events of a [`Piece`].

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use super::{Block, Buffers, Candidate, Ended, Piece, Position, ReadEvent};
use crate::enrich::Enricher;
use crate::model::event::{Event, Kind, Parsed, RawTime, session_hash};
use crate::model::symbols::Symbols;
use crate::parse::time::TimeResolver;
use crate::parse::{self, same};
use crate::scan::MAX_TEXTS;
use crate::scan::problems::{Problem, listed};
use crate::source::lines::MAX_LINE;

/// How far past the scan's clock an event may be dated before it is called a date in the future:
/// 26 hours, the widest gap between two zones' clocks (UTC+14 and UTC-12), so that a log read
/// in the wrong zone, or written by a host whose clock is a little ahead, is not taken for a
/// wrong year; a wrong `--year` or a year inferred wrongly puts events months ahead.
const FUTURE_TOLERANCE: jiff::SignedDuration = jiff::SignedDuration::from_hours(26);

/// The parse thread's state.
pub(super) struct Parser {
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
    unreadable: usize,
    /// Events dated after this are in the future (see [`FUTURE_TOLERANCE`])...
    future_after: jiff::Timestamp,
    /// ...how many were read, and the line and time of the first.
    future: usize,
    first_future: Option<(u64, jiff::Timestamp)>,
    /// The event of the last candidate line and the lines before it, for a sysklogd repeat line
    /// after it; `None` when that candidate was no event.
    last: Option<(u64, Event)>,
    /// Event lists given back by the scan thread.
    spare_events: Receiver<Vec<ReadEvent>>,
}

impl Parser {
    /// The parse thread of the file at `path`; its table of texts starts with `server_name`,
    /// the host of lines that name none.
    pub(super) fn new(
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
            unreadable: 0,
            future_after: jiff::Timestamp::now().saturating_add(FUTURE_TOLERANCE).unwrap_or(jiff::Timestamp::MAX),
            future: 0,
            first_future: None,
            last: None,
            spare_events,
        }
    }

    /// The piece a block makes, and the block's lists to fill again.
    pub(super) fn piece(&mut self, block: Block) -> (Piece, Option<Buffers>) {
        match block {
            Block::Lines { offset, len, lines_before, lines, text, candidates } => {
                let new_table = self.symbols.len() > MAX_TEXTS;
                if new_table {
                    self.new_table();
                }
                let (events, problems) = self.parse(&text, offset, &candidates);
                let texts = self.symbols.since(self.sent).to_vec();
                self.sent = self.symbols.len();
                let end = Position { offset: offset + len, lines: lines_before + lines, year: self.times.state() };
                let piece = Piece::Chunk { bytes: len, lines, end, events, texts, new_table, problems };
                (piece, Some((text, candidates)))
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
                let piece = Piece::Chunk {
                    bytes: 0,
                    lines: 0,
                    end,
                    events: Vec::new(),
                    texts: Vec::new(),
                    new_table: false,
                    problems,
                };
                (piece, None)
            }
            Block::End { failed, partial_len } => (
                Piece::End(Ended {
                    failed,
                    partial_len,
                    bad_times: self.bad_times,
                    untimed: self.untimed,
                    unreadable: self.unreadable,
                    future: self.future,
                    first_future: self.first_future,
                }),
                None,
            ),
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
            if let Some((raw, times)) = parse::repeated(line) {
                self.repeat(raw, times, c, offset, &mut events);
                continue;
            }
            let Some(parsed) = parse::parse_line(line) else {
                self.last = None;
                if parse::untimed(line) {
                    if listed(&mut self.untimed) {
                        problems.push(problem(
                            "authentication event without a timestamp: skipped, it cannot be placed in time (make \
                             the daemon log one: Dovecot's log_timestamp, or an rsyslog template with a date)",
                        ));
                    }
                } else if parse::unreadable(line) && listed(&mut self.unreadable) {
                    problems.push(problem(
                        "looks like an authentication event but could not be read (damaged, or a form not known \
                         yet): skipped; please report the line's format",
                    ));
                }
                continue;
            };
            let year = self.times.state();
            let Some(time) = self.times.resolve(&parsed.time) else {
                self.last = None;
                if listed(&mut self.bad_times) {
                    problems.push(problem(
                        "timestamp names a date that does not exist (e.g. Feb 29 in a non-leap year; check --year): \
                         event skipped",
                    ));
                }
                continue;
            };
            if time > self.future_after {
                self.future += 1;
                self.first_future.get_or_insert((lines_before + 1, time));
            }
            if parsed.fields.kind != Kind::BackendError
                && let Some(submitted) = &mut self.submitted
                && submitted.insert(parsed.fields.client_ip)
            {
                self.enricher.submit(parsed.fields.client_ip);
            }
            let event = intern(&mut self.symbols, &mut self.recent, self.server_name, time, &parsed);
            events.push(ReadEvent { offset: offset + c.offset as u64, lines_before, year, event });
            self.last = Some((lines_before, event));
        }
        (events, problems)
    }

    /// Starts a new table of texts, with the server name and the texts of the last event (a
    /// repeat line may repeat it), once a chunk's events were handed over with the old one.
    fn new_table(&mut self) {
        tracing::debug!(texts = self.symbols.len(), "a reader starts a new table of texts");
        let old = std::mem::take(&mut self.symbols);
        self.server_name = self.symbols.text(old.get(self.server_name));
        if let Some((_, event)) = &mut self.last {
            event.map_syms(|s| self.symbols.text(old.get(s)));
        }
        self.recent = RecentTexts::default();
        self.sent = 0;
    }

    /// Reads `line`, the line before where reading resumes (`lines_before` lines before it), as
    /// the event a repeat line after it would repeat; nothing of it is handed over but its texts.
    pub(super) fn prime(&mut self, line: &[u8], lines_before: u64) {
        let Some(parsed) = parse::parse_line(line) else { return };
        // Its time was resolved by the scan that read it: the resolver must not move again.
        let Some(time) = self.times.clone().resolve(&parsed.time) else { return };
        let event = intern(&mut self.symbols, &mut self.recent, self.server_name, time, &parsed);
        self.last = Some((lines_before, event));
    }

    /// A sysklogd repeat line: `times` more of the event on the line before it, if that line
    /// was one, dated by the repeat line and stored at its offset (so a rescan finds the same
    /// key), each attempt counted as the line before counted them.
    fn repeat(&mut self, raw: RawTime, times: u32, c: &Candidate, offset: u64, events: &mut Vec<ReadEvent>) {
        let lines_before = c.lines_before;
        let Some((line, event)) = self.last.filter(|&(line, _)| line + 1 == lines_before) else {
            // It repeats a line that was no event.
            self.last = None;
            return;
        };
        // A repeat of a repeat repeats the same line.
        self.last = Some((line + 1, event));
        let year = self.times.state();
        let Some(time) = self.times.resolve(&raw) else { return };
        if time > self.future_after {
            self.future += 1;
            self.first_future.get_or_insert((lines_before + 1, time));
        }
        let event = Event { time, count: event.count.max(1).saturating_mul(times), ..event };
        events.push(ReadEvent { offset: offset + c.offset as u64, lines_before, year, event });
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
