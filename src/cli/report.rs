//! `maillogsentinel report`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use jiff::ToSpan;

use super::{EXIT_CONFIG, EXIT_FLEET, EXIT_SEND, EXIT_STORE};
use crate::config::{Config, Duration, DurationError, Zone};
use crate::deliver;
use crate::report::{self, Period, ReportError, ReportOptions};
use crate::store::sends::{SendState, SentLog, Trigger};
use crate::store::{Store, StoreError};

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned plain text, 80 columns.
    Text,
    /// A self-contained HTML page.
    Html,
    /// JSON.
    Json,
}

/// Options of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Report on the last DURATION up to now (e.g. 24h, 90m, 7d, 1d12h, 2w) instead of yesterday.
    #[arg(long, value_name = "DURATION", conflicts_with = "day", value_parser = parse_since)]
    pub since: Option<Duration>,
    /// Report on this calendar day (in the configured time zone). Default: yesterday.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub day: Option<jiff::civil::Date>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Email the report as configured in [email] (text + HTML, CSV attached). Without --day or
    /// --since (the scheduled run), earlier days whose send failed or was missed are sent too.
    /// A day already sent (by --day or the scheduled run) is not sent again.
    #[arg(long)]
    pub send: bool,
    /// With --send: send the day even if it was already sent. A --since period is always sent.
    #[arg(long, requires = "send")]
    pub resend: bool,
    /// Rows in each top table. Default: `top` in [report], else 10.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub top: Option<u32>,
    /// Directory holding the store. Default: `data_dir` from the config.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Time zone of the report (IANA name, `UTC`, or `system`). Default: `timezone` from the config.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<Zone>,
    /// Report on every server of the fleet, from the fleet database ([fleet] url), with each
    /// server's numbers and the attackers seen on several servers. With --send, it is sent as
    /// the local report is (catch-up, days already sent, --resend), without the CSV; which fleet
    /// reports were sent is kept in this machine's store, apart from the local reports.
    #[arg(long)]
    pub fleet: bool,
}

/// The longest `--since`: 5200 weeks (about a century), well inside the range of timestamps, so
/// that a valid duration always gives a valid period.
const MAX_SINCE: Duration = Duration::from_secs(5200 * 7 * 86_400);

/// `--since`: the shared duration grammar, at least a second and at most [`MAX_SINCE`], so that a
/// mistake is a usage error like any other bad argument.
pub(super) fn parse_since(text: &str) -> Result<Duration, DurationError> {
    Duration::parse_within(text, MAX_SINCE)
}

/// Runs `report` and returns the exit code.
pub fn run(args: ReportArgs, config: &Config) -> ExitCode {
    // A configuration that cannot send is a configuration error (3), found before any work.
    if args.send
        && let Err(e) = config.check_sending()
    {
        eprintln!("maillogsentinel: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let tz = match &args.timezone {
        Some(zone) => zone.time_zone().clone(),
        None => config.timezone.clone(),
    };
    let now = jiff::Timestamp::now();
    let period = match (&args.since, args.day) {
        (Some(since), _) => Period::since(since.as_secs_i64(), now, &tz),
        (None, Some(day)) => Period::day(day, &tz),
        (None, None) => Period::previous_day(&now.to_zoned_datetime(tz.clone())),
    };
    let period = match period {
        Ok(p) => p,
        Err(e) => return fail(EXIT_CONFIG, &e.to_string()),
    };
    let opts = ReportOptions {
        period: period.clone(),
        top: args.top.map_or(config.report.top, |t| t as usize),
        server: config.server_name.clone(),
        probes_count: config.scan.invalid_mechanism_is_intrusion,
    };
    let data_dir = args.data_dir.clone().unwrap_or_else(|| config.data_dir.clone());
    if args.fleet {
        return fleet(&args, config, &opts, &data_dir);
    }
    // Viewing only reads: a user who may read the store but not write it can still view.
    let opened = if args.send { report::open_store(&data_dir) } else { open_read_only(&data_dir) };
    let store = match opened {
        Ok(s) => s,
        Err(e) => return fail(EXIT_STORE, &e.to_string()),
    };
    let store_err = |source| ReportError::Query { path: data_dir.join(crate::store::STORE_FILE), source };
    let report = match report::build(&store, &opts) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_STORE, &store_err(e).to_string()),
    };
    if let Err(code) = output(&args, &report) {
        return code;
    }
    if !args.send {
        return ExitCode::SUCCESS;
    }
    send(&args, config, Origin::Local(&store), &store, &data_dir, &opts, report)
}

