//! Finding each log's rotated family, and deciding for each of its files which known content it
//! holds and where reading resumes.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;

use super::problems::{Problem, no_such_log};
use crate::model::event::RawTime;
use crate::parse::syslog::peek_time;
use crate::parse::time::{YearState, first_year};
use crate::source::discover::rotated_family;
use crate::source::fingerprint::{FINGERPRINT_BYTES, Fingerprint};
use crate::source::lines::{Chunk, LineReader};
use crate::source::open::{self, Compression};
use crate::store::{SourceRecord, Store, StoreError};

/// How much of a file's start is read to find its first timestamp.
const HEAD_BYTES: usize = 64 * 1024;
/// How much of a plain file's end is read to find its last timestamp.
const TAIL_BYTES: u64 = 64 * 1024;

/// One file to read in this scan.
#[derive(Debug)]
pub struct FilePlan {
    /// Where it is.
    pub path: PathBuf,
    /// Its stored record, identity refreshed (path, inode, longer fingerprint).
    pub source: SourceRecord,
    /// Stored size at planning time.
    pub size: u64,
    /// Year state for its first line; `None` when reading resumes with the saved state.
    pub fresh_year: Option<YearState>,
    /// With `--year`: what the next older file of its family is dated from (see [`YearHint`]).
    pub older: Option<YearHint>,
    /// Its metadata when planned.
    pub(super) seen: super::Seen,
    /// The file itself, open since it was identified: rotation may put another file at `path`
    /// before it is read, and reading that one as this one's content would skip what this one
    /// holds past the checkpoint and read the other one's lines again under its own identity.
    /// `None` for the journal.
    pub(super) file: Option<std::fs::File>,
}

/// The year of a file's newest year-less line under `--year`. `--year` names the year of the
/// newest line of a whole rotated family, so it holds for the newest file as given; each older
/// file ends before the next newer one starts, and its newest line takes the year of that
/// file's first line, or the year before when its month and day come later in the calendar
/// (`mail.log.1` ending `Dec 31`, `mail.log` starting `Jan 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct YearHint {
    /// The year of the newer file's first line (for the newest file: `--year`).
    pub year: i16,
    /// The newer file's first month and day; `None` for the newest file.
    pub before: Option<(i8, i8)>,
}

impl YearHint {
    /// The hint for the newest file of a family.
    pub fn newest(year: i16) -> YearHint {
        YearHint { year, before: None }
    }

    /// The year of a newest line dated `month_day`.
    fn year_of(self, month_day: (i8, i8)) -> i16 {
        match self.before {
            Some(before) if month_day > before => self.year - 1,
            _ => self.year,
        }
    }
}

/// Why a file is not read.
#[derive(Debug)]
pub enum Skip {
    /// Empty: nothing to identify or read yet.
    Empty,
    /// An archive read completely before.
    AlreadyRead,
}

/// Identifies `path` against the store and plans its reading.
pub fn plan_file(
    store: &Store,
    path: &Path,
    year: Option<YearHint>,
    tz: &TimeZone,
) -> Result<Result<FilePlan, Skip>, PlanError> {
    let io = |source| PlanError::Io { path: path.to_path_buf(), source };
    let file = open::open_regular(path).map_err(io)?;
    let (head, compression, meta) = open::read_head(file.try_clone().map_err(io)?, HEAD_BYTES).map_err(io)?;
    if head.is_empty() {
        return Ok(Err(Skip::Empty));
    }
    let (dev, ino) = (meta.dev(), meta.ino());
    let shown = path.to_string_lossy();
    let mut source = match store.find_source(&head, dev, ino)? {
        Some(s) => s,
        None => store.new_source(Fingerprint::of(&head), dev, ino, &shown)?,
    };
    if compression.is_compressed() && source.complete && source.size == meta.len() {
        return Ok(Err(Skip::AlreadyRead));
    }
    if (source.fingerprint.len as usize) < FINGERPRINT_BYTES && head.len() > source.fingerprint.len as usize {
        source.fingerprint = Fingerprint::of(&head);
    }
    source.dev = dev;
    source.ino = ino;
    // Only a file read from its start needs its years inferred (which may mean reading its end).
    // Under `--year` a resumed file's years are inferred too: the older files' hang on them.
    let resumes = source.offset > 0 && source.year.is_some();
    let years = (!resumes || year.is_some()).then(|| initial_year(&file, &head, compression, &meta, year, tz));
    let fresh_year = years.filter(|_| !resumes).map(|(state, _)| state);
    let older = year.and(years).map(|(state, first)| YearHint { year: state.year, before: first });
    Ok(Ok(FilePlan {
        path: path.to_path_buf(),
        source,
        size: meta.len(),
        fresh_year,
        older,
        seen: super::Seen::of(&meta),
        file: Some(file),
    }))
}

