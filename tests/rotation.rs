//! Exactly once across log rotation, driving the real binary.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;

use common::*;

#[test]
fn logrotate_create_with_delaycompress_and_late_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, data) = (dir.path().join("log"), dir.path().join("data"));
    std::fs::create_dir(&logs).unwrap();
    let live = logs.join("mail.log");

    append(&live, &failures(0..100));
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..100);

    // Rotation: rename, the daemon still writes a little to the old inode, a new file appears.
    std::fs::rename(&live, logs.join("mail.log.1")).unwrap();
    append(&logs.join("mail.log.1"), &failures(100..110));
    append(&live, &failures(110..150));
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..150);

    // Next rotation with delaycompress: .1 becomes .2.gz, live becomes .1, new live.
    append(&live, &failures(150..160));
    compress(&logs.join("mail.log.1"), &logs.join("mail.log.2.gz"), "gz");
    std::fs::remove_file(logs.join("mail.log.1")).unwrap();
    std::fs::rename(&live, logs.join("mail.log.1")).unwrap();
    append(&live, &failures(160..200));
    let out = scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..200);
    assert!(out.contains("new failed logins"), "{out}");

    // Nothing new: nothing added.
    let out = scan_ok(&data, &[&live], &[]);
    assert!(out.contains(" 0 new failed logins"), "{out}");
    assert_exactly_once(&data, 0..200);
}

#[test]
fn copytruncate_keeps_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, data) = (dir.path().join("log"), dir.path().join("data"));
    std::fs::create_dir(&logs).unwrap();
    let live = logs.join("mail.log");

    append(&live, &failures(0..50));
    scan_ok(&data, &[&live], &[]);
    // Lines written after the scan, then copytruncate: the copy holds them, the live file restarts.
    append(&live, &failures(50..60));
    std::fs::copy(&live, logs.join("mail.log.1")).unwrap();
    std::fs::OpenOptions::new().write(true).open(&live).unwrap().set_len(0).unwrap();
    append(&live, &failures(60..80));
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..80);

    // Truncated again while empty-ish, then the copy is compressed later.
    compress(&logs.join("mail.log.1"), &logs.join("mail.log.2.xz"), "xz");
    std::fs::remove_file(logs.join("mail.log.1")).unwrap();
    std::fs::copy(&live, logs.join("mail.log.1")).unwrap();
    std::fs::OpenOptions::new().write(true).open(&live).unwrap().set_len(0).unwrap();
    append(&live, &failures(80..90));
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..90);
}

#[test]
fn archives_compressed_later_in_every_format_are_recognised() {
    for kind in ["gz", "xz", "zst", "bz2"] {
        let dir = tempfile::tempdir().unwrap();
        let (logs, data) = (dir.path().join("log"), dir.path().join("data"));
        std::fs::create_dir(&logs).unwrap();
        let live = logs.join("mail.log");
        append(&live, &failures(0..30));
        scan_ok(&data, &[&live], &[]);
        append(&live, &failures(30..40));
        // dateext naming, compressed after the fact: the 10 unread lines are read from the archive.
        compress(&live, &logs.join(format!("mail.log-20261124.{kind}")), kind);
        std::fs::remove_file(&live).unwrap();
        append(&live, &failures(40..45));
        scan_ok(&data, &[&live], &[]);
        assert_exactly_once(&data, 0..45);
        // The archive is now known as completely read: a further scan does not even open it.
        let out = scan_ok(&data, &[&live], &[]);
        assert!(out.contains("(2 unchanged)"), "{kind}: {out}");
    }
}

/// `postfix logrotate` on Postfix's own `maillog_file`: rename to `NAME.YYYYMMDD-HHMMSS`, then
/// compress with `maillog_file_compressor` (gzip), while postlogd reopens a new `NAME`.
fn postfix_logrotate(live: &std::path::Path, suffix: &str) {
    let rotated = live.with_file_name(format!("mail.log.{suffix}"));
    std::fs::rename(live, &rotated).unwrap();
    compress(&rotated, &rotated.with_file_name(format!("mail.log.{suffix}.gz")), "gz");
    std::fs::remove_file(&rotated).unwrap();
}

