//! `geo update`: download the configured databases, check them, and swap them in atomically.
//!
//! Every file is downloaded next to its destination under a temporary name and checked (it
//! parses as the expected kind, has enough rows, knows every check address of the address
//! families it covers, and is not under half the size of the file it replaces). Only when every
//! file passed are they renamed over the old ones, so a failed or partial download leaves the
//! previous databases, if any, in place and working (the message says which there were).
//!
//! The last two checks can be overridden with `--force`: a server that sends a complete
//! response of the wrong, much shorter file passes every other check, and a good database
//! would be replaced by a useless one; but a database can legitimately shrink (a vendor merges
//! ranges), and only the admin can tell.

use std::fs::File;
use std::io::{BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::csv::{CsvError, DbKind};
use super::index::RangeIndex;
use super::mmdb;
use crate::text::thousands;

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
    /// A file must know every one of these of the address families it covers.
    pub known_ips: Vec<IpAddr>,
    /// Per-download time limit.
    pub timeout: Duration,
    /// Install a file that fails only the checks meant for an expected shrink ([`CheckError::Shrunk`],
    /// [`CheckError::Misses`]): `geo update --force`.
    pub force: bool,
}

/// What one installed file holds.
#[derive(Debug)]
pub struct Installed {
    /// The destination.
    pub dest: PathBuf,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Rows (CSV) or nodes (MMDB).
    pub rows: u64,
    /// Download and check time.
    pub seconds: f64,
    /// The checks `force` overrode for this file.
    pub forced: Vec<CheckError>,
}

/// Why `geo update` did not install the databases.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A file could not be downloaded or failed its checks: nothing was replaced.
    #[error("{url}: {reason}; {before}")]
    Download {
        /// The URL of the file.
        url: String,
        /// What went wrong.
        reason: Box<DownloadError>,
        /// Which databases were there before, and so are still in use.
        before: Before,
    },
    /// Every file passed, but one could not be moved over the old one.
    #[error("cannot replace {}: {source}; check the directory's permissions", dest.display())]
    Install {
        /// The database that could not be replaced.
        dest: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The databases installed before a failed update: what the message may promise about them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Before {
    /// Every destination held a database: they were kept and still work.
    All,
    /// None did: nothing is installed yet.
    None,
    /// Some did; these destinations are still missing.
    Some(Vec<PathBuf>),
}

impl Before {
    /// Which of `downloads`' destinations already hold a file.
    pub fn of(downloads: &[Download]) -> Before {
        let missing: Vec<PathBuf> = downloads.iter().filter(|d| !d.dest.is_file()).map(|d| d.dest.clone()).collect();
        if missing.is_empty() {
            Before::All
        } else if missing.len() == downloads.len() {
            Before::None
        } else {
            Before::Some(missing)
        }
    }
}

impl std::fmt::Display for Before {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Before::All => f.write_str("nothing was replaced: the previous databases were kept and still work"),
            Before::None => f.write_str(
                "nothing was installed, and no database is installed yet: scans run without country and AS \
                 until `geo update` succeeds",
            ),
            Before::Some(missing) => {
                let missing: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "nothing was replaced: the databases already installed were kept and still work, but {} \
                     still missing until `geo update` succeeds",
                    if missing.len() == 1 {
                        format!("{} is", missing[0])
                    } else {
                        format!("{} are", missing.join(", "))
                    }
                )
            }
        }
    }
}

