//! Faults a long-running service meets, each met by the real binary: a clear message naming the
//! path and what to do, the exit code of the README's table, and, once the fault is cleared, every
//! attempt stored exactly once. Write failures (a file size limit on the CSV and on the store), a
//! data directory the scanning user may not write, a log replaced by a directory or a FIFO, and a
//! store that is another application's database, random bytes, or of a newer schema.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;
#[path = "support/fixture.rs"]
mod fixture;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{append, assert_exactly_once, command, failures, scan, scan_command, scan_ok};
use maillogsentinel::store::{STORE_FILE, Store};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `cmd`, failing the test when it has not finished within `limit`: a scan that blocks
/// (on a FIFO, say) must show as a failure, not as a test that never ends.
fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("the scan still ran after {limit:?}: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `cmd` with a file size limit of `bytes`: a write past it fails with EFBIG ("File too large")
/// rather than killing the process, since SIGXFSZ is ignored. The limit is on every file the
/// process writes, as a quota or a small filesystem would be, without needing root.
fn with_file_size_limit(mut cmd: Command, bytes: u64) -> Command {
    // SAFETY: only async-signal-safe libc calls between fork and exec (signal and setrlimit), on
    // values owned by the closure; no allocation, no lock.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// A Postfix failure at second `n` of the day, by one of a few accounts: many CSV rows, few
/// strings in the store, so that the CSV meets a file size limit before the store.
fn repeated_failure(n: u64) -> String {
    let (h, m, s) = ((n / 3600) % 24, (n / 60) % 60, n % 60);
    format!(
        "Nov 24 {h:02}:{m:02}:{s:02} mx1 postfix/submission/smtpd[{pid}]: warning: unknown[198.51.100.{ip}]: \
         SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=account{u}\n",
        pid = 1000 + n % 5000,
        ip = n % 250 + 1,
        u = n % 20
    )
}

/// A Dovecot login at second `n` by its own account from its own address: a row in the store,
/// none in the CSV, so that the store meets a file size limit before the CSV.
fn login(n: u64) -> String {
    let (h, m, s) = ((n / 3600) % 24, (n / 60) % 60, n % 60);
    format!(
        "Nov 24 {h:02}:{m:02}:{s:02} mx1 dovecot: imap-login: Login: user=<user{n}@example.org>, method=PLAIN, \
         rip=10.{a}.{b}.1, lip=192.0.2.25, mpid={n}, TLS, session=<s{n}>\n",
        a = n % 200,
        b = n / 200 % 250
    )
}

/// After the fault is cleared, `data` holds what a scan of the same log into a fresh data
/// directory holds: the same CSV, byte for byte, and as many stored events.
fn assert_same_as_a_fresh_scan(data: &Path, log: &Path, fresh: &Path) {
    scan_ok(fresh, &[log], &[]);
    let csv = |d: &Path| std::fs::read_to_string(d.join("reports/intrusions.csv")).unwrap();
    let (got, want) = (csv(data), csv(fresh));
    assert_eq!(got.lines().count(), want.lines().count(), "CSV rows after recovery");
    assert!(got == want, "the CSV after recovery differs from a fresh scan's");
    let events = |d: &Path| Store::open(&d.join(STORE_FILE)).unwrap().events().unwrap().len();
    assert_eq!(events(data), events(fresh), "stored events after recovery");
}

#[test]
fn a_file_size_limit_met_by_the_csv_is_exit_4_naming_it_and_nothing_is_lost_or_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    // 20,000 failures: about 1.1 MB of CSV rows, well past the limit.
    append(&log, &(0..20_000).map(repeated_failure).collect::<String>());
    let out = with_file_size_limit(scan_command(&data, &[&log], &[]), 512 << 10).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    let csv = data.join("reports/intrusions.csv");
    assert!(err.contains(&format!("cannot write {}: File too large", csv.display())), "{err}");
    assert!(err.contains("the next scan reads it again") && err.contains("free disk space"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The limit is gone: the rows the failed scan left are cut back and read again, once.
    let out = scan(&data, &[&log], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_same_as_a_fresh_scan(&data, &log, &dir.path().join("fresh"));
}

#[test]
fn a_file_size_limit_met_by_the_store_is_exit_4_naming_it_and_nothing_is_lost_or_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    // 19,800 logins (each a new account and address, about 2 MB of store) and 200 failures
    // (25 KB of CSV): the store's write-ahead log passes the limit first.
    append(&log, &(0..20_000).map(|n| if n % 100 == 0 { repeated_failure(n) } else { login(n) }).collect::<String>());
    let out = with_file_size_limit(scan_command(&data, &[&log], &[]), 300 << 10).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    // SQLite reports EFBIG as a disk I/O error; the advice covers it (a full disk is its
    // commonest cause).
    assert!(err.contains(&format!("store {}: disk I/O error", data.join(STORE_FILE).display())), "{err}");
    assert!(err.contains("the next scan reads it again") && err.contains("check free space"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = scan(&data, &[&log], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_same_as_a_fresh_scan(&data, &log, &dir.path().join("fresh"));
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// `cmd` run as `nobody` (uid and gid 65534, no other groups).
fn as_nobody(cmd: Command) -> Output {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(cmd.get_program()).args(cmd.get_args());
    c.env_remove("MAILLOGSENTINEL_CONFIG");
    c.output().unwrap()
}

/// A data directory its service user (here `nobody`) may no longer write, then a CSV it may no
/// longer write: each stops the scan with exit 4 naming the path and what to check; once the
/// permissions are back, the next scan as that user stores everything once. Root ignores mode
/// bits, hence another user: the test needs root (as in CI) and `setpriv`.
#[test]
fn a_data_directory_or_csv_the_user_may_not_write_is_exit_4_and_recovers_once_fixed() {
    let present = Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success());
    if !fixture::require("setpriv", present, "apt-get install util-linux")
        || !fixture::require("root (to run the scan as nobody)", running_as_root(), "run the tests as root")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    append(&log, &failures(0..100));
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
    let scan_as_nobody = || as_nobody(scan_command(&data, &[&log], &[]));
    let out = scan_as_nobody();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The data directory read-only for its owner: the store's write-ahead log cannot be made.
    append(&log, &failures(100..200));
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    let out = scan_as_nobody();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&format!("store {}: ", data.join(STORE_FILE).display())), "{err}");
    assert!(err.contains("may write the data directory and its files"), "{err}");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = scan_as_nobody();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_exactly_once(&data, 0..200);

    // The CSV read-only for its owner.
    append(&log, &failures(200..300));
    let csv = data.join("reports/intrusions.csv");
    std::fs::set_permissions(&csv, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = scan_as_nobody();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&format!("{}: Permission denied", csv.display())), "{err}");
    assert!(err.contains("fix its permissions"), "{err}");
    std::fs::set_permissions(&csv, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = scan_as_nobody();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_exactly_once(&data, 0..300);

    // The store read-only for its owner. SQLite then creates the `-shm` file read-only too (it
    // gives it the database's mode), which still refuses writes once the store is writable again:
    // the advice names it.
    append(&log, &failures(300..400));
    let store = data.join(STORE_FILE);
    let shm = data.join(format!("{STORE_FILE}-shm"));
    let _ = std::fs::remove_file(&shm);
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o444)).unwrap();
    let readonly = format!("store {}: attempt to write a readonly database", store.display());
    let out = scan_as_nobody();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&readonly) && err.contains("-wal and -shm files included"), "{err}");
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(shm.metadata().unwrap().permissions().mode() & 0o777, 0o444, "SQLite gave -shm the store's mode");
    let out = scan_as_nobody();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&readonly) && err.contains("-wal and -shm files included"), "{err}");
    std::fs::set_permissions(&shm, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = scan_as_nobody();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_exactly_once(&data, 0..400);
}

