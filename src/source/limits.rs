//! The process's limit of open files, which a scan and its resolver may need raised.
//!
//! A scan holds every file of its plan open from planning to reading, so that rotation meanwhile
//! cannot swap one for another: a log kept for years with daily archives is more files than the
//! 1,024 a shell or a systemd service starts with (soft limit; the hard limit is 524,288 under
//! systemd). A resolver holds a socket per query in flight.

/// Raises the soft limit of open files towards `wanted`, up to the hard limit. Returns the soft
/// limit now in force (`u64::MAX` when unknown).
pub fn raise_open_files(wanted: u64) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct it is given, which is valid and ours.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return u64::MAX;
    }
    if limit.rlim_cur >= wanted {
        return limit.rlim_cur;
    }
    let raised = libc::rlimit { rlim_cur: wanted.min(limit.rlim_max), rlim_max: limit.rlim_max };
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return limit.rlim_cur;
    }
    raised.rlim_cur
}
