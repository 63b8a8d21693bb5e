//! Configuration: a TOML file, with a documented default for every key.
//!
//! Where it comes from, first found wins: `--config FILE`, `$MAILLOGSENTINEL_CONFIG`,
//! `/etc/maillogsentinel/maillogsentinel.toml` (only when it exists). Without any file, every key
//! takes its default, except that the data directory is the current directory, so a first try
//! needs no setup. Unknown keys and bad values are errors that name the key and the file.
//! `maillogsentinel.example.toml` at the repository root documents every key.

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use serde::Deserialize;

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

/// How `[email]` messages leave the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransport {
    /// SMTP to `smtp_host:smtp_port` (default).
    #[default]
    Smtp,
    /// Pipe to the local MTA's `sendmail` binary.
    Sendmail,
}

/// Encryption of the SMTP connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text (default; right for a local MTA on localhost).
    #[default]
    None,
    /// Plain connection upgraded with STARTTLS, which is then required.
    Starttls,
    /// Implicit TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// `[email]`: where `report --send` sends the report.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Recipients (default none: `--send` is then an error).
    pub to: Vec<String>,
    /// Sender address (default `maillogsentinel@<server_name>`).
    pub from: Option<String>,
    /// Put at the start of the subject (default `[MailLogSentinel]`).
    pub subject_prefix: String,
    /// `smtp` (default) or `sendmail`.
    pub transport: EmailTransport,
    /// SMTP server (default `localhost`).
    pub smtp_host: String,
    /// SMTP port (default 25 with `security = "none"`, 587 with `starttls`, 465 with `tls`).
    pub smtp_port: Option<u16>,
    /// `none` (default), `starttls` or `tls`.
    pub security: SmtpSecurity,
    /// SMTP AUTH user name (default: no AUTH).
    pub username: Option<String>,
    /// SMTP AUTH password, written in this file (prefer `password_file`, which can be made
    /// readable by the service user only).
    pub password: Option<String>,
    /// File holding the SMTP AUTH password (trailing newline ignored).
    pub password_file: Option<PathBuf>,
    /// PEM file of a CA to trust in addition to the system's (for a private or self-signed CA).
    pub ca_file: Option<PathBuf>,
    /// Check the server's certificate (default true; false accepts any certificate, which
    /// lets anyone on the path read the message and the password).
    pub tls_verify: bool,
    /// The `sendmail` binary for `transport = "sendmail"` (default `/usr/sbin/sendmail`).
    pub sendmail_path: PathBuf,
    /// Attach the period's intrusion rows as CSV (default true).
    pub attach_csv: bool,
    /// Gzip the CSV attachment when it is larger than this many bytes (default 1000000).
    pub gzip_over_bytes: u64,
    /// Seconds to wait for the SMTP server (default 60).
    pub timeout_secs: u64,
}

impl Default for EmailConfig {
    fn default() -> EmailConfig {
        EmailConfig {
            to: Vec::new(),
            from: None,
            subject_prefix: "[MailLogSentinel]".into(),
            transport: EmailTransport::Smtp,
            smtp_host: "localhost".into(),
            smtp_port: None,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            password_file: None,
            ca_file: None,
            tls_verify: true,
            sendmail_path: PathBuf::from("/usr/sbin/sendmail"),
            attach_csv: true,
            gzip_over_bytes: 1_000_000,
            timeout_secs: 60,
        }
    }
}

impl EmailConfig {
    /// The port to use: `smtp_port`, else the usual one for `security`.
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.security {
            SmtpSecurity::None => 25,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
        })
    }
}

