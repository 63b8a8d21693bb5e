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

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;

use crate::config::{FleetConfig, ScanConfig};
use crate::correlate::Correlator;
use crate::deliver::outbox::Channels;
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
use self::writer::Sink;

/// Texts a table of texts (each reading thread's, and the scan's) holds before it starts a new
/// one: user names are the attacker's, and one who tries a new one with every attempt would
/// otherwise grow them for the whole scan, by about 200 bytes a name. A reading thread starts
/// again before a piece, the scan after a commit (`Scanner::maybe_new_table`).
const MAX_TEXTS: usize = 1 << 14;

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
    /// The Prometheus textfile to rewrite after every pass, if any (`[metrics] textfile`).
    pub metrics: Option<PathBuf>,
    /// The alert rules and their channels (`[alerts]`, with `[email]` for email channels);
    /// without rules, nothing is evaluated.
    pub alerts: Arc<Channels>,
    /// `[fleet]`: with a URL, `scan` ships its events at its end (`watch` on its own thread).
    pub fleet: FleetConfig,
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
    /// Alert messages queued by this scan or pass (one per alert and channel).
    pub alerts_queued: u64,
    /// What the deliveries of a `scan` did (`watch` delivers on a thread of its own).
    pub delivered: Option<crate::deliver::outbox::Round>,
    /// What a `scan` shipped to the fleet database (`watch` ships on a thread of its own).
    pub shipped: Option<crate::fleet::Shipped>,
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
    let mut summary = Summary::default();
    let mut session = Session::open(opts.clone(), None, &mut summary)?;
    session.pass(&mut summary)?;
    session.deliver(&mut summary);
    session.ship(&mut summary);
    // Once, after the shipment: written after the pass, its backlog would be the pass's events.
    session.write_metrics(&mut summary);
    session.close(&summary)?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// A scan kept open: the data directory locked, the store and CSV open, the correlator's state in
/// memory. `scan` makes one pass over the logs; `watch` makes one each time they change.
pub struct Session {
    opts: Arc<ScanOptions>,
    _lock: DataDirLock,
    store_path: PathBuf,
    /// The store and the CSV, between two passes.
    sink: Option<Sink>,
    scanner: Scanner,
    /// With `watch`: each file's metadata when it was last planned, so that a pass skips the files
    /// that did not change without reading them.
    seen: Option<HashMap<PathBuf, Seen>>,
    /// With `watch`: what the journal's files looked like when it was last read.
    journal_seen: Option<u64>,
}

/// What a file looked like when it was planned: unchanged, it holds nothing new.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct Seen {
    dev: u64,
    ino: u64,
    size: u64,
    modified: Option<std::time::SystemTime>,
}

impl Seen {
    fn of(meta: &std::fs::Metadata) -> Seen {
        use std::os::unix::fs::MetadataExt;
        Seen { dev: meta.dev(), ino: meta.ino(), size: meta.len(), modified: meta.modified().ok() }
    }
}

impl Session {
    /// Locks the data directory and opens the store and the CSV; notices and warnings go to
    /// `summary`. `interrupt`, once set, ends a pass early (what was read is committed).
    pub fn open(
        opts: ScanOptions,
        interrupt: Option<Arc<AtomicBool>>,
        summary: &mut Summary,
    ) -> Result<Session, ScanError> {
        let dir = &opts.data_dir;
        crate::store::files::create_dir_all(dir).map_err(|source| ScanError::DataDir { path: dir.clone(), source })?;
        let lock = DataDirLock::acquire(dir)?;
        let store_path = dir.join(STORE_FILE);
        let store_err = |source| ScanError::Store { path: store_path.clone(), source };
        let mut store = Store::open(&store_path).map_err(store_err)?;
        if opts.full {
            store.forget_checkpoints().map_err(store_err)?;
        }
        let csv_path = dir.join(CSV_PATH);
        let (csv, notices) = IntrusionCsv::open(&csv_path, store.csv_len().map_err(store_err)?)
            .map_err(|source| ScanError::DataDir { path: csv_path.clone(), source })?;
        summary.notices.extend(notices);
        store.set_csv_len(csv.len()).map_err(store_err)?;
        let mut symbols = Symbols::new();
        let restored = match store.correlator_state() {
            Ok(None) => Ok(Correlator::new()),
            Ok(Some(saved)) => Correlator::restore(&saved, &mut symbols).map_err(|e| e.to_string()),
            // Like a piece it cannot decode, a row the store cannot read costs only the joins with
            // lines of the last scan.
            Err(StoreError::Corrupt(e)) => Err(e),
            Err(e) => return Err(store_err(e)),
        };
        let mut correlator = restored.unwrap_or_else(|e| {
            summary.notices.push(format!("saved correlation state unreadable ({e}); starting afresh"));
            Correlator::new()
        });
        correlator.set_window(jiff::SignedDuration::from_secs(i64::from(opts.scan.correlation_window_secs)));
        let (enricher, warnings) = open_enricher(&opts.enrich, &store);
        summary.warnings.extend(warnings);
        summary.warnings.extend(geo_missing_news(&enricher, &store));
        let rows = RowFormatter::new(opts.timezone.clone());
        let alerts = if opts.alerts.alerts.enabled() {
            let now = jiff::Timestamp::now().as_second();
            let probes = opts.scan.invalid_mechanism_is_intrusion;
            store.keep_stored(true);
            Some(
                crate::alert::Engine::open(&opts.alerts.alerts, &opts.server_name, probes, &store, now)
                    .map_err(store_err)?,
            )
        } else {
            None
        };
        let opts = Arc::new(opts);
        let scanner = Scanner::new(Arc::clone(&opts), correlator, symbols, Arc::new(enricher), interrupt);
        Ok(Session {
            opts,
            _lock: lock,
            store_path,
            sink: Some(Sink { store, csv, rows, alerts }),
            scanner,
            seen: None,
            journal_seen: None,
        })
    }

