//! `geo update`: download the configured databases, check them, and swap them in atomically.
//!
//! Every file is downloaded next to its destination under a temporary name and checked (it
//! parses as the expected kind, has enough rows, knows one of the check addresses). Only when
//! every file passed are they renamed over the old ones, so a failed or partial download leaves
//! the previous databases in place and working.

use std::fs::File;
use std::io::{BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::csv::DbKind;
use super::index::RangeIndex;
use super::mmdb;

/// One file to fetch.
#[derive(Clone, Debug)]
pub struct Download {
    /// Country or ASN.
    pub kind: DbKind,
    /// Where from.
    pub url: String,
    /// Where to.
    pub dest: PathBuf,
}

/// How downloads are checked.
#[derive(Clone, Debug)]
pub struct Checks {
    /// Fewest rows (CSV) a file may have.
    pub min_rows: u64,
    /// A file must know at least one of these.
    pub known_ips: Vec<IpAddr>,
    /// Per-download time limit.
    pub timeout: Duration,
}

/// What one installed file holds.
#[derive(Clone, Debug)]
pub struct Installed {
    /// The destination.
    pub dest: PathBuf,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Rows (CSV) or nodes (MMDB).
    pub rows: u64,
    /// Download and check time.
    pub seconds: f64,
}

/// Downloads, checks and installs all `downloads`, or none of them. The error names the URL and
/// says that the old databases were kept.
pub fn update(downloads: &[Download], checks: &Checks) -> Result<Vec<Installed>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(checks.timeout)).build().into();
    let mut staged: Vec<(PathBuf, Installed)> = Vec::new();
    let result = (|| -> Result<(), String> {
        for d in downloads {
            let started = Instant::now();
            let tmp = temp_path(&d.dest);
            // Pushed before writing, so that a failure below still removes the partial file.
            staged.push((tmp.clone(), Installed { dest: d.dest.clone(), bytes: 0, rows: 0, seconds: 0.0 }));
            let bytes = fetch(&agent, &d.url, &tmp).map_err(|e| format!("{}: download failed: {e}", d.url))?;
            let rows = check(&tmp, d.kind, checks).map_err(|e| format!("{}: rejected: {e}", d.url))?;
            if let Some((_, i)) = staged.last_mut() {
                (i.bytes, i.rows, i.seconds) = (bytes, rows, started.elapsed().as_secs_f64());
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(format!("{e}; the previous databases were kept and still work"));
    }
    let mut done = Vec::new();
    for (tmp, installed) in staged {
        std::fs::rename(&tmp, &installed.dest).map_err(|e| {
            format!("cannot replace {}: {e}; check the directory's permissions", installed.dest.display())
        })?;
        done.push(installed);
    }
    Ok(done)
}

fn temp_path(dest: &Path) -> PathBuf {
    let name = dest.file_name().map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.download{}", std::process::id()))
}

fn fetch(agent: &ureq::Agent, url: &str, to: &Path) -> Result<u64, String> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let expected: Option<u64> =
        response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let is_html = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("html"));
    if is_html {
        return Err("the server sent an HTML page, not a database (has the URL moved? set geo.*_url)".into());
    }
    let mut file = File::create(to).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    let mut reader = response.body_mut().with_config().limit(4 << 30).reader();
    let n = std::io::copy(&mut reader, &mut file).map_err(|e| format!("transfer incomplete: {e}"))?;
    if let Some(len) = expected.filter(|&len| len != n) {
        return Err(format!("transfer incomplete: got {n} of {len} bytes"));
    }
    file.flush().and_then(|()| file.sync_all()).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    Ok(n)
}

/// Checks a downloaded file; returns its row count.
pub fn check(path: &Path, kind: DbKind, checks: &Checks) -> Result<u64, String> {
    if mmdb::looks_like_mmdb(path) {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let reader = mmdb::Mmdb::check_bytes(bytes)?;
        let knows = |ip: &IpAddr| match kind {
            DbKind::Country => mmdb::country(&reader, *ip).is_some(),
            DbKind::Asn => mmdb::asn(&reader, *ip).is_some(),
        };
        if !checks.known_ips.iter().any(knows) {
            return Err(format!(
                "the database knows none of {:?} (geo.check_ips); wrong kind of file?",
                checks.known_ips
            ));
        }
        return Ok(u64::from(reader.metadata().node_count));
    }
    let file = File::open(path).map_err(|e| e.to_string())?;
    let rows = super::csv::read(BufReader::with_capacity(1 << 20, file), kind).map_err(|e| e.to_string())?;
    let n = rows.len() as u64;
    if n < checks.min_rows {
        return Err(format!("only {n} rows, fewer than geo.min_rows = {}: truncated or wrong file", checks.min_rows));
    }
    if rows.bad > n / 100 + 1 {
        return Err(format!("{} unreadable rows of {n}: damaged file", rows.bad));
    }
    let index = RangeIndex::from_rows(rows, kind);
    if !checks.known_ips.iter().any(|ip| index.lookup(*ip).is_some()) {
        return Err(format!("the database knows none of {:?} (geo.check_ips)", checks.known_ips));
    }
    Ok(n)
}
