//! `maillogsentinel setup`: a configuration, the data directory and systemd units for scheduled
//! scans and daily emailed reports.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::EXIT_STORE;
use crate::config::{Duration, DurationError};

/// Options of `setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Write everything under this directory instead of / (for packaging and tests).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Unprivileged user the services run as.
    #[arg(long, value_name = "NAME", default_value = "maillogsentinel", value_parser = parse_user)]
    pub user: String,
    /// How often to scan (15min, 1h, 2h30m, 1d: the duration grammar of `report --since`, plus
    /// systemd's sec, min, hr and day).
    #[arg(long, value_name = "SPAN", default_value = "1h", value_parser = parse_scan_interval)]
    pub scan_interval: ScanInterval,
    /// Local time of the daily report, HH:MM.
    #[arg(long, value_name = "HH:MM", default_value = "07:00", value_parser = parse_report_at)]
    pub report_at: String,
    /// The maillogsentinel binary the units run. Default: this one.
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
}

/// How often the scan timer fires: the text as given, which goes into the timer unit unchanged
/// (systemd reads the same spans), and the length it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanInterval {
    text: String,
    span: Duration,
}

impl ScanInterval {
    /// The span as written on the command line, for the timer unit.
    pub fn as_systemd(&self) -> &str {
        &self.text
    }

    /// How long it is.
    pub fn span(&self) -> Duration {
        self.span
    }
}

/// A bad argument of `setup`.
#[derive(Debug, thiserror::Error)]
pub enum ArgError {
    /// A user name that `useradd` and systemd's `User=` would not both take.
    #[error("{0:?}: use letters, digits, '_' and '-' (at most 32, not starting with '-')")]
    User(String),
    /// Not a time of day.
    #[error("{0:?}: write HH:MM, e.g. 07:00")]
    Time(String),
    /// A span with characters other than digits and unit letters, which must not reach a unit file.
    #[error("{0:?}: write a span such as 15min, 1h or 2h30min, without spaces")]
    SpanSyntax(String),
    /// Not a duration, or zero, or too long.
    #[error(transparent)]
    Span(#[from] DurationError),
}

/// `--user`.
fn parse_user(name: &str) -> Result<String, ArgError> {
    if valid_user(name) { Ok(name.to_string()) } else { Err(ArgError::User(name.to_string())) }
}

/// `--report-at`.
fn parse_report_at(time: &str) -> Result<String, ArgError> {
    if valid_time(time) { Ok(time.to_string()) } else { Err(ArgError::Time(time.to_string())) }
}

/// `--scan-interval`: the shared duration grammar, where systemd's `sec`, `min`, `hr` and `day`
/// (which earlier versions took) stand for `s`, `m`, `h` and `d`.
fn parse_scan_interval(text: &str) -> Result<ScanInterval, ArgError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()) {
        return Err(ArgError::SpanSyntax(text.to_string()));
    }
    let mut grammar = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        grammar.push_str(&rest[..digits]);
        rest = &rest[digits..];
        let letters = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_lowercase()).len();
        let unit = &rest[..letters];
        grammar.push_str(match unit {
            "sec" => "s",
            "min" => "m",
            "hr" => "h",
            "day" => "d",
            other => other,
        });
        rest = &rest[letters..];
    }
    let span = Duration::parse_within(&grammar, Duration::MAX)?;
    Ok(ScanInterval { text: text.to_string(), span })
}

/// Where things go, relative to the root.
const CONFIG: &str = "etc/maillogsentinel/maillogsentinel.toml";
const UNIT_DIR: &str = "etc/systemd/system";
const DATA_DIR: &str = "var/lib/maillogsentinel";

const UNITS: [(&str, &str); 4] = [
    ("maillogsentinel-scan.service", include_str!("units/maillogsentinel-scan.service")),
    ("maillogsentinel-scan.timer", include_str!("units/maillogsentinel-scan.timer")),
    ("maillogsentinel-report.service", include_str!("units/maillogsentinel-report.service")),
    ("maillogsentinel-report.timer", include_str!("units/maillogsentinel-report.timer")),
];
const HARDENING: &str = include_str!("units/hardening.conf");
const EXAMPLE_CONFIG: &str = include_str!("../../maillogsentinel.example.toml");

/// Runs `setup` and returns the exit code.
pub fn run(args: SetupArgs) -> ExitCode {
    match setup(&args) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("maillogsentinel: error: setup: {e}");
            ExitCode::from(EXIT_STORE)
        }
    }
}

fn valid_user(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !name.starts_with('-')
}

/// `HH:MM` with hours 0..=23 and minutes 0..=59.
fn valid_time(t: &str) -> bool {
    let Some((h, m)) = t.split_once(':') else { return false };
    h.len() == 2 && m.len() == 2 && h.parse::<u8>().is_ok_and(|h| h < 24) && m.parse::<u8>().is_ok_and(|m| m < 60)
}

