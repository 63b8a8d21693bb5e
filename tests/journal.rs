//! The systemd journal as a source: real journal files, built from journal export format by
//! `systemd-journal-remote` (no running journald), read by `scan --journal-dir`.
#![allow(unused_crate_dependencies)]

mod common;
#[path = "support/fixture.rs"]
mod fixture;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use maillogsentinel::source::journal::{JournalPiece, JournalQuery, JournalReader};

const REMOTE: &str = "/lib/systemd/systemd-journal-remote";
/// 2026-11-24T10:00:00Z in microseconds.
const BASE: u64 = 1_795_514_400_000_000;
const BOOT_A: &str = "0123456789abcdef0123456789abcdef";
const BOOT_B: &str = "fedcba9876543210fedcba9876543210";

/// Whether the tools are here (under CI they must be).
fn tools() -> bool {
    let remote = Path::new(REMOTE).exists();
    let journalctl = Command::new("journalctl").arg("--version").output().is_ok_and(|o| o.status.success());
    fixture::require(
        "systemd-journal-remote and journalctl",
        remote && journalctl,
        "apt-get install systemd systemd-journal-remote",
    )
}

/// One journal entry.
#[derive(Clone)]
struct Entry {
    /// Microseconds since the epoch.
    time: u64,
    unit: &'static str,
    ident: &'static str,
    boot: &'static str,
    message: Vec<u8>,
}

fn entry(secs: u64, unit: &'static str, ident: &'static str, message: impl Into<Vec<u8>>) -> Entry {
    Entry { time: BASE + secs * 1_000_000, unit, ident, boot: BOOT_A, message: message.into() }
}

/// A Postfix SASL failure of `user` from 198.51.100.`ip`, at second `secs`.
fn postfix_failure(secs: u64, user: &str, ip: u8) -> Entry {
    entry(
        secs,
        "postfix@-.service",
        "postfix/submission/smtpd",
        format!(
            "warning: unknown[198.51.100.{ip}]: SASL LOGIN authentication failed: authentication failure, \
             sasl_username={user}"
        ),
    )
}

/// Journal export format: `KEY=value` lines, binary values as `KEY\n<le64 length><bytes>\n`.
fn export(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut field = |key: &str, value: &[u8]| {
            if value.iter().any(|&b| b == b'\n' || !b.is_ascii()) {
                out.extend_from_slice(key.as_bytes());
                out.push(b'\n');
                out.extend_from_slice(&(value.len() as u64).to_le_bytes());
                out.extend_from_slice(value);
                out.push(b'\n');
            } else {
                out.extend_from_slice(format!("{key}=").as_bytes());
                out.extend_from_slice(value);
                out.push(b'\n');
            }
        };
        field("__REALTIME_TIMESTAMP", e.time.to_string().as_bytes());
        field("__MONOTONIC_TIMESTAMP", (e.time % 1_000_000_000_000).to_string().as_bytes());
        field("_BOOT_ID", e.boot.as_bytes());
        field("_HOSTNAME", b"mx1");
        field("_SYSTEMD_UNIT", e.unit.as_bytes());
        field("SYSLOG_IDENTIFIER", e.ident.as_bytes());
        field("_PID", b"4242");
        field("MESSAGE", &e.message);
        out.push(b'\n');
    }
    out
}

/// Writes `entries` to the journal file `dir/name.journal` (appended when it exists).
fn write_journal(dir: &Path, name: &str, entries: &[Entry]) {
    let mut child = Command::new(REMOTE)
        .arg(format!("--output={}", dir.join(format!("{name}.journal")).display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run systemd-journal-remote");
    child.stdin.take().unwrap().write_all(&export(entries)).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "journal-remote: {}", String::from_utf8_lossy(&out.stderr));
}

struct Setup {
    _tmp: tempfile::TempDir,
    journal: PathBuf,
    data: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let journal = tmp.path().join("journal");
    std::fs::create_dir(&journal).unwrap();
    let data = tmp.path().join("data");
    Setup { journal, data, _tmp: tmp }
}

fn scan(s: &Setup, extra: &[&str]) -> Output {
    common::command()
        .arg("scan")
        .arg("--data-dir")
        .arg(&s.data)
        .arg("--journal-dir")
        .arg(&s.journal)
        .args(["--timezone", "UTC", "--no-dns", "--no-geo"])
        .args(extra)
        .output()
        .expect("run maillogsentinel")
}

fn scan_ok(s: &Setup, extra: &[&str]) -> (String, String) {
    let out = scan(s, extra);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "scan failed ({:?}):\nstdout: {stdout}\nstderr: {stderr}", out.status);
    (stdout, stderr)
}

