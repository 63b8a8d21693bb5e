//! Configuration: a TOML file, with a documented default for every key.
//!
//! Where it comes from, first found wins: `--config FILE`, `$MAILLOGSENTINEL_CONFIG`,
//! `/etc/maillogsentinel/maillogsentinel.toml` (only when it exists). Without any file, every key
//! takes its default, except that the data directory is the current directory, so a first try
//! needs no setup. Unknown keys and bad values are errors that name the key and the file.
//! `maillogsentinel.example.toml` at the repository root documents every key.
//!
//! Every value is parsed here, once, into the type its consumers use (durations, name server
//! addresses, time zones, paths), so that a mistake is reported when the file is loaded, with its
//! file, line and key, rather than half-way through a scan, and no consumer carries a fallback for
//! a value that "cannot" be wrong.

pub mod alerts;
pub mod duration;
pub mod email;
pub mod fleet;
pub mod geo;
pub mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use serde::Deserialize;

pub use self::alerts::AlertsConfig;
pub use self::duration::{Duration, DurationError};
pub use self::email::{AddressError, EmailConfig, EmailTransport, SmtpSecurity};
pub use self::fleet::{FleetConfig, FleetUrl, SslMode};
pub use self::geo::{DEFAULT_ASN_URLS, DEFAULT_COUNTRY_URLS, DEFAULT_GEO_DIR, GeoConfig, OneOrMany};
pub use self::values::{NameServerError, Zone, ZoneError, parse_nameserver, parse_net};

/// The system-wide configuration file, read when present.
pub const SYSTEM_CONFIG: &str = "/etc/maillogsentinel/maillogsentinel.toml";
/// Environment variable naming a configuration file.
pub const CONFIG_ENV: &str = "MAILLOGSENTINEL_CONFIG";
/// `data_dir` when a configuration file does not set it.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/maillogsentinel";
/// `logs` when the configuration does not set it.
pub const DEFAULT_LOG: &str = "/var/log/mail.log";

/// The configuration after defaults are applied.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from, if any.
    pub file: Option<PathBuf>,
    /// Holds the store and `reports/intrusions.csv`.
    pub data_dir: PathBuf,
    /// Logs to scan; each one's rotated siblings are found automatically.
    pub logs: Vec<PathBuf>,
    /// Zone for timestamps that carry none, and for the CSV.
    pub timezone: TimeZone,
    /// Name of [`Config::timezone`] as configured (`system` when taken from the system).
    pub timezone_name: String,
    /// Server name for lines that carry no host (Dovecot's own log file).
    pub server_name: String,
    /// `[scan]` settings.
    pub scan: ScanConfig,
    /// `[report]` settings.
    pub report: ReportConfig,
    /// `[email]` settings.
    pub email: EmailConfig,
    /// `[geo]` settings: offline country and AS databases.
    pub geo: GeoConfig,
    /// `[dns]` settings: reverse DNS of attacker addresses.
    pub dns: DnsConfig,
    /// `[journal]` settings: the systemd journal as a source.
    pub journal: JournalConfig,
    /// `[blocklist]` settings: what `maillogsentinel blocklist` never lists.
    pub blocklist: BlocklistConfig,
    /// `[metrics]` settings: the Prometheus textfile.
    pub metrics: MetricsConfig,
    /// `[alerts]` settings: rules and channels of alerts.
    pub alerts: AlertsConfig,
    /// `[fleet]`: the shared PostgreSQL database (none: not part of a fleet).
    pub fleet: FleetConfig,
    /// Whether `logs` was set in the file (rather than defaulted): with the journal enabled and
    /// no `logs`, only the journal is read.
    pub logs_set: bool,
}

/// `[journal]`: reading the systemd journal beside (or instead of) log files.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// Read the journal on every scan (default false; `scan --journal` for one run).
    pub enabled: bool,
    /// Read the journal files of this directory (as `journalctl -D`) instead of the local journal.
    pub directory: Option<PathBuf>,
    /// The units whose entries are read (`*` matches any text). Default (empty): `postfix.service`,
    /// `postfix@*.service` and `dovecot.service`.
    #[serde(deserialize_with = "values::units")]
    pub units: Vec<String>,
}

/// `[blocklist]`: what `maillogsentinel blocklist` never lists.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlocklistConfig {
    /// Addresses and networks never listed (own networks, monitoring), added to `--allow`.
    #[serde(deserialize_with = "values::nets")]
    pub allow: Vec<ipnet::IpNet>,
}

/// `[metrics]`: Prometheus metrics for node_exporter's textfile collector.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Rewrite this file after every `scan` and every `watch` pass (default: none, no metrics).
    /// Its name must end in `.prom` for the collector to read it.
    pub textfile: Option<PathBuf>,
}