/// What went wrong with one downloaded file.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// It did not arrive whole.
    #[error("download failed: {0}")]
    Fetch(#[from] FetchError),
    /// It arrived but is not a usable database.
    #[error("rejected: {0}")]
    Rejected(#[from] CheckError),
    /// It is a database, but looks cut or wrong next to what it would replace.
    #[error("refused: {0}: a truncated or wrong file? If it is expected, run `maillogsentinel geo update --force`")]
    Refused(CheckError),
}

/// Why a file could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The destination directory cannot be created.
    #[error("cannot create {}: {source}", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The request failed (network, TLS, HTTP status).
    #[error("{0}")]
    Http(#[source] Box<ureq::Error>),
    /// An HTML page came back, which is what a moved URL or a portal usually sends.
    #[error("the server sent an HTML page, not a database (has the URL moved? set geo.*_url)")]
    Html,
    /// The temporary file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The temporary file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The connection broke during the transfer.
    #[error("transfer incomplete: {0}")]
    Transfer(#[source] std::io::Error),
    /// Fewer or more bytes than the server announced.
    #[error("transfer incomplete: got {got} of {expected} bytes")]
    Length {
        /// Bytes received.
        got: u64,
        /// `Content-Length`.
        expected: u64,
    },
}

/// Why a downloaded file is not accepted as a database.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// It cannot be read back.
    #[error("{0}")]
    Read(#[source] std::io::Error),
    /// It starts like a MaxMind DB but is not a valid one.
    #[error("not a valid MaxMind DB: {0}")]
    Mmdb(#[source] maxminddb::MaxMindDbError),
    /// Not an ip-location-db CSV of the expected kind.
    #[error("{0}")]
    Csv(#[source] CsvError),
    /// Too small to be the whole database.
    #[error("only {rows} rows, fewer than geo.min_rows = {min_rows}: truncated or wrong file")]
    TooFewRows {
        /// Rows read.
        rows: u64,
        /// `geo.min_rows`.
        min_rows: u64,
    },
    /// Too many rows that do not parse.
    #[error("{bad} unreadable rows of {rows}: damaged file")]
    Damaged {
        /// Rows that do not parse.
        bad: u64,
        /// Rows that do.
        rows: u64,
    },
    /// It answers none of the check addresses.
    #[error("the database knows none of {known:?} (geo.check_ips); wrong kind of file?")]
    KnowsNone {
        /// `geo.check_ips`.
        known: Vec<IpAddr>,
    },
    /// It misses check addresses of a family it covers: a cut file, as a whole database of a
    /// family knows every public address of it.
    #[error(
        "the download for {} does not know {} of geo.check_ips, though it holds {family} ranges",
        dest.display(), list(missing)
    )]
    Misses {
        /// The destination it would replace.
        dest: PathBuf,
        /// The check addresses of that family it does not know.
        missing: Vec<IpAddr>,
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
    /// Far fewer rows than the file it would replace.
    #[error(
        "{} {unit} where {} has {} (under half)",
        thousands(*rows), dest.display(), thousands(*old_rows)
    )]
    Shrunk {
        /// The destination it would replace.
        dest: PathBuf,
        /// Rows (CSV) or nodes (MMDB) of the download.
        rows: u64,
        /// Rows or nodes of the installed file.
        old_rows: u64,
        /// `rows` or `nodes`.
        unit: &'static str,
    },
}

fn list(ips: &[IpAddr]) -> String {
    ips.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
}

/// The format of a database file, by content: sizes compare only within one format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv,
    Mmdb,
}

impl Format {
    fn unit(self) -> &'static str {
        match self {
            Format::Csv => "rows",
            Format::Mmdb => "nodes",
        }
    }
}

