//! The `scan` command: read every log, detect events, store each exactly once.
//!
//! Each file is read on threads of its own (`reader`: one reads and prefilters, one parses;
//! archives are decompressed ahead of them on another, [`crate::source::readahead`]); the scan
//! thread correlates the events of all logs in time order; the store thread commits batches to
//! the store and the CSV, with a checkpoint thread beside it (`writer`). A batch carries the
//! events found in a stretch of a file and the checkpoint just after it, so the store's
//! checkpoints never run ahead of its events.
//!
//! This module wires the stages together (source → parse → correlate → enrich → store): it may
//! use any of them, and none of them uses it, so that each stage can be tested and changed on
//! its own. `plan` finds each log's files and where their reading resumes; `reader` reads and
//! parses one file; `merge` is the loop on the scan thread that hands the events of all logs to
//! the correlator in time order, with `copies` setting aside the lines that two logs both hold;
//! `writer` stores the outputs; `problems` words what went wrong and what to do about it.

mod copies;
mod journal;
mod merge;
mod plan;
mod problems;
mod reader;
mod writer;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;

use crate::config::ScanConfig;
use crate::correlate::Correlator;
use crate::enrich::{EnrichOptions, Enricher};
use crate::model::symbols::Symbols;
use crate::source::journal::{JournalError, JournalQuery};
use crate::store::csv::{IntrusionCsv, RowFormatter};
use crate::store::lock::{DataDirLock, LockError};
use crate::store::{Added, CommitError, STORE_FILE, Store, StoreError};

pub use self::problems::Problem;

use self::merge::Scanner;
use self::plan::{PlanError, Skip, YearHint, family_paths, plan_file};
use self::problems::{NOT_RECORDED, cannot_read, store_advice};
use self::writer::Writer;

/// Where the CSV lives inside the data directory.
pub const CSV_PATH: &str = "reports/intrusions.csv";

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
    /// The systemd journal to read beside the logs, if any.
    pub journal: Option<JournalQuery>,
}

/// What a scan did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Files read (in part or whole).
    pub files: usize,
    /// Files skipped because nothing new could be in them.
    pub unchanged: usize,
    /// Complete lines read (with the mail daemons' journal entries).
    pub lines: u64,
    /// The mail daemons' journal entries read, when a journal was read.
    pub journal_entries: Option<u64>,
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
    /// The journal cannot be read (no permission, no journalctl): nothing was read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The CSV rows of a batch could not be written: the scan stopped there.
    #[error("{0}; {NOT_RECORDED} (free disk space or fix permissions, then re-run)")]
    Commit(CommitError),
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

    // One stream of files per log, its rotated family oldest first: the merge loop reads the
    // streams side by side, each in time order.
    let mut streams = Vec::new();
    for family in family_paths(&opts.logs, &mut summary.problems) {
        let mut plans = VecDeque::new();
        // Newest first, so that `--year` is carried from each file to the one before it.
        let mut year = opts.year.map(YearHint::newest);
        for path in family.into_iter().rev() {
            match plan_file(&store, &path, year, &opts.timezone) {
                Ok(Ok(plan)) => {
                    year = plan.older.or(year);
                    plans.push_front(plan)
                }
                Ok(Err(Skip::Empty | Skip::AlreadyRead)) => summary.unchanged += 1,
                Err(PlanError::Io { path, source }) => {
                    summary.problems.push(Problem { path, line: None, message: cannot_read(&source) })
                }
                Err(PlanError::Store(source)) => return Err(store_err(source)),
            }
        }
        streams.push(plans);
    }
    // Started before anything is stored: a journal that cannot be read stops the scan.
    let journal = match &opts.journal {
        Some(query) => match self::journal::start_journal(&store, query, opts.full, &mut summary) {
            Ok(start) => Some(start),
            Err(self::journal::StartError::Store(source)) => return Err(store_err(source)),
            Err(self::journal::StartError::Journal(e)) => return Err(ScanError::Journal(e)),
        },
        None => None,
    };
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
    summary.warnings.extend(geo_missing_news(&enricher, &store));
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
    let deferred = scanner.scan_streams(streams, journal, &mut summary);
    if !deferred.is_empty() {
        scanner.scan_streams(vec![deferred], None, &mut summary);
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

/// The "no geolocation database" hint when it is news: a scan run every hour by a timer says it
/// once, and again only after a database was found in between. The store remembers what was
/// said (and reports show it); a store that cannot remember lets it be said every time.
fn geo_missing_news(enricher: &Enricher, store: &Store) -> Option<String> {
    use crate::store::meta::GEO_MISSING;
    match enricher.geo_missing() {
        Some(hint) => store.note_once(GEO_MISSING).unwrap_or(true).then(|| hint.to_string()),
        None => {
            // A database is open, or geolocation is off: nothing is missing.
            let _ = store.forget_note(GEO_MISSING);
            None
        }
    }
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