/// Directory of the geolocation databases and of `geo update`'s downloads, under the data
/// directory's default.
pub const DEFAULT_GEO_DIR: &str = "/var/lib/maillogsentinel/geo";
/// Default `geo.country_url`: ip-location-db's country-by-ASN files (IPv4 and IPv6).
pub const DEFAULT_COUNTRY_URLS: [&str; 2] = [
    "https://cdn.jsdelivr.net/npm/@ip-location-db/asn-country/asn-country-ipv4.csv",
    "https://cdn.jsdelivr.net/npm/@ip-location-db/asn-country/asn-country-ipv6.csv",
];
/// Default `geo.asn_url`: ip-location-db's ASN files (IPv4 and IPv6).
pub const DEFAULT_ASN_URLS: [&str; 2] = [
    "https://cdn.jsdelivr.net/npm/@ip-location-db/asn/asn-ipv4.csv",
    "https://cdn.jsdelivr.net/npm/@ip-location-db/asn/asn-ipv6.csv",
];

/// One path or URL, or a list of them (`key = "a"` or `key = ["a", "b"]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// Several values, tried in order.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `[geo]`: offline country and AS databases (ip-location-db CSV or MaxMind DB `.mmdb`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoConfig {
    /// Look up country and AS at all (default true; `scan --no-geo` turns it off for one run).
    pub enabled: bool,
    /// Country databases, tried in order (IPv4 and IPv6 may be two files). Default: the two files
    /// `geo update` writes, `country-ipv4.csv` and `country-ipv6.csv` in `<data_dir>/geo`.
    pub country_db: Option<OneOrMany<PathBuf>>,
    /// ASN databases, likewise. Default: `asn-ipv4.csv` and `asn-ipv6.csv` in `<data_dir>/geo`.
    pub asn_db: Option<OneOrMany<PathBuf>>,
    /// Where `geo update` downloads the country databases from, one URL per `country_db` path.
    /// Default: [`DEFAULT_COUNTRY_URLS`].
    pub country_url: Option<OneOrMany<String>>,
    /// Where `geo update` downloads the ASN databases from, one URL per `asn_db` path.
    /// Default: [`DEFAULT_ASN_URLS`].
    pub asn_url: Option<OneOrMany<String>>,
    /// `geo update` rejects a download with fewer rows than this (a truncated file or an error
    /// page). Default 1000.
    pub min_rows: u64,
    /// Addresses a downloaded database must know (any one of them per file), as a sanity check.
    /// Default: `1.1.1.1`, `8.8.8.8`, `2001:4860:4860::8888`.
    pub check_ips: Vec<std::net::IpAddr>,
    /// How long `geo update` waits for a server (seconds). Default 300.
    pub download_timeout_secs: u64,
}

impl Default for GeoConfig {
    fn default() -> GeoConfig {
        GeoConfig {
            enabled: true,
            country_db: None,
            asn_db: None,
            country_url: None,
            asn_url: None,
            min_rows: 1000,
            check_ips: ["1.1.1.1", "8.8.8.8", "2001:4860:4860::8888"].iter().filter_map(|s| s.parse().ok()).collect(),
            download_timeout_secs: 300,
        }
    }
}

impl GeoConfig {
    /// The country database paths, with `data_dir/geo` defaults.
    pub fn country_paths(&self, data_dir: &Path) -> Vec<PathBuf> {
        self.country_db.as_ref().map_or_else(
            || vec![data_dir.join("geo/country-ipv4.csv"), data_dir.join("geo/country-ipv6.csv")],
            OneOrMany::to_vec,
        )
    }

    /// The ASN database paths, with `data_dir/geo` defaults.
    pub fn asn_paths(&self, data_dir: &Path) -> Vec<PathBuf> {
        self.asn_db.as_ref().map_or_else(
            || vec![data_dir.join("geo/asn-ipv4.csv"), data_dir.join("geo/asn-ipv6.csv")],
            OneOrMany::to_vec,
        )
    }

    /// The country download URLs.
    pub fn country_urls(&self) -> Vec<String> {
        self.country_url
            .as_ref()
            .map_or_else(|| DEFAULT_COUNTRY_URLS.iter().map(|s| s.to_string()).collect(), OneOrMany::to_vec)
    }