/// What [`check`] found in a file that passed the checks no `--force` overrides.
#[derive(Clone, Debug)]
pub struct Checked {
    /// Rows (CSV) or nodes (MMDB).
    pub rows: u64,
    format: Format,
    /// Check addresses of a family the file covers that it does not know, with that family.
    pub missing: Vec<(IpAddr, &'static str)>,
}

/// Downloads, checks and installs all `downloads`, or none of them. The error names the URL and
/// says that the old databases were kept.
pub fn update(downloads: &[Download], checks: &Checks) -> Result<Vec<Installed>, UpdateError> {
    for d in downloads {
        remove_stale_downloads(&d.dest);
    }
    let before = Before::of(downloads);
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(checks.timeout)).build().into();
    let mut staged: Vec<(PathBuf, Installed)> = Vec::new();
    let result = (|| -> Result<(), UpdateError> {
        for d in downloads {
            let started = Instant::now();
            let tmp = temp_path(&d.dest);
            // Pushed before writing, so that a failure below still removes the partial file.
            staged.push((
                tmp.clone(),
                Installed { dest: d.dest.clone(), bytes: 0, rows: 0, seconds: 0.0, forced: Vec::new() },
            ));
            let failed = |reason: DownloadError| UpdateError::Download {
                url: d.url.clone(),
                reason: Box::new(reason),
                before: before.clone(),
            };
            let bytes = fetch(&agent, &d.url, &tmp).map_err(|e| failed(e.into()))?;
            let checked = check(&tmp, d.kind, checks).map_err(|e| failed(e.into()))?;
            let mut doubts = doubts(&checked, &d.dest, d.kind);
            if !checks.force && !doubts.is_empty() {
                return Err(failed(DownloadError::Refused(doubts.remove(0))));
            }
            if let Some((_, i)) = staged.last_mut() {
                (i.bytes, i.rows, i.seconds) = (bytes, checked.rows, started.elapsed().as_secs_f64());
                i.forced = doubts;
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    let mut done = Vec::new();
    for (tmp, installed) in staged {
        std::fs::rename(&tmp, &installed.dest)
            .map_err(|source| UpdateError::Install { dest: installed.dest.clone(), source })?;
        done.push(installed);
    }
    Ok(done)
}

/// Removes what an update killed mid-download left beside `dest` (its partial file, named after
/// a process that is gone): the names carry the pid, so no later update would overwrite them,
/// and each can be as large as a database.
fn remove_stale_downloads(dest: &Path) {
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else { return };
    let prefix = format!(".{}.download", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else { continue };
        let gone = pid.parse::<u32>().is_ok_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn temp_path(dest: &Path) -> PathBuf {
    let name = dest.file_name().map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.download{}", std::process::id()))
}

fn fetch(agent: &ureq::Agent, url: &str, to: &Path) -> Result<u64, FetchError> {
    if let Some(dir) = to.parent() {
        super::create_dir_all(dir).map_err(|source| FetchError::CreateDir { dir: dir.to_path_buf(), source })?;
    }
    let mut response = agent.get(url).call().map_err(|e| FetchError::Http(Box::new(e)))?;
    let expected: Option<u64> =
        response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let is_html = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("html"));
    if is_html {
        return Err(FetchError::Html);
    }
    let write = |source| FetchError::Write { path: to.to_path_buf(), source };
    let mut file = super::create_file(to).map_err(write)?;
    let mut reader = response.body_mut().with_config().limit(4 << 30).reader();
    let n = std::io::copy(&mut reader, &mut file).map_err(FetchError::Transfer)?;
    if let Some(len) = expected.filter(|&len| len != n) {
        return Err(FetchError::Length { got: n, expected: len });
    }
    file.flush().and_then(|()| file.sync_all()).map_err(write)?;
    Ok(n)
}

/// What makes a download that passed [`check`] doubtful next to the file at `dest` it would
/// replace: the checks `--force` overrides, the missing addresses first.
fn doubts(checked: &Checked, dest: &Path, kind: DbKind) -> Vec<CheckError> {
    let mut doubts = Vec::new();
    for family in ["IPv4", "IPv6"] {
        let missing: Vec<IpAddr> = checked.missing.iter().filter(|(_, f)| *f == family).map(|(ip, _)| *ip).collect();
        if !missing.is_empty() {
            doubts.push(CheckError::Misses { dest: dest.to_path_buf(), missing, family });
        }
    }
    if let Some((format, old_rows)) = size_of(dest, kind)
        && format == checked.format
        && checked.rows.saturating_mul(2) < old_rows
    {
        doubts.push(CheckError::Shrunk { dest: dest.to_path_buf(), rows: checked.rows, old_rows, unit: format.unit() });
    }
    doubts
}

/// The format and size of an installed database, counted as [`check`] counts a download; `None`
/// when there is none or it does not read (then there is nothing worth keeping to compare with).
fn size_of(path: &Path, kind: DbKind) -> Option<(Format, u64)> {
    if !path.is_file() {
        return None;
    }
    if mmdb::looks_like_mmdb(path) {
        return mmdb::Mmdb::open(path).ok().map(|db| (Format::Mmdb, db.node_count()));
    }
    let file = File::open(path).ok()?;
    let rows = super::csv::read(BufReader::with_capacity(1 << 20, file), kind).ok()?;
    Some((Format::Csv, rows.len() as u64))
}

fn family(ip: IpAddr) -> &'static str {
    if ip.to_canonical().is_ipv4() { "IPv4" } else { "IPv6" }
}

/// Checks a downloaded file on its own: what no `--force` overrides fails here; the check
/// addresses it misses are returned for `doubts` to judge.
pub fn check(path: &Path, kind: DbKind, checks: &Checks) -> Result<Checked, CheckError> {
    if mmdb::looks_like_mmdb(path) {
        let bytes = std::fs::read(path).map_err(CheckError::Read)?;
        let reader = mmdb::Mmdb::check_bytes(bytes).map_err(CheckError::Mmdb)?;
        let knows = |ip: &IpAddr| match kind {
            DbKind::Country => mmdb::country(&reader, *ip).is_some(),
            DbKind::Asn => mmdb::asn(&reader, *ip).is_some(),
        };
        let known: Vec<IpAddr> = checks.known_ips.iter().copied().filter(knows).collect();
        if known.is_empty() {
            return Err(CheckError::KnowsNone { known: checks.known_ips.clone() });
        }
        // The search tree does not say which families hold data (an IPv6 tree may hold IPv4
        // only): a family counts as covered when one of its check addresses is known.
        let covered = |f: &str| known.iter().any(|ip| family(*ip) == f);
        let missing = checks
            .known_ips
            .iter()
            .filter(|ip| !known.contains(ip) && covered(family(**ip)))
            .map(|ip| (*ip, family(*ip)))
            .collect();
        return Ok(Checked { rows: u64::from(reader.metadata().node_count), format: Format::Mmdb, missing });
    }
    let file = File::open(path).map_err(CheckError::Read)?;
    let rows = super::csv::read(BufReader::with_capacity(1 << 20, file), kind).map_err(CheckError::Csv)?;
    let n = rows.len() as u64;
    if n < checks.min_rows {
        return Err(CheckError::TooFewRows { rows: n, min_rows: checks.min_rows });
    }
    if rows.bad > n / 100 + 1 {
        return Err(CheckError::Damaged { bad: rows.bad, rows: n });
    }
    let (has_v4, has_v6) = (!rows.v4.is_empty(), !rows.v6.is_empty());
    let covers = |ip: &IpAddr| if family(*ip) == "IPv4" { has_v4 } else { has_v6 };
    let index = RangeIndex::from_rows(rows, kind);
    let (known, unknown): (Vec<IpAddr>, Vec<IpAddr>) =
        checks.known_ips.iter().partition(|ip| index.lookup(**ip).is_some());
    if known.is_empty() {
        return Err(CheckError::KnowsNone { known: checks.known_ips.clone() });
    }
    let missing = unknown.into_iter().filter(covers).map(|ip| (ip, family(ip))).collect();
    Ok(Checked { rows: n, format: Format::Csv, missing })
}