/// Where a report's numbers come from.
#[derive(Clone, Copy)]
enum Origin<'a> {
    /// This server's store.
    Local(&'a Store),
    /// The fleet's database.
    Fleet(&'a crate::store::postgres::FleetDb),
}

impl Origin<'_> {
    /// The report of `opts`.
    fn build(self, opts: &ReportOptions) -> Result<report::Report, StoreError> {
        match self {
            Origin::Local(store) => report::build(store, opts),
            Origin::Fleet(db) => report::build_fleet(db, opts),
        }
    }

    /// The log of this origin's sends, in the sending machine's `store`.
    fn sent_log(self, store: &Store) -> Result<SentLog<'_>, StoreError> {
        match self {
            Origin::Local(_) => store.sent_log(),
            Origin::Fleet(_) => store.fleet_sent_log(),
        }
    }

    /// What messages call its report.
    fn noun(self) -> &'static str {
        match self {
            Origin::Local(_) => "report",
            Origin::Fleet(_) => "fleet report",
        }
    }

    /// The scheduled command, which catches up the days not sent.
    fn scheduled(self) -> &'static str {
        match self {
            Origin::Local(_) => "report --send",
            Origin::Fleet(_) => "report --fleet --send",
        }
    }
}

/// Sends `report`, the period asked for, and records it in `store`'s log of `origin`'s sends.
/// The scheduled run (no explicit period) first catches up the days whose send failed or was
/// missed; a period asked for by hand (--day, --since) is sent alone.
fn send(
    args: &ReportArgs,
    config: &Config,
    origin: Origin<'_>,
    store: &Store,
    data_dir: &Path,
    opts: &ReportOptions,
    report: report::Report,
) -> ExitCode {
    let store_err = |source| ReportError::Query { path: data_dir.join(crate::store::STORE_FILE), source };
    let log = match origin.sent_log(store) {
        Ok(log) => log,
        Err(e) => return fail(EXIT_STORE, &store_err(e).to_string()),
    };
    let period = &opts.period;
    let scheduled = args.since.is_none() && args.day.is_none();
    let mut periods = Vec::new();
    if scheduled {
        match pending_days(&log, period, config.report.catch_up_days) {
            Ok(days) => periods.extend(days.into_iter().map(|p| (p, Trigger::CatchUp))),
            Err(e) => return fail(EXIT_STORE, &store_err(e).to_string()),
        }
    }
    periods.push((period.clone(), if scheduled { Trigger::Scheduled } else { Trigger::Manual }));
    let today = jiff::Timestamp::now().to_zoned_datetime(period.tz.clone()).date();
    let sending = Sending { origin, log: &log, config, data_dir, opts, today };
    let mut built = Some(report);
    let mut code = ExitCode::SUCCESS;
    let mut failed = false;
    let noun = origin.noun();
    for (p, trigger) in periods {
        // The run's own period is last, and already built.
        let report = if trigger == Trigger::CatchUp { None } else { built.take() };
        // Before the failure branch: a day already sent must not be recorded as failed.
        if trigger != Trigger::CatchUp && !args.resend {
            match already_sent(&log, noun, &p, trigger) {
                Ok(Some(line)) => {
                    println!("{line}");
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    eprintln!("maillogsentinel: error: {}", store_err(e));
                    failed = true;
                    code = ExitCode::from(EXIT_SEND);
                    continue;
                }
            }
        }
        if failed {
            // The server is likely down: trying the other days now would only fail the same way.
            // They are recorded as failed, so that the next scheduled run tries them.
            let label = p.label();
            let not_tried = SendState::Failed(format!("not tried: an earlier {noun} of the same run was not sent"));
            match log.record(&label, &not_tried, trigger) {
                Ok(()) => eprintln!(
                    "maillogsentinel: {noun} {label} not tried after that failure; the next scheduled \
                     `{}` (without --day/--since) sends it",
                    origin.scheduled()
                ),
                Err(e) => eprintln!("maillogsentinel: error: {}", store_err(e)),
            }
            continue;
        }
        match sending.send_period(p, trigger, report) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("maillogsentinel: error: {e}");
                failed = true;
                code = ExitCode::from(match (&e, origin) {
                    (SendError::Build { .. }, Origin::Fleet(_)) => EXIT_FLEET,
                    _ => EXIT_SEND,
                });
            }
        }
    }
    code
}

