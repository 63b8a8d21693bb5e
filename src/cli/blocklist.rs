//! `maillogsentinel blocklist`: the period's attacking addresses, for a firewall to load.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{EXIT_STORE, EXIT_USAGE};
use crate::config::{Config, Duration, DurationError, parse_net};
use crate::export::{blocklist, formats};
use crate::report::{Period, ReportError};
use crate::store::Store;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A script for `nft -f`: table `inet maillogsentinel`, sets replaced in one transaction.
    Nft,
    /// Input for `ipset -exist restore`: new sets swapped in.
    Ipset,
    /// One address or prefix per line.
    Plain,
    /// Address, attempts, accounts, first/last seen, country, AS.
    Json,
}

/// Options of `blocklist`.
#[derive(Debug, Args)]
pub struct BlocklistArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Plain)]
    pub format: Format,
    /// Fewest failed attempts in the period for an address to be listed.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_attempts: u64,
    /// The period: the last DURATION up to now (e.g. 24h, 90m, 7d, 1d12h, 2w).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = super::report::parse_since)]
    pub since: Duration,
    /// How long a loaded entry stays in the firewall's set unless exported again (nft, ipset).
    /// Default: the period (--since), at most 2147483s (ipset's limit, about 24 days).
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Never list an address of this network (address or CIDR; may repeat), beside
    /// `[blocklist] allow`.
    #[arg(long, value_name = "CIDR", value_parser = parse_allow)]
    pub allow: Vec<ipnet::IpNet>,
    /// Never list an address of the networks in FILE: one address or CIDR per line, `#` comments.
    #[arg(long, value_name = "FILE")]
    pub allow_file: Vec<PathBuf>,
    /// List loopback, private (RFC 1918, 100.64/10, fc00::/7), link-local and unspecified
    /// addresses too.
    #[arg(long)]
    pub include_private: bool,
    /// Merge neighbouring addresses into the largest prefixes all of whose addresses are listed.
    #[arg(long)]
    pub aggregate: bool,
    /// Write to FILE (atomically: a temporary file renamed over it) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Directory holding the store. Default: `data_dir` from the config.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The longest timeout: ipset's (2^31 - 1 ms, in whole seconds); nft accepts it too.
pub const MAX_TIMEOUT_SECS: u64 = 2_147_483;

fn parse_timeout(text: &str) -> Result<Duration, DurationError> {
    Duration::parse_within(text, Duration::from_secs(MAX_TIMEOUT_SECS))
}

fn parse_allow(text: &str) -> Result<ipnet::IpNet, String> {
    parse_net(text)
}

/// The networks of an allow file: one address or CIDR per line, blank lines and `#` comments
/// ignored; an error names the file and line.
fn read_allow_file(path: &Path) -> Result<Vec<ipnet::IpNet>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--allow-file {}: {e}", path.display()))?;
    let mut nets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        nets.push(parse_net(line).map_err(|e| format!("--allow-file {}, line {}: {e}", path.display(), i + 1))?);
    }
    Ok(nets)
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("maillogsentinel: error: {message}");
    ExitCode::from(code)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, then renamed over
/// it, so that a reader (nft, a path unit) sees the old file or the new one, never a part.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Runs `blocklist` and returns the exit code.
pub fn run(args: BlocklistArgs, config: &Config) -> ExitCode {
    let mut allow = config.blocklist.allow.clone();
    allow.extend(args.allow.iter().copied());
    for file in &args.allow_file {
        match read_allow_file(file) {
            Ok(nets) => allow.extend(nets),
            Err(e) => return fail(EXIT_USAGE, &e),
        }
    }
    let period = match Period::since(args.since.as_secs_i64(), jiff::Timestamp::now(), &config.timezone) {
        Ok(p) => p,
        Err(e) => return fail(EXIT_USAGE, &e.to_string()),
    };
    let timeout_secs = match args.timeout {
        Some(t) => t.as_secs_i64().max(1) as u64,
        None => (args.since.as_secs_i64().max(1) as u64).min(MAX_TIMEOUT_SECS),
    };
    let data_dir = args.data_dir.clone().unwrap_or_else(|| config.data_dir.clone());
    let path = data_dir.join(crate::store::STORE_FILE);
    if !path.exists() {
        return fail(EXIT_STORE, &ReportError::NoStore(path).to_string());
    }
    // Read-only: works beside a running `watch`, and for a user who may only read the store.
    let store = match Store::open_read_only(&path) {
        Ok(s) => s,
        Err(source) => return fail(EXIT_STORE, &ReportError::Store { path, source }.to_string()),
    };
    let opts = blocklist::Options {
        period: period.clone(),
        min_attempts: args.min_attempts,
        allow,
        include_private: args.include_private,
        aggregate: args.aggregate,
        probes_count: config.scan.invalid_mechanism_is_intrusion,
    };
    let list = match blocklist::build(&store, &opts) {
        Ok(l) => l,
        Err(source) => return fail(EXIT_STORE, &ReportError::Query { path, source }.to_string()),
    };
    let text = match args.format {
        Format::Nft => formats::nft(&list, &period, timeout_secs),
        Format::Ipset => formats::ipset(&list, &period, timeout_secs),
        Format::Plain => formats::plain(&list),
        Format::Json => formats::json(&list, &period, args.min_attempts, timeout_secs),
    };
    match &args.output {
        Some(out) => {
            if let Err(e) = write_atomically(out, text.as_bytes()) {
                return fail(EXIT_STORE, &format!("--output {}: {e}", out.display()));
            }
            let s = list.skipped;
            eprintln!(
                "maillogsentinel: {} IPv4 and {} IPv6 entries written to {} (left out: {} allowed, {} private, {} that logged in)",
                list.v4.len(),
                list.v6.len(),
                out.display(),
                s.allowed,
                s.private,
                s.logged_in
            );
        }
        None => print!("{text}"),
    }
    ExitCode::SUCCESS
}
