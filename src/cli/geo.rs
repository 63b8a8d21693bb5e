//! `maillogsentinel geo update` and `maillogsentinel geo lookup IP...`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{EXIT_CONFIG, EXIT_PARTIAL, EXIT_STORE};
use crate::config::Config;
use crate::enrich::GeoPaths;
use crate::enrich::geo::Geo;
use crate::enrich::geo::csv::DbKind;
use crate::enrich::geo::update::{Checks, Download, update};

/// Options of `geo`.
#[derive(Debug, Args)]
pub struct GeoArgs {
    /// Data directory (holds the default database location and the index cache). Default:
    /// `data_dir` from the config, else the current directory.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: GeoCommand,
}

/// The `geo` subcommands.
#[derive(Debug, Subcommand)]
pub enum GeoCommand {
    /// Download the configured databases (`geo.country_url`, `geo.asn_url`), check them, and
    /// replace the old ones only if every download is good; then rebuild the index cache.
    Update {
        /// Install a download even when it has under half the rows of the file it replaces or
        /// misses some of `geo.check_ips` of its address family (a shrink you expect).
        #[arg(long)]
        force: bool,
    },
    /// Print country, AS number and organisation of addresses, and which database said so.
    Lookup {
        /// IPv4 or IPv6 addresses.
        #[arg(required = true, value_name = "IP")]
        ips: Vec<IpAddr>,
    },
}

/// Runs `geo` and returns the exit code.
pub fn run(args: GeoArgs, config: &Config) -> ExitCode {
    let data_dir = args.data_dir.unwrap_or_else(|| config.data_dir.clone());
    let paths = GeoPaths::from_config(config, &data_dir);
    match args.command {
        GeoCommand::Update { force } => run_update(config, &paths, force),
        GeoCommand::Lookup { ips } => run_lookup(&paths, &ips),
    }
}

fn run_update(config: &Config, paths: &GeoPaths, force: bool) -> ExitCode {
    let mut downloads = Vec::new();
    for (kind, dests, urls) in
        [(DbKind::Country, &paths.country, config.geo.country_urls()), (DbKind::Asn, &paths.asn, config.geo.asn_urls())]
    {
        if dests.len() != urls.len() {
            eprintln!(
                "maillogsentinel: config: geo.{k}_db has {} path(s) but geo.{k}_url has {} URL(s); give one URL per path",
                dests.len(),
                urls.len(),
                k = kind.as_str()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
        downloads.extend(dests.iter().zip(urls).map(|(dest, url)| Download { kind, url, dest: dest.clone() }));
    }
    let checks = Checks {
        min_rows: config.geo.min_rows,
        known_ips: config.geo.check_ips.clone(),
        timeout: Duration::from_secs(config.geo.download_timeout_secs),
        force,
    };
    let installed = match update(&downloads, &checks) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("maillogsentinel: geo update failed: {e}");
            return ExitCode::from(EXIT_STORE);
        }
    };
    for i in &installed {
        println!(
            "geo update: {} ({:.1} MB, {} rows, {:.1} s)",
            i.dest.display(),
            i.bytes as f64 / 1e6,
            super::thousands(i.rows),
            i.seconds
        );
        for doubt in &i.forced {
            eprintln!("maillogsentinel: warning: installed with --force although {doubt}");
        }
    }
    let (_, report) = Geo::open(&paths.country, &paths.asn, &paths.cache_dir);
    for (path, secs) in &report.built {
        println!("geo update: indexed {} in {secs:.2} s", path.display());
    }
    for w in report.warnings.iter().chain(&report.missing) {
        eprintln!("maillogsentinel: warning: {w}");
    }
    if report.warnings.is_empty() && report.missing.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PARTIAL)
    }
}

fn run_lookup(paths: &GeoPaths, ips: &[IpAddr]) -> ExitCode {
    let (geo, report) = Geo::open(&paths.country, &paths.asn, &paths.cache_dir);
    for w in report.warnings.iter().chain(&report.missing) {
        eprintln!("maillogsentinel: warning: {w}");
    }
    for ip in ips {
        let a = geo.lookup(*ip);
        let from = |p: &Option<PathBuf>| p.as_ref().map_or_else(|| "-".to_string(), |p| p.display().to_string());
        println!(
            "{ip}\tcountry={}\tasn={}\taso={}\tcountry_db={}\tasn_db={}",
            a.country_code.as_deref().unwrap_or("-"),
            a.asn.map_or_else(|| "-".to_string(), |n| n.to_string()),
            a.aso.as_deref().unwrap_or("-"),
            from(&a.country_from),
            from(&a.asn_from),
        );
    }
    if geo.is_empty() { ExitCode::from(EXIT_PARTIAL) } else { ExitCode::SUCCESS }
}
