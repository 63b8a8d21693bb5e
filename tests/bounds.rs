//! Resource bounds (README, "Resource bounds"): a botnet burst, Dovecot sessions that never end
//! and a line of tens of megabytes are scanned with every attempt counted and the scan's peak
//! memory under the documented 150 MB. At a CI-sized scale; `bench/burst.sh` and
//! `bench/bounds.sh` measure the full-scale ones.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// The bound the README documents for a scan's peak resident memory, under a burst and under a
/// flood of Dovecot sessions that never end, each with its own account, the worst case measured
/// (README, "Resource bounds").
const MAX_RSS_KB: i64 = 150 * 1024;

/// Runs `cmd` to its end with stdout and stderr in files of `dir`; returns its exit code, its
/// stderr and its peak resident memory in KiB, which `wait4` gives for this child alone.
// The child is reaped by `wait4`, which std's `Child` does not know of.
#[allow(clippy::zombie_processes)]
fn run_measured(mut cmd: Command, dir: &Path) -> (i32, String, i64) {
    let err_path = dir.join("stderr.txt");
    let child = cmd
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start maillogsentinel");
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: `rusage` is plain integers, for which all zeros is a valid value.
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: `status` and `usage` are valid for writes; the child is ours and not yet reaped
    // (std's `Child` is dropped without waiting).
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status), "maillogsentinel did not exit normally: {status:#x}");
    (libc::WEXITSTATUS(status), std::fs::read_to_string(&err_path).unwrap(), usage.ru_maxrss)
}

/// A classic syslog stamp `secs` seconds after 2026-03-01 00:00:00.
fn stamp(secs: u64) -> String {
    let (d, h, m, s) = (1 + secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    format!("Mar {d:2} {h:02}:{m:02}:{s:02}")
}

/// A burst as `bench/gen_burst.py` writes it: `n` failures from `addresses` addresses,
/// `per_sec` a second of log time, one in four logged by Dovecot's auth process a second before
/// Postfix logs it. Every attempt has its own user name, so the CSV shows each once.
fn write_burst(path: &Path, n: u64, addresses: u64, per_sec: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut rng = fastrand::Rng::with_seed(7);
    let mut later: std::collections::VecDeque<(u64, String)> = Default::default();
    for i in 0..n {
        let sec = i / per_sec;
        while later.front().is_some_and(|(s, _)| *s <= sec) {
            f.write_all(later.pop_front().unwrap().1.as_bytes()).unwrap();
        }
        let a = rng.u64(..addresses);
        let ip = format!("198.18.{}.{}", a >> 8, a & 255);
        let postfix = format!(
            "mx1 postfix/submission/smtpd[{}]: warning: unknown[{ip}]: SASL LOGIN authentication failed: \
             UGFzc3dvcmQ6, sasl_username=u{i}\n",
            4000 + i % 20_000
        );
        if i % 4 == 0 {
            writeln!(f, "{} mx1 dovecot: auth: passwd-file(u{i},{ip}): Password mismatch", stamp(sec)).unwrap();
            later.push_back((sec + 1, format!("{} {postfix}", stamp(sec + 1))));
        } else {
            write!(f, "{} {postfix}", stamp(sec)).unwrap();
        }
    }
    for (_, line) in later {
        f.write_all(line.as_bytes()).unwrap();
    }
}

#[test]
fn a_botnet_burst_is_scanned_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    // 1,000 failures a second of log time: the correlator would hold 300,000 records with the
    // 600 s horizon for all of them.
    let n = 300_000;
    write_burst(&log, n, 30_000, 1000);
    let (code, stderr, rss) = run_measured(scan_command(&data, &[&log], &[]), dir.path());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(csv_rows(&data).len() as u64, n, "every attempt once");
    assert!(rss < MAX_RSS_KB, "peak RSS {rss} KiB");
    assert!(!stderr.contains("correlator's limits"), "a burst of this size stays within the limits: {stderr}");
}

#[test]
fn dovecot_sessions_that_never_end_stay_within_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    // Each session's auth line waits 5 minutes for a login line that never comes: 300,000 of
    // them within 150 s pass both the record and the session limit (50,000 each).
    let n = 300_000u64;
    let mut f = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
    for i in 0..n {
        let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        writeln!(f, "{} mx1 dovecot: auth: passwd-file(u{i},{ip},<S{i:x}>): Password mismatch", stamp(i / 2000))
            .unwrap();
    }
    drop(f);
    let (code, stderr, rss) = run_measured(scan_command(&data, &[&log], &[]), dir.path());
    assert_eq!(code, 0, "{stderr}");
    let rows = csv_rows(&data);
    assert_eq!(rows.len() as u64, n, "every attempt once, however early it was stored");
    let users: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[4].as_str()).collect();
    assert_eq!(users.len() as u64, n);
    assert!(rss < MAX_RSS_KB, "peak RSS {rss} KiB");
    // Stated and counted, never silent.
    let notice = stderr.lines().find(|l| l.contains("correlator's limits")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(notice.contains("session events stored before their login line came"), "{notice}");
    assert!(!notice.contains("): 0 session events"), "{notice}");
    assert!(notice.contains("Dovecot sessions forgotten") && !notice.contains(" 0 Dovecot"), "{notice}");
}

#[test]
fn a_line_of_64_mib_is_skipped_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data_plain = dir.path().join("data-plain");
    let plain = dir.path().join("mail.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&plain).unwrap());
    f.write_all(failures(0..1000).as_bytes()).unwrap();
    // One line of 64 MiB: a failure line whose user name never ends.
    let head = failure(1000);
    f.write_all(&head.as_bytes()[..head.len() - 1]).unwrap();
    let filler = vec![b'x'; 1 << 20];
    for _ in 0..64 {
        f.write_all(&filler).unwrap();
    }
    f.write_all(b"\n").unwrap();
    f.write_all(failures(1001..2000).as_bytes()).unwrap();
    drop(f);
    let gz = dir.path().join("mail.log.1.gz");
    compress(&plain, &gz, "gz");
    for (log, data) in [(&plain, &data_plain), (&gz, &dir.path().join("data-gz"))] {
        let (code, stderr, rss) = run_measured(scan_command(data, &[log], &[]), dir.path());
        assert!(code == 0 || code == 1, "{}: exit {code}: {stderr}", log.display());
        assert!(stderr.contains("over the 16 MiB limit: skipped"), "{stderr}");
        assert_exactly_once(data, (0..2000).filter(|&i| i != 1000));
        assert!(rss < MAX_RSS_KB, "{}: peak RSS {rss} KiB", log.display());
    }
}
