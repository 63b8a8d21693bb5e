//! The problems a scan meets in one file or line, and the advice printed with them: what was
//! kept, and what a mail admin can do about it.
//!
//! Advice that more than one place gives, or that depends on the system (the error's kind,
//! whether journald runs), is worded here, where it is tested; a problem met in one place only is
//! worded where it is met, next to the code that explains it.

use std::path::PathBuf;

use crate::store::{Cause, StoreError};

/// At most this many problems of one kind per file are listed; the rest are counted.
pub(super) const PROBLEMS_PER_FILE: usize = 5;

/// Something that went wrong with one file or line; the scan went on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// The line, when the problem is one line.
    pub line: Option<u64>,
    /// What happened, what was kept, and what to do.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// What a scan stopped by an error leaves.
pub(super) const NOT_RECORDED: &str = "nothing after the last commit was recorded, the next scan reads it again";

/// What to do about a store error, for the errors a mail admin can fix.
pub(super) fn store_advice(e: &StoreError) -> &'static str {
    match e.cause() {
        Some(Cause::DiskFull) => " (the disk is full: free space on it, then re-run)",
        Some(Cause::Io) => {
            " (a read or write failed, most often because the disk is full: check free space with `df` \
             and the kernel log, then re-run)"
        }
        Some(Cause::NotWritable) => {
            // SQLite gives the `-shm` file it creates the database's mode: a store once made
            // read-only leaves a read-only `-shm` that still refuses writes once the store is fixed.
            " (check that the user running the scan may write the data directory and its files, the store's \
             -wal and -shm files included, then re-run)"
        }
        Some(Cause::NotADatabase) => {
            " (the store is damaged, or another file took its place: restore it from a backup; or, to start \
             afresh from the logs still on disk, move it and reports/intrusions.csv away, then re-run)"
        }
        None => "",
    }
}

/// Counts one more skipped line of a kind: true while it is among the first
/// [`PROBLEMS_PER_FILE`] of its file, which are listed one by one (the rest are counted).
pub(super) fn listed(count: &mut usize) -> bool {
    *count += 1;
    *count <= PROBLEMS_PER_FILE
}

/// The problem of a log that cannot be opened or read, with what to do about it.
pub(super) fn cannot_read(e: &std::io::Error) -> String {
    let hint = match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            " (run as root, or as a member of the group that may read the logs: adm on Debian and Ubuntu)"
        }
        // The scan raised its soft limit as far as the hard limit lets it.
        _ if e.raw_os_error() == Some(libc::EMFILE) => {
            " (more files than the hard limit of open files lets one process hold: raise it, with LimitNOFILE= \
             in the unit or `ulimit -Hn`, or keep fewer archives)"
        }
        _ => "",
    };
    format!("cannot read: {e}; this file was skipped, the others were scanned{hint}")
}

/// The problem of a log that is not there, nor any rotated copy of it. Where journald runs, the
/// likely cause is a system without rsyslog (Debian 12 and later install none by default), on
/// which Postfix and Dovecot log to the journal only.
pub(super) fn no_such_log(journald: bool) -> String {
    let mut message = "no such log file (nor rotated copies of it); check --log or `logs` in the config".to_string();
    if journald {
        message.push_str(
            ". Without rsyslog (Debian 12 and later install none by default) mail daemons log to the systemd \
             journal only: install rsyslog so that /var/log/mail.log is written",
        );
    }
    message
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::{cannot_read, no_such_log};

    #[test]
    fn a_log_the_user_may_not_read_says_how_to_get_access() {
        let denied = cannot_read(&Error::from(ErrorKind::PermissionDenied));
        assert!(denied.starts_with("cannot read: permission denied; this file was skipped"), "{denied}");
        assert!(denied.contains("adm on Debian"), "{denied}");
        let other = cannot_read(&Error::from(ErrorKind::InvalidData));
        assert!(!other.contains("adm") && !other.contains("LimitNOFILE"), "{other}");
        let too_many = cannot_read(&Error::from_raw_os_error(libc::EMFILE));
        assert!(too_many.contains("Too many open files") && too_many.contains("LimitNOFILE="), "{too_many}");
    }

    #[test]
    fn a_missing_log_on_a_journald_system_points_to_rsyslog() {
        assert!(!no_such_log(false).contains("rsyslog"));
        let with_journald = no_such_log(true);
        assert!(with_journald.starts_with("no such log file") && with_journald.contains("install rsyslog"));
    }
}