/// Problems that stop one file from being planned; other files go on.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The file could not be opened or its start read.
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store failed: fatal for the scan.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The year of the file's first year-less line, and that line's month and day: the newest line's
/// date comes from `--year` (with the last line's month and day, see [`YearHint`]) or from the
/// modification time, see [`crate::parse::time`].
fn initial_year(
    file: &std::fs::File,
    head: &[u8],
    compression: Compression,
    meta: &std::fs::Metadata,
    year: Option<YearHint>,
    tz: &TimeZone,
) -> (YearState, Option<(i8, i8)>) {
    let first = head.split(|&b| b == b'\n').take(200).find_map(month_day);
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| jiff::Timestamp::try_from(m).ok())
        .unwrap_or_else(jiff::Timestamp::now)
        .to_zoned_datetime(tz.clone());
    let mtime = (modified.year(), modified.month(), modified.day());
    let last = match (compression, year) {
        (Compression::None, _) => open::read_tail(file, TAIL_BYTES).ok().and_then(|t| last_month_day(&t)),
        // Only `--year` needs an archive's last line; otherwise its mtime is close enough.
        (_, Some(_)) => file.try_clone().ok().and_then(last_month_day_of_archive),
        (_, None) => None,
    };
    let newest = match (year, last) {
        (Some(y), Some((m, d))) => (y.year_of((m, d)), m, d),
        (Some(y), None) => (y.year, 12, 31),
        (None, Some((m, d))) => {
            let y = if (m, d) > (mtime.1, mtime.2) { mtime.0 - 1 } else { mtime.0 };
            (y, m, d)
        }
        (None, None) => mtime,
    };
    let state = match first {
        Some(f) => YearState { year: first_year(f, newest), month: f.0 },
        None => YearState { year: newest.0, month: newest.1 },
    };
    (state, first)
}

fn month_day(line: &[u8]) -> Option<(i8, i8)> {
    match peek_time(line)? {
        RawTime::YearLess { month, day, .. } => Some((month, day)),
        _ => None,
    }
}

fn last_month_day(text: &[u8]) -> Option<(i8, i8)> {
    text.split(|&b| b == b'\n').rev().take(200).find_map(month_day)
}

fn last_month_day_of_archive(file: std::fs::File) -> Option<(i8, i8)> {
    let opened = open::open_file_at(file, 0).ok()?;
    let mut reader = LineReader::new(opened.reader, 0);
    let mut last = None;
    while let Ok(Some(chunk)) = reader.next_chunk() {
        if let Chunk::Lines { data, .. } = chunk {
            last = last_month_day(data).or(last);
        }
    }
    last
}

/// Every log's family (oldest file first), each path once; missing logs become problems.
pub fn family_paths(logs: &[PathBuf], problems: &mut Vec<Problem>) -> Vec<Vec<PathBuf>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let missing = || no_such_log(Path::new("/run/systemd/journal").is_dir());
    for log in logs {
        match rotated_family(log) {
            Ok(family) if family.is_empty() => {
                problems.push(Problem { path: log.clone(), line: None, message: missing() })
            }
            Ok(family) => {
                if !log.exists() {
                    problems.push(Problem {
                        path: log.clone(),
                        line: None,
                        message: "missing (its rotated copies were scanned); check --log or `logs` in the config"
                            .into(),
                    });
                }
                let mut paths = Vec::new();
                for path in family {
                    let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                    if seen.insert(key) {
                        paths.push(path);
                    }
                }
                out.push(paths);
            }
            Err(e) => problems.push(Problem {
                path: log.clone(),
                line: None,
                message: match e.kind() {
                    std::io::ErrorKind::NotFound => missing(),
                    _ => format!("cannot list its directory: {e}; check its permissions"),
                },
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a plan's file holds from its start.
    fn content(plan: FilePlan) -> Vec<u8> {
        let file = plan.file.expect("a planned log file is kept open");
        let mut opened = open::open_file_at(file, 0).unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut opened.reader, &mut out).unwrap();
        out
    }

    /// The crash model's finding: `watch` planned `mail.log`, logrotate renamed it (twice) and
    /// created a new one before it was opened, and the new file's lines were read as the old
    /// file's content: the old file's unread line was never read, and the new file's lines were
    /// read again under their own identity.
    #[test]
    fn a_plan_reads_the_file_it_identified_after_rotation_put_another_at_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite3")).unwrap();
        let (live, rotated) = (dir.path().join("mail.log"), dir.path().join("mail.log.1"));
        let old = b"Nov 24 00:00:00 mx1 postfix/smtpd[1]: connect from a[192.0.2.1]\n";
        let new = b"Nov 24 00:00:05 mx1 postfix/smtpd[1]: connect from b[192.0.2.2]\n".repeat(3);
        std::fs::write(&live, old).unwrap();

        let plan = plan_file(&store, &live, None, &TimeZone::UTC).unwrap().unwrap();
        std::fs::rename(&live, &rotated).unwrap();
        std::fs::write(&live, &new).unwrap();

        assert!(plan.source.fingerprint.matches(old));
        assert_eq!(plan.size, old.len() as u64);
        assert_eq!(content(plan), old, "the plan reads the renamed file, not the new one at its path");
    }
}