/// What to say instead of sending `period` when it is a day already sent, `None` when it must
/// be sent. A `--since` period ends at the moment it is asked for, so no two are the same: it
/// is never "already sent". A day is the same period however it was asked for (`--day` or the
/// scheduled run's yesterday), as its label is. A scheduled run that skips its day still marks
/// it scheduled, as catch-up starts from the first day the schedule was running.
fn already_sent(
    log: &SentLog<'_>,
    noun: &str,
    period: &Period,
    trigger: Trigger,
) -> Result<Option<String>, StoreError> {
    if period.day.is_none() {
        return Ok(None);
    }
    let label = period.label();
    let Some(sent) = log.sent(&label)? else { return Ok(None) };
    if trigger == Trigger::Scheduled {
        log.mark_scheduled(&label)?;
    }
    let to = sent.to.map(|to| format!(" to {to}")).unwrap_or_default();
    Ok(Some(format!(
        "{noun} {label} was already sent on {}{to}; not sent again (--resend sends it again)",
        period.format_ts(sent.at)
    )))
}

/// Renders `report` as asked and writes it to `--output` or (unless it is sent) standard output.
fn output(args: &ReportArgs, report: &report::Report) -> Result<(), ExitCode> {
    let rendered = match args.format {
        Format::Text => report::text::render(report),
        Format::Html => report::html::render(report),
        Format::Json => report::json::render(report),
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &rendered) {
                return Err(fail(EXIT_STORE, &format!("--output {}: {e}", path.display())));
            }
        }
        None if !args.send => print!("{rendered}"),
        None => {}
    }
    Ok(())
}

/// `report --fleet`: the report of every server, from the fleet database.
fn fleet(args: &ReportArgs, config: &Config, opts: &ReportOptions, data_dir: &Path) -> ExitCode {
    use crate::store::postgres::{FleetDb, FleetError};
    // Before the database: a send whose record cannot be kept is refused before any work.
    let store = match args.send.then(|| open_send_log(data_dir)).transpose() {
        Ok(store) => store,
        Err(e) => return fail(EXIT_STORE, &e.to_string()),
    };
    let db = match FleetDb::connect(&config.fleet) {
        Ok(db) => db,
        Err(e @ FleetError::Config(_)) => return fail(EXIT_CONFIG, &e.to_string()),
        Err(e) => return fail(EXIT_FLEET, &e.to_string()),
    };
    let report = match report::build_fleet(&db, opts) {
        Ok(report) => report,
        Err(e) => return fail(EXIT_FLEET, &e.to_string()),
    };
    if let Err(code) = output(args, &report) {
        return code;
    }
    match &store {
        Some(store) => send(args, config, Origin::Fleet(&db), store, data_dir, opts, report),
        None => ExitCode::SUCCESS,
    }
}

/// The store that keeps which fleet reports this machine sent: the local store, created when
/// this machine does not scan (a machine that only sends the fleet's report), in a data
/// directory that must exist.
fn open_send_log(data_dir: &Path) -> Result<Store, ReportError> {
    let path = data_dir.join(crate::store::STORE_FILE);
    if !path.exists() && !data_dir.is_dir() {
        return Err(ReportError::NoDataDir(data_dir.to_path_buf()));
    }
    // Created empty with the data directory's owner before SQLite opens it, which gives its
    // `-wal` and `-shm` files the database's owner: a run as root leaves the service user a
    // store it can still write.
    if crate::store::files::options().write(true).create_new(true).open(&path).is_ok() {
        warn_owner(&path, data_dir);
    }
    Store::open(&path).map_err(|source| ReportError::Store { path, source })
}

/// The store of `data_dir`, opened for reading only.
fn open_read_only(data_dir: &Path) -> Result<Store, ReportError> {
    let path = data_dir.join(crate::store::STORE_FILE);
    if !path.exists() {
        return Err(ReportError::NoStore(path));
    }
    Store::open_read_only(&path).map_err(|source| ReportError::Store { path, source })
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("maillogsentinel: error: {message}");
    ExitCode::from(code)
}

