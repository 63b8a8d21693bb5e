//! The `scan` command: read every log, detect events, store each exactly once.
//!
//! Each file is read on threads of its own (`reader`: one reads and prefilters, one parses;
//! archives are decompressed ahead of them on another, [`crate::source::readahead`]); the scan
//! thread correlates the events of all logs in time order; the store thread commits batches to
//! the store and the CSV, with a checkpoint thread beside it (`writer`). A batch carries the
//! events found in a stretch of a file and the checkpoint just after it, so the store's
//! checkpoints never run ahead of its events.

mod copies;
mod plan;
mod reader;
mod writer;

use std::collections::{HashMap, VecDeque};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;

use crate::config::ScanConfig;
use crate::correlate::Correlator;
use crate::enrich::{EnrichOptions, Enricher};
use crate::model::event::{Event, EventKey};
use crate::model::symbols::{Sym, Symbols};
use crate::parse::time::{TimeResolver, YearState};
use crate::source::discover::rotated_family;
use crate::source::lines::{LineReader, Lines};
use crate::source::mapped::{MappedLines, Shrank};
use crate::source::open::{self, Compression};
use crate::source::readahead::ReadAhead;
use crate::store::csv::{IntrusionCsv, RowFormatter};
use crate::store::lock::{DataDirLock, LockError};
use crate::store::{Added, Batch, CommitError, Progress, STORE_FILE, Store, StoreError};

use self::copies::Copies;
use self::plan::{FilePlan, PlanError, Skip, plan_file};
use self::reader::{FileReader, Piece, Position, ReadEvent, Setup};
use self::writer::Writer;

/// Where the CSV lives inside the data directory.
pub const CSV_PATH: &str = "reports/intrusions.csv";

/// Events go to the store in batches of this many, which it stores as they come...
const BATCH_EVENTS: usize = 16_384;
/// ...and commits, with every file's progress, once this many were sent since the last commit,
/// or this many bytes were read, or a file ends. Each commit waits for the CSV to reach the disk,
/// which takes milliseconds, and more when the disk is busy: a first scan of a 1 GB log commits
/// a dozen times rather than fifty.
const COMMIT_EVENTS: usize = 65_536;
/// See [`COMMIT_EVENTS`].
const COMMIT_BYTES: u64 = 256 << 20;
/// At most this many problems of one kind per file are listed; the rest are counted.
const PROBLEMS_PER_FILE: usize = 5;

/// What to scan and how.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Logs to scan (each with its rotated family).
    pub logs: Vec<PathBuf>,
    /// Where the store and the CSV live.
    pub data_dir: PathBuf,
    /// Year of the newest year-less timestamp, if given.
    pub year: Option<i16>,
    /// Zone of zone-less timestamps and of the CSV.
    pub timezone: TimeZone,
    /// Server name for lines without a host.
    pub server_name: String,
    /// Forget checkpoints and read everything again.
    pub full: bool,
    /// Show a progress bar (only honoured on a terminal).
    pub progress: bool,
    /// `[scan]` settings.
    pub scan: ScanConfig,
    /// Reverse DNS and geolocation (`--no-dns`, `--no-geo` and `[dns]`/`[geo]` applied).
    pub enrich: EnrichOptions,
}

/// Something that went wrong with one file or line; the scan went on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// The line, when the problem is one line.
    pub line: Option<u64>,
    /// What happened, what was kept, and what to do.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// What a scan did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Files read (in part or whole).
    pub files: usize,
    /// Files skipped because nothing new could be in them.
    pub unchanged: usize,
    /// Complete lines read.
    pub lines: u64,
    /// Bytes of content read.
    pub bytes: u64,
    /// What was newly stored.
    pub added: Added,
    /// Wall time.
    pub elapsed: Duration,
    /// Per-file problems (the scan finished, but not everything could be read).
    pub problems: Vec<Problem>,
    /// Things repaired or worth knowing (not errors).
    pub notices: Vec<String>,
    /// Failure lines held back because their partner line (the same attempt logged by another
    /// daemon) may still be written; the next scan stores them.
    pub held_back: usize,
    /// Degraded but finished: e.g. no geolocation database, DNS unusable (exit code unchanged).
    pub warnings: Vec<String>,
}

