//! `kill -9` at random moments of a scan, many times: afterwards every event is there once.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, data) = (dir.path().join("log"), dir.path().join("data"));
    std::fs::create_dir(&logs).unwrap();
    let live = logs.join("mail.log");
    // Enough lines that a scan takes a while (several batches), spread over rotated files so that
    // kills also land between files and inside archives.
    let per_file = 60_000u64;
    append(&logs.join("mail.log.2"), &failures(0..per_file));
    compress(&logs.join("mail.log.2"), &logs.join("mail.log.2.gz"), "gz");
    std::fs::remove_file(logs.join("mail.log.2")).unwrap();
    append(&logs.join("mail.log.1"), &failures(per_file..2 * per_file));
    append(&live, &failures(2 * per_file..3 * per_file));

    // How long an uninterrupted scan takes, to choose kill times across its whole run.
    let probe = dir.path().join("probe");
    let t = Instant::now();
    scan_ok(&probe, &[&live], &[]);
    let whole = t.elapsed().max(Duration::from_millis(20));

    let mut rng = fastrand::Rng::with_seed(7);
    let mut kills = 0;
    let mut appended = 3 * per_file;
    for round in 0..30 {
        // Every scan has work to do: new lines, or a full rescan (whose re-read events must be
        // recognised as stored even when a kill lands between the CSV write and the commit).
        let full = round % 3 == 1;
        if full && round % 6 == 1 {
            // A full rescan would read again what an earlier kill lost: check before it.
            scan_ok(&data, &[&live], &[]);
            assert_exactly_once(&data, 0..appended);
        }
        if round % 3 == 0 {
            append(&live, &failures(appended..appended + 20_000));
            appended += 20_000;
        }
        let extra: &[&str] = if full { &["--quiet", "--full"] } else { &["--quiet"] };
        let delay = whole.mul_f64(rng.f64() * if full { 1.0 } else { 0.4 });
        kills += u32::from(killed_after(scan_command(&data, &[&live], extra), delay));
    }
    eprintln!("{kills} of 30 scans were killed with SIGKILL");
    assert!(kills >= 10, "only {kills} scans were interrupted; the test did not test much");
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..appended);
    assert_checkpoints_at_end(&data, &[&live]);
    let store = maillogsentinel::store::Store::open(&data.join(maillogsentinel::store::STORE_FILE)).unwrap();
    assert_eq!(store.events().unwrap().len() as u64, appended, "one stored event per attempt");
}

/// The same with two logs read side by side (Postfix of two servers, say): a checkpoint then
/// holds each log at its first line whose event was parsed but not yet correlated.
#[test]
fn kill_9_while_two_logs_are_read_side_by_side_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, data) = (dir.path().join("log"), dir.path().join("data"));
    std::fs::create_dir(&logs).unwrap();
    let (one, two) = (logs.join("mail.log"), logs.join("other.log"));
    // The second log's attempts are for accounts `other{n}`, at the same times as the first's.
    let others = |range| failures(range).replace("sasl_username=user", "sasl_username=other");
    // Each round adds this many attempts to each log: several batches per scan.
    let per_round = 40_000u64;

    let probe = dir.path().join("probe");
    let (probe_one, probe_two) = (dir.path().join("probe-one.log"), dir.path().join("probe-two.log"));
    append(&probe_one, &failures(0..per_round));
    append(&probe_two, &others(0..per_round));
    let t = Instant::now();
    scan_ok(&probe, &[&probe_one, &probe_two], &[]);
    let whole = t.elapsed().max(Duration::from_millis(20));

    let mut rng = fastrand::Rng::with_seed(11);
    let (mut kills, mut appended) = (0, 0);
    for round in 0..12 {
        if round % 2 == 0 {
            append(&one, &failures(appended..appended + per_round));
            append(&two, &others(appended..appended + per_round));
            appended += per_round;
        }
        let delay = whole.mul_f64(rng.f64() * 1.5);
        kills += u32::from(killed_after(scan_command(&data, &[&one, &two], &["--quiet"]), delay));
    }
    eprintln!("{kills} of 12 scans were killed with SIGKILL");
    assert!(kills >= 4, "only {kills} scans were interrupted; the test did not test much");
    scan_ok(&data, &[&one, &two], &[]);
    assert_checkpoints_at_end(&data, &[&one, &two]);
    assert_each_once(&data, (0..appended).flat_map(|n| [format!("user{n}"), format!("other{n}")]));
}
