//! Finding a log's rotated siblings, oldest first.
//!
//! For `mail.log` the family is every file in the same directory with one of these names, each
//! optionally followed by a compression extension (`.gz`, `.xz`, `.zst`, `.bz2`...), then
//! `mail.log` itself:
//!
//! - `mail.log.N`: logrotate's numbered archives;
//! - `mail.log-DATE`: logrotate `dateext`, DATE made of digits, `-` and `_` (`-%Y%m%d`,
//!   `-%Y%m%d%H`, `-%Y-%m-%d`, also `-%s`);
//! - `mail.log.YYYYMMDD-HHMMSS`: `postfix logrotate` (Postfix's own `maillog_file`, default
//!   `maillog_file_rotate_suffix`);
//! - `mail.log.YYYYMMDD`: logrotate `dateformat .%Y%m%d`.
//!
//! A `.` suffix of exactly 8 digits is a date when it is a plausible `YYYYMMDD` (year 1990 to
//! 2999, a month 01 to 12 and a day that exists in that month); any other all-digit `.` suffix is
//! a number (`mail.log.20261332` is archive number 20261332). Extensions are only used to
//! recognise names; how a file is read is decided by its content (see [`crate::source::open`]).
//!
//! Order: dated files by date and time, then numbered files from the highest number down, then
//! the live file. Dates are compared by their digits, padded on the right to 14
//! (`YYYYMMDDHHMMSS`), so `-2026-11-24`, `-20261124`, `-2026112410` and `.20261124-101500` sort
//! chronologically among themselves. (With both schemes in one directory, which logrotate never
//! produces by itself, dated files are taken as the older ones.)

use std::cmp::Reverse;
use std::io;
use std::path::{Path, PathBuf};

/// Suffixes logrotate and friends add when compressing; any of them may follow a rotation suffix.
const COMPRESSION_SUFFIXES: &[&str] = &[".gz", ".xz", ".zst", ".bz2", ".lzma", ".zstd"];

/// How a rotated sibling is named, which sets its age.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Age {
    /// `NAME-20261124`, `NAME.20261124-101500`: older for a smaller key, the date's digits padded
    /// on the right with `0` to 14 (see the module documentation).
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
    if let Some(n) = rest.strip_prefix('.') {
        if let Some(key) = dotted_date(n) {
            return Some(Age::Dated(key));
        }
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return n.parse().ok().map(|n| Age::Numbered(Reverse(n)));
        }
        return None;
    }
    if let Some(d) = rest.strip_prefix('-') {
        let date_like = d.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'_');
        if d.len() >= 6 && date_like && d.bytes().any(|b| b.is_ascii_digit()) {
            return Some(Age::Dated(date_key(d)));
        }
    }
    None
}

/// The sort key of a `.` suffix that is a date: `YYYYMMDD` or Postfix's `YYYYMMDD-HHMMSS`, with a
/// plausible date (and time); `None` for anything else, numbers included.
fn dotted_date(suffix: &str) -> Option<String> {
    let (date, time) = match suffix.split_once('-') {
        Some((date, time)) => (date, Some(time)),
        None => (suffix, None),
    };
    if !plausible_date(date) {
        return None;
    }
    if let Some(time) = time
        && !plausible_time(time)
    {
        return None;
    }
    Some(date_key(suffix))
}

/// Whether `s` is exactly 8 digits forming a date `YYYYMMDD` with a year from 1990 to 2999.
fn plausible_date(s: &str) -> bool {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) = (s[..4].parse::<u32>(), s[4..6].parse::<u32>(), s[6..].parse::<u32>()) else {
        return false;
    };
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1990..=2999).contains(&year) && (1..=days).contains(&day)
}

/// Whether `s` is exactly 6 digits forming a time `HHMMSS` (a leap second allowed).
fn plausible_time(s: &str) -> bool {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (Ok(h), Ok(m), Ok(sec)) = (s[..2].parse::<u32>(), s[2..4].parse::<u32>(), s[4..].parse::<u32>()) else {
        return false;
    };
    h < 24 && m < 60 && sec <= 60
}

/// The sort key of a date suffix: its digits, padded on the right with `0` to 14.
fn date_key(suffix: &str) -> String {
    let digits: String = suffix.chars().filter(char::is_ascii_digit).collect();
    format!("{digits:0<14}")
}

#[cfg(test)]
mod tests;