/// Problems that stop the whole scan. Everything committed before stays committed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Another scan holds the data directory.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// The data directory cannot be created or used.
    #[error("data directory {path}: {source}; create it or fix its permissions (or pass --data-dir)", path = path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store cannot be opened or written (disk full, I/O error, permissions): the scan
    /// stopped there.
    #[error("store {path}: {source}; {NOT_RECORDED}{}", store_advice(source), path = path.display())]
    Store {
        /// The store file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
    /// The CSV rows of a batch could not be written: the scan stopped there.
    #[error("{0}; {NOT_RECORDED} (free disk space or fix permissions, then re-run)")]
    Commit(CommitError),
}

/// What a scan stopped by an error leaves.
const NOT_RECORDED: &str = "nothing after the last commit was recorded, the next scan reads it again";

/// What to do about a store error, for the errors a mail admin can fix.
fn store_advice(e: &StoreError) -> &'static str {
    use rusqlite::ErrorCode;
    let StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) = e else { return "" };
    match e.code {
        ErrorCode::DiskFull => " (the disk is full: free space on it, then re-run)",
        // SQLite reports a failed write (ENOSPC included) as an I/O error.
        ErrorCode::SystemIoFailure => {
            " (a read or write failed, most often because the disk is full: check free space with `df` \
             and the kernel log, then re-run)"
        }
        ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen => {
            " (check that the user running the scan may write the data directory and its files, then re-run)"
        }
        _ => "",
    }
}

/// Runs a scan.
pub fn run(opts: &ScanOptions) -> Result<Summary, ScanError> {
    let started = Instant::now();
    let dir = &opts.data_dir;
    std::fs::create_dir_all(dir).map_err(|source| ScanError::DataDir { path: dir.clone(), source })?;
    let _lock = DataDirLock::acquire(dir)?;
    let store_path = dir.join(STORE_FILE);
    let store_err = |source| ScanError::Store { path: store_path.clone(), source };
    let store = Store::open(&store_path).map_err(store_err)?;
    if opts.full {
        store.forget_checkpoints().map_err(store_err)?;
    }
    let mut summary = Summary::default();
    let csv_path = dir.join(CSV_PATH);
    let (csv, notices) = IntrusionCsv::open(&csv_path, store.csv_len().map_err(store_err)?)
        .map_err(|source| ScanError::DataDir { path: csv_path.clone(), source })?;
    summary.notices.extend(notices);
    store.set_csv_len(csv.len()).map_err(store_err)?;

    // One stream of files per log: its rotated family, oldest first.
    let mut streams = Vec::new();
    for family in family_paths(&opts.logs, &mut summary.problems) {
        let mut plans = VecDeque::new();
        for path in family {
            match plan_file(&store, &path, opts.year, &opts.timezone) {
                Ok(Ok(plan)) => plans.push_back(plan),
                Ok(Err(Skip::Empty | Skip::AlreadyRead)) => summary.unchanged += 1,
                Err(PlanError::Io { path, source }) => {
                    summary.problems.push(Problem { path, line: None, message: cannot_read(&source) })
                }
                Err(PlanError::Store(source)) => return Err(store_err(source)),
            }
        }
        streams.push(plans);
    }
    let mut symbols = Symbols::new();
    let mut correlator = match store.correlator_state().map_err(store_err)? {
        Some(state) => Correlator::restore(&state, &mut symbols).unwrap_or_else(|e| {
            summary.notices.push(format!("saved correlation state unreadable ({e}); starting afresh"));
            Correlator::new()
        }),
        None => Correlator::new(),
    };
    correlator.set_window(jiff::SignedDuration::from_secs(i64::from(opts.scan.correlation_window_secs)));
    let (enricher, warnings) = open_enricher(&opts.enrich, &store);
    summary.warnings.extend(warnings);
    let enricher = Arc::new(enricher);
    let writer = Writer::start(
        store,
        &store_path,
        csv,
        RowFormatter::new(opts.timezone.clone()),
        opts.scan.invalid_mechanism_is_intrusion,
        Arc::clone(&enricher),
    )
    .map_err(|source| ScanError::DataDir { path: dir.clone(), source })?;
    let mut scanner = Scanner::new(opts, correlator, symbols, writer, &streams, enricher);
    let deferred = scanner.scan_streams(streams, &mut summary);
    if !deferred.is_empty() {
        scanner.scan_streams(vec![deferred], &mut summary);
    }
    let (added, store) = scanner.finish(&mut summary).map_err(|e| match e {
        CommitError::Store(source) => store_err(source),
        csv => ScanError::Commit(csv),
    })?;
    store.record_scan(summary.problems.len() as u64).map_err(store_err)?;
    summary.added = added;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Counts one more skipped line of a kind: true while it is among the first
/// [`PROBLEMS_PER_FILE`] of its file, which are listed one by one (the rest are counted).
fn listed(count: &mut usize) -> bool {
    *count += 1;
    *count <= PROBLEMS_PER_FILE
}

/// The problem of a log that cannot be opened or read, with what to do about it.
fn cannot_read(e: &std::io::Error) -> String {
    let hint = match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            " (run as root, or as a member of the group that may read the logs: adm on Debian and Ubuntu)"
        }
        _ => "",
    };
    format!("cannot read: {e}; this file was skipped, the others were scanned{hint}")
}

