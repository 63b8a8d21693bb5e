//! Exit codes and messages that must match the README's table: a bad argument is a usage error
//! (2), a bad configuration is 3 and names the file and key, an unusable data directory is 4 with
//! the real cause, and 5 is only for another maillogsentinel holding the data directory.

mod common;

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
