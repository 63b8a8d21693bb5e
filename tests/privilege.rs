//! Least privilege: the warning when a command that reads attackers' text runs as root, the one
//! for a configuration whose password every local user can read, and the modes of what is
//! created in the data directory whatever the umask.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn example_log() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mail.log")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

/// The binary with `args`, run by `sh` under umask 000.
fn under_umask_000(args: &[&std::ffi::OsStr]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg("umask 000; exec \"$@\"").arg("sh").arg(common::bin()).args(args);
    c.env_remove("MAILLOGSENTINEL_CONFIG");
    c
}

#[test]
fn data_files_are_created_0640_and_directories_0750_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new/data");
    let log = example_log();
    let args: Vec<&std::ffi::OsStr> = [
        "scan".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--log".as_ref(),
        log.as_os_str(),
        "--year".as_ref(),
        "2026".as_ref(),
        "--no-dns".as_ref(),
        "--no-geo".as_ref(),
    ]
    .to_vec();
    let out = under_umask_000(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for d in [dir.path().join("new"), data.clone(), data.join("reports")] {
        assert_eq!(mode(&d), 0o750, "{}", d.display());
    }
    for f in ["maillogsentinel.sqlite3", ".maillogsentinel.lock", "reports/intrusions.csv"] {
        assert_eq!(mode(&data.join(f)), 0o640, "{f}");
    }

    // The store's -wal and -shm exist while a watch holds it open; SQLite gives them the
    // database's mode.
    let mut watch = under_umask_000(&[
        "watch".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--log".as_ref(),
        log.as_os_str(),
        "--no-dns".as_ref(),
        "--no-geo".as_ref(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let (wal, shm) = (data.join("maillogsentinel.sqlite3-wal"), data.join("maillogsentinel.sqlite3-shm"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(wal.exists() && shm.exists()) {
        assert!(Instant::now() < deadline, "watch did not open the store");
        std::thread::sleep(Duration::from_millis(20));
    }
    let modes = (mode(&wal), mode(&shm));
    // SAFETY: the pid is our child's.
    unsafe { libc::kill(watch.id() as i32, libc::SIGTERM) };
    assert!(watch.wait().unwrap().success());
    assert_eq!(modes, (0o640, 0o640));

    // What the admin made keeps its mode.
    std::fs::set_permissions(data.join("reports/intrusions.csv"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = under_umask_000(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((mode(&data), mode(&data.join("reports/intrusions.csv"))), (0o755, 0o644));
}

const ROOT_WARNING: &str = "is running as root, but it";

#[test]
fn scan_watch_and_report_warn_once_when_run_as_root_and_the_others_do_not() {
    // SAFETY: geteuid takes no argument and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = common::scan(&data, &[&example_log()], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    if root {
        assert_eq!(err.matches(ROOT_WARNING).count(), 1, "{err}");
        let line = err.lines().find(|l| l.contains(ROOT_WARNING)).unwrap_or_default();
        assert!(line.starts_with("maillogsentinel: warning: scan is running as root"), "{line}");
        assert!(
            line.contains("attackers") && line.contains("maillogsentinel setup") && line.contains("--user"),
            "{line}"
        );
    } else {
        assert!(!err.contains(ROOT_WARNING), "not root, no warning: {err}");
    }
    let run = |args: &[&str]| {
        let out = common::command().args(args).arg("--data-dir").arg(&data).output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&["report", "--day", "2026-11-24"]);
    assert_eq!(err.matches(ROOT_WARNING).count(), usize::from(root), "report: {err}");
    for args in [&["blocklist"][..], &["alerts"][..]] {
        let err = run(args);
        assert!(!err.contains(ROOT_WARNING), "{args:?}: {err}");
    }
    // A data directory of its own: the watch is known to be running once it has made the CSV.
    let mut watch = common::watch::Watch::logs(&dir.path().join("watched"), &[&example_log()]);
    // SAFETY: the pid is our child's.
    unsafe { libc::kill(watch.child.id() as i32, libc::SIGTERM) };
    let status = watch.child.wait().unwrap();
    assert!(status.success(), "{status:?}: {}", watch.stderr());
    assert_eq!(watch.stderr().matches(ROOT_WARNING).count(), usize::from(root), "watch: {}", watch.stderr());
}

#[test]
fn a_config_with_a_password_that_others_can_read_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("mls.toml");
    let data = dir.path().join("data");
    let text = format!("data_dir = \"{}\"\n[email]\nusername = \"mls\"\npassword = \"secret\"\n", data.display());
    std::fs::write(&cfg, &text).unwrap();
    let blocklist = || {
        let out = common::command().arg("--config").arg(&cfg).arg("blocklist").output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = blocklist();
    let warning = format!(
        "maillogsentinel: warning: {} holds [email] password and every local user can read it (mode 644): run \
         `chmod 640 {}`",
        cfg.display(),
        cfg.display()
    );
    assert_eq!(err.matches(&warning).count(), 1, "{err}");
    assert!(err.contains("password_file"), "{err}");
    // Group-readable is the mode `setup` writes: no warning.
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(!blocklist().contains("holds [email] password"));
    // A webhook's URL is a secret too (Slack's and Mattermost's carry their token).
    let hook = format!(
        "data_dir = \"{}\"\n[[alerts.channel]]\nname = \"h\"\nkind = \"webhook\"\nurl = \"https://hooks.example/T0/B0/secret\"\n",
        data.display()
    );
    std::fs::write(&cfg, &hook).unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = blocklist();
    assert!(err.contains("holds the URLs and headers of alert webhooks and every local user can read it"), "{err}");
    assert!(err.contains("token_file"), "{err}");
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(!blocklist().contains("every local user can read it"));
    // Without a secret in it, the file's mode is not ours to judge.
    std::fs::write(&cfg, format!("data_dir = \"{}\"\n", data.display())).unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(!blocklist().contains("every local user can read it"));
}