    /// The ASN download URLs.
    pub fn asn_urls(&self) -> Vec<String> {
        self.asn_url
            .as_ref()
            .map_or_else(|| DEFAULT_ASN_URLS.iter().map(|s| s.to_string()).collect(), OneOrMany::to_vec)
    }
}

/// `[dns]`: reverse DNS (PTR, forward-confirmed) of attacker addresses.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Resolve at all (default true; `scan --no-dns` turns it off for one run).
    pub enabled: bool,
    /// Name servers as `IP` or `IP:PORT` (`[v6]:port`). Default: those of `/etc/resolv.conf`.
    pub nameservers: Vec<String>,
    /// How long one query may take (milliseconds). Default 2000.
    pub timeout_ms: u64,
    /// Queries in flight at once. Default 256, so that a slow server (1 s per answer) costs about
    /// 4 s per 1,000 new addresses.
    pub concurrency: usize,
    /// How long a resolved name is reused before it is asked again (`30m`, `24h`, `7d`, or
    /// seconds). Default `24h`.
    pub cache_ttl: String,
}

impl Default for DnsConfig {
    fn default() -> DnsConfig {
        DnsConfig {
            enabled: true,
            nameservers: Vec::new(),
            timeout_ms: 2000,
            concurrency: 256,
            cache_ttl: "24h".into(),
        }
    }
}

/// Parses `30s`, `30m`, `24h`, `7d` or a plain number of seconds.
pub fn parse_duration_secs(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&t[..i], t[i..].trim()),
        None => (t, "s"),
    };
    let n: u64 =
        num.parse().map_err(|_| format!("{text:?} is not a duration; write e.g. \"24h\", \"30m\" or \"7d\""))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; use s, m, h or d")),
    };
    Ok(n.saturating_mul(mult))
}

/// Parses a name server as `IP` (port 53) or `IP:PORT` / `[IPv6]:PORT`.
pub fn parse_nameserver(text: &str) -> Result<std::net::SocketAddr, String> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<std::net::IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    t.parse().map_err(|_| format!("{text:?} is not an address; write \"192.0.2.53\" or \"127.0.0.1:5353\""))
}

/// The file as written; `None` means "use the default".
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    logs: Option<Vec<PathBuf>>,
    timezone: Option<String>,
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
}

/// A configuration that cannot be used; the message names the file and the key.
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
    /// The file is not valid TOML or has unknown keys or wrongly typed values.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, which names the key and shows the line.
        message: String,
    },
    /// A value has the right type but is not acceptable.
    #[error("config file {path}: key `{key}`: {message}")]
    Value {
        /// The file, or `command line`.
        path: PathBuf,
        /// The key.
        key: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
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

    /// Parses configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
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
        let logs = file.logs.unwrap_or_else(|| vec![PathBuf::from(DEFAULT_LOG)]);
        if logs.is_empty() {
            return Err(value_error("logs", "the list is empty; name at least one log file".into()));
        }
        let (timezone, timezone_name) = match file.timezone {
            Some(name) => (parse_timezone(&name).map_err(|m| value_error("timezone", m))?, name),
            None => (TimeZone::system(), "system".to_string()),
        };
        let server_name = match file.server_name {
            Some(name) if name.trim().is_empty() => {
                return Err(value_error("server_name", "must not be empty".into()));
            }
            Some(name) => name,
            None => system_hostname(),
        };
        if file.scan.correlation_window_secs > 3600 {
            return Err(value_error(
                "scan.correlation_window_secs",
                format!("{} is too large; use at most 3600", file.scan.correlation_window_secs),
            ));
        }
        if file.email.password.is_some() && file.email.password_file.is_some() {
            return Err(value_error(
                "email.password_file",
                "set either `password` or `password_file`, not both".into(),
            ));
        }
        if file.email.to.iter().any(|a| a.trim().is_empty()) {
            return Err(value_error("email.to", "an address is empty".into()));
        }
        if file.report.top == 0 {
            return Err(value_error("report.top", "must be at least 1".into()));
        }
        parse_duration_secs(&file.dns.cache_ttl).map_err(|m| value_error("dns.cache_ttl", m))?;
        for ns in &file.dns.nameservers {
            parse_nameserver(ns).map_err(|m| value_error("dns.nameservers", m))?;
        }
        if file.dns.concurrency == 0 || file.dns.concurrency > 4096 {
            return Err(value_error(
                "dns.concurrency",
                format!("{} is out of range; use 1 to 4096", file.dns.concurrency),
            ));
        }
        if file.dns.timeout_ms == 0 {
            return Err(value_error("dns.timeout_ms", "must be at least 1".into()));
        }
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
        })
    }
}