/// The problem of a log that is not there, nor any rotated copy of it. Where journald runs, the
/// likely cause is a system without rsyslog (Debian 12 and later install none by default), on
/// which Postfix and Dovecot log to the journal only.
fn no_such_log(journald: bool) -> String {
    let mut message = "no such log file (nor rotated copies of it); check --log or `logs` in the config".to_string();
    if journald {
        message.push_str(
            ". Without rsyslog (Debian 12 and later install none by default) mail daemons log to the systemd \
             journal only: install rsyslog so that /var/log/mail.log is written",
        );
    }
    message
}

/// Every log's family (oldest file first), each path once; missing logs become problems.
fn family_paths(logs: &[PathBuf], problems: &mut Vec<Problem>) -> Vec<Vec<PathBuf>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let missing = || no_such_log(Path::new("/run/systemd/journal").is_dir());
    for log in logs {
        match rotated_family(log) {
            Ok(family) if family.is_empty() => {
                problems.push(Problem { path: log.clone(), line: None, message: missing() })
            }
            Ok(family) => {
                if !log.exists() {
                    problems.push(Problem {
                        path: log.clone(),
                        line: None,
                        message: "missing (its rotated copies were scanned); check --log or `logs` in the config"
                            .into(),
                    });
                }
                let mut paths = Vec::new();
                for path in family {
                    let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                    if seen.insert(key) {
                        paths.push(path);
                    }
                }
                out.push(paths);
            }
            Err(e) => problems.push(Problem {
                path: log.clone(),
                line: None,
                message: match e.kind() {
                    std::io::ErrorKind::NotFound => missing(),
                    _ => format!("cannot list its directory: {e}; check its permissions"),
                },
            }),
        }
    }
    out
}

/// The parsing side of a scan.
struct Scanner<'a> {
    opts: &'a ScanOptions,
    correlator: Correlator,
    /// The texts of every event of this scan.
    symbols: Symbols,
    /// How many of `symbols` the writer has been sent.
    symbols_sent: usize,
    writer: Writer,
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
    /// Reverse lookups start as soon as an attacker's line is parsed.
    enricher: Arc<Enricher>,
}