/// A log replaced by a directory, then by a FIFO (which a reader opening it would wait on
/// forever), between two scans: the file is named and skipped (exit 1) without waiting, the
/// other log is read; once the log is back, what was appended to it is read, once.
#[test]
fn a_log_replaced_by_a_directory_or_a_fifo_is_named_and_skipped_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, data) = (dir.path().join("a.log"), dir.path().join("b.log"), dir.path().join("data"));
    append(&a, &failures(0..100));
    append(&b, &failures(100..200));
    scan_ok(&data, &[&a, &b], &[]);
    let saved = dir.path().join("a.saved");
    std::fs::rename(&a, &saved).unwrap();
    let skipped = format!(
        "{}: cannot read: not a regular file (a directory, FIFO, socket or device); only log files and their \
         archives are read; this file was skipped, the others were scanned",
        a.display()
    );
    let mut n = 200;
    for replace in ["directory", "fifo"] {
        match replace {
            "directory" => std::fs::create_dir(&a).unwrap(),
            _ => {
                std::fs::remove_dir(&a).unwrap();
                let status = Command::new("mkfifo").arg(&a).status().unwrap();
                assert!(status.success(), "mkfifo");
            }
        }
        append(&b, &failures(n..n + 100));
        n += 100;
        let out = output_within(scan_command(&data, &[&a, &b], &[]), Duration::from_secs(20));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{replace}: {err}");
        assert!(err.contains(&skipped), "{replace}: {err}");
        assert_exactly_once(&data, 0..n);
    }
    // The FIFO also as a rotated sibling, which a scan opens unasked.
    std::fs::remove_file(&a).unwrap();
    std::fs::rename(&saved, &a).unwrap();
    let sibling = dir.path().join("a.log.1");
    assert!(Command::new("mkfifo").arg(&sibling).status().unwrap().success(), "mkfifo");
    append(&a, &failures(n..n + 100));
    n += 100;
    let out = output_within(scan_command(&data, &[&a, &b], &[]), Duration::from_secs(20));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{}: cannot read: not a regular file", sibling.display())), "{err}");
    std::fs::remove_file(&sibling).unwrap();
    scan_ok(&data, &[&a, &b], &[]);
    assert_exactly_once(&data, 0..n);
}

