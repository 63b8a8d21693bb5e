//! `maillogsentinel report`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use jiff::ToSpan;

use super::{EXIT_CONFIG, EXIT_SEND, EXIT_STORE};
use crate::config::{Config, Duration, DurationError, Zone};
use crate::deliver;
use crate::report::{self, Period, ReportError, ReportOptions};
use crate::store::sends::SendState;
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
    /// --since, earlier days whose report was never sent are sent too.
    #[arg(long)]
    pub send: bool,
    /// Rows in each top table. Default: `top` in [report], else 10.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub top: Option<u32>,
    /// Directory holding the store. Default: `data_dir` from the config.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Time zone of the report (IANA name, `UTC`, or `system`). Default: `timezone` from the config.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<Zone>,
}

/// The longest `--since`: 5200 weeks (about a century), well inside the range of timestamps, so
/// that a valid duration always gives a valid period.
const MAX_SINCE: Duration = Duration::from_secs(5200 * 7 * 86_400);

/// `--since`: the shared duration grammar, at least a second and at most [`MAX_SINCE`], so that a
/// mistake is a usage error like any other bad argument.
fn parse_since(text: &str) -> Result<Duration, DurationError> {
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
    let data_dir = args.data_dir.clone().unwrap_or_else(|| config.data_dir.clone());
    let store = match report::open_store(&data_dir) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_STORE, &e.to_string()),
    };
    let opts = ReportOptions {
        period: period.clone(),
        top: args.top.map_or(config.report.top, |t| t as usize),
        server: config.server_name.clone(),
        probes_count: config.scan.invalid_mechanism_is_intrusion,
    };
    let store_err = |source| ReportError::Query { path: data_dir.join(crate::store::STORE_FILE), source };
    let report = match report::build(&store, &opts) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_STORE, &store_err(e).to_string()),
    };
    let rendered = match args.format {
        Format::Text => report::text::render(&report),
        Format::Html => report::html::render(&report),
        Format::Json => report::json::render(&report),
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &rendered) {
                return fail(EXIT_STORE, &format!("--output {}: {e}", path.display()));
            }
        }
        None if !args.send => print!("{rendered}"),
        None => {}
    }
    if !args.send {
        return ExitCode::SUCCESS;
    }
    // The scheduled run (no explicit period) also catches up days that were not sent.
    let mut periods = Vec::new();
    if args.since.is_none() && args.day.is_none() {
        match pending_days(&store, &period, config.report.catch_up_days) {
            Ok(days) => periods.extend(days),
            Err(e) => return fail(EXIT_STORE, &store_err(e).to_string()),
        }
    }
    periods.push(period);
    let mut failed = false;
    for p in periods {
        match send_period(&store, config, &data_dir, &opts, p) {
            Ok(line) => println!("{line}"),
            Err(message) => {
                eprintln!("maillogsentinel: error: {message}");
                failed = true;
                // The server is likely down: trying the other days now would only fail the same way.
                break;
            }
        }
    }
    if failed { ExitCode::from(EXIT_SEND) } else { ExitCode::SUCCESS }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("maillogsentinel: error: {message}");
    ExitCode::from(code)
}

/// Days before `current` (at most `max` back) whose report failed, or that were never tried
/// since the first recorded send.
fn pending_days(store: &Store, current: &Period, max: u32) -> Result<Vec<Period>, StoreError> {
    let log = store.sent_log()?;
    let Some(day) = current.day else { return Ok(vec![]) };
    if !log.any()? {
        return Ok(vec![]);
    }
    let first_recorded = log.first_day()?;
    let mut out = Vec::new();
    for back in (1..=i64::from(max)).rev() {
        let Ok(d) = day.checked_sub(back.days()) else { continue };
        let state = log.state(&d.to_string())?;
        // Days after the first one ever recorded were due but never tried (machine off, timer
        // missed); days before it predate the installation and are not sent unasked.
        let after_first = first_recorded.as_ref().is_some_and(|f| d.to_string() > *f);
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
    /// The message could not be built (`[email]` settings, attachment).
    #[error(transparent)]
    Compose(#[from] deliver::DeliverError),
    /// The transport refused it; it was kept (or not) for the next run.
    #[error("report {label} not sent: {error}; {kept}; the next `report --send` without --day/--since sends it again")]
    NotSent {
        /// The period.
        label: String,
        /// The transport's error, with the server's reply.
        error: deliver::DeliverError,
        /// Where the message was kept.
        kept: Kept,
    },
}

/// Where an unsent message went.
#[derive(Debug)]
enum Kept {
    /// Saved in the data directory.
    Saved(PathBuf),
    /// Could not be saved either.
    Lost(PathBuf, std::io::Error),
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kept::Saved(file) => write!(f, "the message was kept in {}", file.display()),
            Kept::Lost(file, e) => write!(f, "and it could not be kept in {} either ({e})", file.display()),
        }
    }
}

/// Builds, sends and records the report of one period. On failure the message is kept in the
/// data directory and the error (with the server's reply) returned.
fn send_period(
    store: &Store,
    config: &Config,
    data_dir: &Path,
    opts: &ReportOptions,
    period: Period,
) -> Result<String, SendError> {
    let opts = ReportOptions { period: period.clone(), ..opts.clone() };
    let db = SendError::Store;
    let report = report::build(store, &opts).map_err(db)?;
    let email = &config.email;
    let csv = if email.attach_csv {
        let (start, end) = (period.start.as_second(), period.end.as_second());
        let rows = store.intrusion_rows(start, end, &period.tz, opts.probes_count).map_err(db)?;
        Some(deliver::csv_attachment(rows, email.gzip_over_bytes, &report.period.label)?)
    } else {
        None
    };
    let message = deliver::compose(email, &report, report::text::render(&report), report::html::render(&report), csv)?;
    let log = store.sent_log().map_err(db)?;
    let label = report.period.label.clone();
    match deliver::send(email, &message) {
        Ok(()) => {
            log.record(&label, &SendState::Sent).map_err(db)?;
            let to: Vec<String> = email.to.iter().map(ToString::to_string).collect();
            Ok(format!("report {label} sent to {}", to.join(", ")))
        }
        Err(e) => {
            log.record(&label, &SendState::Failed(e.to_string())).map_err(db)?;
            let dir = data_dir.join("reports/unsent");
            let file = dir.join(format!("report-{}.eml", label.replace([' ', ':', '–'], "_")));
            let kept = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&file, message.formatted()));
            let kept = match kept {
                Ok(()) => Kept::Saved(file),
                Err(k) => Kept::Lost(file, k),
            };
            Err(SendError::NotSent { label, error: e, kept })
        }
    }
}
