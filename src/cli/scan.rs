//! `maillogsentinel scan`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{EXIT_JOURNAL, EXIT_LOCKED, EXIT_PARTIAL, EXIT_STORE, thousands};
use crate::config::{Config, Zone};
use crate::deliver::outbox::Channels;
use crate::enrich::EnrichOptions;
use crate::scan::{ScanError, ScanOptions, Summary};
use crate::source::journal::JournalQuery;
use crate::store::lock::LockError;

/// What to read and where to store it: the options `scan` and `watch` share.
#[derive(Clone, Debug, Args)]
pub struct Sources {
    /// Log to read, with its rotated siblings (NAME.1, NAME.2.gz, NAME-20261124, ...). Repeat for
    /// several logs. Default: `logs` from the config, else /var/log/mail.log.
    #[arg(long = "log", value_name = "PATH")]
    pub logs: Vec<PathBuf>,
    /// Read the local systemd journal: Postfix's and Dovecot's entries (`[journal] units`).
    /// Without --log, only the journal is read.
    #[arg(long)]
    pub journal: bool,
    /// Read the journal files in DIR (as `journalctl -D DIR` does); implies --journal.
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Directory for the store and reports/intrusions.csv. Default: `data_dir` from the config,
    /// else the current directory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Time zone of timestamps that carry none (IANA name, `UTC`, or `system`). Default:
    /// `timezone` from the config, else the system's.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<Zone>,
    /// Do not resolve attacker IPs to host names.
    #[arg(long)]
    pub no_dns: bool,
    /// Do not look up country and AS of attacker IPs.
    #[arg(long)]
    pub no_geo: bool,
}

impl Sources {
    /// The options of a scan of these sources, the command line's values over the
    /// configuration's. Not a full rescan, no progress bar, no `--year`.
    pub(super) fn options(&self, config: &Config) -> ScanOptions {
        let timezone = match &self.timezone {
            Some(zone) => zone.clone().into_parts().0,
            None => config.timezone.clone(),
        };
        let data_dir = self.data_dir.clone().unwrap_or_else(|| config.data_dir.clone());
        // `--journal` reads the journal alone; `[journal] enabled` reads it beside the configured
        // logs, or alone when `logs` is not set.
        let asked = self.journal || self.journal_dir.is_some();
        let journal = (asked || config.journal.enabled).then(|| JournalQuery {
            directory: self.journal_dir.clone().or_else(|| config.journal.directory.clone()),
            units: config.journal.units.clone(),
            ..JournalQuery::default()
        });
        let logs = if !self.logs.is_empty() {
            self.logs.clone()
        } else if asked || (journal.is_some() && !config.logs_set) {
            Vec::new()
        } else {
            config.logs.clone()
        };
        ScanOptions {
            logs,
            journal,
            enrich: EnrichOptions::from_config(config, &data_dir, self.no_dns, self.no_geo),
            data_dir,
            year: None,
            timezone,
            server_name: config.server_name.clone(),
            full: false,
            progress: false,
            scan: config.scan.clone(),
            metrics: config.metrics.textfile.clone(),
            alerts: std::sync::Arc::new(Channels {
                alerts: config.alerts.clone(),
                email: config.email.clone(),
                timezone: config.timezone.clone(),
            }),
            fleet: config.fleet.clone(),
        }
    }
}

/// Options of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// What to read, and where to.
    #[command(flatten)]
    pub sources: Sources,
    /// Year of the newest year-less timestamp (for old archives). Default: from each file's
    /// modification time.
    #[arg(long, value_name = "YYYY", value_parser = clap::value_parser!(i16).range(1970..=9999))]
    pub year: Option<i16>,
    /// Forget what was read and read every file again from its start (events already stored are
    /// not stored twice).
    #[arg(long)]
    pub full: bool,
    /// Print only problems, not the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `scan` and returns the exit code.
