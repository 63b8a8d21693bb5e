//! The merge loop: the events of every log, read side by side, reach the correlator in time
//! order, and its outputs go to the writer in batches, each with the progress of every file.
//!
//! It runs on the scan thread, once per event; opening a file, taking its next piece and ending
//! it are in `files`.

mod files;
mod journal;

use std::collections::{HashMap, VecDeque};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::correlate::{Correlator, Limits, MAX_RECORDS, MAX_SESSION_EVENTS, MAX_SESSIONS};
use crate::enrich::Enricher;
use crate::model::event::{Event, EventKey};
use crate::model::symbols::{Sym, Symbols};
use crate::source::open::Compression;
use crate::store::{Added, Batch, CommitError, Progress};

use super::copies::Copies;
use super::journal::JournalStart;
use super::plan::FilePlan;
use super::reader::{Ended, FileReader, ReadEvent};
use super::writer::{Sink, Writer};
use super::{MAX_TEXTS, ScanOptions, Summary};

/// Events go to the store in batches of this many, which it stores as they come...
const BATCH_EVENTS: usize = 16_384;
/// ...and commits, with every file's progress, once this many were sent since the last commit,
/// or this many bytes were read, or a file ends. Each commit waits for the CSV to reach the disk,
/// which takes milliseconds, and more when the disk is busy: a first scan of a 1 GB log commits
/// a dozen times rather than fifty.
const COMMIT_EVENTS: usize = 65_536;
/// See [`COMMIT_EVENTS`].
const COMMIT_BYTES: u64 = 256 << 20;

/// [`ReaderTexts::remap`] of a text not yet mapped onto the scan's new table.
const UNMAPPED: Sym = Sym::MAX;

/// The scan thread's side of a scan: the correlator, the texts of every event, and the batch
/// being filled for the writer; the files themselves are read and parsed on threads of their own.
/// `watch` keeps one across its passes, handing the writer's sink back between them.
pub(super) struct Scanner {
    opts: Arc<ScanOptions>,
    correlator: Correlator,
    /// The texts of every event of this scan.
    symbols: Symbols,
    /// How many of `symbols` the writer has been sent.
    symbols_sent: usize,
    /// `None` between two passes of `watch`.
    writer: Option<Writer>,
    batch: Batch,
    /// Bytes read since the last commit...
    batch_bytes: u64,
    /// ...and events sent to the store.
    sent: usize,
    /// How far each source was read in this scan, for a content seen twice (e.g. `mail.log.1`
    /// and a compressed copy of it).
    reached: HashMap<u32, (u64, u64, Option<crate::parse::time::YearState>)>,
    bar: indicatif::ProgressBar,
    stopped: bool,
    /// Files left unread because they changed after they were planned: `watch` plans them again
    /// at its next pass even if they look as they did when planned.
    pub(super) changed: Vec<PathBuf>,
    /// Reverse lookups start as soon as an attacker's line is parsed.
    enricher: Arc<Enricher>,
    /// Set from outside (a signal) to end the pass at the next event: what was read is
    /// committed, and the rest is read by the next scan.
    interrupt: Option<Arc<AtomicBool>>,
    /// The correlator's limits as last told (`watch` tells each pass what is new).
    limits_told: Limits,
    /// Texts the held-back events kept in the table the last time it started again: when they
    /// are many, the table waits longer before it starts again.
    texts_kept: usize,
}

impl Scanner {
    /// A scanner with no writer yet ([`Scanner::start_writer`]).
    pub(super) fn new(
        opts: Arc<ScanOptions>,
        correlator: Correlator,
        symbols: Symbols,
        enricher: Arc<Enricher>,
        interrupt: Option<Arc<AtomicBool>>,
    ) -> Scanner {
        Scanner {
            opts,
            correlator,
            symbols,
            symbols_sent: 0,
            writer: None,
            batch: Batch::default(),
            batch_bytes: 0,
            sent: 0,
            reached: HashMap::new(),
            bar: indicatif::ProgressBar::hidden(),
            stopped: false,
            changed: Vec::new(),
            enricher,
            interrupt,
            limits_told: Limits::default(),
            texts_kept: 0,
        }
    }

    /// Hands the writer its sink for a pass over `streams`, whose progress bar counts the bytes
    /// left to read in them. `checkpoint_thread`: see [`Writer::start`].
    pub(super) fn start_writer(
        &mut self,
        sink: Sink,
        store_path: &Path,
        checkpoint_thread: bool,
        streams: &[VecDeque<FilePlan>],
    ) -> std::io::Result<()> {
        let probes = self.opts.scan.invalid_mechanism_is_intrusion;
        self.writer = Some(Writer::start(sink, store_path, checkpoint_thread, probes, Arc::clone(&self.enricher))?);
        let total: u64 = streams.iter().flatten().map(|p| p.size.saturating_sub(p.source.offset)).sum();
        self.bar = progress_bar(self.opts.progress, total);
        self.stopped = false;
        Ok(())
    }

