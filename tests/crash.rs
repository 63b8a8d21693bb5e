//! `kill -9` at random moments of a scan, many times: afterwards every event is there once.

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
        if round % 3 == 0 {
            append(&live, &failures(appended..appended + 20_000));
            appended += 20_000;
        }
        let mut child = {
            let mut c = command();
            c.arg("scan")
                .arg("--data-dir")
                .arg(&data)
                .args(["--timezone", "UTC", "--year", "2026", "--quiet", "--log"])
                .arg(&live)
                .args(if full { &["--full"][..] } else { &[][..] })
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            c.spawn().unwrap()
        };
        let delay = whole.mul_f64(rng.f64() * if full { 1.0 } else { 0.4 });
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    eprintln!("{kills} of 30 scans were killed with SIGKILL");
    assert!(kills >= 10, "only {kills} scans were interrupted; the test did not test much");
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..appended);
    let store = maillogsentinel::store::Store::open(&data.join(maillogsentinel::store::STORE_FILE)).unwrap();
    assert_eq!(store.events().unwrap().len() as u64, appended, "one stored event per attempt");
}
