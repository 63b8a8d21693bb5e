//! `maillogsentinel setup --root DIR`: the config, data directory and systemd units it writes.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

#[path = "support/fixture.rs"]
mod fixture;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn setup(root: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_maillogsentinel"))
        .env_remove("MAILLOGSENTINEL_CONFIG")
        .arg("setup")
        .arg("--root")
        .arg(root)
        .args(extra)
        .output()
        .expect("run maillogsentinel setup")
}

#[test]
fn setup_writes_config_data_dir_and_units_and_never_overwrites_the_config() {
    let root = tempfile::tempdir().unwrap();
    let out = setup(root.path(), &["--user", "mls", "--scan-interval", "30min", "--report-at", "06:45"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("systemctl enable --now maillogsentinel-scan.timer maillogsentinel-report.timer"),
        "{stdout}"
    );
    let config = root.path().join("etc/maillogsentinel/maillogsentinel.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[email]") && text.starts_with('#'), "a commented config");
    // The written config is one the tool accepts.
    maillogsentinel::config::Config::parse(&text, &config).unwrap();
    let data = root.path().join("var/lib/maillogsentinel");
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o750);
    let units = root.path().join("etc/systemd/system");
    let scan = std::fs::read_to_string(units.join("maillogsentinel-scan.service")).unwrap();
    for line in [
        "User=mls",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/maillogsentinel",
        "NoNewPrivileges=yes",
        "SupplementaryGroups=adm",
    ] {
        assert!(scan.contains(line), "{line} missing:\n{scan}");
    }
    assert!(
        scan.contains(&format!(
            "ExecStart={} --config /etc/maillogsentinel/maillogsentinel.toml scan",
            env!("CARGO_BIN_EXE_maillogsentinel")
        )),
        "{scan}"
    );
    let timer = std::fs::read_to_string(units.join("maillogsentinel-scan.timer")).unwrap();
    assert!(timer.contains("OnUnitActiveSec=30min"), "{timer}");
    let report = std::fs::read_to_string(units.join("maillogsentinel-report.service")).unwrap();
    assert!(report.contains("report --send"), "{report}");
    let rtimer = std::fs::read_to_string(units.join("maillogsentinel-report.timer")).unwrap();
    assert!(rtimer.contains("OnCalendar=*-*-* 06:45:00") && rtimer.contains("Persistent=true"), "{rtimer}");

    // A second run keeps an edited config.
    std::fs::write(&config, "server_name = \"edited\"\n").unwrap();
    let out = setup(root.path(), &[]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "server_name = \"edited\"\n");
    assert!(String::from_utf8_lossy(&out.stdout).contains("not overwritten"));
}

#[test]
fn bad_arguments_are_refused_before_anything_is_written() {
    let root = tempfile::tempdir().unwrap();
    for args in [["--report-at", "25:00"], ["--scan-interval", "1h; rm -rf /"], ["--user", "a b"]] {
        let out = setup(root.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(args[0]), "{args:?}");
    }
    assert!(!root.path().join("etc").exists());
}

#[test]
fn generated_units_pass_systemd_analyze_verify() {
    let present = Command::new("systemd-analyze").arg("--version").output().is_ok_and(|o| o.status.success());
    if !fixture::require("systemd-analyze", present, "apt-get install systemd") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    // `root` exists everywhere, so User= resolves in the check.
    let out = setup(root.path(), &["--user", "root"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let units = root.path().join("etc/systemd/system");
    let names = [
        "maillogsentinel-scan.service",
        "maillogsentinel-scan.timer",
        "maillogsentinel-report.service",
        "maillogsentinel-report.timer",
    ];
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(names.iter().map(|n| units.join(n)))
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about our units are problems; other units of the host (if any) are not ours to judge.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("maillogsentinel")).collect();
    assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify: {:?}\n{stderr}", out.status);
}