    /// Events the correlator holds back, waiting for a partner line.
    pub(super) fn pending(&self) -> usize {
        self.correlator.pending_len()
    }

    /// Whether the pass was asked to end early.
    fn interrupted(&self) -> bool {
        self.interrupt.as_ref().is_some_and(|i| i.load(Ordering::Relaxed))
    }

    /// Reads the streams side by side: the events of all of them reach the correlator in time
    /// order, so that the lines one attempt left in different logs (Postfix in `mail.log`,
    /// Dovecot in its own file) are joined as if they were in one, and lines that two logs both
    /// hold (rsyslog's `mail.warn` beside `mail.log`) count once ([`super::copies`]). Each stream's
    /// files are read one after the other. Returns the plans put off because another stream was
    /// reading the same content at the time (a copy under another name).
    /// A journal, if given, is one more stream.
    pub(super) fn scan_streams(
        &mut self,
        mut streams: Vec<VecDeque<FilePlan>>,
        journal: Option<JournalStart>,
        summary: &mut Summary,
    ) -> VecDeque<FilePlan> {
        let mut readings: Vec<Option<Reading>> = streams.iter().map(|_| None).collect();
        let mut names: Vec<PathBuf> =
            streams.iter().map(|s| s.back().map(|p| p.path.clone()).unwrap_or_default()).collect();
        if let Some(start) = journal {
            names.push(PathBuf::from(&start.location));
            readings.push(self.open_journal(start, summary));
            streams.push(VecDeque::new());
        }
        let mut deferred = VecDeque::new();
        let mut copies = (streams.len() > 1).then(|| Copies::new(streams.len()));
        'streams: while !self.stopped {
            if self.interrupted() {
                self.flush_readings(&readings);
                break;
            }
            // Every stream gets an event waiting, or runs out of files, so that the earliest event of
            // all is known.
            for i in 0..streams.len() {
                loop {
                    if let Some(r) = &mut readings[i] {
                        if r.front().is_some() {
                            break;
                        }
                        if r.ended.is_none() {
                            self.read_chunk(r, summary);
                            if self.batch_bytes >= COMMIT_BYTES {
                                self.flush_readings(&readings);
                                self.maybe_new_table(&mut readings, copies.as_mut());
                            }
                            if self.stopped {
                                break 'streams;
                            }
                            continue;
                        }
                    }
                    if let Some(done) = readings[i].take() {
                        match done.reader {
                            Source::File(_) => self.end_file(done, summary),
                            Source::Journal(_) => self.end_journal(done, summary),
                        }
                        if self.stopped {
                            break 'streams;
                        }
                    }
                    let Some(plan) = streams[i].pop_front() else { break };
                    if readings.iter().flatten().any(|r| r.plan.source.id == plan.source.id) {
                        deferred.push_back(plan);
                        continue;
                    }
                    readings[i] = self.open_file(plan, summary);
                }
            }
            let earliest =
                readings.iter().enumerate().filter_map(|(i, r)| Some((r.as_ref()?.front()?.event.time, i))).min();
            let Some((_, i)) = earliest else { break };
            let Some((key, event)) = readings[i].as_mut().and_then(|r| r.pop(&mut self.symbols)) else { break };
            let event = match &mut copies {
                Some(copies) => match copies.take(i, event) {
                    Some(event) => event,
                    None => continue,
                },
                None => event,
            };
            self.correlator.push(key, event, &mut self.batch.outputs);
            // Commit early when the texts are too many (to start a new table, see
            // `maybe_new_table`) or the correlator's unsaved changes are: held-back events that
            // come out only when released keep both growing between commits.
            let full = self.symbols.len() > self.texts_kept.saturating_mul(2).max(2 * MAX_TEXTS)
                || self.correlator.unsaved() > COMMIT_EVENTS;
            if self.batch.outputs.len() >= BATCH_EVENTS || full {
                if self.sent + self.batch.outputs.len() >= COMMIT_EVENTS || full {
                    self.flush_readings(&readings);
                    self.maybe_new_table(&mut readings, copies.as_mut());
                } else {
                    self.send(true);
                }
            }
        }
        for (a, b, n) in copies.iter().flat_map(Copies::dropped) {
            summary.notices.push(format!(
                "{} and {} hold the same lines (rsyslog wrote them to both files): the {n} event{} found in \
                 both counted once; list only one of the two in --log or `logs` to save reading them twice",
                names[a].display(),
                names[b].display(),
                if n == 1 { "" } else { "s" },
            ));
        }
        deferred
    }

    /// Sends the current batch with every open file's progress: up to its first event still
    /// waiting, whose line is read again after a restart.
    fn flush_readings(&mut self, readings: &[Option<Reading>]) {
        for r in readings.iter().flatten() {
            if let Source::Journal(j) = &r.reader {
                let checkpoint = j.resume_at(r.front().map(|e| e.offset));
                self.journal_checkpoint(checkpoint);
                continue;
            }
            let mut source = r.plan.source.clone();
            if let Some(e) = r.front() {
                (source.offset, source.lines, source.year) = (e.offset, e.lines_before, Some(e.year));
            }
            self.checkpoint(&source, &r.plan.path);
        }
        self.flush();
    }

    /// Starts a new table of texts once the scan's holds more than [`MAX_TEXTS`], right after a
    /// commit (the store and the CSV learn the new table from its start): what still refers to
    /// the old one (the correlator's held-back events, the identities of `copies`) is moved to
    /// the new one, and each reading maps its reader's texts again as it meets them.
    fn maybe_new_table(&mut self, readings: &mut [Option<Reading>], copies: Option<&mut Copies>) {
        if self.symbols.len() <= MAX_TEXTS || !self.batch.outputs.is_empty() {
            return;
        }
        tracing::debug!(texts = self.symbols.len(), "the scan starts a new table of texts");
        let old = std::mem::take(&mut self.symbols);
        let new = &mut self.symbols;
        self.correlator.map_pending_syms(|s| new.text(old.get(s)));
        if let Some(copies) = copies {
            copies.map_syms(|s| new.text(old.get(s)));
        }
        for r in readings.iter_mut().flatten() {
            r.texts.forget();
        }
        self.symbols_sent = 0;
        self.texts_kept = self.symbols.len();
    }

    /// Adds the file's progress to the current batch.
    fn checkpoint(&mut self, source: &crate::store::SourceRecord, path: &Path) {
        self.batch.progress.retain(|p| p.source.id != source.id);
        self.batch.progress.push(Progress { source: source.clone(), path: path.to_string_lossy().into_owned() });
    }

    /// Sends the current batch with the correlator's state, to be committed; sets `stopped` when
    /// the writer has failed.
    fn flush(&mut self) {
        self.batch.correlator = Some(self.correlator.changes(&self.symbols));
        self.send(false);
        self.batch_bytes = 0;
        self.sent = 0;
    }

    /// Sends the current batch, to be stored in a transaction left open for the next ones when
    /// `keep_open`; sets `stopped` when the writer has failed.
    fn send(&mut self, keep_open: bool) {
        let capacity = BATCH_EVENTS + BATCH_EVENTS / 4;
        let outputs = self.writer.as_ref().map_or_else(|| Vec::with_capacity(capacity), |w| w.buffer(capacity));
        let next = Batch { outputs, ..Batch::default() };
        let mut batch = std::mem::replace(&mut self.batch, next);
        batch.keep_open = keep_open;
        batch.symbols_start = self.symbols_sent;
        batch.symbols = self.symbols.since(self.symbols_sent).to_vec();
        self.symbols_sent = self.symbols.len();
        self.sent += batch.outputs.len();
        if !self.writer.as_ref().is_some_and(|w| w.send(batch)) {
            self.stopped = true;
        }
    }

    /// Releases held-back events that can no longer be joined, commits, and waits for the store;
    /// gives back the writer's sink.
    pub(super) fn finish(&mut self, summary: &mut Summary) -> Result<(Added, Sink), CommitError> {
        if !self.stopped && self.writer.is_some() {
            // A partner line is written within seconds; anything older than twice the window
            // before now will not get one.
            let window = i64::from(self.opts.scan.correlation_window_secs);
            let cutoff = jiff::Timestamp::now()
                .checked_sub(jiff::SignedDuration::from_secs(2 * window))
                .unwrap_or(jiff::Timestamp::MIN);
            // In batches: after a burst, the correlator may hold MAX_RECORDS events.
            while self.correlator.flush_some_before(cutoff, BATCH_EVENTS, &mut self.batch.outputs) {
                self.send(true);
            }
            summary.held_back = self.correlator.pending_len();
            self.flush();
        }
        let limits = self.correlator.limits();
        if limits != self.limits_told {
            summary.notices.push(limits_notice(&limits, &self.limits_told));
            self.limits_told = limits;
        }
        self.bar.finish_and_clear();
        match self.writer.take() {
            Some(writer) => writer.finish(),
            None => Err(CommitError::Store(crate::store::StoreError::Unusable("no writer was started".into()))),
        }
    }
}