/// Days before `current` (at most `max` back) to send again: those whose last send failed, and
/// those never sent although a scheduled run was already sending then (after the first day a
/// scheduled run tried). Days sent by hand (`--day`) do not make the days after them due.
fn pending_days(log: &SentLog<'_>, current: &Period, max: u32) -> Result<Vec<Period>, StoreError> {
    let Some(day) = current.day else { return Ok(vec![]) };
    if !log.any()? {
        return Ok(vec![]);
    }
    let first_scheduled = log.first_scheduled_day()?;
    let mut out = Vec::new();
    for back in (1..=i64::from(max)).rev() {
        let Ok(d) = day.checked_sub(back.days()) else { continue };
        let state = log.state(&d.to_string())?;
        // Days after the first scheduled one were due but never tried (machine off, timer
        // missed); days before it predate the schedule and are not sent unasked.
        let after_first = first_scheduled.as_ref().is_some_and(|f| d.to_string() > *f);
        let pending = match state {
            Some(SendState::Failed(_)) => true,
            Some(SendState::Sent) => false,
            None => after_first,
        };
        if pending && let Ok(p) = Period::day(d, &current.tz) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Why the report of a period was not sent.
#[derive(Debug, thiserror::Error)]
enum SendError {
    /// The store could not be read or the send recorded.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The report could not be made (its store or the fleet database failed).
    #[error("{noun} {label} not made: {source}")]
    Build {
        /// "report" or "fleet report".
        noun: &'static str,
        /// The period.
        label: String,
        /// Why.
        source: StoreError,
    },
    /// The message could not be built (`[email]` settings, attachment).
    #[error(transparent)]
    Compose(#[from] deliver::DeliverError),
    /// The transport refused it; it was kept (or not) for the next run.
    #[error("{noun} {label} not sent: {error}; {kept}; {retry}")]
    NotSent {
        /// "report" or "fleet report".
        noun: &'static str,
        /// The period.
        label: String,
        /// The transport's error, with the server's reply.
        error: deliver::DeliverError,
        /// Where the message was kept.
        kept: Box<Kept>,
        /// Whether a later run sends it.
        retry: Box<Retry>,
    },
}

/// Whether the next scheduled run sends a period again.
#[derive(Debug)]
enum Retry {
    /// The day is within the next scheduled run's catch-up window (or is still to come).
    Scheduled {
        /// The scheduled command.
        command: &'static str,
    },
    /// The day is older than the window.
    OutsideWindow {
        /// The day.
        day: jiff::civil::Date,
        /// `[report] catch_up_days`.
        max: u32,
        /// The scheduled command.
        command: &'static str,
    },
    /// A `--since` period: catch-up only knows days.
    NotADay,
}

impl Retry {
    /// Whether the scheduled run of the day after `today` will send `period` again: it sends its
    /// own day (`today`) and catches up the `max` days before it.
    fn of(period: &Period, today: jiff::civil::Date, max: u32, command: &'static str) -> Retry {
        let Some(day) = period.day else { return Retry::NotADay };
        let oldest = today.checked_sub(i64::from(max).days()).unwrap_or(today);
        if day >= oldest { Retry::Scheduled { command } } else { Retry::OutsideWindow { day, max, command } }
    }
}

impl std::fmt::Display for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Retry::Scheduled { command } => {
                write!(f, "the next scheduled `{command}` (without --day/--since) sends it again")
            }
            Retry::OutsideWindow { day, max, command } => write!(
                f,
                "it is older than the catch-up window ([report] catch_up_days = {max}) and will not be sent \
                 again automatically: send it with `maillogsentinel {command} --day {day}`"
            ),
            Retry::NotADay => f.write_str(
                "a --since period is not sent again automatically: run the same command again once the server accepts mail",
            ),
        }
    }
}

/// Where an unsent message went.
#[derive(Debug)]
enum Kept {
    /// Saved in the data directory.
    Saved(PathBuf),
    /// Could not be saved either.
    Lost(PathBuf, std::io::Error, String),
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kept::Saved(file) => write!(f, "the message was kept in {}", file.display()),
            Kept::Lost(file, e, fix) => write!(f, "and it could not be kept in {} either ({e}{fix})", file.display()),
        }
    }
}

/// The directory of messages not sent, inside the data directory.
const UNSENT_DIR: &str = "reports/unsent";

/// The file keeping the message of the `noun` ("report", "fleet report") of the period
/// labelled `label`.
fn unsent_file(data_dir: &Path, noun: &str, label: &str) -> PathBuf {
    let name = format!("{}-{}.eml", noun.replace(' ', "-"), label.replace([' ', ':', '–'], "_"));
    data_dir.join(UNSENT_DIR).join(name)
}

/// What to run when a file of `dir` inside the data directory cannot be written or removed
/// because of its owner or mode (empty for other errors).
fn permission_fix(e: &std::io::Error, data_dir: &Path, dir: &Path) -> String {
    if e.kind() != std::io::ErrorKind::PermissionDenied {
        return String::new();
    }
    format!(
        "; give it to the owner of the data directory: chown -R --reference={} {}",
        data_dir.display(),
        dir.display()
    )
}

