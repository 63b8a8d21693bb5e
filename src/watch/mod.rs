//! `watch`: a scan kept going, that reads each line within a second of its reaching the log.
//!
//! One [`Session`] stays open (the data directory locked, the store, the CSV and the correlator's
//! state in memory) and makes a pass over the logs each time they change: inotify (through
//! `notify`, on each log's directory, so that a rotated or re-created log is seen too) wakes the
//! loop, and a poll every [`POLL`] covers file systems without inotify and events it missed. A
//! pass skips the files that did not change since the last one, so a pass on a quiet server reads
//! a directory and a few `stat`s. Every pass commits like a scan: the same checkpoints, so `scan`
//! and `watch` can take turns on one data directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, select};

use crate::deliver::outbox::Round;
use crate::scan::{ScanError, ScanOptions, Session, Summary};
use worker::Worker;

mod worker;

/// How often the logs are looked at when nothing woke the loop.
pub const POLL: Duration = Duration::from_secs(2);

/// What the command line asks of a running `watch`.
#[derive(Debug)]
pub enum Control {
    /// Commit what was read and return (SIGTERM, SIGINT). Set the interrupt flag too, so that a
    /// pass under way ends at once.
    Stop,
    /// Go on with these options (SIGHUP, a configuration read again).
    Reload(Box<ScanOptions>),
}

/// What `watch` tells the user as it goes.
pub trait Observer {
    /// A pass ended; `summary` holds what it did (problems already seen are not repeated).
    fn pass(&mut self, summary: &Summary);

    /// What tells how the alerts' deliveries went; they run on a thread of their own.
    fn deliveries(&self) -> Box<dyn Fn(&Round) + Send> {
        Box::new(|round: &Round| {
            for e in &round.errors {
                tracing::warn!("{e}");
            }
        })
    }

    /// What tells how shipping to the fleet database goes (a failure, then its recovery); it
    /// runs on a thread of its own.
    fn shipping(&self) -> Box<dyn Fn(&str) + Send> {
        Box::new(|message: &str| tracing::warn!("{message}"))
    }
}

/// Watches the logs of `opts` until told to stop; returns once what was read is committed.
/// `interrupt` is set by whoever sends [`Control::Stop`].
pub fn run(
    mut opts: ScanOptions,
    control: &Receiver<Control>,
    interrupt: &Arc<AtomicBool>,
    observer: &mut dyn Observer,
) -> Result<(), ScanError> {
    opts.full = false;
    opts.progress = false;
    loop {
        let mut summary = Summary::default();
        let mut session = Session::open(opts.clone(), Some(Arc::clone(interrupt)), &mut summary)?;
        session.skip_unchanged();
        // Absolute, as the watcher's events name the files.
        let logs: Vec<PathBuf> =
            opts.logs.iter().map(|l| std::path::absolute(l).unwrap_or_else(|_| l.clone())).collect();
        let journal_dirs = opts.journal.as_ref().map(crate::source::journal::journal_dirs).unwrap_or_default();
        let (changes, watcher) = watch_dirs(&logs, &journal_dirs);
        // Alerts go out on a thread of their own: a receiver that hangs until its timeout must
        // not hold back the reading of the logs. Started before the first pass, it delivers
        // what an earlier run left queued.
        let dispatcher = if opts.alerts.alerts.channels.is_empty() {
            None
        } else {
            match Worker::alerts(session.store_path(), Arc::clone(&opts.alerts), observer.deliveries()) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::warn!("alerts are not delivered: cannot start their thread: {e}");
                    None
                }
            }
        };
        // Shipping to the fleet database, likewise: a database that is slow or down must not
        // hold back the reading of the logs. Its first wake-up ships what earlier runs left.
        let shipper = match &opts.fleet.url {
            None => None,
            Some(_) => {
                let report = observer.shipping();
                match Worker::shipping(session.store_path(), opts.fleet.clone(), opts.server_name.clone(), report) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!("events are not shipped to the fleet database: cannot start its thread: {e}");
                        None
                    }
                }
            }
        };
        let mut first = true;
        let mut shown = Shown::default();
        let next = loop {
            let started = Instant::now();
            session.pass(&mut summary)?;
            session.write_metrics(&mut summary);
            summary.elapsed = started.elapsed();
            if summary.alerts_queued > 0
                && let Some(d) = &dispatcher
            {
                d.wake();
            }
            if let Some(s) = &shipper
                && (first || !summary.added.is_empty())
            {
                s.wake();
            }
            first = false;
            shown.filter(&mut summary);
            observer.pass(&summary);
            summary = Summary::default();
            if interrupt.load(Ordering::Relaxed) {
                break None;
            }
            match wait(&changes, control, &logs, &journal_dirs) {
                Wake::Logs => {}
                Wake::Control(Control::Stop) => break None,
                Wake::Control(Control::Reload(new)) => break Some(new),
            }
        };
        drop(watcher);
        drop(dispatcher);
        drop(shipper);
        session.close(&summary)?;
        match next {
            None => return Ok(()),
            Some(new) => opts = ScanOptions { full: false, progress: false, ..*new },
        }
    }
}

