//! `maillogsentinel setup`: a configuration, the data directory and systemd units for scheduled
//! scans (or, with `--watch`, a resident watch) and daily emailed reports.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{EXIT_CONFIG, EXIT_STORE, EXIT_USAGE};
use crate::config::{Duration, DurationError};

/// The service user `setup` (and the Debian package) create and the units run as.
const DEFAULT_USER: &str = "maillogsentinel";
const DEFAULT_SCAN_INTERVAL: &str = "1h";
const DEFAULT_REPORT_AT: &str = "07:00";

/// Options of `setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Write everything under this directory instead of / (for packages, images and tests). The
    /// service user is then looked up in DIR/etc/passwd and DIR/etc/group, not on this machine,
    /// and not created: the commands to run on the target are printed.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Unprivileged user the services run as; created (useradd --system) when it does not exist.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_USER, value_parser = parse_user)]
    pub user: String,
    /// How often to scan (15min, 1h, 2h30m, 1d: the duration grammar of `report --since`, plus
    /// systemd's sec, min, hr and day).
    #[arg(long, value_name = "SPAN", default_value = DEFAULT_SCAN_INTERVAL, value_parser = parse_scan_interval)]
    pub scan_interval: ScanInterval,
    /// Install maillogsentinel-watch.service, which stores each failed login within a second of
    /// its logging, instead of the scan service and timer.
    #[arg(long, conflicts_with = "scan_interval")]
    pub watch: bool,
    /// Also install maillogsentinel-blocklist.{path,service}: after each scan (or watch commit),
    /// export the blocklist as an nft script in the data directory and load it with `nft -f`
    /// (sets only; the admin adds the one rule that uses them).
    #[arg(long)]
    pub blocklist: bool,
    /// Local time of the daily report, HH:MM.
    #[arg(long, value_name = "HH:MM", default_value = DEFAULT_REPORT_AT, value_parser = parse_report_at)]
    pub report_at: String,
    /// The maillogsentinel binary the units run, an absolute path on the target system. Default:
    /// this one.
    #[arg(long, value_name = "PATH", value_parser = parse_bin)]
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
    /// A relative `--bin`: systemd refuses a relative `ExecStart=`, and relative to what would
    /// be unclear with `--root`.
    #[error("{0:?}: give the absolute path the binary has on the target system, e.g. /usr/local/bin/maillogsentinel")]
    RelativeBin(PathBuf),
    /// A path that would need quoting in a unit file.
    #[error(transparent)]
    UnitPath(#[from] UnitPathError),
}

/// A path with characters that the units would have to quote or escape (spaces, `%`, `$`,
/// quotes, control characters): refused rather than written wrong.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path:?}: only letters, digits and / . _ - + @ : , ~ can be written into the systemd units; use a path without other characters"
)]
pub struct UnitPathError {
    /// The path.
    pub path: PathBuf,
}

/// `path` if it can go into a unit file as it is.
fn unit_path(path: &Path) -> Result<&str, UnitPathError> {
    let refused = || UnitPathError { path: path.to_path_buf() };
    let text = path.to_str().ok_or_else(refused)?;
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+@:,~".contains(c);
    if text.chars().all(safe) { Ok(text) } else { Err(refused()) }
}

/// `--bin`: absolute, and writable into a unit as it is.
fn parse_bin(text: &str) -> Result<PathBuf, ArgError> {
    let path = PathBuf::from(text);
    if !path.is_absolute() {
        return Err(ArgError::RelativeBin(path));
    }
    unit_path(&path)?;
    Ok(path)
}

/// Directories that `ProtectHome=yes` makes empty and unreadable for the services.
const HIDDEN_BY_PROTECT_HOME: [&str; 3] = ["/home", "/root", "/run/user"];