/// Parses an IANA zone name (`Europe/Paris`), `UTC`, or `system`.
pub fn parse_timezone(name: &str) -> Result<TimeZone, String> {
    if name == "system" {
        return Ok(TimeZone::system());
    }
    TimeZone::get(name).map_err(|e| {
        format!("unknown time zone {name:?} ({e}); use an IANA name such as \"Europe/Paris\", \"UTC\" or \"system\"")
    })
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
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/test.toml"))
    }

    #[test]
    fn an_empty_file_gives_the_documented_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(c.logs, vec![PathBuf::from(DEFAULT_LOG)]);
        assert_eq!(c.timezone_name, "system");
        assert!(!c.server_name.is_empty());
        assert!(!c.scan.invalid_mechanism_is_intrusion);
        assert_eq!(c.scan.correlation_window_secs, 10);
    }

    #[test]
    fn keys_are_read() {
        let c = parse(
            "data_dir = \"/d\"\nlogs = [\"/a.log\", \"/b.log\"]\ntimezone = \"Europe/Paris\"\n\
             server_name = \"mx1\"\n[scan]\ninvalid_mechanism_is_intrusion = true\n",
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/d"));
        assert_eq!(c.logs.len(), 2);
        assert_eq!(c.timezone.iana_name(), Some("Europe/Paris"));
        assert_eq!(c.server_name, "mx1");
        assert!(c.scan.invalid_mechanism_is_intrusion);
    }

    #[test]
    fn geo_and_dns_defaults_and_keys() {
        let c = parse("").unwrap();
        assert!(c.geo.enabled && c.dns.enabled);
        assert_eq!(c.dns.concurrency, 256);
        assert_eq!(c.dns.timeout_ms, 2000);
        assert_eq!(parse_duration_secs(&c.dns.cache_ttl), Ok(86400));
        assert_eq!(
            c.geo.country_paths(Path::new("/d")),
            vec![PathBuf::from("/d/geo/country-ipv4.csv"), PathBuf::from("/d/geo/country-ipv6.csv")]
        );
        assert_eq!(c.geo.asn_urls().len(), 2);
        let c = parse(
            "[geo]\ncountry_db = \"/g/c.mmdb\"\nasn_db = [\"/g/a4.csv\", \"/g/a6.csv\"]\n\
             country_url = \"http://127.0.0.1:1/c.mmdb\"\n[dns]\nenabled = false\n\
             nameservers = [\"127.0.0.1:5353\", \"::1\"]\ntimeout_ms = 300\nconcurrency = 8\ncache_ttl = \"7d\"\n",
        )
        .unwrap();
        assert_eq!(c.geo.country_paths(Path::new("/d")), vec![PathBuf::from("/g/c.mmdb")]);
        assert_eq!(c.geo.asn_paths(Path::new("/d")).len(), 2);
        assert_eq!(c.geo.country_urls(), vec!["http://127.0.0.1:1/c.mmdb".to_string()]);
        assert!(!c.dns.enabled);
        assert_eq!(parse_nameserver(&c.dns.nameservers[0]), Ok("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(parse_nameserver(&c.dns.nameservers[1]), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(parse_duration_secs(&c.dns.cache_ttl), Ok(7 * 86400));
    }

    #[test]
    fn the_example_file_parses_and_states_the_defaults() {
        let c = parse(include_str!("../maillogsentinel.example.toml")).unwrap();
        let d = parse("").unwrap();
        assert_eq!(
            (c.dns.timeout_ms, c.dns.concurrency, &c.dns.cache_ttl),
            (d.dns.timeout_ms, d.dns.concurrency, &d.dns.cache_ttl)
        );
        assert_eq!((c.geo.min_rows, &c.geo.check_ips), (d.geo.min_rows, &d.geo.check_ips));
    }

    #[test]
    fn bad_geo_and_dns_values_name_the_key() {
        let e = parse("[dns]\ncache_ttl = \"1 fortnight\"\n").unwrap_err().to_string();
        assert!(e.contains("dns.cache_ttl"), "{e}");
        let e = parse("[dns]\nnameservers = [\"localhost\"]\n").unwrap_err().to_string();
        assert!(e.contains("dns.nameservers") && e.contains("localhost"), "{e}");
        let e = parse("[dns]\nconcurrency = 0\n").unwrap_err().to_string();
        assert!(e.contains("dns.concurrency"), "{e}");
        let e = parse("[geo]\ncountry_dbs = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("country_dbs"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_key_and_file() {
        let e = parse("data_dri = \"/d\"\n").unwrap_err().to_string();
        assert!(e.contains("/etc/test.toml") && e.contains("data_dri"), "{e}");
        let e = parse("[scan]\nfoo = 1\n").unwrap_err().to_string();
        assert!(e.contains("foo"), "{e}");
        let e = parse("[email]\nsmtp_hots = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("smtp_hots"), "{e}");
    }

    #[test]
    fn email_and_report_sections_are_read_with_defaults() {
        let c = parse("").unwrap();
        assert!(c.email.to.is_empty());
        assert_eq!(c.email.subject_prefix, "[MailLogSentinel]");
        assert_eq!(
            (c.email.transport, c.email.security, c.email.port()),
            (EmailTransport::Smtp, SmtpSecurity::None, 25)
        );
        assert!(c.email.attach_csv && c.email.tls_verify);
        assert_eq!(c.report.top, 10);
        let c = parse(
            "[email]\nto = [\"a@example.org\"]\nsecurity = \"tls\"\ntransport = \"sendmail\"\n\
             username = \"u\"\npassword_file = \"/etc/p\"\n[report]\ntop = 3\n",
        )
        .unwrap();
        assert_eq!(c.email.to, vec!["a@example.org".to_string()]);
        assert_eq!((c.email.transport, c.email.port()), (EmailTransport::Sendmail, 465));
        assert_eq!(c.email.password_file.as_deref(), Some(Path::new("/etc/p")));
        assert_eq!(c.report.top, 3);
        let e = parse("[email]\nsecurity = \"ssl\"\n").unwrap_err().to_string();
        assert!(e.contains("ssl"), "{e}");
        let e = parse("[email]\npassword = \"a\"\npassword_file = \"/p\"\n").unwrap_err().to_string();
        assert!(e.contains("email.password_file"), "{e}");
    }

    #[test]
    fn the_example_file_is_valid() {
        let c = Config::parse(include_str!("../maillogsentinel.example.toml"), Path::new("example")).unwrap();
        assert_eq!(c.email.port(), 25);
    }

    #[test]
    fn bad_values_are_errors_naming_key_and_file() {
        let e = parse("timezone = \"Mars/Olympus\"\n").unwrap_err().to_string();
        assert!(e.contains("/etc/test.toml") && e.contains("`timezone`") && e.contains("Mars/Olympus"), "{e}");
        let e = parse("logs = \"/var/log/mail.log\"\n").unwrap_err().to_string();
        assert!(e.contains("logs"), "{e}");
        let e = parse("logs = []\n").unwrap_err().to_string();
        assert!(e.contains("`logs`"), "{e}");
    }
}