/// `report` on `data` for the last 1,000 days.
fn report(data: &Path) -> Output {
    command().args(["report", "--since", "1000d", "--data-dir"]).arg(data).output().unwrap()
}

/// Another application's SQLite database where the store should be: refused with exit 4 by
/// `scan` and `report`, left unchanged (the store's tables are created `IF NOT EXISTS`, and were
/// once added to it silently); moved away, the next scan starts a store of its own.
#[test]
fn another_applications_database_as_the_store_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    append(&log, &failures(0..50));
    std::fs::create_dir(&data).unwrap();
    let store = data.join(STORE_FILE);
    let conn = rusqlite::Connection::open(&store).unwrap();
    conn.execute_batch(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO messages (body) VALUES ('hi');",
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(&store).unwrap();
    let refused =
        format!("{} is an SQLite database of another application, not a maillogsentinel store", store.display());
    for out in [scan(&data, &[&log], &[]), report(&data)] {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert!(err.contains(&refused) && err.contains("left unchanged") && err.contains("--data-dir"), "{err}");
    }
    assert!(std::fs::read(&store).unwrap() == before, "the other application's database was changed");
    assert!(!data.join("reports/intrusions.csv").exists(), "nothing was written beside it");
    std::fs::rename(&store, dir.path().join("theirs.sqlite3")).unwrap();
    scan_ok(&data, &[&log], &[]);
    assert_exactly_once(&data, 0..50);
}