/// The warning for a path the services cannot reach because of `ProtectHome=yes`.
fn protect_home_warning(what: &str, path: &Path, advice: &str) -> Option<String> {
    let hidden = HIDDEN_BY_PROTECT_HOME.iter().find(|dir| path.starts_with(dir))?;
    Some(format!(
        "{what} {} is under {hidden}, which the units' ProtectHome=yes hides from the services: they \
         would fail; {advice}",
        path.display()
    ))
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
mod accounts;

use self::accounts::Accounts;

const CONFIG: &str = "etc/maillogsentinel/maillogsentinel.toml";
const UNIT_DIR: &str = "etc/systemd/system";

/// A unit `setup` can write: its file name, its template (`src/cli/units/`), the `setup`
/// command that writes it, named in its first comment line (`@BY@`), and the man page of the
/// command it runs.
#[derive(Clone, Copy)]
struct Unit {
    name: &'static str,
    template: &'static str,
    by: &'static str,
    man: &'static str,
}

const SCAN_SERVICE: Unit = Unit {
    name: "maillogsentinel-scan.service",
    template: include_str!("units/maillogsentinel-scan.service"),
    by: "`maillogsentinel setup`",
    man: "maillogsentinel-scan",
};
const SCAN_TIMER: Unit = Unit {
    name: "maillogsentinel-scan.timer",
    template: include_str!("units/maillogsentinel-scan.timer"),
    by: "`maillogsentinel setup`",
    man: "maillogsentinel-scan",
};
const WATCH_SERVICE: Unit = Unit {
    name: "maillogsentinel-watch.service",
    template: include_str!("units/maillogsentinel-watch.service"),
    by: "`maillogsentinel setup --watch`",
    man: "maillogsentinel-watch",
};
const REPORT_SERVICE: Unit = Unit {
    name: "maillogsentinel-report.service",
    template: include_str!("units/maillogsentinel-report.service"),
    by: "`maillogsentinel setup`",
    man: "maillogsentinel-report",
};
const REPORT_TIMER: Unit = Unit {
    name: "maillogsentinel-report.timer",
    template: include_str!("units/maillogsentinel-report.timer"),
    by: "`maillogsentinel setup`",
    man: "maillogsentinel-report",
};
const BLOCKLIST_SERVICE: Unit = Unit {
    name: "maillogsentinel-blocklist.service",
    template: include_str!("units/maillogsentinel-blocklist.service"),
    by: "`maillogsentinel setup --blocklist`",
    man: "maillogsentinel-blocklist",
};
const BLOCKLIST_PATH: Unit = Unit {
    name: "maillogsentinel-blocklist.path",
    template: include_str!("units/maillogsentinel-blocklist.path"),
    by: "`maillogsentinel setup --blocklist`",
    man: "maillogsentinel-blocklist",
};

/// The report service's lines before its report, with the scan timer.
const REPORT_SCANS_FIRST: &str = "# Scan first so that the report sees the end of the day; a partly unreadable log (\"-\")\n\
     # must not stop the report.\n\
     ExecStartPre=-@BIN@ --config @CONFIG@ scan --quiet";
/// The same with the watch service, which holds the data directory's lock: a scan there would
/// fail (exit 5) every day.
const REPORT_AFTER_WATCH: &str = "# No scan first: the watch service has stored the end of the day already, and a scan\n\
     # would find the data directory locked by it.";
/// The package's report service, which serves either mode: it scans first as for the timer, and
/// says why the daily line about the lock is harmless beside the watch service.
const REPORT_SCANS_FIRST_UNLESS_WATCHED: &str = "# Scan first so that the report sees the end of the day; a partly unreadable log (\"-\")\n\
     # must not stop the report. With maillogsentinel-watch.service running instead of the scan\n\
     # timer, this scan finds the data directory locked and exits 5, which \"-\" ignores too: the\n\
     # watch has stored the end of the day already.\n\
     ExecStartPre=-@BIN@ --config @CONFIG@ scan --quiet";
/// The rule the admin adds to use the blocklist's sets, in their table (a rule can only use the
/// sets of its own table); the sets are declared too, so that the file loads before the first
/// export, and as the export declares them, so that the two agree.
pub const NFT_RULE: &str = "table inet maillogsentinel {
    set maillogsentinel_v4 { type ipv4_addr; flags interval, timeout; }
    set maillogsentinel_v6 { type ipv6_addr; flags interval, timeout; }
    chain input {
        type filter hook input priority filter - 1; policy accept;
        ip saddr @maillogsentinel_v4 drop
        ip6 saddr @maillogsentinel_v6 drop
    }
}
";
const HARDENING: &str = include_str!("units/hardening.conf");
const EXAMPLE_CONFIG: &str = include_str!("../../maillogsentinel.example.toml");