/// Gives `path`, just created in the data directory, the data directory's owner and group when
/// they differ (a run as root among the service user's files), as SQLite does for the store's
/// own files, so that the service user can still change it. Only root can: for another user the
/// file is its own and nothing is done.
fn keep_owner(path: &Path, data_dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = std::fs::metadata(data_dir)?;
    let file = std::fs::symlink_metadata(path)?;
    if (file.uid(), file.gid()) == (dir.uid(), dir.gid()) {
        return Ok(());
    }
    match std::os::unix::fs::lchown(path, Some(dir.uid()), Some(dir.gid())) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && file.uid() != 0 => Ok(()),
        other => other,
    }
}

/// Writes `bytes` to `file` in [`UNSENT_DIR`], creating the directories it needs with the data
/// directory's owner.
fn keep_unsent(data_dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut dir = data_dir.to_path_buf();
    for part in UNSENT_DIR.split('/') {
        dir.push(part);
        match crate::store::files::create_dir(&dir) {
            Ok(()) => warn_owner(&dir, data_dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    crate::store::files::write(file, bytes)?;
    warn_owner(file, data_dir);
    Ok(())
}

/// [`keep_owner`], a failure only warned of: the file is there, but the service user may not be
/// able to change it.
fn warn_owner(path: &Path, data_dir: &Path) {
    if let Err(e) = keep_owner(path, data_dir) {
        eprintln!(
            "maillogsentinel: warning: cannot give {} the owner of {} ({e}): run chown --reference={} {}",
            path.display(),
            data_dir.display(),
            data_dir.display(),
            path.display()
        );
    }
}

/// What sending needs, the same for each period of a run.
struct Sending<'a> {
    origin: Origin<'a>,
    /// The origin's log of sends.
    log: &'a SentLog<'a>,
    config: &'a Config,
    data_dir: &'a Path,
    opts: &'a ReportOptions,
    /// Today in the report's time zone: which failed days the next scheduled run catches up.
    today: jiff::civil::Date,
}

impl Sending<'_> {
    /// Builds (unless `built` is its report already), sends and records the report of one
    /// period. On failure the message is kept in the data directory and the error (with the
    /// server's reply) returned; on success the message kept by an earlier failure is removed.
    fn send_period(
        &self,
        period: Period,
        trigger: Trigger,
        built: Option<report::Report>,
    ) -> Result<String, SendError> {
        let (config, data_dir, log, noun) = (self.config, self.data_dir, self.log, self.origin.noun());
        let opts = ReportOptions { period: period.clone(), ..self.opts.clone() };
        let db = SendError::Store;
        let report = match built {
            Some(report) => report,
            None => {
                self.origin.build(&opts).map_err(|source| SendError::Build { noun, label: period.label(), source })?
            }
        };
        let email = &config.email;
        // The fleet's report has no CSV: its rows are the servers' own.
        let csv = match self.origin {
            Origin::Local(store) if email.attach_csv => {
                let (start, end) = (period.start.as_second(), period.end.as_second());
                let rows = store.intrusion_rows(start, end, &period.tz, opts.probes_count).map_err(db)?;
                Some(deliver::csv_attachment(rows, email.gzip_over_bytes, &report.period.label)?)
            }
            _ => None,
        };
        let message = deliver::compose(
            email,
            &opts.server,
            &report,
            report::text::render(&report),
            report::html::render(&report),
            csv,
        )?;
        let label = report.period.label.clone();
        let file = unsent_file(data_dir, noun, &label);
        match deliver::send(email, &message) {
            Ok(()) => {
                let to: Vec<String> = email.to.iter().map(ToString::to_string).collect();
                log.record_to(&label, &SendState::Sent, trigger, Some(&to.join(", "))).map_err(db)?;
                match std::fs::remove_file(&file) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => eprintln!(
                        "maillogsentinel: warning: {noun} {label} was sent but {} could not be removed: {e}{}",
                        file.display(),
                        permission_fix(&e, data_dir, &data_dir.join(UNSENT_DIR))
                    ),
                    _ => {}
                }
                Ok(format!("{noun} {label} sent to {}", to.join(", ")))
            }
            Err(e) => {
                log.record(&label, &SendState::Failed(e.to_string()), trigger).map_err(db)?;
                let kept = match keep_unsent(data_dir, &file, &message.formatted()) {
                    Ok(()) => Kept::Saved(file),
                    Err(k) => {
                        let fix = permission_fix(&k, data_dir, &data_dir.join(UNSENT_DIR));
                        Kept::Lost(file, k, fix)
                    }
                };
                let retry = Retry::of(&period, self.today, config.report.catch_up_days, self.origin.scheduled());
                Err(SendError::NotSent { noun, label, error: e, kept: Box::new(kept), retry: Box::new(retry) })
            }
        }
    }
}
