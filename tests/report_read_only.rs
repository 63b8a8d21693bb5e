//! `report` without `--send` only reads the store: a user who may read the data directory but not
//! write it (root's files, mode 644 in a 755 directory) can view reports, whether the store was
//! closed (no `-wal`/`-shm` beside it) or a scan holds it open; and an old store is not upgraded
//! by a mere view.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

#[path = "support/fixture.rs"]
mod fixture;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use maillogsentinel::store::{STORE_FILE, Store};

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// Can the tests run the binary as nobody?
fn as_nobody_possible() -> bool {
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success());
    fixture::require("setpriv", setpriv, "apt-get install util-linux")
        && fixture::require("root (to view as nobody)", running_as_root(), "run the tests as root")
}

/// A store of root's in a directory nobody may read but not write.
fn read_only_store() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fixture::fill(&data, true);
    let config = fixture::config(dir.path(), "");
    for path in [dir.path(), &data, &data.join("reports")] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    (dir, config)
}

fn as_nobody(config: &Path, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_maillogsentinel"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MAILLOGSENTINEL_CONFIG")
        .output()
        .unwrap()
}

fn failed_logins(out: &Output) -> u64 {
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["totals"]["failed_attempts"].as_u64().unwrap_or_else(|| panic!("{v:#}"))
}

#[test]
fn a_user_who_can_only_read_the_store_can_view_a_report() {
    if !as_nobody_possible() {
        return;
    }
    let (dir, config) = read_only_store();
    let data = dir.path().join("data");
    let store = data.join(STORE_FILE);
    assert!(!Path::new(&format!("{}-shm", store.display())).exists(), "the store was closed");
    let day = fixture::day().to_string();
    let out = as_nobody(&config, &["report", "--day", &day, "--format", "json"]);
    assert_eq!(failed_logins(&out), fixture::FAILED);
    let names: Vec<String> =
        std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.ends_with("-wal") || n.ends_with("-shm")), "nothing was created: {names:?}");
    // The text report too, and --send still needs write access (to record the send).
    let out = as_nobody(&config, &["report", "--day", &day]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Failed login attempts"));
}

#[test]
fn a_user_who_can_only_read_the_store_can_view_it_while_a_scan_holds_it_open() {
    if !as_nobody_possible() {
        return;
    }
    let (dir, config) = read_only_store();
    let store_path = dir.path().join("data").join(STORE_FILE);
    // A writer has the store open: its -wal and -shm exist, root's, mode 644.
    let writer = Store::open(&store_path).unwrap();
    writer.set_csv_len(writer.csv_len().unwrap().unwrap_or(0)).unwrap();
    let shm = format!("{}-shm", store_path.display());
    assert!(Path::new(&shm).exists());
    std::fs::set_permissions(&shm, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(format!("{}-wal", store_path.display()), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = as_nobody(&config, &["report", "--day", &fixture::day().to_string(), "--format", "json"]);
    assert_eq!(failed_logins(&out), fixture::FAILED);
    drop(writer);
}

#[test]
fn viewing_an_old_store_asks_for_a_scan_and_does_not_upgrade_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fixture::fill(&data, false);
    let config = fixture::config(dir.path(), "");
    let store_path = data.join(STORE_FILE);
    let version = |v: Option<i64>| {
        let conn = rusqlite::Connection::open(&store_path).unwrap();
        if let Some(v) = v {
            conn.execute("UPDATE meta SET value = ?1 WHERE key = 'schema_version'", [v]).unwrap();
        }
        conn.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get::<_, i64>(0)).unwrap()
    };
    let current = version(None);
    version(Some(current - 1));
    let out = fixture::run(&config, &["report", "--day", &fixture::day().to_string()]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&store_path.display().to_string()) && err.contains("maillogsentinel scan"), "{err}");
    assert_eq!(version(None), current - 1, "a view does not migrate the store");
    // A newer store is refused the same way as before.
    version(Some(current + 1));
    let out = fixture::run(&config, &["report", "--day", &fixture::day().to_string()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("newer maillogsentinel"));
}