    /// From now on, a pass skips the files whose size, inode and modification time did not change
    /// since it last planned them (for `watch`, which makes a pass whenever a log changes).
    pub fn skip_unchanged(&mut self) {
        self.seen.get_or_insert_with(HashMap::new);
    }

    /// Whether the journal may hold new entries: always for `scan`; for `watch`, when the size or
    /// modification time of one of its files changed since it was last read (journald sets the
    /// size of a file it wrote to again, so that readers' inotify sees the change: this is what
    /// `journalctl -f` waits for too). Saves `journalctl` runs on a quiet server.
    fn journal_changed(&mut self) -> bool {
        let Some(query) = &self.opts.journal else { return false };
        if self.seen.is_none() {
            return true;
        }
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for dir in crate::source::journal::journal_dirs(query) {
            let Ok(list) = std::fs::read_dir(&dir) else { continue };
            let mut files: Vec<(std::ffi::OsString, Option<Seen>)> =
                list.flatten().map(|e| (e.file_name(), e.metadata().ok().map(|m| Seen::of(&m)))).collect();
            files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            (dir, files).hash(&mut hasher);
        }
        let now = hasher.finish();
        self.journal_seen.replace(now) != Some(now)
    }

    /// Reads what is new in the logs, correlates it and commits it; adds to `summary` what it did.
    pub fn pass(&mut self, summary: &mut Summary) -> Result<(), ScanError> {
        let store_path = self.store_path.clone();
        let store_err = |source| ScanError::Store { path: store_path.clone(), source };
        let Some(sink) = self.sink.take() else {
            return Err(store_err(StoreError::Unusable("an earlier commit failed; start again".into())));
        };
        // One stream of files per log, its rotated family oldest first: the merge loop reads the
        // streams side by side, each in time order.
        let mut streams = Vec::new();
        let families = family_paths(&self.opts.logs, &mut summary.problems);
        // Every planned file stays open until it is read; room beside them for the store,
        // the CSV and the resolver's first sockets.
        let files: usize = families.iter().map(Vec::len).sum();
        crate::source::limits::raise_open_files(u64::try_from(files).unwrap_or(u64::MAX).saturating_add(256));
        for family in families {
            let mut plans = VecDeque::new();
            // Newest first, so that `--year` is carried from each file to the one before it.
            let mut year = self.opts.year.map(YearHint::newest);
            for path in family.into_iter().rev() {
                let mut skipped = None;
                if let Some(seen) = &mut self.seen {
                    let now = std::fs::metadata(&path).ok().map(|m| Seen::of(&m));
                    if now.is_some() && seen.get(&path) == now.as_ref() {
                        continue;
                    }
                    seen.remove(&path);
                    skipped = now;
                }
                match plan_file(&sink.store, &path, year, &self.opts.timezone) {
                    Ok(Ok(plan)) => {
                        year = plan.older.or(year);
                        plans.push_front(plan)
                    }
                    Ok(Err(Skip::Empty | Skip::AlreadyRead)) => {
                        summary.unchanged += 1;
                        if let (Some(seen), Some(now)) = (&mut self.seen, skipped) {
                            seen.insert(path, now);
                        }
                    }
                    Err(PlanError::Io { path, source }) => {
                        summary.problems.push(Problem { path, line: None, message: cannot_read(&source) })
                    }
                    Err(PlanError::Store(source)) => return Err(store_err(source)),
                }
            }
            streams.push(plans);
        }
        if let Some(seen) = &mut self.seen {
            // Each planned file as it was when planned; one that changes while it is read is
            // planned again at the next pass.
            for plan in streams.iter().flatten() {
                seen.insert(plan.path.clone(), plan.seen);
            }
        }
        // Started before anything is stored: a journal that cannot be read stops the scan.
        let changed = self.journal_changed();
        let journal = match &self.opts.journal {
            Some(query) if changed => match self::journal::start_journal(&sink.store, query, self.opts.full, summary) {
                Ok(start) => Some(start),
                Err(self::journal::StartError::Store(source)) => return Err(store_err(source)),
                Err(self::journal::StartError::Journal(e)) => return Err(ScanError::Journal(e)),
            },
            _ => None,
        };
        if journal.is_none()
            && self.seen.is_some()
            && streams.iter().all(VecDeque::is_empty)
            && self.scanner.pending() == 0
        {
            // Nothing changed and nothing waits for its release: a quiet watch commits nothing.
            self.sink = Some(sink);
            self.flush_alerts(summary)?;
            return Ok(());
        }
        let checkpoint_thread = self.seen.is_none();
        self.scanner
            .start_writer(sink, &self.store_path, checkpoint_thread, &streams)
            .map_err(|source| ScanError::DataDir { path: self.opts.data_dir.clone(), source })?;
        self.scanner.changed.clear();
        let deferred = self.scanner.scan_streams(streams, journal, summary);
        if !deferred.is_empty() {
            self.scanner.scan_streams(vec![deferred], None, summary);
        }
        let (added, sink) = self.scanner.finish(summary).map_err(|e| match e {
            CommitError::Store(source) => store_err(source),
            csv => ScanError::Commit(csv),
        })?;
        if let Some(seen) = &mut self.seen {
            // A file that could not be read (in part), or that changed after it was planned, is
            // planned again at the next pass.
            for path in summary.problems.iter().map(|p| &p.path).chain(&self.scanner.changed) {
                seen.remove(path);
            }
        }
        summary.added += added;
        self.sink = Some(sink);
        self.flush_alerts(summary)?;
        Ok(())
    }

