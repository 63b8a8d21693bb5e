//! `maillogsentinel setup`: a configuration, the data directory and systemd units for scheduled
//! scans and daily emailed reports.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::EXIT_STORE;

/// Options of `setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Write everything under this directory instead of / (for packaging and tests).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Unprivileged user the services run as.
    #[arg(long, value_name = "NAME", default_value = "maillogsentinel")]
    pub user: String,
    /// How often to scan (systemd time span: 15min, 1h, ...).
    #[arg(long, value_name = "SPAN", default_value = "1h")]
    pub scan_interval: String,
    /// Local time of the daily report, HH:MM.
    #[arg(long, value_name = "HH:MM", default_value = "07:00")]
    pub report_at: String,
    /// The maillogsentinel binary the units run. Default: this one.
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
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
            ExitCode::from(if e.starts_with("--") { super::EXIT_USAGE } else { EXIT_STORE })
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

/// A systemd time span we accept: digits followed by a unit (`30min`, `1h`, `2h30min`).
fn valid_span(s: &str) -> bool {
    let mut parts = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit_len = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_alphabetic()).len();
        let unit = &rest[..unit_len];
        if !["s", "sec", "m", "min", "h", "hr", "d", "day"].contains(&unit) {
            return false;
        }
        rest = &rest[unit_len..];
        parts += 1;
    }
    parts > 0
}

/// The user's uid and gid from `<root>/etc/passwd`, when it exists there.
fn lookup_user(root: &Path, name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?))).flatten()
    })
}

fn setup(args: &SetupArgs) -> Result<String, String> {
    if !valid_user(&args.user) {
        return Err(format!("--user {:?}: use letters, digits, '_' and '-'", args.user));
    }
    if !valid_time(&args.report_at) {
        return Err(format!("--report-at {:?}: write HH:MM, e.g. 07:00", args.report_at));
    }
    if !valid_span(&args.scan_interval) {
        return Err(format!("--scan-interval {:?}: write a span such as 15min, 1h or 2h30min", args.scan_interval));
    }
    let bin = match &args.bin {
        Some(b) => b.clone(),
        None => std::env::current_exe().map_err(|e| format!("cannot tell where this binary is ({e}); pass --bin"))?,
    };
    let root = &args.root;
    let abs = |rel: &str| PathBuf::from("/").join(rel);
    let mut said = String::new();

    let config_path = root.join(CONFIG);
    if config_path.exists() {
        let _ = writeln!(said, "kept     {} (already there; not overwritten)", config_path.display());
    } else {
        let dir = config_path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let text = format!(
            "# Written by `maillogsentinel setup`. Edit [email] `to` before the first daily report.\n{EXAMPLE_CONFIG}"
        );
        std::fs::write(&config_path, text).map_err(|e| format!("{}: {e}", config_path.display()))?;
        // Readable by the service (it may hold an SMTP password), not by everyone.
        let _ = std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o640));
        let _ = writeln!(said, "wrote    {}", config_path.display());
    }

    let data_dir = root.join(DATA_DIR);
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o750))
        .map_err(|e| format!("{}: {e}", data_dir.display()))?;
    match lookup_user(root, &args.user) {
        Some((uid, gid)) => {
            std::os::unix::fs::chown(&data_dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", data_dir.display()))?;
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
    std::fs::create_dir_all(&unit_dir).map_err(|e| format!("{}: {e}", unit_dir.display()))?;
    let hardening = HARDENING.replace("@DATA_DIR@", &abs(DATA_DIR).display().to_string());
    for (name, template) in UNITS {
        let text = template
            .replace("@HARDENING@", hardening.trim_end())
            .replace("@BIN@", &bin.display().to_string())
            .replace("@CONFIG@", &abs(CONFIG).display().to_string())
            .replace("@USER@", &args.user)
            .replace("@INTERVAL@", &args.scan_interval)
            .replace("@REPORT_AT@", &args.report_at);
        let path = unit_dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
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
        assert!(valid_span("1h") && valid_span("15min") && valid_span("2h30min"));
        assert!(!valid_span("") && !valid_span("h") && !valid_span("1h;rm") && !valid_span("1 h"));
        assert!(valid_user("maillogsentinel") && !valid_user("a b") && !valid_user("-x") && !valid_user("a\nb"));
    }
}