/// The user's uid and gid from `<root>/etc/passwd`, when it exists there.
fn lookup_user(root: &Path, name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?))).flatten()
    })
}

/// Why `setup` could not write what it writes (its arguments were checked by the parser).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The units need the binary's path, and the system would not tell it.
    #[error("cannot tell where this binary is ({0}); pass --bin")]
    CurrentExe(#[source] std::io::Error),
    /// A directory or file could not be created, written or given to the service user.
    #[error("{action}{}: {source}", path.display())]
    Io {
        /// What was being done, when not just writing (`chown `).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The [`SetupError::Io`] maker for `path`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |source| SetupError::Io { action: "", path: path.to_path_buf(), source }
}

fn setup(args: &SetupArgs) -> Result<String, SetupError> {
    let bin = match &args.bin {
        Some(b) => b.clone(),
        None => std::env::current_exe().map_err(SetupError::CurrentExe)?,
    };
    let root = &args.root;
    let abs = |rel: &str| PathBuf::from("/").join(rel);
    let mut said = String::new();

    let config_path = root.join(CONFIG);
    if config_path.exists() {
        let _ = writeln!(said, "kept     {} (already there; not overwritten)", config_path.display());
    } else {
        let dir = config_path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let text = format!(
            "# Written by `maillogsentinel setup`. Edit [email] `to` before the first daily report.\n{EXAMPLE_CONFIG}"
        );
        std::fs::write(&config_path, text).map_err(io(&config_path))?;
        // Readable by the service (it may hold an SMTP password), not by everyone.
        let _ = std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o640));
        let _ = writeln!(said, "wrote    {}", config_path.display());
    }

    let data_dir = root.join(DATA_DIR);
    std::fs::create_dir_all(&data_dir).map_err(io(&data_dir))?;
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o750)).map_err(io(&data_dir))?;
    match lookup_user(root, &args.user) {
        Some((uid, gid)) => {
            std::os::unix::fs::chown(&data_dir, Some(uid), Some(gid)).map_err(|source| SetupError::Io {
                action: "chown ",
                path: data_dir.clone(),
                source,
            })?;
            // root:service-group 640: the service reads it, only root edits it.
            let _ = std::os::unix::fs::chown(&config_path, Some(0), Some(gid));
            let _ = writeln!(said, "created  {} (mode 750, owner {})", data_dir.display(), args.user);
        }
        None => {
            let _ = writeln!(
                said,
                "created  {} (mode 750); user {:?} does not exist yet: create it, then give it the directory:\n         \
                 useradd --system --home-dir {} --shell /usr/sbin/nologin {}\n         chown {}: {}\n         \
                 chgrp {} {}",
                data_dir.display(),
                args.user,
                abs(DATA_DIR).display(),
                args.user,
                args.user,
                abs(DATA_DIR).display(),
                args.user,
                abs(CONFIG).display()
            );
        }
    }

    let unit_dir = root.join(UNIT_DIR);
    std::fs::create_dir_all(&unit_dir).map_err(io(&unit_dir))?;
    let hardening = HARDENING.replace("@DATA_DIR@", &abs(DATA_DIR).display().to_string());
    for (name, template) in UNITS {
        let text = template
            .replace("@HARDENING@", hardening.trim_end())
            .replace("@BIN@", &bin.display().to_string())
            .replace("@CONFIG@", &abs(CONFIG).display().to_string())
            .replace("@USER@", &args.user)
            .replace("@INTERVAL@", args.scan_interval.as_systemd())
            .replace("@REPORT_AT@", &args.report_at);
        let path = unit_dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
        let _ = writeln!(said, "wrote    {}", path.display());
    }
    let _ = writeln!(
        said,
        "\nNext: set [email] `to` in {}, then run:\n  systemctl daemon-reload\n  \
         systemctl enable --now maillogsentinel-scan.timer maillogsentinel-report.timer",
        abs(CONFIG).display()
    );
    Ok(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked() {
        assert!(valid_time("07:00") && valid_time("23:59") && !valid_time("24:00") && !valid_time("7:00"));
        for (span, secs) in [("1h", 3600), ("15min", 900), ("2h30min", 9000), ("30sec", 30), ("1day", 86_400)] {
            let parsed = parse_scan_interval(span).map(|i| (i.as_systemd().to_string(), i.span().as_secs()));
            assert_eq!(parsed.ok(), Some((span.to_string(), secs)), "{span}");
        }
        for (span, secs) in [("90m", 5400), ("1d12h", 129_600), ("2w", 1_209_600), ("2hr", 7200)] {
            assert_eq!(parse_scan_interval(span).ok().map(|i| i.span().as_secs()), Some(secs), "{span}");
        }
        for bad in ["", "h", "1h;rm", "1 h", "1h\n", "0h", "5x", "15", "1H"] {
            assert!(parse_scan_interval(bad).is_err(), "{bad:?}");
        }
        assert!(valid_user("maillogsentinel") && !valid_user("a b") && !valid_user("-x") && !valid_user("a\nb"));
    }
}