#[test]
fn postfix_logrotate_keeps_every_attempt_once() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, data) = (dir.path().join("log"), dir.path().join("data"));
    std::fs::create_dir(&logs).unwrap();
    let live = logs.join("mail.log");

    append(&live, &failures(0..100));
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..100);

    // Lines appended after the scan, before the rename: read from the compressed archive.
    append(&live, &failures(100..110));
    postfix_logrotate(&live, "20261207-101500");
    append(&live, &failures(110..150));
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..150);
    assert_eq!(csv_rows(&data).len(), 150);

    // A second rotation the same day, an hour later: the archives sort by date and time.
    append(&live, &failures(150..160));
    postfix_logrotate(&live, "20261207-111500");
    append(&live, &failures(160..200));
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..200);
    assert_eq!(csv_rows(&data).len(), 200);

    // Nothing new: nothing added, and both archives are known as completely read.
    let out = scan_ok(&data, &[&live], &[]);
    assert!(out.contains(" 0 new failed logins"), "{out}");
    assert!(out.contains("(3 unchanged)"), "{out}");
    assert_eq!(csv_rows(&data).len(), 200);
}

#[test]
fn full_rescan_adds_nothing_already_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    append(&log, &failures(0..100));
    scan_ok(&data, &[&log], &[]);
    let before = std::fs::read(data.join("reports/intrusions.csv")).unwrap();
    let out = scan_ok(&data, &[&log], &["--full"]);
    assert!(out.contains(" 0 new failed logins"), "{out}");
    assert_eq!(std::fs::read(data.join("reports/intrusions.csv")).unwrap(), before);
}

#[test]
fn a_partial_last_line_waits_for_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    let line = failure(7);
    append(&log, &failures(0..5));
    append(&log, &line[..40]);
    scan_ok(&data, &[&log], &[]);
    assert_exactly_once(&data, 0..5);
    append(&log, &line[40..]);
    scan_ok(&data, &[&log], &[]);
    assert_exactly_once(&data, [0, 1, 2, 3, 4, 7]);
}

/// A scan of `log` (and its rotated copies) with `--year year`.
fn scan_with_year(data: &std::path::Path, log: &std::path::Path, year: &str) -> std::process::Output {
    command()
        .arg("scan")
        .arg("--data-dir")
        .arg(data)
        .args(["--timezone", "UTC", "--year", year, "--no-dns", "--no-geo", "--log"])
        .arg(log)
        .output()
        .expect("run maillogsentinel")
}

#[test]
fn year_names_the_newest_line_of_the_family_and_rolls_back_through_older_files() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    let line = |time: &str, n: u32| {
        format!(
            "{time} mx1 postfix/smtpd[1]: warning: unknown[198.51.100.{n}]: SASL LOGIN authentication failed: x, \
             sasl_username=user{n}\n"
        )
    };
    std::fs::write(dir.path().join("mail.log.2"), line("Dec 30 10:00:00", 1)).unwrap();
    std::fs::write(dir.path().join("mail.log.1"), line("Dec 31 23:50:00", 2)).unwrap();
    std::fs::write(&log, line("Jan  1 00:00:30", 3) + &line("Jan  2 00:00:00", 4)).unwrap();

    let out = scan_with_year(&data, &log, "2025");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("future"), "{stderr}");
    let times: Vec<_> = csv_rows(&data).into_iter().map(|row| row[0].clone()).collect();
    assert_eq!(
        times,
        [
            "2024-12-30T10:00:00+00:00",
            "2024-12-31T23:50:00+00:00",
            "2025-01-01T00:00:30+00:00",
            "2025-01-02T00:00:00+00:00"
        ]
    );
}

#[test]
fn events_dated_in_the_future_are_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    std::fs::write(&log, failure(1) + &failure(2)).unwrap();

    let out = scan_with_year(&data, &log, "2099");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "a warning, not a problem: {stderr}");
    assert!(
        stderr.contains("mail.log:1: 2 events are dated in the future (the first at 2099-11-24T00:00:01Z)"),
        "{stderr}"
    );
    assert_exactly_once(&data, [1, 2]);
}
