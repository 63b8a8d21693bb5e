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