/// The CSV's users, in order.
fn users(data: &Path) -> Vec<String> {
    common::csv_rows(data).into_iter().map(|r| r[4].clone()).collect()
}

#[test]
fn only_the_mail_daemons_entries_count_with_their_exact_time() {
    if !tools() {
        return;
    }
    let s = setup();
    let mut entries = vec![
        postfix_failure(0, "alice", 1),
        // Dovecot's own failure, under its identifier.
        entry(
            10,
            "dovecot.service",
            "dovecot",
            "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, \
             rip=198.51.100.2, lip=192.0.2.1, TLS, session=<AbCdEf12>",
        ),
        // A success is stored apart, never a failure.
        entry(
            20,
            "dovecot.service",
            "dovecot",
            "imap-login: Login: user=<carol>, method=PLAIN, rip=198.51.100.3, lip=192.0.2.1, mpid=7, TLS, \
             session=<XyZ12345>",
        ),
        // Another unit logging Postfix's words, even under Postfix's identifier: not counted.
        Entry { unit: "evil.service", ..postfix_failure(30, "mallory", 4) },
        // Postfix's unit with a foreign identifier: not counted.
        Entry { ident: "logger", ..postfix_failure(40, "trudy", 5) },
        // A message that is not UTF-8 (journalctl gives it as an array of bytes), with a newline.
        postfix_failure(50, "d\u{e9}", 6),
    ];
    entries[5].message =
        b"warning: unknown[198.51.100.6]: SASL LOGIN authentication failed: x\n, sasl_username=d\xe9v".to_vec();
    // Exact time, with the year of the entry (no guessing from the clock).
    entries.push(Entry { time: 1_551_427_200_654_321, ..postfix_failure(0, "old", 7) });
    write_journal(&s.journal, "a", &entries);
    let (stdout, _) = scan_ok(&s, &[]);
    assert!(stdout.contains("1 successful login"), "{stdout}");
    let rows = common::csv_rows(&s.data);
    let users: Vec<&str> = rows.iter().map(|r| r[4].as_str()).collect();
    assert_eq!(users, ["alice", "bob", "d\\xE9v", "old"], "{rows:?}");
    assert_eq!(rows[3][0], "2019-03-01T08:00:00+00:00");
    assert_eq!(rows[0][0], "2026-11-24T10:00:00+00:00");
    assert_eq!(rows[0][1], "mx1");
    assert_eq!(rows[0][2], "postfix/submission/smtpd");
}

#[test]
fn entries_are_read_once_across_scans_appends_boots_rotation_and_restarts() {
    if !tools() {
        return;
    }
    let s = setup();
    write_journal(&s.journal, "a", &[postfix_failure(0, "u0", 1), postfix_failure(1, "u1", 1)]);
    scan_ok(&s, &[]);
    // The last entry read is not read again (an off-by-one on the cursor would).
    let (stdout, _) = scan_ok(&s, &[]);
    assert!(stdout.contains(" 0 new failed logins"), "{stdout}");
    // Appended to the same file.
    write_journal(&s.journal, "a", &[postfix_failure(2, "u2", 1)]);
    scan_ok(&s, &[]);
    scan_ok(&s, &[]);
    // A new boot: the saved cursor is of the previous one.
    let next_boot = Entry { boot: BOOT_B, ..postfix_failure(100, "u3", 1) };
    write_journal(&s.journal, "a", &[next_boot]);
    scan_ok(&s, &[]);
    // Rotation: a new file beside the old, of the same writer (appended to, then a new one).
    write_journal(&s.journal, "b", &[postfix_failure(200, "u4", 1)]);
    scan_ok(&s, &[]);
    // A journald restart, or another writer: a new file with a new sequence number id, whose
    // entries interleave in time with nothing read before.
    write_journal(&s.journal, "c", &[postfix_failure(300, "u5", 1), postfix_failure(301, "u6", 1)]);
    scan_ok(&s, &[]);
    scan_ok(&s, &[]);
    assert_eq!(users(&s.data), ["u0", "u1", "u2", "u3", "u4", "u5", "u6"]);
    // --full reads the journal again (its first entry is still there), storing nothing twice.
    let (stdout, stderr) = scan_ok(&s, &["--full"]);
    assert!(stdout.contains("7 mail entries"), "{stdout}");
    assert!(!stderr.contains("--full"), "{stderr}");
    assert_eq!(users(&s.data).len(), 7);
}

