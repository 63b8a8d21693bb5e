//! `maillogsentinel alerts`: the alerts fired and how their delivery went; `alerts test` sends a
//! test message through each channel.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::{EXIT_CONFIG, EXIT_SEND, EXIT_STORE, thousands};
use crate::config::{Config, Duration};
use crate::deliver::alert::{Outcome, send};
use crate::model::alert::{Alert, RuleKind};
use crate::report::ReportError;
use crate::store::Store;
use crate::store::alerts::Queued;

/// Output formats of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per message and channel.
    Text,
    /// An array of objects, one per message and channel.
    Json,
}

/// Options of `alerts`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AlertsArgs {
    /// `test`: send a test message instead of listing.
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// List the alerts queued in the last DURATION (e.g. 24h, 90m, 7d).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = super::report::parse_since)]
    pub since: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Directory holding the store. Default: `data_dir` from the config.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `alerts` subcommands.
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Send a test message through every channel (or one) and print how each went.
    Test {
        /// Only the channel called NAME.
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
    },
}

/// Runs `alerts` and returns the exit code.
pub fn run(args: AlertsArgs, config: &Config) -> ExitCode {
    match args.command {
        Some(AlertsCommand::Test { channel }) => test(config, channel.as_deref()),
        None => list(&args, config),
    }
}

/// Exit codes of `alerts test`: 0 when every channel took the message, 6 otherwise, 3 when there
/// is no such channel.
fn test(config: &Config, only: Option<&str>) -> ExitCode {
    let channels: Vec<_> = config.alerts.channels.iter().filter(|c| only.is_none_or(|name| c.name == name)).collect();
    if channels.is_empty() {
        let what = match only {
            Some(name) => format!("no [[alerts.channel]] is called {name:?}"),
            None => "no [[alerts.channel]] is configured".to_string(),
        };
        eprintln!("maillogsentinel: error: {what}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let now = jiff::Timestamp::now().as_second();
    let mut failed = false;
    for channel in channels {
        let alert = Alert {
            key: format!("mls-test-{now}-{}", channel.name),
            rule: "test".into(),
            kind: Some(RuleKind::Test),
            server: config.server_name.clone(),
            created: now,
            first_seen: now,
            last_seen: now,
            ..Alert::default()
        };
        match send(channel, &config.email, &alert, &config.timezone) {
            Outcome::Delivered => println!("{}: delivered", channel.name),
            Outcome::Retry { error, .. } | Outcome::Failed { error } => {
                failed = true;
                println!("{}: failed: {error}", channel.name);
            }
        }
    }
    if failed { ExitCode::from(EXIT_SEND) } else { ExitCode::SUCCESS }
}

/// One message as `alerts --format json` lists it.
#[derive(Serialize)]
struct Listed<'a> {
    id: i64,
    key: &'a str,
    created: String,
    rule: &'a str,
    kind: &'a str,
    digest: bool,
    channel: &'a str,
    status: &'a str,
    tries: u32,
    next_try: Option<String>,
    done: Option<String>,
    error: Option<&'a str>,
    subjects: Vec<&'a str>,
    more_subjects: u64,
    attempts: u64,
}

fn list(args: &AlertsArgs, config: &Config) -> ExitCode {
    let data_dir = args.data_dir.clone().unwrap_or_else(|| config.data_dir.clone());
    let path = data_dir.join(crate::store::STORE_FILE);
    if !path.exists() {
        eprintln!("maillogsentinel: error: {}", ReportError::NoStore(path));
        return ExitCode::from(EXIT_STORE);
    }
    let since = jiff::Timestamp::now().as_second() - args.since.as_secs_i64();
    let rows = Store::open_read_only(&path).and_then(|store| store.alerts_since(since));
    let rows = match rows {
        Ok(r) => r,
        Err(source) => {
            eprintln!("maillogsentinel: error: {}", ReportError::Store { path, source });
            return ExitCode::from(EXIT_STORE);
        }
    };
    let time = |ts: i64| {
        jiff::Timestamp::from_second(ts)
            .map(|t| config.timezone.to_datetime(t).strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|_| ts.to_string())
    };
    match args.format {
        Format::Json => {
            let listed: Vec<Listed> = rows.iter().map(|q| listed(q, &time)).collect();
            match serde_json::to_string_pretty(&listed) {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("maillogsentinel: error: {e}");
                    return ExitCode::from(EXIT_STORE);
                }
            }
        }
        Format::Text => {
            if rows.is_empty() {
                println!("no alerts in the last {}", args.since);
            }
            for q in &rows {
                println!("{}", line(q, &time));
            }
        }
    }
    ExitCode::SUCCESS
}

fn listed<'a>(q: &'a Queued, time: &dyn Fn(i64) -> String) -> Listed<'a> {
    use crate::store::alerts::Delivery;
    Listed {
        id: q.id,
        key: &q.alert.key,
        created: time(q.created),
        rule: &q.alert.rule,
        kind: q.alert.kind.map_or("-", |k| k.as_str()),
        digest: q.alert.digest,
        channel: &q.channel,
        status: q.status.as_str(),
        tries: q.tries,
        next_try: (q.status == Delivery::Pending).then(|| time(q.next_try)),
        done: q.done.map(time),
        error: q.error.as_deref(),
        subjects: q.alert.subjects.iter().map(|s| s.name.as_str()).collect(),
        more_subjects: q.alert.more_subjects,
        attempts: q.alert.attempts,
    }
}

/// `2026-12-07 14:52:10  brute (threshold, digest)  hook  sent 14:52:11  3 subjects, 120 attempts: 192.0.2.1, …`
fn line(q: &Queued, time: &dyn Fn(i64) -> String) -> String {
    use crate::store::alerts::Delivery;
    let a = &q.alert;
    let kind = a.kind.map_or("-", |k| k.as_str());
    let state = match q.status {
        Delivery::Sent => format!("sent {}", q.done.map(time).unwrap_or_default()),
        Delivery::Dropped => format!("DROPPED ({})", q.error.as_deref().unwrap_or("")),
        Delivery::Pending if q.tries == 0 => "pending".to_string(),
        Delivery::Pending => format!(
            "pending: {} tr{}, next {} ({})",
            q.tries,
            if q.tries == 1 { "y" } else { "ies" },
            time(q.next_try),
            q.error.as_deref().unwrap_or("")
        ),
    };
    let subjects = a.subjects.len() as u64 + a.more_subjects;
    let mut names: Vec<&str> = a.subjects.iter().take(3).map(|s| s.name.as_str()).collect();
    if subjects > 3 {
        names.push("…");
    }
    format!(
        "{}  {} ({kind}{})  {}  {state}  {} subject{}, {} attempt{}: {}",
        time(q.created),
        a.rule,
        if a.digest { ", digest" } else { "" },
        q.channel,
        thousands(subjects),
        if subjects == 1 { "" } else { "s" },
        thousands(a.attempts),
        if a.attempts == 1 { "" } else { "s" },
        names.join(", ")
    )
}