/// `[scan]`: how events are detected and counted.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    /// Count Postfix `Invalid authentication mechanism` as an intrusion (default false: it is
    /// stored with reason `mechanism invalid`, but not written to intrusions.csv).
    pub invalid_mechanism_is_intrusion: bool,
    /// How far apart (seconds) two lines of one attempt written by different daemons may be
    /// (Postfix and Dovecot, Dovecot and PAM). Default 10.
    #[serde(deserialize_with = "values::within::<_, _, 0, 3600>")]
    pub correlation_window_secs: u32,
}

impl Default for ScanConfig {
    fn default() -> ScanConfig {
        ScanConfig { invalid_mechanism_is_intrusion: false, correlation_window_secs: 10 }
    }
}

/// `[report]`: what `maillogsentinel report` shows.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Rows in each "top" table (default 10; `--top` overrides it).
    #[serde(deserialize_with = "values::within::<_, _, 1, { u64::MAX }>")]
    pub top: usize,
    /// How many days back the scheduled `report --send` looks for days whose report was never
    /// sent (default 7), so that a failed or missed run is caught up instead of skipped.
    pub catch_up_days: u32,
}

impl Default for ReportConfig {
    fn default() -> ReportConfig {
        ReportConfig { top: 10, catch_up_days: 7 }
    }
}

/// `[dns]`: reverse DNS (PTR, forward-confirmed) of attacker addresses.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Resolve at all (default true; `scan --no-dns` turns it off for one run).
    pub enabled: bool,
    /// Name servers, written `IP` or `IP:PORT` (`[v6]:port`). Default (empty): those of
    /// `/etc/resolv.conf`.
    #[serde(deserialize_with = "values::deserialize_nameservers")]
    pub nameservers: Vec<SocketAddr>,
    /// How long one query may take (milliseconds). Default 2000.
    #[serde(deserialize_with = "values::within::<_, _, 1, { u64::MAX }>")]
    pub timeout_ms: u64,
    /// PTR queries in flight at once, and as many forward confirmations beside them. Default 384
    /// (bench/README.md, "Reverse DNS against a slow resolver").
    #[serde(deserialize_with = "values::within::<_, _, 1, 4096>")]
    pub concurrency: usize,
    /// How long a resolved name is reused before it is asked again (`30m`, `24h`, `7d`, or a bare
    /// number of seconds). Default `24h`.
    pub cache_ttl: Duration,
}

impl Default for DnsConfig {
    fn default() -> DnsConfig {
        DnsConfig {
            enabled: true,
            nameservers: Vec::new(),
            timeout_ms: 2000,
            concurrency: 384,
            cache_ttl: Duration::from_secs(86_400),
        }
    }
}

/// The file as written; `None` means "use the default".
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "values::non_empty")]
    logs: Option<Vec<PathBuf>>,
    timezone: Option<Zone>,
    #[serde(default, deserialize_with = "values::not_blank")]
    server_name: Option<String>,
    #[serde(default)]
    scan: ScanConfig,
    #[serde(default)]
    report: ReportConfig,
    #[serde(default)]
    email: EmailConfig,
    #[serde(default)]
    geo: GeoConfig,
    #[serde(default)]
    dns: DnsConfig,
    #[serde(default)]
    journal: JournalConfig,
    #[serde(default)]
    blocklist: BlocklistConfig,
    #[serde(default)]
    metrics: MetricsConfig,
    #[serde(default)]
    alerts: AlertsConfig,
    #[serde(default)]
    fleet: FleetConfig,
}

/// A configuration that cannot be used; the message names the file and, when it can, the line
/// and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message, which shows the line.
        message: String,
    },
    /// A key that does not exist, or whose value has the wrong type or is not acceptable.
    #[error("config file {path}, line {line}: key `{key}`: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The line of the key or value, from 1.
        line: usize,
        /// The key, dotted (`dns.cache_ttl`).
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A value that is acceptable alone but not with the others.
    #[error("config file {path}: key `{key}`: {message}")]
    Value {
        /// The file, or `(defaults)`.
        path: PathBuf,
        /// The key.
        key: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
}

impl ConfigError {
    /// Turns the TOML reader's error into one that names the key and the line. The reader knows
    /// the key path but only shows it when it has no input to quote, so it is asked that way.
    fn from_toml(mut e: toml::de::Error, text: &str, path: &Path) -> ConfigError {
        let message = e.message().trim_end().to_string();
        let span = e.span();
        e.set_input(None);
        let plain = e.to_string();
        let mut key =
            plain.lines().last().and_then(|l| l.strip_prefix("in `")?.strip_suffix('`')).unwrap_or("").to_string();
        // An unknown key's error is raised by its table: add the key itself, quoted in the message.
        if let Some(unknown) = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next()) {
            key = if key.is_empty() { unknown.to_string() } else { format!("{key}.{unknown}") };
        }
        match span {
            Some(span) if !key.is_empty() => {
                let line = text.get(..span.start).unwrap_or(text).matches('\n').count() + 1;
                ConfigError::Key { path: path.to_path_buf(), line, key, message }
            }
            _ => {
                e.set_input(Some(text));
                ConfigError::Syntax { path: path.to_path_buf(), message: e.to_string().trim_end().to_string() }
            }
        }
    }
}