    /// Queues the digests whose quiet period is over, and counts what the pass queued.
    fn flush_alerts(&mut self, summary: &mut Summary) -> Result<(), ScanError> {
        let Some(sink) = &mut self.sink else { return Ok(()) };
        let Some(engine) = &mut sink.alerts else { return Ok(()) };
        let now = jiff::Timestamp::now().as_second();
        let flushed = engine
            .flush_due(&sink.store, now)
            .map_err(|source| ScanError::Store { path: self.store_path.clone(), source })?;
        summary.alerts_queued += flushed.queued + engine.take_queued();
        Ok(())
    }

    /// The store file: `watch` delivers the alerts on a connection of its own.
    pub fn store_path(&self) -> &std::path::Path {
        &self.store_path
    }

    /// Delivers the alerts due, for `scan`: waits for a retry due within seconds, for half a
    /// minute at most; what is left is delivered by the next run. A failure is a warning: the
    /// events are stored, and the alert is kept for the next try.
    pub fn deliver(&mut self, summary: &mut Summary) {
        let Some(sink) = &self.sink else { return };
        if self.opts.alerts.alerts.channels.is_empty() {
            return;
        }
        match crate::deliver::outbox::deliver_for_scan(&sink.store, &self.opts.alerts, Duration::from_secs(30)) {
            Ok(round) => {
                summary.warnings.extend(round.errors.iter().cloned());
                summary.delivered = Some(round);
            }
            Err(e) => summary.warnings.push(format!("alerts not delivered: cannot read the outbox: {e}")),
        }
    }

    /// Ships what the store holds and the fleet database does not, for `scan`, when `[fleet]`
    /// names one. A failure is one warning with the backlog: the events are stored, and wait.
    pub fn ship(&mut self, summary: &mut Summary) {
        let Some(sink) = &self.sink else { return };
        if self.opts.fleet.url.is_none() {
            return;
        }
        match crate::fleet::connect_and_ship(&sink.store, &self.opts.fleet, &self.opts.server_name) {
            Ok(shipped) => summary.shipped = Some(shipped),
            Err(e) => summary.warnings.push(crate::fleet::warning(&sink.store, &e)),
        }
    }

    /// Rewrites the Prometheus textfile, if one is configured: at the end of a `scan`, after each
    /// `watch` pass, a quiet one included (its `last_pass` gauge tells a monitor that the logs
    /// are still watched). A textfile that cannot be written is a warning: what the pass stored
    /// is committed, and the scan's exit code stays that of its reading.
    pub fn write_metrics(&self, summary: &mut Summary) {
        let (Some(path), Some(sink)) = (&self.opts.metrics, &self.sink) else { return };
        let now = jiff::Timestamp::now().as_second();
        let fleet = self.opts.fleet.url.is_some();
        match crate::export::metrics::gather(&sink.store, &self.store_path, &self.opts.logs, fleet, now) {
            Ok(metrics) => {
                if let Err(e) = crate::export::metrics::write_atomic(path, &crate::export::metrics::render(&metrics)) {
                    summary.warnings.push(e.to_string());
                }
            }
            Err(e) => summary
                .warnings
                .push(format!("metrics textfile {} not written: cannot read the store: {e}", path.display())),
        }
    }

    /// Records that a scan ran (and how many problems it had), for reports.
    pub fn close(self, summary: &Summary) -> Result<(), ScanError> {
        let store_err = |source| ScanError::Store { path: self.store_path.clone(), source };
        match &self.sink {
            Some(sink) => sink.store.record_scan(summary.problems.len() as u64).map_err(store_err),
            None => Ok(()),
        }
    }
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