/// Runs `setup` and returns the exit code.
pub fn run(args: SetupArgs) -> ExitCode {
    match setup(&args) {
        Ok(Done { said, warnings }) => {
            print!("{said}");
            for w in warnings {
                eprintln!("maillogsentinel: warning: setup: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("maillogsentinel: error: setup: {e}");
            ExitCode::from(match e {
                SetupError::Config(_) | SetupError::DataDir { .. } => EXIT_CONFIG,
                SetupError::BinPath(_) => EXIT_USAGE,
                SetupError::CurrentExe(_) | SetupError::Io { .. } | SetupError::CreateUser { .. } => EXIT_STORE,
            })
        }
    }
}

/// What `setup` did: lines for standard output, and warnings for standard error.
struct Done {
    said: String,
    warnings: Vec<String>,
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

/// Why `setup` could not write what it writes (its arguments were checked by the parser).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The units need the binary's path, and the system would not tell it.
    #[error("cannot tell where this binary is ({0}); pass --bin")]
    CurrentExe(#[source] std::io::Error),
    /// This binary's path cannot be written into the units.
    #[error("this binary's path {0}; pass --bin")]
    BinPath(#[source] UnitPathError),
    /// The configuration that is kept does not load: the units would run with a broken one.
    #[error("{0}; fix it (or move it away to get a new one), then run setup again")]
    Config(#[source] crate::config::ConfigError),
    /// The configured data directory cannot be given to the services.
    #[error("config file {config}: key `data_dir`: {message}")]
    DataDir {
        /// The configuration file.
        config: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The service user does not exist, and `useradd` could not create it.
    #[error(
        "user {user:?} does not exist, and `{command}` failed: {reason}; create the user (or pass --user NAME of an \
         existing one), then run setup again"
    )]
    CreateUser {
        /// The user.
        user: String,
        /// The command line that was run.
        command: String,
        /// What went wrong.
        reason: String,
    },
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

fn setup(args: &SetupArgs) -> Result<Done, SetupError> {
    let bin = match &args.bin {
        Some(b) => b.clone(),
        None => std::env::current_exe().map_err(SetupError::CurrentExe)?,
    };
    let bin_text = unit_path(&bin).map_err(SetupError::BinPath)?.to_string();
    let root = &args.root;
    let abs = |rel: &str| PathBuf::from("/").join(rel);
    let mut said = String::new();
    let mut warnings = Vec::new();
    warnings.extend(protect_home_warning(
        "the binary",
        &bin,
        "install it elsewhere (e.g. /usr/local/bin) and pass --bin",
    ));

    // The configuration decides where the data directory is: the one kept, else the one written.
    let config_path = root.join(CONFIG);
    let kept = config_path.exists();
    let config_text = if kept {
        std::fs::read_to_string(&config_path).map_err(|source| {
            SetupError::Config(crate::config::ConfigError::Read { path: config_path.clone(), source })
        })?
    } else {
        format!(
            "# Written by `maillogsentinel setup`. Edit [email] `to` before the first daily report.\n{EXAMPLE_CONFIG}"
        )
    };
    let config = crate::config::Config::parse(&config_text, &config_path).map_err(SetupError::Config)?;
    let data_dir_error = |message: String| SetupError::DataDir { config: config_path.clone(), message };
    let target_data_dir = config.data_dir.clone();
    if !target_data_dir.is_absolute() {
        return Err(data_dir_error(format!(
            "{:?} is relative, and the services would not know relative to what: write an absolute path",
            target_data_dir
        )));
    }
    let data_dir_text = unit_path(&target_data_dir).map_err(|e| data_dir_error(e.to_string()))?.to_string();
    warnings.extend(protect_home_warning(
        "the data directory",
        &target_data_dir,
        "set `data_dir` to a directory outside it (e.g. /var/lib/maillogsentinel)",
    ));

    if kept {
        let _ = writeln!(said, "kept     {} (already there; not overwritten)", config_path.display());
    } else {
        let dir = config_path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        std::fs::write(&config_path, &config_text).map_err(io(&config_path))?;
        // Readable by the service (it may hold an SMTP password), not by everyone.
        let _ = std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o640));
        let _ = writeln!(said, "wrote    {}", config_path.display());
    }

    let data_dir = root.join(target_data_dir.strip_prefix("/").unwrap_or(&target_data_dir));
    std::fs::create_dir_all(&data_dir).map_err(io(&data_dir))?;
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o750)).map_err(io(&data_dir))?;
    let accounts = Accounts::of(root);
    let mut account = accounts.user(&args.user);
    // On this machine the user can be made now; on another root it would get this machine's ids.
    if account.is_none() && matches!(accounts, Accounts::Host) {
        let useradd = accounts.useradd(&args.user, &target_data_dir);
        run_useradd(&args.user, &useradd)?;
        account = accounts.user(&args.user);
        if account.is_none() {
            return Err(SetupError::CreateUser {
                user: args.user.clone(),
                command: useradd.join(" "),
                reason: "it succeeded, but the user database still does not know the user (NSS)".into(),
            });
        }
        let _ = writeln!(said, "created  user {} ({})", args.user, useradd.join(" "));
    }
    match account {
        Some(account) => {
            std::os::unix::fs::chown(&data_dir, Some(account.uid), Some(account.gid))
                .map_err(|source| SetupError::Io { action: "chown ", path: data_dir.clone(), source })?;
            // root:service-group 640: the service reads it, only root edits it.
            let _ = std::os::unix::fs::chown(&config_path, Some(0), Some(account.gid));
            let group = account.group.clone().unwrap_or_else(|| account.gid.to_string());
            let _ = writeln!(said, "created  {} (mode 750, owner {}:{group})", data_dir.display(), args.user);
        }
        None => {
            let _ = writeln!(
                said,
                "created  {} (mode 750); user {:?} is not in {} (with --root, users are looked up in the root's \
                 files, not this machine's): on the target system, create it if needed and give it the directory:\n         \
                 {}\n         chown {}: {}\n         chgrp \"$(id -gn {})\" {}",
                data_dir.display(),
                args.user,
                root.join("etc/passwd").display(),
                accounts.useradd(&args.user, &target_data_dir).join(" "),
                args.user,
                target_data_dir.display(),
                args.user,
                abs(CONFIG).display()
            );
        }
    }

    let unit_dir = root.join(UNIT_DIR);
    std::fs::create_dir_all(&unit_dir).map_err(io(&unit_dir))?;
    let (units, scan_first, enable, other_mode) = if args.watch {
        (&[WATCH_SERVICE, REPORT_SERVICE, REPORT_TIMER][..], REPORT_AFTER_WATCH, WATCH_SERVICE.name, SCAN_TIMER.name)
    } else {
        (
            &[SCAN_SERVICE, SCAN_TIMER, REPORT_SERVICE, REPORT_TIMER][..],
            REPORT_SCANS_FIRST,
            SCAN_TIMER.name,
            WATCH_SERVICE.name,
        )
    };
    let blocklist_units = if args.blocklist { &[BLOCKLIST_SERVICE, BLOCKLIST_PATH][..] } else { &[][..] };
    let fill = Fill {
        by: None,
        // Installed by hand or not at all: `scripts/gen-docs.sh` only writes them.
        man_pages: false,
        bin: &bin_text,
        config: &abs(CONFIG).display().to_string(),
        data_dir: &data_dir_text,
        writable: &writable_paths(&config, &data_dir_text),
        user: &args.user,
        interval: args.scan_interval.as_systemd(),
        report_at: &args.report_at,
        scan_first,
    };
    // The other mode's unit from an earlier setup is left in place (setup removes nothing), but
    // both running would have each hourly scan find the data directory locked by the watch.
    let leftover = unit_dir.join(other_mode);
    let leftover = leftover.exists().then_some(leftover);
    for unit in units.iter().chain(blocklist_units) {
        let path = unit_dir.join(unit.name);
        std::fs::write(&path, fill.render(unit)).map_err(io(&path))?;
        let _ = writeln!(said, "wrote    {}", path.display());
    }
    let mut disable = String::new();
    if let Some(path) = &leftover {
        let (earlier, now) = if args.watch {
            ("without --watch", "the watch service replaces it")
        } else {
            ("with --watch", "the scan timer replaces it")
        };
        let _ = writeln!(
            said,
            "found    {} from an earlier setup {earlier}: {now}, and the two would compete for the data directory; \
             disable it as below",
            path.display()
        );
        disable = format!("  systemctl disable --now {other_mode}\n");
    }
    let blocklist_enable = if args.blocklist { format!(" {}", BLOCKLIST_PATH.name) } else { String::new() };
    let _ = writeln!(
        said,
        "\nNext: set [email] `to` in {}, then run:\n{disable}  systemctl daemon-reload\n  \
         systemctl enable --now {enable} {}{blocklist_enable}",
        abs(CONFIG).display(),
        REPORT_TIMER.name
    );
    if args.blocklist {
        let _ = writeln!(
            said,
            "The blocklist is loaded into the sets of table inet maillogsentinel after each scan, and used by no rule \
             until you add one, e.g. in /etc/nftables.conf (then `nft -f /etc/nftables.conf`):\n{NFT_RULE}\
             Put your own networks in [blocklist] allow first."
        );
    }
    if args.watch {
        let _ = writeln!(
            said,
            "After editing the configuration: systemctl reload {} (it reads it again)",
            WATCH_SERVICE.name
        );
    }
    Ok(Done { said, warnings })
}

/// Where the Debian package installs the binary the units run.
const PACKAGE_BIN: &str = "/usr/bin/maillogsentinel";
/// The data directory the Debian package's maintainer scripts create for the service user.
const PACKAGE_DATA_DIR: &str = "/var/lib/maillogsentinel";

/// The configuration the Debian package installs (a conffile, at the place `setup` writes it):
/// the example, as `setup` writes it, with a header of its own.
pub(super) fn package_config() -> String {
    format!(
        "# Installed by the maillogsentinel package; your changes are kept on upgrades. Edit [email] `to`\n\
         # before the first daily report.\n{EXAMPLE_CONFIG}"
    )
}

/// The Debian package's units, as `setup` writes them for the package's layout (binary
/// [`PACKAGE_BIN`], the service user [`DEFAULT_USER`], the default schedule): the units of both
/// modes and of `--blocklist`, for the admin to enable the ones wanted. `config` is the packaged
/// configuration, whose data directory must be the one the maintainer scripts create.
pub(super) fn package_units(config: &str) -> Result<Vec<(&'static str, String)>, String> {
    let path = Path::new("/").join(CONFIG);
    let config = crate::config::Config::parse(config, &path).map_err(|e| e.to_string())?;
    if config.data_dir != Path::new(PACKAGE_DATA_DIR) {
        return Err(format!(
            "data_dir is {:?}, but the package's maintainer scripts create {PACKAGE_DATA_DIR}",
            config.data_dir
        ));
    }
    let interval = parse_scan_interval(DEFAULT_SCAN_INTERVAL).map_err(|e| e.to_string())?;
    let fill = Fill {
        by: Some("the maillogsentinel package"),
        man_pages: true,
        bin: PACKAGE_BIN,
        config: &path.display().to_string(),
        data_dir: PACKAGE_DATA_DIR,
        writable: &writable_paths(&config, PACKAGE_DATA_DIR),
        user: DEFAULT_USER,
        interval: interval.as_systemd(),
        report_at: DEFAULT_REPORT_AT,
        // One report service for both modes.
        scan_first: REPORT_SCANS_FIRST_UNLESS_WATCHED,
    };
    let units =
        [SCAN_SERVICE, SCAN_TIMER, WATCH_SERVICE, REPORT_SERVICE, REPORT_TIMER, BLOCKLIST_SERVICE, BLOCKLIST_PATH];
    Ok(units.iter().map(|unit| (unit.name, fill.render(unit))).collect())
}

/// The paths the services may write (`ReadWritePaths=`): the data directory, and the Prometheus
/// textfile's directory with `-`, as a directory not there yet (no node_exporter installed) must
/// not keep the services from starting; the scan warns instead.
fn writable_paths(config: &crate::config::Config, data_dir_text: &str) -> String {
    let mut writable = data_dir_text.to_string();
    if let Some(dir) = config.metrics.textfile.as_deref().and_then(Path::parent).filter(|d| d.is_absolute())
        && let Ok(dir) = unit_path(dir)
    {
        writable.push_str(" -");
        writable.push_str(dir);
    }
    writable
}

/// What fills the units' placeholders.
struct Fill<'a> {
    /// Who installs the units, when not the `setup` command of each unit.
    by: Option<&'a str>,
    /// Whether the man pages are installed beside the units, so that a `Documentation=` line
    /// can name them (`systemd-analyze verify` checks that they exist).
    man_pages: bool,
    bin: &'a str,
    config: &'a str,
    data_dir: &'a str,
    writable: &'a str,
    user: &'a str,
    interval: &'a str,
    report_at: &'a str,
    /// The report service's lines before its report.
    scan_first: &'a str,
}