/// What a [`Reading`] reads.
enum Source {
    /// A file, on its reading threads.
    File(FileReader),
    /// A journal (its plan names the journal and its record).
    Journal(Box<journal::JournalReading>),
}

/// One file (or journal) being read.
struct Reading {
    plan: FilePlan,
    reader: Source,
    compression: Compression,
    /// Where this scan started reading it.
    start_offset: u64,
    /// The reader's texts and the scan's symbols for them.
    texts: ReaderTexts,
    /// The events of the last piece from the reader, in line order: those from `at` on wait for
    /// the other logs to catch up.
    events: Vec<ReadEvent>,
    at: usize,
    /// Set once no complete line is left (or reading failed).
    ended: Option<Ended>,
    /// A plain file, to check after each piece that it still holds the planned content.
    content: Option<std::fs::File>,
}

impl Reading {
    /// The next event waiting (with its texts still the reader's).
    fn front(&self) -> Option<&ReadEvent> {
        self.events.get(self.at)
    }

    /// Takes the next event waiting, its texts mapped onto the scan's `symbols`.
    fn pop(&mut self, symbols: &mut Symbols) -> Option<(EventKey, Event)> {
        let e = self.events.get(self.at)?;
        self.at += 1;
        let mut event = e.event;
        self.texts.map(&mut event, symbols);
        Some((EventKey { source: self.plan.source.id, offset: e.offset }, event))
    }
}