enum Wake {
    Logs,
    Control(Control),
}

/// Waits until a log may have changed (or the poll is due), or the command line speaks.
fn wait(
    changes: &Receiver<notify::Result<notify::Event>>,
    control: &Receiver<Control>,
    logs: &[PathBuf],
    journal_dirs: &[PathBuf],
) -> Wake {
    let deadline = Instant::now() + POLL;
    loop {
        let timeout = deadline.saturating_duration_since(Instant::now());
        select! {
            recv(control) -> c => return match c {
                Ok(c) => Wake::Control(c),
                // Nobody can send any more: nothing can stop or reload this watch but a signal
                // that kills it, so stop now.
                Err(_) => Wake::Control(Control::Stop),
            },
            recv(changes) -> event => match event {
                Ok(Ok(event)) if !concerns(&event, logs, journal_dirs) => continue,
                // An error (e.g. the inotify queue overflowed) may hide a change: look.
                Ok(_) => {
                    // The lines of one write often come in several events: take them all.
                    while changes.try_recv().is_ok() {}
                    return Wake::Logs;
                }
                // The watcher is gone: poll.
                Err(_) => {
                    return match control.recv_timeout(timeout) {
                        Ok(c) => Wake::Control(c),
                        Err(RecvTimeoutError::Timeout) => Wake::Logs,
                        Err(RecvTimeoutError::Disconnected) => Wake::Control(Control::Stop),
                    };
                }
            },
            default(timeout) => return Wake::Logs,
        }
    }
}

/// Whether a change in a watched directory can concern a log or its rotated copies (names that
/// start with a log's name: `mail.log`, `mail.log.1`, `mail.log-20261207.gz`), or the journal.
fn concerns(event: &notify::Event, logs: &[PathBuf], journal_dirs: &[PathBuf]) -> bool {
    event.paths.is_empty()
        || event.paths.iter().any(|path| path.parent().is_some_and(|dir| journal_dirs.iter().any(|d| d == dir)))
        || event.paths.iter().any(|path| {
            logs.iter().any(|log| {
                path.parent() == log.parent()
                    && match (path.file_name(), log.file_name()) {
                        (Some(name), Some(base)) => name.as_encoded_bytes().starts_with(base.as_encoded_bytes()),
                        _ => true,
                    }
            })
        })
}

/// Watches the directory of every log (not the log itself: a rotation replaces it). Directories
/// that cannot be watched (missing, no inotify) are left to the poll.
fn watch_dirs(
    logs: &[PathBuf],
    journal_dirs: &[PathBuf],
) -> (Receiver<notify::Result<notify::Event>>, Option<notify::RecommendedWatcher>) {
    use notify::Watcher;
    let (tx, rx): (Sender<notify::Result<notify::Event>>, _) = crossbeam_channel::unbounded();
    // Changes only, not accesses: the passes' own reads of the logs must not wake the loop.
    let config = notify::Config::default().with_event_kinds(notify::EventKindMask::CORE);
    let mut watcher = match notify::RecommendedWatcher::new(tx, config) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("cannot watch the logs for changes ({e}); looking every {} s", POLL.as_secs());
            return (rx, None);
        }
    };
    let dirs: BTreeSet<&Path> = logs
        .iter()
        .map(|log| log.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))
        .chain(journal_dirs.iter().map(PathBuf::as_path))
        .collect();
    for dir in dirs {
        if let Err(e) = watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
            tracing::debug!("cannot watch {}: {e}; it is polled", dir.display());
        }
    }
    (rx, Some(watcher))
}

/// The problems and warnings already told: a missing log is reported when it goes missing, not
/// at every pass.
#[derive(Default)]
struct Shown {
    told: BTreeSet<String>,
}

impl Shown {
    /// Removes from `summary` what was told at an earlier pass; forgets what is no longer so.
    fn filter(&mut self, summary: &mut Summary) {
        let now: BTreeSet<String> = summary
            .problems
            .iter()
            .map(ToString::to_string)
            .chain(summary.warnings.iter().cloned())
            .chain(summary.notices.iter().cloned())
            .collect();
        summary.problems.retain(|p| !self.told.contains(&p.to_string()));
        summary.warnings.retain(|w| !self.told.contains(w));
        summary.notices.retain(|n| !self.told.contains(n));
        self.told = now;
    }
}