#[test]
fn a_vacuumed_cursor_is_said_once_and_nothing_is_stored_twice() {
    if !tools() {
        return;
    }
    let s = setup();
    write_journal(&s.journal, "old", &[postfix_failure(0, "u0", 1), postfix_failure(1, "u1", 1)]);
    scan_ok(&s, &[]);
    // journald vacuums the file that held the cursor; newer entries are in a new one.
    std::fs::remove_file(s.journal.join("old.journal")).unwrap();
    write_journal(&s.journal, "new", &[postfix_failure(10, "u2", 1), postfix_failure(11, "u3", 1)]);
    let (_, stderr) = scan_ok(&s, &[]);
    assert_eq!(stderr.matches("is no longer in the journal").count(), 1, "{stderr}");
    let (_, stderr) = scan_ok(&s, &[]);
    assert!(!stderr.contains("no longer in the journal"), "said once: {stderr}");
    assert_eq!(users(&s.data), ["u0", "u1", "u2", "u3"]);
    // --full cannot tell the remaining entries' indices from those stored: it keeps the cursor.
    let (stdout, stderr) = scan_ok(&s, &["--full"]);
    assert!(stderr.contains("--full does not read the journal again"), "{stderr}");
    assert!(stdout.contains(" 0 new failed logins"), "{stdout}");
    assert_eq!(users(&s.data).len(), 4);
}