pub fn run(args: ScanArgs, config: &Config) -> ExitCode {
    let mut opts = args.sources.options(config);
    opts.year = args.year;
    opts.full = args.full;
    opts.progress = !args.quiet;
    match crate::scan::run(&opts) {
        Ok(summary) => {
            print_findings(&summary);
            if !args.quiet {
                println!("{}", summary_line(&summary));
            }
            if summary.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_PARTIAL) }
        }
        Err(e) => {
            eprintln!("maillogsentinel: error: {e}");
            ExitCode::from(error_code(&e))
        }
    }
}

/// Prints on stderr the notices, warnings and problems of a scan or a pass.
pub(super) fn print_findings(summary: &Summary) {
    for notice in &summary.notices {
        eprintln!("maillogsentinel: note: {notice}");
    }
    for warning in &summary.warnings {
        eprintln!("maillogsentinel: warning: {warning}");
    }
    for problem in &summary.problems {
        eprintln!("maillogsentinel: warning: {problem}");
    }
}

/// The exit code of a scan that stopped: 5 only when another process holds the lock; a lock file
/// that cannot be created (directory not writable, read-only file system) is an unusable data
/// directory.
pub(super) fn error_code(e: &ScanError) -> u8 {
    match e {
        ScanError::Locked(LockError::Busy { .. }) => EXIT_LOCKED,
        ScanError::Journal(_) => EXIT_JOURNAL,
        _ => EXIT_STORE,
    }
}

/// The one-line summary printed after a scan.
pub fn summary_line(s: &Summary) -> String {
    let mut line = format!("scan: {} read", counted(s.files as u64, "file"));
    if s.unchanged > 0 {
        line.push_str(&format!(" ({} unchanged)", s.unchanged));
    }
    if let Some(n) = s.journal_entries {
        line.push_str(&format!(", {} of the journal", counted(n, "mail entry")).replace("entrys", "entries"));
    }
    line.push_str(&format!(
        ", {} ({:.1} MB) in {:.2} s: {}",
        counted(s.lines, "line"),
        s.bytes as f64 / 1e6,
        s.elapsed.as_secs_f64(),
        summary_counts(s),
    ));
    if s.held_back > 0 {
        line.push_str(&format!(
            ", {} held back for the next scan (its partner line may still be written)",
            counted(s.held_back as u64, "line")
        ));
    }
    if s.alerts_queued > 0 || s.delivered.as_ref().is_some_and(|d| d.sent + d.retrying + d.dropped > 0) {
        let d = s.delivered.clone().unwrap_or_default();
        line.push_str(&format!(", {} queued, {} delivered", counted(s.alerts_queued, "alert"), thousands(d.sent)));
        if d.retrying > 0 {
            line.push_str(&format!(", {} waiting for a retry", thousands(d.retrying)));
        }
        if d.dropped > 0 {
            line.push_str(&format!(", {} dropped", thousands(d.dropped)));
        }
    }
    if let Some(shipped) = &s.shipped {
        line.push_str(&format!(", {} shipped to the fleet", counted(shipped.inserted, "event")));
    }
    if !s.problems.is_empty() {
        line.push_str(&format!(", {} (see above)", counted(s.problems.len() as u64, "problem")));
    }
    line
}

/// What a scan stored: `3 new failed logins, 1 successful login` and the rarer kinds when there
/// are some.
pub(super) fn summary_counts(s: &Summary) -> String {
    let a = &s.added;
    let mut line = format!("{}, {}", counted(a.failures, "new failed login"), counted(a.successes, "successful login"));
    if a.backend_errors > 0 {
        line.push_str(&format!(", {}", counted(a.backend_errors, "auth backend error")));
    }
    if a.uncounted > 0 {
        line.push_str(&format!(", {} (not counted)", counted(a.uncounted, "mechanism probe")));
    }
    line
}

/// `3 failed logins`, `1 failed login`.
pub(super) fn counted(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n), if n == 1 { "" } else { "s" })
}
