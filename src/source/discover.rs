//! Finding a log's rotated siblings, oldest first.
//!
//! For `mail.log` the family is every file in the same directory named `mail.log.N` or
//! `mail.log-DATE` (logrotate `dateext`, DATE made of digits, `-` and `_`), each optionally followed
//! by a compression extension, then `mail.log` itself. Extensions are only used to recognise names;
//! how a file is read is decided by its content (see [`crate::source::open`]).
//!
//! Order: dated files by date, then numbered files from the highest number down, then the live
//! file. (With both schemes in one directory, which logrotate never produces by itself, dated
//! files are taken as the older ones.)

use std::cmp::Reverse;
use std::io;
use std::path::{Path, PathBuf};

/// Suffixes logrotate and friends add when compressing; any of them may follow a rotation suffix.
const COMPRESSION_SUFFIXES: &[&str] = &[".gz", ".xz", ".zst", ".bz2", ".lzma", ".zstd"];

/// How a rotated sibling is named, which sets its age.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Age {
    /// `NAME-20261124`: older for a smaller date string.
    Dated(String),
    /// `NAME.3`: older for a larger number.
    Numbered(Reverse<u64>),
    /// `NAME` itself: the newest.
    Live,
}

/// The family of `log`: existing rotated siblings oldest first, then `log` if it exists.
///
/// Fails only when the directory cannot be listed; a missing live file is not an error here (it
/// may be between rotation and re-creation), the caller decides what to say.
pub fn rotated_family(log: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = match log.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(name) = log.file_name().and_then(|n| n.to_str()) else {
        return Ok(if log.exists() { vec![log.to_path_buf()] } else { Vec::new() });
    };
    let mut family: Vec<(Age, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(candidate) = file_name.to_str() else { continue };
        let Some(age) = sibling_age(name, candidate) else { continue };
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(true) {
            continue;
        }
        family.push((age, dir.join(candidate)));
    }
    if log.exists() {
        family.push((Age::Live, log.to_path_buf()));
    }
    family.sort();
    Ok(family.into_iter().map(|(_, p)| p).collect())
}

/// The age of `candidate` if it is a rotated sibling of `base`.
fn sibling_age(base: &str, candidate: &str) -> Option<Age> {
    let rest = candidate.strip_prefix(base)?;
    let rest = COMPRESSION_SUFFIXES.iter().find_map(|s| rest.strip_suffix(s)).unwrap_or(rest);
    if let Some(n) = rest.strip_prefix('.')
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        return n.parse().ok().map(|n| Age::Numbered(Reverse(n)));
    }
    if let Some(d) = rest.strip_prefix('-') {
        let date_like = d.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'_');
        if d.len() >= 6 && date_like && d.bytes().any(|b| b.is_ascii_digit()) {
            return Some(Age::Dated(d.to_string()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path, files: &[&str]) -> Vec<String> {
        for f in files {
            std::fs::write(dir.join(f), b"x\n").unwrap();
        }
        rotated_family(&dir.join("mail.log"))
            .unwrap()
            .into_iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn numbered_siblings_come_oldest_first_then_the_live_file() {
        let dir = tempfile::tempdir().unwrap();
        let got = names(
            dir.path(),
            &["mail.log", "mail.log.1", "mail.log.2.gz", "mail.log.10.xz", "mail.log.3.zst", "mail.log.4.bz2"],
        );
        assert_eq!(
            got,
            ["mail.log.10.xz", "mail.log.4.bz2", "mail.log.3.zst", "mail.log.2.gz", "mail.log.1", "mail.log"]
        );
    }

    #[test]
    fn dated_siblings_come_by_date() {
        let dir = tempfile::tempdir().unwrap();
        let got = names(dir.path(), &["mail.log", "mail.log-20261124", "mail.log-20261110.gz", "mail.log-20261117"]);
        assert_eq!(got, ["mail.log-20261110.gz", "mail.log-20261117", "mail.log-20261124", "mail.log"]);
    }

    #[test]
    fn unrelated_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let got = names(
            dir.path(),
            &["mail.log", "mail.log.old", "mail.err", "mail.log.1.tmp", "mail.logger", "mail.log-x", "xmail.log"],
        );
        assert_eq!(got, ["mail.log"]);
    }

    #[test]
    fn a_missing_live_file_still_yields_its_archives() {
        let dir = tempfile::tempdir().unwrap();
        let got = names(dir.path(), &["mail.log.1"]);
        assert_eq!(got, ["mail.log.1"]);
    }
}
