//! The command line: `maillogsentinel [--config FILE] <command>`.
//!
//! Exit codes (also in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | finished, but some files or lines could not be read (each is named on stderr) |
//! | 2 | bad command line |
//! | 3 | bad or unreadable configuration |
//! | 4 | the data directory or store cannot be used (nothing after the last commit was recorded) |
//! | 5 | another maillogsentinel is using the data directory |
//! | 6 | a report could not be sent (it was kept in the data directory and is sent again next time); `alerts test`: a channel did not take the test message |

mod alerts;
mod blocklist;
pub mod docs;
mod fleet;
mod geo;
pub mod package;
mod report;
mod scan;
mod setup;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Exit code: finished, but some input could not be read.
pub const EXIT_PARTIAL: u8 = 1;
/// Exit code: bad command line (clap's own).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: bad configuration.
pub const EXIT_CONFIG: u8 = 3;
/// Exit code: data directory or store unusable.
pub const EXIT_STORE: u8 = 4;
/// Exit code: data directory locked by another process.
pub const EXIT_LOCKED: u8 = 5;
/// Exit code: the report could not be emailed.
pub const EXIT_SEND: u8 = 6;
/// Exit code: the systemd journal cannot be read (no permission, no journalctl).
pub const EXIT_JOURNAL: u8 = 7;
/// Exit code: the fleet database cannot be reached, refused the connection or a statement, or is
/// of another schema version (`fleet` commands, `report --fleet`).
pub const EXIT_FLEET: u8 = 8;

/// Finds password-guessing attacks in Postfix and Dovecot logs.
#[derive(Debug, Parser)]
#[command(name = "maillogsentinel", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: $MAILLOGSENTINEL_CONFIG, then
    /// /etc/maillogsentinel/maillogsentinel.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the logs (and their rotated archives) and store every new authentication event.
    Scan(scan::ScanArgs),
    /// Keep scanning: store each new event within a second of its reaching the log, until
    /// stopped (SIGTERM, SIGINT); SIGHUP reads the configuration again.
    Watch(watch::WatchArgs),
    /// Summarise a period (default: yesterday) from the store, as text, HTML or JSON; --send
    /// emails it.
    Report(report::ReportArgs),
    /// List the period's attacking addresses for a firewall (nft, ipset, plain, JSON); never
    /// touches the firewall itself.
    Blocklist(blocklist::BlocklistArgs),
    /// List the alerts fired and how their delivery went; `alerts test` sends a test message
    /// through each channel.
    Alerts(alerts::AlertsArgs),
    /// Write a configuration and systemd units that scan hourly (or, with --watch, keep watching)
    /// and email a daily report.
    Setup(setup::SetupArgs),
    /// Geolocation databases: `geo update` downloads them, `geo lookup IP...` queries them.
    Geo(geo::GeoArgs),
    /// The fleet's PostgreSQL database: `fleet init` creates its tables, `fleet ship` ships this
    /// server's events, `fleet status` shows the backlog, `fleet prune` drops old months.
    Fleet(fleet::FleetArgs),
}

/// Runs the command line of this process and returns its exit code.
pub fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    // `setup` writes the configuration: it must work before there is a valid one.
    let command = match cli.command {
        Command::Setup(args) => return setup::run(args),
        other => other,
    };
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("maillogsentinel: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Some((file, mode, what)) = config.secret_readable_by_others() {
        let instead = if what.starts_with("[email]") {
            "move the password to a file named by [email] password_file"
        } else if what.contains("[fleet]") {
            "move the password to a file named by [fleet] password_file"
        } else {
            "keep tokens in a file named by the channel's token_file"
        };
        eprintln!(
            "maillogsentinel: warning: {} holds {what} and every local user can read it (mode {mode:o}): run \
             `chmod 640 {}` (the service's group still reads it), or {instead}",
            file.display(),
            file.display()
        );
    }
    match &command {
        Command::Scan(_) => warn_if_root("scan", "parses text that attackers write into the logs"),
        Command::Watch(_) => warn_if_root("watch", "parses text that attackers write into the logs"),
        Command::Report(_) => warn_if_root("report", "renders text that attackers wrote into the logs"),
        // `blocklist`, `alerts` and `geo` read the store or download, and parse no log.
        _ => {}
    }
    match command {
        Command::Scan(args) => scan::run(args, &config),
        Command::Watch(args) => watch::run(args, &config, cli.config),
        Command::Report(args) => report::run(args, &config),
        Command::Blocklist(args) => blocklist::run(args, &config),
        Command::Alerts(args) => alerts::run(args, &config),
        Command::Setup(args) => setup::run(args),
        Command::Geo(args) => geo::run(args, &config),
        Command::Fleet(args) => fleet::run(args, &config),
    }
}

/// Says once, at the start, that `command` had better not run as root: the logs it reads (or,
/// for `report`, the store it renders) hold text that attackers chose, which `does` says.
fn warn_if_root(command: &str, does: &str) {
    // SAFETY: geteuid takes no argument and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    eprintln!(
        "maillogsentinel: warning: {command} is running as root, but it {does} (user and host names), so a flaw in it would be theirs with root's rights: run it as an unprivileged \
         user in group adm, as the systemd units of `maillogsentinel setup` do (`setup --user NAME`; default \
         maillogsentinel)"
    );
}

/// Diagnostics for developers: `MAILLOGSENTINEL_LOG=debug`.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILLOGSENTINEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Counts the commands print read as in the reports; the rule lives with the report.
pub use crate::report::format::thousands;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
