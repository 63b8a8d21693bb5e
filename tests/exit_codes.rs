//! Exit codes and messages that must match the README's table: a bad argument is a usage error
//! (2), a bad configuration is 3 and names the file and key, an unusable data directory is 4 with
//! the real cause, and 5 is only for another maillogsentinel holding the data directory.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;
#[path = "support/fixture.rs"]
mod fixture;

use common::command;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_unknown_timezone_on_the_command_line_is_a_usage_error_and_in_the_config_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["scan", "report"] {
        let out = command()
            .args([cmd, "--timezone", "Mars/Base", "--data-dir"])
            .arg(dir.path())
            .args(if cmd == "scan" { &["--no-dns", "--no-geo"][..] } else { &[] })
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd} --timezone Mars/Base: {err}");
        assert!(err.contains("--timezone") && err.contains("Mars/Base"), "{err}");
    }
    // Nothing was created for a refused command line.
    assert!(!dir.path().join(".maillogsentinel.lock").exists());

    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "timezone = \"Mars/Base\"\n").unwrap();
    let out = command().arg("--config").arg(&cfg).args(["report", "--since", "1h"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("c.toml") && err.contains("`timezone`"), "{err}");
}

/// `scan` into `data` with no logs to read and no network.
fn scan_into(data: &std::path::Path) -> std::process::Command {
    let mut c = command();
    c.args(["scan", "--no-dns", "--no-geo", "--timezone", "UTC", "--log", "/dev/null", "--data-dir"]).arg(data);
    c
}

fn assert_unusable_data_dir(out: &std::process::Output, data: &std::path::Path, cause: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(!err.contains("another maillogsentinel"), "{err}");
    assert!(err.contains(&data.display().to_string()) && err.contains(cause), "{err}");
}

#[test]
fn a_data_directory_where_the_lock_cannot_be_created_is_exit_4_with_the_cause_not_5() {
    let dir = tempfile::tempdir().unwrap();
    // Works as root too: the lock file's name is taken by a directory.
    std::fs::create_dir(dir.path().join(".maillogsentinel.lock")).unwrap();
    let out = scan_into(dir.path()).output().unwrap();
    assert_unusable_data_dir(&out, dir.path(), "Is a directory");
}

#[test]
fn a_data_directory_not_writable_by_the_user_is_exit_4_with_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    let present = std::process::Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success());
    if !fixture::require("setpriv", present, "apt-get install util-linux")
        || !fixture::require("root (to run the scan as nobody)", running_as_root(), "run the tests as root")
    {
        return;
    }
    // Owned by root, mode 755, scanned as nobody: what a service user meets in a directory it
    // was not given.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let scan = scan_into(dir.path());
    let mut c = std::process::Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(scan.get_program()).args(scan.get_args());
    c.env_remove("MAILLOGSENTINEL_CONFIG");
    let out = c.output().unwrap();
    assert_unusable_data_dir(&out, dir.path(), "Permission denied");
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

#[test]
fn report_send_without_a_recipient_or_with_a_missing_password_file_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("mls.toml");
    let data = dir.path().join("data");
    let pass = dir.path().join("missing-smtp.pass");
    for (email, key, named) in [
        ("to = []\n".to_string(), "`email.to`", None),
        (
            format!("to = [\"admin@example.org\"]\nusername = \"reporter\"\npassword_file = \"{}\"\n", pass.display()),
            "`email.password_file`",
            Some(pass.display().to_string()),
        ),
    ] {
        std::fs::write(&cfg, format!("data_dir = \"{}\"\n[email]\n{email}", data.display())).unwrap();
        let out = command().arg("--config").arg(&cfg).args(["report", "--send"]).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{email}: {err}");
        assert!(err.contains("mls.toml") && err.contains(key), "{err}");
        if let Some(path) = named {
            assert!(err.contains(&path) && err.contains("No such file"), "{err}");
        }
        // Refused before anything was written for it.
        assert!(!data.join("reports/unsent").exists(), "{err}");
        // Without --send the same configuration is fine to report with.
        let out = command().arg("--config").arg(&cfg).args(["report", "--since", "1h"]).output().unwrap();
        assert_ne!(out.status.code(), Some(3), "{}", stderr(&out));
    }
}

#[test]
fn geo_update_without_network_tells_whether_there_were_databases_to_keep() {
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("geo");
    let cfg = dir.path().join("mls.toml");
    // A closed port on loopback: the download fails at once, as without network.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{d}\"\n[geo]\ncountry_db = [\"{g}/c.csv\"]\nasn_db = [\"{g}/a.csv\"]\n\
             country_url = [\"http://{addr}/c.csv\"]\nasn_url = [\"http://{addr}/a.csv\"]\ndownload_timeout_secs = 5\n",
            d = dir.path().display(),
            g = geo.display()
        ),
    )
    .unwrap();
    let update = || {
        let out = command()
            .arg("--config")
            .arg(&cfg)
            .args(["geo", "update"])
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("ALL_PROXY")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        stderr(&out)
    };
    let err = update();
    assert!(err.contains("no database is installed yet") && !err.contains("still work"), "{err}");

    std::fs::create_dir_all(&geo).unwrap();
    std::fs::write(geo.join("c.csv"), "old").unwrap();
    let err = update();
    assert!(err.contains("kept") && err.contains(&geo.join("a.csv").display().to_string()), "{err}");
    assert!(err.contains("still missing"), "{err}");

    std::fs::write(geo.join("a.csv"), "old").unwrap();
    let err = update();
    assert!(err.contains("the previous databases were kept and still work"), "{err}");
    assert_eq!(std::fs::read_to_string(geo.join("c.csv")).unwrap(), "old");
}
