//! Country, AS number and AS organisation from offline databases.
//!
//! Each configured path is opened by content: MaxMind DB files through [`mmdb`], anything else
//! as an ip-location-db CSV through the cached [`index`]. Several files per kind are tried in
//! order (ip-location-db ships IPv4 and IPv6 separately).

pub mod csv;
pub mod index;
pub mod mmdb;
pub mod update;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use self::csv::DbKind;

/// Creates `path` (a download or an index, renamed into place once whole) 0640, as the store
/// creates the data directory's files, rather than as the umask says (`store::files`).
fn create_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o640).open(path)
}

/// Creates `dir` and its missing parents 0750, likewise.
fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o750).create(dir)
}
use self::index::{Origin, RangeIndex};
use self::mmdb::Mmdb;

/// Why a database file cannot be used (the scan then goes on without it, with a warning).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It starts like a MaxMind DB but is not a valid one.
    #[error("{}: not a valid MaxMind DB: {source}", path.display())]
    Mmdb {
        /// The database file.
        path: PathBuf,
        /// What the reader found wrong.
        source: maxminddb::MaxMindDbError,
    },
    /// Not an ip-location-db CSV of the expected kind.
    #[error("{}: {source}", path.display())]
    Csv {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
        source: self::csv::CsvError,
    },
}

/// Where CSV indexes are cached, inside the data directory.
pub const CACHE_DIR: &str = "cache/geo";

enum Source {
    Ranges(RangeIndex),
    Mmdb(Mmdb),
}

/// One open database file.
pub struct GeoDb {
    /// The file.
    pub path: PathBuf,
    kind: DbKind,
    source: Source,
}

impl GeoDb {
    /// Opens `path` as a `kind` database, choosing the format by content. CSV indexes are cached
    /// in `cache_dir`.
    pub fn open(path: &Path, kind: DbKind, cache_dir: &Path) -> Result<(GeoDb, Option<Origin>), OpenError> {
        if mmdb::looks_like_mmdb(path) {
            let db = Mmdb::open(path)?;
            return Ok((GeoDb { path: path.to_path_buf(), kind, source: Source::Mmdb(db) }, None));
        }
        let (index, origin) = RangeIndex::open(path, kind, cache_dir)?;
        Ok((GeoDb { path: path.to_path_buf(), kind, source: Source::Ranges(index) }, Some(origin)))
    }

    fn country(&self, ip: IpAddr) -> Option<String> {
        match &self.source {
            Source::Ranges(idx) if self.kind == DbKind::Country => idx.lookup(ip).map(|(_, cc)| cc.to_string()),
            Source::Ranges(_) => None,
            Source::Mmdb(db) => db.country(ip),
        }
    }

    fn asn(&self, ip: IpAddr) -> Option<(u32, Option<String>)> {
        match &self.source {
            Source::Ranges(idx) if self.kind == DbKind::Asn => {
                idx.lookup(ip).map(|(asn, org)| (asn, Some(org.to_string()).filter(|o| !o.is_empty())))
            }
            Source::Ranges(_) => None,
            Source::Mmdb(db) => db.asn(ip),
        }
    }
}

/// What the databases say about one address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoAnswer {
    /// ISO 3166 alpha-2 code, upper case.
    pub country_code: Option<String>,
    /// The database that gave the country.
    pub country_from: Option<PathBuf>,
    /// AS number (0 is never reported: ip-location-db uses it for "not routed").
    pub asn: Option<u32>,
    /// AS organisation, made visible.
    pub aso: Option<String>,
    /// The database that gave the AS.
    pub asn_from: Option<PathBuf>,
}

/// The configured databases.
#[derive(Default)]
pub struct Geo {
    country: Vec<GeoDb>,
    asn: Vec<GeoDb>,
}

/// What opening the databases found, for the user.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Problems (unreadable or invalid files).
    pub warnings: Vec<String>,
    /// The "no database" hint, when no database was found at all: apart from the warnings, so
    /// that a scan run by a timer can say it once rather than every hour.
    pub missing: Option<String>,
    /// CSV indexes built during this open (path, seconds).
    pub built: Vec<(PathBuf, f64)>,
}

impl Geo {
    /// Opens every configured database that exists. Missing files are skipped; when none at all
    /// is found, one warning says how to get them.
    pub fn open(country: &[PathBuf], asn: &[PathBuf], cache_dir: &Path) -> (Geo, OpenReport) {
        let mut geo = Geo::default();
        let mut report = OpenReport::default();
        for (paths, kind) in [(country, DbKind::Country), (asn, DbKind::Asn)] {
            for path in paths {
                if !path.exists() {
                    continue;
                }
                let started = std::time::Instant::now();
                match GeoDb::open(path, kind, cache_dir) {
                    Ok((db, origin)) => {
                        if matches!(origin, Some(Origin::Built | Origin::BuiltInMemory)) {
                            report.built.push((path.clone(), started.elapsed().as_secs_f64()));
                        }
                        match kind {
                            DbKind::Country => geo.country.push(db),
                            DbKind::Asn => geo.asn.push(db),
                        }
                    }
                    Err(e) => report.warnings.push(format!(
                        "{} database unusable: {e}; run `maillogsentinel geo update` or fix `geo.{}_db`",
                        kind.as_str(),
                        kind.as_str()
                    )),
                }
            }
        }
        if geo.is_empty() && report.warnings.is_empty() {
            let looked: Vec<String> = country.iter().chain(asn).map(|p| p.display().to_string()).collect();
            report.missing = Some(format!(
                "no geolocation database found (looked for {}): country and AS columns stay empty; run \
                 `maillogsentinel geo update` to download them, or set `geo.country_db` / `geo.asn_db`",
                looked.join(", ")
            ));
        }
        (geo, report)
    }

    /// True when no database is open.
    pub fn is_empty(&self) -> bool {
        self.country.is_empty() && self.asn.is_empty()
    }

    /// Looks `ip` up in every database, first answer wins per kind.
    pub fn lookup(&self, ip: IpAddr) -> GeoAnswer {
        let mut a = GeoAnswer::default();
        for db in &self.country {
            if let Some(cc) = db.country(ip) {
                a.country_code = Some(cc);
                a.country_from = Some(db.path.clone());
                break;
            }
        }
        for db in &self.asn {
            if let Some((asn, org)) = db.asn(ip).filter(|(asn, _)| *asn != 0) {
                a.asn = Some(asn);
                a.aso = org;
                a.asn_from = Some(db.path.clone());
                break;
            }
        }
        a
    }
}