impl Fill<'_> {
    fn render(&self, unit: &Unit) -> String {
        let hardening = HARDENING.replace("@DATA_DIR@", self.writable);
        let mut template = unit.template.to_string();
        if self.man_pages
            && let Some(at) = template.find("\nDescription=")
            && let Some(end) = template[at + 1..].find('\n')
        {
            template.insert_str(at + 1 + end + 1, &format!("Documentation=man:{}(1)\n", unit.man));
        }
        // @SCAN_FIRST@ and @HARDENING@ hold placeholders of their own: replaced before those.
        template
            .replace("@BY@", self.by.unwrap_or(unit.by))
            .replace("@DATA_DIR@", self.data_dir)
            .replace("@SCAN_FIRST@", self.scan_first)
            .replace("@HARDENING@", hardening.trim_end())
            .replace("@BIN@", self.bin)
            .replace("@CONFIG@", self.config)
            .replace("@USER@", self.user)
            .replace("@INTERVAL@", self.interval)
            .replace("@REPORT_AT@", self.report_at)
    }
}

/// Runs `useradd` (its arguments, without the command) for the missing service user.
fn run_useradd(user: &str, args: &[String]) -> Result<(), SetupError> {
    // sudo and `su -` put /usr/sbin in PATH, a plain `su` does not.
    let program = if Path::new("/usr/sbin/useradd").exists() { "/usr/sbin/useradd" } else { "useradd" };
    let failed = |reason: String| SetupError::CreateUser { user: user.to_string(), command: args.join(" "), reason };
    let out = std::process::Command::new(program)
        .args(args.iter().skip(1))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run {program}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(failed(format!("{} ({})", stderr.trim(), out.status)))
}

#[cfg(test)]
mod tests;