/// A store overwritten with random bytes: exit 4, SQLite's "file is not a database" with what to
/// do, no panic; moved away with the CSV, the next scan rebuilds both from the logs, once.
#[test]
fn a_store_of_random_bytes_is_exit_4_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    append(&log, &failures(0..50));
    scan_ok(&data, &[&log], &[]);
    append(&log, &failures(50..100));
    let store = data.join(STORE_FILE);
    let mut rng = fastrand::Rng::with_seed(22);
    std::fs::write(&store, std::iter::repeat_with(|| rng.u8(..)).take(64 << 10).collect::<Vec<u8>>()).unwrap();
    for out in [scan(&data, &[&log], &[]), report(&data)] {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert!(err.contains(&format!("store {}: file is not a database", store.display())), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let err = stderr(&scan(&data, &[&log], &[]));
    assert!(err.contains("restore it from a backup") && err.contains("reports/intrusions.csv away"), "{err}");
    let aside = dir.path().join("aside");
    std::fs::create_dir(&aside).unwrap();
    std::fs::rename(&store, aside.join(STORE_FILE)).unwrap();
    std::fs::rename(data.join("reports/intrusions.csv"), aside.join("intrusions.csv")).unwrap();
    scan_ok(&data, &[&log], &[]);
    assert_exactly_once(&data, 0..100);
}

/// A store written by a newer build (a downgrade): `scan` and `report` refuse it with exit 4,
/// naming the schema and the upgrade; with the newer build back (here: the version put back),
/// the next scan stores what was appended meanwhile, once.
#[test]
fn a_store_of_a_newer_schema_is_exit_4_naming_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    append(&log, &failures(0..50));
    scan_ok(&data, &[&log], &[]);
    append(&log, &failures(50..100));
    let store = data.join(STORE_FILE);
    let set_version = |v: i64| {
        let conn = rusqlite::Connection::open(&store).unwrap();
        conn.execute("UPDATE meta SET value = ?1 WHERE key = 'schema_version'", [v]).unwrap()
    };
    let ours: i64 = rusqlite::Connection::open(&store)
        .unwrap()
        .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(set_version(99), 1);
    let refused = format!(
        "{} was written by a newer maillogsentinel (schema 99, this one knows {ours}); upgrade maillogsentinel",
        store.display()
    );
    for out in [scan(&data, &[&log], &[]), report(&data)] {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert!(err.contains(&refused), "{err}");
    }
    assert_eq!(set_version(ours), 1);
    scan_ok(&data, &[&log], &[]);
    assert_exactly_once(&data, 0..100);
}

/// The same mid-read: the log is taken away while a scan reads it (renamed, which is what a
/// deletion looks like from its path) and a directory, a FIFO or nothing put in its place. The
/// open file is read on or its checkpoint kept; the scan ends without waiting on the FIFO, with
/// exit 0 or 1; once the log is back, everything in it is stored once.
#[test]
fn a_log_taken_away_mid_read_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("mail.log"), dir.path().join("data"));
    let saved = dir.path().join("saved.log");
    // About 10 MB, which a scan here reads in about 90 ms: taken away 20 to 50 ms after the
    // start, the log is most often being read (no timing is certain, the outcome must be the same).
    let total = 40_000;
    append(&log, &failures(0..total));
    for (i, replace) in ["nothing", "directory", "fifo"].into_iter().enumerate() {
        let data = data.join(replace);
        let mut child = scan_command(&data, &[&log], &[]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(20 + 15 * i as u64));
        std::fs::rename(&log, &saved).unwrap();
        match replace {
            "directory" => std::fs::create_dir(&log).unwrap(),
            "fifo" => assert!(Command::new("mkfifo").arg(&log).status().unwrap().success(), "mkfifo"),
            _ => {}
        }
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(20) {
                child.kill().unwrap();
                panic!("{replace}: the scan still ran after 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{replace}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{replace}: {}", stderr(&out));
        match replace {
            "directory" => std::fs::remove_dir(&log).unwrap(),
            "fifo" => std::fs::remove_file(&log).unwrap(),
            _ => {}
        }
        std::fs::rename(&saved, &log).unwrap();
        scan_ok(&data, &[&log], &[]);
        assert_exactly_once(&data, 0..total);
    }
}

/// A log the scanning user may not read (root's, mode 600, scanned as `nobody`): named with the
/// cause and the group to join, exit 1, the other log read; once readable, it is read, once.
#[test]
fn a_log_the_user_may_not_read_is_named_with_what_to_do_and_read_once_allowed() {
    let present = Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success());
    if !fixture::require("setpriv", present, "apt-get install util-linux")
        || !fixture::require("root (to run the scan as nobody)", running_as_root(), "run the tests as root")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (a, b, data) = (dir.path().join("a.log"), dir.path().join("b.log"), dir.path().join("data"));
    append(&a, &failures(0..100));
    append(&b, &failures(100..200));
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
    let out = as_nobody(scan_command(&data, &[&a, &b], &[]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{}: cannot read: Permission denied", a.display())), "{err}");
    assert!(err.contains("the group that may read the logs: adm"), "{err}");
    assert_exactly_once(&data, 100..200);
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = as_nobody(scan_command(&data, &[&a, &b], &[]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_exactly_once(&data, 0..200);
}