/// A reader's texts, by the reader's symbol, and the scan's symbol of each.
#[derive(Default)]
struct ReaderTexts {
    /// The scan's symbol of each text ([`UNMAPPED`] after the scan started a new table)...
    remap: Vec<Sym>,
    /// ...and the text, to map it again.
    texts: Vec<Arc<str>>,
}

impl ReaderTexts {
    /// Takes the texts a reader's piece first used (`new_table`: its reader started a new
    /// table with them), mapped onto the scan's `symbols`.
    fn learn(&mut self, texts: Vec<Arc<str>>, new_table: bool, symbols: &mut Symbols) {
        if new_table {
            self.remap.clear();
            self.texts.clear();
        }
        self.remap.extend(texts.iter().map(|t| symbols.text(t)));
        self.texts.extend(texts);
    }

    /// Maps `event`'s texts from the reader's symbols onto the scan's.
    fn map(&mut self, event: &mut Event, symbols: &mut Symbols) {
        let (remap, texts) = (&mut self.remap, &self.texts);
        event.map_syms(|s| match remap.get_mut(s as usize) {
            Some(m) if *m == UNMAPPED => {
                *m = texts.get(s as usize).map_or(s, |t| symbols.text(t));
                *m
            }
            Some(m) => *m,
            None => s,
        });
    }

    /// Forgets the scan's symbols (it started a new table): texts are mapped again as they
    /// come.
    fn forget(&mut self) {
        self.remap.fill(UNMAPPED);
    }
}

/// A byte progress bar on stderr when it is a terminal and not under systemd.
fn progress_bar(wanted: bool, total: u64) -> indicatif::ProgressBar {
    let under_systemd = std::env::var_os("INVOCATION_ID").is_some() || std::env::var_os("JOURNAL_STREAM").is_some();
    if !wanted || under_systemd || !std::io::stderr().is_terminal() || total < (16 << 20) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// What the correlator's limits cost since `told`: said once per scan or pass, with the counts.
fn limits_notice(now: &Limits, told: &Limits) -> String {
    use crate::text::thousands;
    let (records, early, sessions, session_events) = (
        now.records_shed.saturating_sub(told.records_shed),
        now.released_early.saturating_sub(told.released_early),
        now.sessions_shed.saturating_sub(told.sessions_shed),
        now.session_events_early.saturating_sub(told.session_events_early),
    );
    format!(
        "a burst reached the correlator's limits (at most {} attempt records, {} of them Dovecot session events \
         waiting for their login line, and {} Dovecot sessions held; README, \"Resource bounds\"): {} session \
         events stored before their login line came (with the auth process's service), {} records let go before \
         their horizon, {} held-back events stored before their partner line could come, {} Dovecot sessions \
         forgotten. Nothing was lost, but an attempt that several daemons logged may have been counted more than \
         once",
        thousands(MAX_RECORDS as u64),
        thousands(MAX_SESSION_EVENTS as u64),
        thousands(MAX_SESSIONS as u64),
        thousands(session_events),
        thousands(records),
        thousands(early),
        thousands(sessions),
    )
}
