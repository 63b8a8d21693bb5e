//! `geo update`: download the configured databases, check them, and swap them in atomically.
//!
//! Every file is downloaded next to its destination under a temporary name and checked (it
//! parses as the expected kind, has enough rows, knows one of the check addresses). Only when
//! every file passed are they renamed over the old ones, so a failed or partial download leaves
//! the previous databases, if any, in place and working (the message says which there were).

use std::fs::File;
use std::io::{BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::csv::{CsvError, DbKind};
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

/// Why `geo update` did not install the databases.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A file could not be downloaded or failed its checks: nothing was replaced.
    #[error("{url}: {reason}; {before}")]
    Download {
        /// The URL of the file.
        url: String,
        /// What went wrong.
        reason: DownloadError,
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
}

/// Downloads, checks and installs all `downloads`, or none of them. The error names the URL and
/// says that the old databases were kept.
pub fn update(downloads: &[Download], checks: &Checks) -> Result<Vec<Installed>, UpdateError> {
    let before = Before::of(downloads);
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(checks.timeout)).build().into();
    let mut staged: Vec<(PathBuf, Installed)> = Vec::new();
    let result = (|| -> Result<(), UpdateError> {
        for d in downloads {
            let started = Instant::now();
            let tmp = temp_path(&d.dest);
            // Pushed before writing, so that a failure below still removes the partial file.
            staged.push((tmp.clone(), Installed { dest: d.dest.clone(), bytes: 0, rows: 0, seconds: 0.0 }));
            let failed =
                |reason: DownloadError| UpdateError::Download { url: d.url.clone(), reason, before: before.clone() };
            let bytes = fetch(&agent, &d.url, &tmp).map_err(|e| failed(e.into()))?;
            let rows = check(&tmp, d.kind, checks).map_err(|e| failed(e.into()))?;
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

fn temp_path(dest: &Path) -> PathBuf {
    let name = dest.file_name().map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.download{}", std::process::id()))
}

fn fetch(agent: &ureq::Agent, url: &str, to: &Path) -> Result<u64, FetchError> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|source| FetchError::CreateDir { dir: dir.to_path_buf(), source })?;
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
    let mut file = File::create(to).map_err(write)?;
    let mut reader = response.body_mut().with_config().limit(4 << 30).reader();
    let n = std::io::copy(&mut reader, &mut file).map_err(FetchError::Transfer)?;
    if let Some(len) = expected.filter(|&len| len != n) {
        return Err(FetchError::Length { got: n, expected: len });
    }
    file.flush().and_then(|()| file.sync_all()).map_err(write)?;
    Ok(n)
}

/// Checks a downloaded file; returns its row count.
pub fn check(path: &Path, kind: DbKind, checks: &Checks) -> Result<u64, CheckError> {
    if mmdb::looks_like_mmdb(path) {
        let bytes = std::fs::read(path).map_err(CheckError::Read)?;
        let reader = mmdb::Mmdb::check_bytes(bytes).map_err(CheckError::Mmdb)?;
        let knows = |ip: &IpAddr| match kind {
            DbKind::Country => mmdb::country(&reader, *ip).is_some(),
            DbKind::Asn => mmdb::asn(&reader, *ip).is_some(),
        };
        if !checks.known_ips.iter().any(knows) {
            return Err(CheckError::KnowsNone { known: checks.known_ips.clone() });
        }
        return Ok(u64::from(reader.metadata().node_count));
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
    let index = RangeIndex::from_rows(rows, kind);
    if !checks.known_ips.iter().any(|ip| index.lookup(*ip).is_some()) {
        return Err(CheckError::KnowsNone { known: checks.known_ips.clone() });
    }
    Ok(n)
}