#[test]
fn postfix_in_the_journal_and_dovecot_in_a_file_count_one_attempt_once() {
    if !tools() {
        return;
    }
    let s = setup();
    // Dovecot's auth line of the attempt, in its own log; Postfix's, in the journal, a second later.
    let dovecot = s.data.parent().unwrap().join("dovecot.log");
    std::fs::write(
        &dovecot,
        "2026-11-24T10:00:04Z auth: Info: passwd-file(user1,198.51.100.9): Password mismatch\n\
         2026-11-24T10:01:04Z auth: Info: passwd-file(user2,198.51.100.9): Password mismatch\n",
    )
    .unwrap();
    write_journal(&s.journal, "a", &[postfix_failure(5, "user1", 9), postfix_failure(65, "user2", 9)]);
    let out = common::command()
        .arg("scan")
        .arg("--data-dir")
        .arg(&s.data)
        .arg("--journal-dir")
        .arg(&s.journal)
        .arg("--log")
        .arg(&dovecot)
        .args(["--timezone", "UTC", "--no-dns", "--no-geo"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(users(&s.data), ["user1", "user2"]);
}

#[test]
fn a_user_outside_the_journal_groups_gets_an_error_naming_them() {
    if !tools() {
        return;
    }
    let runuser = Path::new("/usr/sbin/runuser").exists() || Path::new("/sbin/runuser").exists();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !fixture::require("runuser as root", runuser && root, "run the tests as root") {
        return;
    }
    let tmp = tempfile::Builder::new().prefix("mls-journal-perm").tempdir_in("/tmp").unwrap();
    let journal = tmp.path().join("journal");
    std::fs::create_dir(&journal).unwrap();
    write_journal(&journal, "a", &[postfix_failure(0, "u0", 1)]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(journal.join("a.journal"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let data = tmp.path().join("data");
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(common::bin())
        .arg("scan")
        .arg("--data-dir")
        .arg(&data)
        .arg("--journal-dir")
        .arg(&journal)
        .args(["--no-dns", "--no-geo"])
        .env_remove("MAILLOGSENTINEL_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("systemd-journal") && stderr.contains("adm") && stderr.contains("usermod"), "{stderr}");
}

#[test]
fn a_follower_sees_entries_as_they_are_written() {
    if !tools() {
        return;
    }
    let s = setup();
    write_journal(&s.journal, "a", &[postfix_failure(0, "u0", 1)]);
    let query = JournalQuery { directory: Some(s.journal.clone()), follow: true, ..JournalQuery::default() };
    let reader = JournalReader::spawn(&query).unwrap();
    let mut lines = Vec::new();
    let wait_for = |lines: &mut Vec<u8>, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while lines.iter().filter(|&&b| b == b'\n').count() < n {
            assert!(Instant::now() < deadline, "follower got only {:?}", String::from_utf8_lossy(lines));
            match reader.try_next() {
                Ok(Some(JournalPiece::Entries(e))) => lines.extend_from_slice(&e.lines),
                Ok(Some(JournalPiece::End(end))) => panic!("follower ended: {end:?}"),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(()) => panic!("follower gone"),
            }
        }
    };
    wait_for(&mut lines, 1);
    // Appended to the file followed, then a new file (rotation).
    write_journal(&s.journal, "a", &[postfix_failure(1, "u1", 1)]);
    wait_for(&mut lines, 2);
    write_journal(&s.journal, "b", &[postfix_failure(2, "u2", 1)]);
    wait_for(&mut lines, 3);
    let text = String::from_utf8_lossy(&lines);
    for user in ["u0", "u1", "u2"] {
        assert_eq!(text.matches(&format!("sasl_username={user}\n")).count(), 1, "{text}");
    }
    // Dropping the reader ends journalctl.
    drop(reader);
}

#[test]
fn a_scan_killed_mid_journal_stores_every_entry_once_after_the_next() {
    if !tools() {
        return;
    }
    let s = setup();
    const N: u64 = 60_000;
    let entries: Vec<Entry> = (0..N)
        .map(|i| Entry { time: BASE + i * 10_000, ..postfix_failure(0, "x", (i % 250) as u8 + 1) })
        .map(|mut e| {
            let text = String::from_utf8_lossy(&e.message)
                .replace("sasl_username=x", &format!("sasl_username=k{i}", i = e.time));
            e.message = text.into_bytes();
            e
        })
        .collect();
    write_journal(&s.journal, "a", &entries);
    let mut child = common::command()
        .arg("scan")
        .arg("--data-dir")
        .arg(&s.data)
        .arg("--journal-dir")
        .arg(&s.journal)
        .args(["--timezone", "UTC", "--no-dns", "--no-geo"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let _ = child.kill();
    let _ = child.wait();
    scan_ok(&s, &[]);
    let users = users(&s.data);
    let unique: std::collections::BTreeSet<&String> = users.iter().collect();
    assert_eq!(users.len() as u64, N, "every entry stored");
    assert_eq!(unique.len(), users.len(), "none twice");
}

#[test]
fn watch_reads_entries_as_they_are_written_and_scan_then_finds_nothing_new() {
    if !tools() {
        return;
    }
    let s = setup();
    write_journal(&s.journal, "a", &[postfix_failure(0, "u0", 1)]);
    let watch = common::command()
        .arg("watch")
        .arg("--data-dir")
        .arg(&s.data)
        .arg("--journal-dir")
        .arg(&s.journal)
        .args(["--timezone", "UTC", "--no-dns", "--no-geo"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    let wait_for = |want: &[&str]| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = if s.data.join("reports/intrusions.csv").exists() { users(&s.data) } else { Vec::new() };
            if got == want {
                return;
            }
            assert!(Instant::now() < deadline, "watch: rows {got:?}, expected {want:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(&["u0"]);
    // Appended to the journal file, then a new file (journald's rotation).
    write_journal(&s.journal, "a", &[postfix_failure(1, "u1", 1)]);
    wait_for(&["u0", "u1"]);
    write_journal(&s.journal, "b", &[postfix_failure(2, "u2", 2), postfix_failure(3, "u3", 3)]);
    wait_for(&["u0", "u1", "u2", "u3"]);
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(watch.id() as i32, libc::SIGTERM) }, 0);
    let out = watch.wait_with_output().unwrap();
    assert!(out.status.success(), "watch: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
    let (stdout, _) = scan_ok(&s, &[]);
    assert!(stdout.contains(" 0 new failed logins"), "{stdout}");
    assert_eq!(users(&s.data), ["u0", "u1", "u2", "u3"]);
}
