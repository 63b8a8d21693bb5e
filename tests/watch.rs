//! `watch` against the real binary: rows appear as lines are written, rotation while watching
//! loses and doubles nothing, signals stop and reload it, and it takes turns with `scan`.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::watch::Watch;
use common::*;

fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (logs, data) = (dir.path().join("log"), dir.path().join("data"));
    std::fs::create_dir(&logs).unwrap();
    (dir, logs, data)
}

#[test]
fn rows_appear_as_lines_are_written() {
    let (_dir, logs, data) = dirs();
    let live = logs.join("mail.log");
    append(&live, &failures(0..10));
    let watch = Watch::logs(&data, &[&live]);
    watch.wait_rows(&data, 0..10);
    for n in 10..20 {
        append(&live, &failures(n..n + 1));
        watch.wait_rows(&data, 0..n + 1);
    }
    // A line written in two parts counts once it is whole.
    append(&live, &failure(20)[..30]);
    std::thread::sleep(Duration::from_millis(300));
    assert_exactly_once(&data, 0..20);
    append(&live, &failure(20)[30..]);
    watch.wait_rows(&data, 0..21);
    watch.stop();
}

#[test]
fn rotation_while_watching_loses_and_doubles_nothing() {
    let (_dir, logs, data) = dirs();
    let live = logs.join("mail.log");
    let rotated = |n: u32| logs.join(format!("mail.log.{n}"));
    append(&live, &failures(0..50));
    let watch = Watch::logs(&data, &[&live]);
    watch.wait_rows(&data, 0..50);

    // rename + create, the writer still adds to the renamed file before it reopens.
    std::fs::rename(&live, rotated(1)).unwrap();
    append(&rotated(1), &failures(50..60));
    append(&live, &failures(60..70));
    watch.wait_rows(&data, 0..70);
    append(&rotated(1), &failures(70..75));
    watch.wait_rows(&data, 0..75);

    // The renamed file compressed (delaycompress: one rotation later), the live one renamed.
    append(&live, &failures(75..80));
    compress(&rotated(1), &logs.join("mail.log.2.gz"), "gz");
    std::fs::remove_file(rotated(1)).unwrap();
    std::fs::rename(&live, rotated(1)).unwrap();
    append(&live, &failures(80..90));
    watch.wait_rows(&data, 0..90);

    // copytruncate: the content copied aside, the live file emptied and written again.
    append(&live, &failures(90..100));
    std::fs::copy(&live, logs.join("mail.log.copy")).unwrap();
    std::fs::remove_file(logs.join("mail.log.2.gz")).unwrap(); // the oldest archive deleted
    std::fs::rename(rotated(1), logs.join("mail.log.2")).unwrap();
    std::fs::rename(logs.join("mail.log.copy"), rotated(1)).unwrap();
    std::fs::OpenOptions::new().write(true).open(&live).unwrap().set_len(0).unwrap();
    append(&live, &failures(100..105));
    watch.wait_rows(&data, 0..105);
    watch.stop();

    // A scan after it finds nothing new.
    let out = scan_ok(&data, &[&live], &[]);
    assert!(out.contains(" 0 new failed logins"), "{out}");
    assert_exactly_once(&data, 0..105);
}

#[test]
fn watch_and_scan_take_turns_without_loss_or_double() {
    let (_dir, logs, data) = dirs();
    let live = logs.join("mail.log");
    append(&live, &failures(0..30));
    let watch = Watch::logs(&data, &[&live]);
    append(&live, &failures(30..40));
    watch.wait_rows(&data, 0..40);
    // While it runs, a scan finds the data directory taken (exit 5) and changes nothing.
    let busy = scan(&data, &[&live], &[]);
    assert_eq!(busy.status.code(), Some(5), "{}", String::from_utf8_lossy(&busy.stderr));
    watch.stop();

    append(&live, &failures(40..60));
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..60);
    append(&live, &failures(60..70));
    let watch = Watch::logs(&data, &[&live]);
    watch.wait_rows(&data, 0..70);
    watch.stop();
    assert_exactly_once(&data, 0..70);
}

#[test]
fn sigterm_in_the_middle_of_a_backlog_commits_what_was_read() {
    let (_dir, logs, data) = dirs();
    let live = logs.join("mail.log");
    // Enough that the first pass is still reading when the signal comes.
    let text = failures(0..300_000);
    append(&live, &text);
    let stderr = data.with_extension("stderr");
    std::fs::create_dir_all(&data).unwrap();
    let child = command()
        .arg("watch")
        .arg("--data-dir")
        .arg(&data)
        .args(["--timezone", "UTC", "--no-dns", "--no-geo", "--log"])
        .arg(&live)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let watch = Watch { child, stderr };
    std::thread::sleep(Duration::from_millis(150));
    let said = watch.stop();
    assert!(said.contains("everything read is committed"), "{said}");
    // What it did not read, the next scan does; nothing twice.
    scan_ok(&data, &[&live], &[]);
    assert_exactly_once(&data, 0..300_000);
}

#[test]
fn sighup_reloads_the_configuration_and_keeps_it_when_the_new_one_is_bad() {
    let (dir, logs, data) = dirs();
    let (first, second) = (logs.join("first.log"), logs.join("second.log"));
    let config = dir.path().join("maillogsentinel.toml");
    let write = |log: &Path| std::fs::write(&config, format!("logs = [{:?}]\n", log.display().to_string())).unwrap();
    write(&first);
    append(&first, &failures(0..5));
    let watch = Watch::start(&data, &[std::ffi::OsStr::new("--config"), config.as_os_str()]);
    watch.wait_rows(&data, 0..5);

    // A configuration that does not load is reported; the watch goes on with the old one.
    std::fs::write(&config, "logs = [\n").unwrap();
    watch.signal(libc::SIGHUP);
    watch.wait_for("the error", || watch.stderr().contains("the running configuration is kept"));
    append(&first, &failures(5..10));
    watch.wait_rows(&data, 0..10);

    // A good one is taken.
    write(&second);
    watch.signal(libc::SIGHUP);
    watch.wait_for("the reload", || watch.stderr().contains("configuration read again"));
    append(&second, &failures(10..15));
    watch.wait_rows(&data, 0..15);
    append(&first, &failures(15..20));
    std::thread::sleep(Duration::from_millis(500));
    assert_exactly_once(&data, 0..15);
    watch.stop();
}
