//! Helpers shared by the integration tests, which drive the real binary.
#![allow(dead_code)]

pub mod watch;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_maillogsentinel"))
}

/// A command for the binary with no configuration from the environment.
pub fn command() -> Command {
    let mut c = Command::new(bin());
    c.env_remove("MAILLOGSENTINEL_CONFIG");
    c
}

/// The `scan` command for `logs` into `data`, in UTC with a fixed year, without the network.
pub fn scan_command(data: &Path, logs: &[&Path], extra: &[&str]) -> Command {
    let mut c = command();
    c.arg("scan").arg("--data-dir").arg(data).args(["--timezone", "UTC", "--year", "2026", "--no-dns", "--no-geo"]);
    for log in logs {
        c.arg("--log").arg(log);
    }
    c.args(extra);
    c
}

/// Runs `scan` on `logs` into `data` (see [`scan_command`]).
pub fn scan(data: &Path, logs: &[&Path], extra: &[&str]) -> Output {
    scan_command(data, logs, extra).output().expect("run maillogsentinel")
}

/// Runs `scan` and insists that it succeeded.
pub fn scan_ok(data: &Path, logs: &[&Path], extra: &[&str]) -> String {
    let out = scan(data, logs, extra);
    assert!(
        out.status.success(),
        "scan failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The CSV's data rows, as string records.
pub fn csv_rows(data: &Path) -> Vec<Vec<String>> {
    let path = data.join("reports/intrusions.csv");
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_path(&path).expect("open csv");
    reader.records().map(|r| r.expect("valid csv row").iter().map(str::to_string).collect()).collect()
}

/// The CSV's data rows written so far while a `watch` may be writing one: a last row without its
/// line end is still being written, and is left out.
pub fn csv_rows_so_far(data: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(data.join("reports/intrusions.csv")).unwrap_or_default();
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(&bytes[..end]);
    reader.records().map(|r| r.expect("valid csv row").iter().map(str::to_string).collect()).collect()
}

/// Starts `scan`, and kills it with SIGKILL after `delay` unless it has finished by then.
/// Returns whether it was killed (it was still running when the signal was sent).
pub fn killed_after(mut scan: Command, delay: std::time::Duration) -> bool {
    let mut child =
        scan.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("start scan");
    std::thread::sleep(delay);
    let running = child.try_wait().expect("poll scan").is_none();
    if running {
        child.kill().expect("SIGKILL scan");
    }
    child.wait().expect("reap scan");
    running
}

/// How many CSV rows each username has.
pub fn rows_per_user(data: &Path) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for row in csv_rows(data) {
        *m.entry(row[4].clone()).or_insert(0) += 1;
    }
    m
}

/// A Postfix SASL failure for account `user{n}` at second `n` of 2026-11-24 (UTC).
pub fn failure(n: u64) -> String {
    let (h, m, s) = ((n / 3600) % 24, (n / 60) % 60, n % 60);
    format!(
        "Nov 24 {h:02}:{m:02}:{s:02} mx1 postfix/submission/smtpd[{pid}]: warning: unknown[198.51.100.{ip}]: \
         SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=user{n}\n",
        pid = 1000 + n % 5000,
        ip = n % 250 + 1
    )
}

/// Ordinary traffic that must not be counted.
pub fn noise(n: u64) -> String {
    let (h, m, s) = ((n / 3600) % 24, (n / 60) % 60, n % 60);
    format!(
        "Nov 24 {h:02}:{m:02}:{s:02} mx1 postfix/smtpd[{pid}]: connect from mail{n}.example.net[203.0.113.{ip}]\n",
        pid = 1000 + n % 5000,
        ip = n % 250 + 1
    )
}

/// Appends lines to a file (creating it).
pub fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

/// Failures `range`, each followed by a noise line.
pub fn failures(range: std::ops::Range<u64>) -> String {
    range.map(|n| failure(n) + &noise(n)).collect()
}

/// Asserts that users `user{n}` for `n` in `expected` each appear exactly once, and no others.
pub fn assert_exactly_once(data: &Path, expected: impl IntoIterator<Item = u64>) {
    assert_each_once(data, expected.into_iter().map(|n| format!("user{n}")));
}

/// Asserts that each of `users` has exactly one CSV row, and no other user has any.
pub fn assert_each_once(data: &Path, users: impl IntoIterator<Item = String>) {
    let got = rows_per_user(data);
    let want: BTreeMap<String, usize> = users.into_iter().map(|u| (u, 1)).collect();
    if got != want {
        let dup: Vec<_> = got.iter().filter(|(_, c)| **c > 1).take(5).collect();
        let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).take(5).collect();
        let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).take(5).collect();
        panic!(
            "rows differ: {} rows for {} users, want {}; duplicated {dup:?}, missing {missing:?}, unexpected {extra:?}",
            got.values().sum::<usize>(),
            got.len(),
            want.len()
        );
    }
}

/// Compresses `src` into `dst` with an external-format encoder chosen by `kind`.
pub fn compress(src: &Path, dst: &Path, kind: &str) {
    let data = std::fs::read(src).expect("read");
    let out = match kind {
        "gz" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }
        "zst" => zstd::encode_all(&data[..], 3).unwrap(),
        "bz2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        }
        other => panic!("unknown compression {other}"),
    };
    std::fs::write(dst, out).expect("write archive");
}

/// Asserts that the store's checkpoint of each of `logs` (plain files read to their end) is at the
/// end, with the line count right: a checkpoint taken inside a chunk must count its lines exactly,
/// or every later line number is off.
pub fn assert_checkpoints_at_end(data: &Path, logs: &[&Path]) {
    let store =
        maillogsentinel::store::Store::open(&data.join(maillogsentinel::store::STORE_FILE)).expect("open store");
    for log in logs {
        let content = std::fs::read(log).expect("read log");
        let source = store.source_at(&log.to_string_lossy()).expect("read the store").expect("the log's checkpoint");
        let want_lines = content.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!((source.offset, source.lines), (content.len() as u64, want_lines), "{}", log.display());
    }
}