impl<'a> Scanner<'a> {
    fn new(
        opts: &'a ScanOptions,
        correlator: Correlator,
        symbols: Symbols,
        writer: Writer,
        streams: &[VecDeque<FilePlan>],
        enricher: Arc<Enricher>,
    ) -> Scanner<'a> {
        let total: u64 = streams.iter().flatten().map(|p| p.size.saturating_sub(p.source.offset)).sum();
        Scanner {
            opts,
            correlator,
            symbols,
            symbols_sent: 0,
            writer,
            batch: Batch::default(),
            batch_bytes: 0,
            sent: 0,
            reached: HashMap::new(),
            bar: progress_bar(opts.progress, total),
            stopped: false,
            enricher,
        }
    }

    /// Reads the streams side by side: the events of all of them reach the correlator in time
    /// order, so that the lines one attempt left in different logs (Postfix in `mail.log`,
    /// Dovecot in its own file) are joined as if they were in one, and lines that two logs both
    /// hold (rsyslog's `mail.warn` beside `mail.log`) count once ([`copies`]). Each stream's
    /// files are read one after the other. Returns the plans put off because another stream was
    /// reading the same content at the time (a copy under another name).
    fn scan_streams(&mut self, mut streams: Vec<VecDeque<FilePlan>>, summary: &mut Summary) -> VecDeque<FilePlan> {
        let mut readings: Vec<Option<Reading>> = streams.iter().map(|_| None).collect();
        let mut deferred = VecDeque::new();
        let mut copies = (streams.len() > 1).then(|| Copies::new(streams.len()));
        let names: Vec<PathBuf> =
            streams.iter().map(|s| s.back().map(|p| p.path.clone()).unwrap_or_default()).collect();
        'streams: while !self.stopped {
            // Every stream gets an event waiting, or runs out of files.
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
                            }
                            if self.stopped {
                                break 'streams;
                            }
                            continue;
                        }
                    }
                    if let Some(done) = readings[i].take() {
                        self.end_file(done, summary);
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
            let Some((key, event)) = readings[i].as_mut().and_then(Reading::pop) else { break };
            let event = match &mut copies {
                Some(copies) => match copies.take(i, event) {
                    Some(event) => event,
                    None => continue,
                },
                None => event,
            };
            self.correlator.push(key, event, &mut self.batch.outputs);
            if self.batch.outputs.len() >= BATCH_EVENTS {
                if self.sent + self.batch.outputs.len() >= COMMIT_EVENTS {
                    self.flush_readings(&readings);
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

    /// Opens a planned file where its reading resumes; `None` when there is nothing to read.
    fn open_file(&mut self, mut plan: FilePlan, summary: &mut Summary) -> Option<Reading> {
        let problem = |message| Problem { path: plan.path.clone(), line: None, message };
        let source = &mut plan.source;
        if let Some(&(offset, lines, year)) = self.reached.get(&source.id)
            && offset > source.offset
        {
            (source.offset, source.lines, source.year) = (offset, lines, year);
        }
        let opened = match open::open_at(&plan.path, source.offset) {
            Ok(o) => o,
            Err(e) => {
                summary.problems.push(problem(cannot_read(&e)));
                return None;
            }
        };
        if opened.position < source.offset {
            // Content shorter than what was read before: a truncated copy of a file already read.
            source.complete |= opened.compression.is_compressed();
            source.size = plan.size;
            self.checkpoint(&plan.source, &plan.path);
            summary.unchanged += 1;
            return None;
        }
        let year = match (source.offset, source.year) {
            (o, Some(y)) if o > 0 => y,
            // Planning infers the years of every file it does not plan to resume; a resumed file
            // always has its saved state, so the last fallback is never reached in practice.
            _ => plan.fresh_year.or(source.year).unwrap_or_else(|| {
                let now = jiff::Timestamp::now().to_zoned_datetime(self.opts.timezone.clone());
                YearState { year: now.year(), month: now.month() }
            }),
        };
        let compression = opened.compression;
        // Archives are decoded on a thread of their own, beside parsing and storing; plain files
        // are mapped (searched in the page cache, not copied out of it) when they can be.
        let lines = if compression.is_compressed() {
            match ReadAhead::new(opened.reader) {
                Ok(r) => Lines::Read(LineReader::new(Box::new(r), source.offset)),
                Err(e) => {
                    summary.problems.push(problem(format!(
                        "cannot start a thread to decompress it: {e}; skipped, other files were scanned"
                    )));
                    return None;
                }
            }
        } else {
            let mapped = opened.plain.filter(|_| opened.meta.len() > source.offset);
            match mapped.map(|file| MappedLines::new(file, source.offset)) {
                Some(Ok(mapped)) => Lines::Mapped(mapped),
                not_mapped => {
                    if let Some(Err(e)) = not_mapped {
                        tracing::debug!("{}: read instead of mapped: {e}", plan.path.display());
                    }
                    Lines::Read(LineReader::new(opened.reader, source.offset))
                }
            }
        };
        self.bar.set_message(plan.path.display().to_string());
        let reader = FileReader::start(Setup {
            path: plan.path.clone(),
            lines,
            start: Position { offset: source.offset, lines: source.lines, year },
            times: TimeResolver::new(self.opts.timezone.clone(), year),
            server_name: self.opts.server_name.clone(),
            enricher: Arc::clone(&self.enricher),
        });
        let reader = match reader {
            Ok(r) => r,
            Err(e) => {
                summary
                    .problems
                    .push(problem(format!("cannot start a thread to read it: {e}; skipped, other files were scanned")));
                return None;
            }
        };
        Some(Reading {
            reader,
            compression,
            start_offset: source.offset,
            remap: Vec::new(),
            events: Vec::new(),
            at: 0,
            ended: None,
            plan,
        })
    }

    /// Takes `r`'s next piece, whose events replace those of the last one (all taken by now).
    fn read_chunk(&mut self, r: &mut Reading, summary: &mut Summary) {
        let (bytes, lines, end, events, texts, problems) = match r.reader.next() {
            Some(Piece::Chunk { bytes, lines, end, events, texts, problems }) => {
                (bytes, lines, end, events, texts, problems)
            }
            Some(Piece::End { failed, partial_len, bad_times, untimed }) => {
                r.ended = Some(Ended { failed, partial_len, bad_times, untimed });
                return;
            }
            None => {
                let failed = std::io::Error::other("its reading thread stopped unexpectedly");
                r.ended = Some(Ended { failed: Some(failed), ..Ended::default() });
                return;
            }
        };
        summary.problems.extend(problems);
        r.remap.extend(texts.iter().map(|t| self.symbols.text(t)));
        let taken = std::mem::replace(&mut r.events, events);
        r.at = 0;
        r.reader.give_back(taken);
        let source = &mut r.plan.source;
        (source.offset, source.lines, source.year) = (end.offset, end.lines, Some(end.year));
        summary.lines += lines;
        summary.bytes += bytes;
        self.bar.inc(bytes);
        self.batch_bytes += bytes;
    }

    /// Wraps up a file that was read to its end (or to a read error) and whose events were all
    /// given to the correlator.
    fn end_file(&mut self, r: Reading, summary: &mut Summary) {
        let Reading { mut plan, compression, start_offset, ended, .. } = r;
        let Ended { failed, partial_len, bad_times, untimed } = ended.unwrap_or_default();
        let problem = |line, message| Problem { path: plan.path.clone(), line, message };
        let source = &mut plan.source;
        for (n, what) in
            [(bad_times, "lines with impossible dates"), (untimed, "authentication events without a timestamp")]
        {
            if n > PROBLEMS_PER_FILE {
                summary.problems.push(problem(None, format!("{} more {what} were skipped", n - PROBLEMS_PER_FILE)));
            }
        }
        match failed {
            None => source.complete = compression.is_compressed(),
            Some(e) if Shrank::is(&e) => summary.notices.push(format!(
                "{}: the file was truncated while it was read (logrotate copytruncate?): scanned up to line {}; \
                 the next scan goes on from there in its rotated copy, and reads the new content",
                plan.path.display(),
                source.lines
            )),
            Some(e) => {
                let kind = if compression.is_compressed() {
                    format!("{} archive is truncated or corrupt", compression.name())
                } else {
                    "read error".to_string()
                };
                summary.problems.push(problem(
                    Some(source.lines + 1),
                    format!(
                        "{kind} ({e}): the {} lines before this point were scanned and kept; the rest of this \
                         file cannot be read (restore it from a backup, or ignore this if it is an old archive)",
                        source.lines
                    ),
                ));
                // Do not retry a broken archive every run; a replaced file (new size) is read again.
                source.complete = compression.is_compressed();
            }
        }
        if partial_len > 0 && compression.is_compressed() {
            summary.notices.push(format!(
                "{}: the archive ends in the middle of a line; that last line was not read",
                plan.path.display()
            ));
        }
        source.size = plan.size;
        if source.offset > start_offset {
            summary.files += 1;
        } else {
            summary.unchanged += 1;
        }
        self.reached.insert(source.id, (source.offset, source.lines, source.year));
        self.checkpoint(&plan.source, &plan.path);
        self.flush();
    }

    /// Sends the current batch with every open file's progress: up to its first event still
    /// waiting, whose line is read again after a restart.
    fn flush_readings(&mut self, readings: &[Option<Reading>]) {
        for r in readings.iter().flatten() {
            let mut source = r.plan.source.clone();
            if let Some(e) = r.front() {
                (source.offset, source.lines, source.year) = (e.offset, e.lines_before, Some(e.year));
            }
            self.checkpoint(&source, &r.plan.path);
        }
        self.flush();
    }

    /// Adds the file's progress to the current batch.
    fn checkpoint(&mut self, source: &crate::store::SourceRecord, path: &Path) {
        self.batch.progress.retain(|p| p.source.id != source.id);
        self.batch.progress.push(Progress { source: source.clone(), path: path.to_string_lossy().into_owned() });
    }

    /// Sends the current batch with the correlator's state, to be committed; sets `stopped` when
    /// the writer has failed.
    fn flush(&mut self) {
        self.batch.correlator = Some(self.correlator.snapshot(&self.symbols));
        self.send(false);
        self.batch_bytes = 0;
        self.sent = 0;
    }

    /// Sends the current batch, to be stored in a transaction left open for the next ones when
    /// `keep_open`; sets `stopped` when the writer has failed.
    fn send(&mut self, keep_open: bool) {
        let next = Batch { outputs: self.writer.buffer(BATCH_EVENTS + BATCH_EVENTS / 4), ..Batch::default() };
        let mut batch = std::mem::replace(&mut self.batch, next);
        batch.keep_open = keep_open;
        batch.symbols_start = self.symbols_sent;
        batch.symbols = self.symbols.since(self.symbols_sent).to_vec();
        self.symbols_sent = self.symbols.len();
        self.sent += batch.outputs.len();
        if !self.writer.send(batch) {
            self.stopped = true;
        }
    }

    /// Releases held-back events that can no longer be joined, commits, and waits for the store.
    fn finish(mut self, summary: &mut Summary) -> Result<(Added, Store), CommitError> {
        if !self.stopped {
            // A partner line is written within seconds; anything older than twice the window
            // before now will not get one.
            let window = i64::from(self.opts.scan.correlation_window_secs);
            let cutoff = jiff::Timestamp::now()
                .checked_sub(jiff::SignedDuration::from_secs(2 * window))
                .unwrap_or(jiff::Timestamp::MIN);
            self.correlator.flush_before(cutoff, &mut self.batch.outputs);
            summary.held_back = self.correlator.pending_len();
            self.flush();
        }
        self.bar.finish_and_clear();
        self.writer.finish()
    }
}

/// One file being read.
struct Reading {
    plan: FilePlan,
    reader: FileReader,
    compression: Compression,
    /// Where this scan started reading it.
    start_offset: u64,
    /// The scan's symbol of each of the reader's.
    remap: Vec<Sym>,
    /// The events of the last piece from the reader, in line order: those from `at` on wait for
    /// the other logs to catch up.
    events: Vec<ReadEvent>,
    at: usize,
    /// Set once no complete line is left (or reading failed).
    ended: Option<Ended>,
}

/// How the reading of a file ended.
#[derive(Debug, Default)]
struct Ended {
    failed: Option<std::io::Error>,
    /// Bytes after the last complete line.
    partial_len: usize,
    /// Events skipped because their timestamp names no real date...
    bad_times: usize,
    /// ...or because they have none.
    untimed: usize,
}

impl Reading {
    /// The next event waiting (with its texts still the reader's).
    fn front(&self) -> Option<&ReadEvent> {
        self.events.get(self.at)
    }

    /// Takes the next event waiting, its texts mapped onto the scan's.
    fn pop(&mut self) -> Option<(EventKey, Event)> {
        let e = self.events.get(self.at)?;
        self.at += 1;
        let mut event = e.event;
        event.map_syms(|s| self.remap.get(s as usize).copied().unwrap_or(s));
        Some((EventKey { source: self.plan.source.id, offset: e.offset }, event))
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

/// The enricher of a scan, given the reverse DNS answers the store still holds fresh. A cache
/// that cannot be read turns reverse DNS off for this scan, with a warning.
fn open_enricher(opts: &EnrichOptions, store: &Store) -> (Enricher, Vec<String>) {
    if opts.dns.is_none() {
        return Enricher::new(opts, Vec::new());
    }
    let since = jiff::Timestamp::now().as_second() - i64::try_from(opts.cache_ttl_secs).unwrap_or(i64::MAX);
    match store.dns_cache(since) {
        Ok(cached) => Enricher::new(opts, cached),
        Err(e) => {
            let (enricher, mut warnings) = Enricher::new(&EnrichOptions { dns: None, ..opts.clone() }, Vec::new());
            warnings.push(format!("reverse DNS disabled for this scan: cannot read the DNS cache: {e}"));
            (enricher, warnings)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::{cannot_read, no_such_log};

    #[test]
    fn a_log_the_user_may_not_read_says_how_to_get_access() {
        let denied = cannot_read(&Error::from(ErrorKind::PermissionDenied));
        assert!(denied.starts_with("cannot read: permission denied; this file was skipped"), "{denied}");
        assert!(denied.contains("adm on Debian"), "{denied}");
        let other = cannot_read(&Error::from(ErrorKind::InvalidData));
        assert!(!other.contains("adm"), "{other}");
    }

    #[test]
    fn a_missing_log_on_a_journald_system_points_to_rsyslog() {
        assert!(!no_such_log(false).contains("rsyslog"));
        let with_journald = no_such_log(true);
        assert!(with_journald.starts_with("no such log file") && with_journald.contains("install rsyslog"));
    }
}