impl Config {
    /// Loads the configuration from `explicit` (`--config`), `$MAILLOGSENTINEL_CONFIG`, or
    /// the system file when it exists; otherwise defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let from_env = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        let path = match (explicit, from_env) {
            (Some(p), _) => Some(p.to_path_buf()),
            (None, Some(p)) => Some(p),
            (None, None) => Some(PathBuf::from(SYSTEM_CONFIG)).filter(|p| p.exists()),
        };
        match path {
            None => Config::from_file_config(FileConfig::default(), None),
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                Config::parse(&text, &path)
            }
        }
    }

    /// The configuration file, its mode and the secret it holds when it holds one and every
    /// local user may read it (the "others" bits; a group that may read it is the admin's
    /// choice: `setup` writes it root:the service's group, 640). Secrets: `[email] password`, and
    /// the alert webhooks' URLs and headers (a Slack or Mattermost webhook's URL is its secret,
    /// a header may carry a token).
    pub fn secret_readable_by_others(&self) -> Option<(&Path, u32, &'static str)> {
        use std::os::unix::fs::PermissionsExt;
        let what = if self.email.password.is_some() {
            "[email] password"
        } else if self.alerts.channels.iter().any(|c| c.url.is_some()) {
            "the URLs and headers of alert webhooks"
        } else if self.fleet.url.as_ref().is_some_and(|u| u.has_password()) {
            "a password in [fleet] url"
        } else {
            return None;
        };
        let file = self.file.as_deref()?;
        let mode = std::fs::metadata(file).ok()?.permissions().mode();
        (mode & 0o004 != 0).then_some((file, mode & 0o7777, what))
    }

    /// Parses configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::from_toml(e, text, path))?;
        Config::from_file_config(file, Some(path))
    }

    fn from_file_config(file: FileConfig, path: Option<&Path>) -> Result<Config, ConfigError> {
        let value_error = |key, message: String| ConfigError::Value {
            path: path.map_or_else(|| PathBuf::from("(defaults)"), Path::to_path_buf),
            key,
            message,
        };
        let data_dir = match (file.data_dir, path) {
            (Some(dir), _) => dir,
            (None, Some(_)) => PathBuf::from(DEFAULT_DATA_DIR),
            (None, None) => PathBuf::from("."),
        };
        let logs_set = file.logs.is_some();
        let logs = file.logs.unwrap_or_else(|| vec![PathBuf::from(DEFAULT_LOG)]);
        let (timezone, timezone_name) = file.timezone.unwrap_or_else(Zone::system).into_parts();
        let server_name = file.server_name.unwrap_or_else(system_hostname);
        if file.email.password.is_some() && file.email.password_file.is_some() {
            return Err(value_error(
                "email.password_file",
                "set either `password` or `password_file`, not both".into(),
            ));
        }
        file.alerts.check().map_err(|(key, message)| value_error(key, message))?;
        file.fleet.check().map_err(|(key, message)| value_error(key, message))?;
        Ok(Config {
            file: path.map(Path::to_path_buf),
            data_dir,
            logs,
            timezone,
            timezone_name,
            server_name,
            scan: file.scan,
            report: file.report,
            email: file.email,
            geo: file.geo,
            dns: file.dns,
            journal: file.journal,
            blocklist: file.blocklist,
            metrics: file.metrics,
            alerts: file.alerts,
            fleet: file.fleet,
            logs_set,
        })
    }
}

impl Config {
    /// Checks that `[email]` can be used to send, before `report --send` builds anything: at
    /// least one recipient, and with SMTP AUTH a password, whose `password_file` can be read by
    /// this user. These are not checked at load, because a configuration without a recipient is
    /// a valid one for everything but sending (`setup` writes `to = []`).
    pub fn check_sending(&self) -> Result<(), ConfigError> {
        let path = self.file.clone().unwrap_or_else(|| PathBuf::from("(none: defaults)"));
        let error = |key, message: String| ConfigError::Value { path: path.clone(), key, message };
        let email = &self.email;
        if email.to.is_empty() {
            return Err(error(
                "email.to",
                "no recipient, and `report --send` needs one: set e.g. to = [\"admin@example.org\"] in [email]".into(),
            ));
        }
        if email.transport != EmailTransport::Smtp || email.username.is_none() || email.password.is_some() {
            return Ok(());
        }
        let Some(file) = &email.password_file else {
            return Err(error(
                "email.username",
                "SMTP AUTH user set but neither `password` nor `password_file`: set `password_file` to a \
                 file holding the password"
                    .into(),
            ));
        };
        match std::fs::File::open(file) {
            Ok(_) => Ok(()),
            Err(e) => Err(error(
                "email.password_file",
                format!(
                    "cannot read {}: {e}; write the SMTP password on its first line and make it readable by \
                     the user running maillogsentinel",
                    file.display()
                ),
            )),
        }
    }
}

/// The machine's host name, for lines that do not carry one.
pub fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests;
