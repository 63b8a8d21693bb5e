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
    // The group is the user's primary one, which systemd takes when Group= is not set.
    assert!(!scan.lines().any(|l| l.starts_with("Group=")), "{scan}");
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
    // `root` and `nobody` exist everywhere, so User= resolves in the check; nobody's group is not
    // `nobody` on Debian, which a Group=<user> line would have named.
    for user in ["root", "nobody"] {
        verify_units(user, &[], &SCAN_UNITS);
        verify_units(user, &["--watch"], &WATCH_UNITS);
        verify_units(user, &["--blocklist"], &[&SCAN_UNITS[..], &BLOCKLIST_UNITS[..]].concat());
        verify_units(user, &["--watch", "--blocklist"], &[&WATCH_UNITS[..], &BLOCKLIST_UNITS[..]].concat());
    }
}

/// Each service's exposure by `systemd-analyze security` stays "OK" or better (under 2.5; 1.5
/// when written), so that a change to the sandboxing that weakens it shows here.
#[test]
fn every_service_scores_ok_in_systemd_analyze_security() {
    let present = Command::new("systemd-analyze").arg("--version").output().is_ok_and(|o| o.status.success());
    if !fixture::require("systemd-analyze", present, "apt-get install systemd") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    // The default user: a service user of its own (`nobody` or root would be scored down).
    for extra in [&["--blocklist"][..], &["--watch"][..]] {
        let out = setup(root.path(), &[&["--bin", "/usr/local/bin/maillogsentinel"], extra].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let services = ["scan", "watch", "report", "blocklist"].map(|s| format!("maillogsentinel-{s}.service"));
    for service in &services {
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(format!("--root={}", root.path().display()))
            .arg(service)
            .output()
            .expect("run systemd-analyze security");
        let text = String::from_utf8_lossy(&out.stdout);
        let overall = text.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_else(|| {
            panic!("{service}: no overall level:\n{text}\n{}", String::from_utf8_lossy(&out.stderr))
        });
        let score: f64 = overall
            .split(": ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{service}: {overall}"));
        assert!(score < 2.5, "{service}: {overall}\n{text}");
    }
}

const SCAN_UNITS: [&str; 4] = [
    "maillogsentinel-scan.service",
    "maillogsentinel-scan.timer",
    "maillogsentinel-report.service",
    "maillogsentinel-report.timer",
];
const BLOCKLIST_UNITS: [&str; 2] = ["maillogsentinel-blocklist.service", "maillogsentinel-blocklist.path"];
const WATCH_UNITS: [&str; 3] =
    ["maillogsentinel-watch.service", "maillogsentinel-report.service", "maillogsentinel-report.timer"];

fn verify_units(user: &str, extra: &[&str], names: &[&str]) {
    let root = tempfile::tempdir().unwrap();
    let out = setup(root.path(), &[&["--user", user], extra].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let units = root.path().join("etc/systemd/system");
    let service = read(&units.join(names[0]));
    assert!(service.contains(&format!("User={user}\n")) && !service.contains("Group=nobody"), "{service}");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(names.iter().map(|n| units.join(n)))
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about our units are problems; other units of the host (if any) are not ours to judge.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("maillogsentinel")).collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify ({user} {extra:?}): {:?}\n{stderr}",
        out.status
    );
}

#[test]
fn setup_watch_writes_the_watch_service_instead_of_the_scan_timer() {
    let root = tempfile::tempdir().unwrap();
    let out = setup(root.path(), &["--user", "mls", "--watch"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("systemctl enable --now maillogsentinel-watch.service maillogsentinel-report.timer"),
        "{stdout}"
    );
    assert!(stdout.contains("systemctl reload maillogsentinel-watch.service"), "{stdout}");
    assert!(!stdout.contains("disable"), "nothing to disable on a first setup:\n{stdout}");
    let units = root.path().join("etc/systemd/system");
    let watch = read(&units.join("maillogsentinel-watch.service"));
    for line in [
        &format!(
            "ExecStart={} --config /etc/maillogsentinel/maillogsentinel.toml watch",
            env!("CARGO_BIN_EXE_maillogsentinel")
        )[..],
        "Type=exec",
        "Restart=on-failure",
        "RestartSec=",
        "TimeoutStopSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WantedBy=multi-user.target",
        "User=mls",
    ] {
        assert!(watch.lines().any(|l| l.starts_with(line)), "{line} missing:\n{watch}");
    }
    // The same user, groups and hardening as the scan service of a setup without --watch.
    let timer_root = tempfile::tempdir().unwrap();
    assert!(setup(timer_root.path(), &["--user", "mls"]).status.success());
    let scan = read(&timer_root.path().join("etc/systemd/system/maillogsentinel-scan.service"));
    let hardening = |unit: &str| -> Vec<String> {
        let start = unit.find("# Hardening").expect("hardening block");
        // The watch service's [Install] section follows the block.
        unit[start..].lines().take_while(|l| !l.is_empty()).map(String::from).collect()
    };
    assert!(hardening(&watch).len() > 10);
    assert_eq!(hardening(&watch), hardening(&scan));
    for key in ["User=", "Group=", "SupplementaryGroups="] {
        let of = |unit: &str| unit.lines().filter(|l| l.starts_with(key)).map(String::from).collect::<Vec<_>>();
        assert_eq!(of(&watch), of(&scan), "{key}");
    }
    assert!(!units.join("maillogsentinel-scan.timer").exists() && !units.join("maillogsentinel-scan.service").exists());
    // The report no longer scans first: the watch holds the data directory's lock.
    let report = read(&units.join("maillogsentinel-report.service"));
    assert!(report.contains("report --send") && !report.contains("ExecStartPre"), "{report}");
    assert!(units.join("maillogsentinel-report.timer").exists());
    let timer_report = read(&timer_root.path().join("etc/systemd/system/maillogsentinel-report.service"));
    assert!(timer_report.contains("ExecStartPre=-"), "{timer_report}");
}

#[test]
fn switching_between_timer_and_watch_says_to_disable_the_earlier_unit_and_deletes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("etc/systemd/system");
    assert!(setup(root.path(), &[]).status.success());
    let out = setup(root.path(), &["--watch"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("systemctl disable --now maillogsentinel-scan.timer\n"), "{stdout}");
    assert!(stdout.contains("maillogsentinel-scan.timer from an earlier setup without --watch"), "{stdout}");
    assert!(units.join("maillogsentinel-scan.timer").exists(), "a unit this run did not write is kept");

    let out = setup(root.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("systemctl disable --now maillogsentinel-watch.service\n"), "{stdout}");
    assert!(stdout.contains("systemctl enable --now maillogsentinel-scan.timer"), "{stdout}");
    assert!(units.join("maillogsentinel-watch.service").exists());
}

#[test]
fn watch_and_a_scan_interval_are_a_usage_error() {
    let root = tempfile::tempdir().unwrap();
    let out = setup(root.path(), &["--watch", "--scan-interval", "30min"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--watch") && stderr.contains("--scan-interval"), "{stderr}");
    assert!(!root.path().join("etc").exists());
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write_config(root: &std::path::Path, text: &str) -> std::path::PathBuf {
    let config = root.join("etc/maillogsentinel/maillogsentinel.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn the_data_directory_of_an_existing_config_is_the_one_created_and_made_writable() {
    let root = tempfile::tempdir().unwrap();
    write_config(root.path(), "data_dir = \"/srv/mls-data\"\n");
    let out = setup(root.path(), &["--user", "mls"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let data = root.path().join("srv/mls-data");
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o750);
    assert!(!root.path().join("var/lib/maillogsentinel").exists(), "the default directory is not created");
    for unit in ["maillogsentinel-scan.service", "maillogsentinel-report.service"] {
        let text = read(&root.path().join("etc/systemd/system").join(unit));
        assert!(text.contains("ReadWritePaths=/srv/mls-data\n"), "{unit}:\n{text}");
        assert!(!text.contains("/var/lib/maillogsentinel"), "{unit}:\n{text}");
    }
    assert!(stdout.contains("chown mls: /srv/mls-data"), "{stdout}");
}

#[test]
fn the_metrics_textfile_directory_is_made_writable_if_present() {
    let root = tempfile::tempdir().unwrap();
    write_config(
        root.path(),
        "data_dir = \"/srv/mls-data\"\n[metrics]\ntextfile = \"/var/lib/prometheus/node-exporter/mls.prom\"\n",
    );
    let out = setup(root.path(), &["--user", "mls"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = read(&root.path().join("etc/systemd/system/maillogsentinel-scan.service"));
    assert!(text.contains("ReadWritePaths=/srv/mls-data -/var/lib/prometheus/node-exporter\n"), "{text}");
}

#[test]
fn a_kept_config_that_does_not_load_or_has_a_relative_data_dir_is_refused_before_writing_units() {
    for (text, expect) in [("data_dir = 5\n", "data_dir"), ("data_dir = \"data\"\n", "relative")] {
        let root = tempfile::tempdir().unwrap();
        let config = write_config(root.path(), text);
        let out = setup(root.path(), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{text}: {stderr}");
        assert!(stderr.contains(&config.display().to_string()) && stderr.contains(expect), "{stderr}");
        assert!(!root.path().join("etc/systemd").exists(), "{text}");
        assert_eq!(read(&config), text);
    }
}

#[test]
fn bin_must_be_absolute_and_one_under_home_is_warned_about() {
    let root = tempfile::tempdir().unwrap();
    for bin in ["target/release/maillogsentinel", "maillogsentinel", "/opt/my tools/maillogsentinel"] {
        let out = setup(root.path(), &["--bin", bin]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bin}: {stderr}");
        assert!(stderr.contains("--bin"), "{stderr}");
        assert!(!root.path().join("etc").exists(), "{bin}");
    }
    let out = setup(root.path(), &["--bin", "/home/ann/.cargo/bin/maillogsentinel"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning") && stderr.contains("ProtectHome=yes") && stderr.contains("--bin"), "{stderr}");
    let scan = read(&root.path().join("etc/systemd/system/maillogsentinel-scan.service"));
    assert!(scan.contains("ExecStart=/home/ann/.cargo/bin/maillogsentinel --config"), "{scan}");

    // A data directory under /home gets the same warning.
    write_config(root.path(), "data_dir = \"/home/ann/mls\"\n");
    let out = setup(root.path(), &["--bin", "/usr/local/bin/maillogsentinel"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("/home/ann/mls") && stderr.contains("ProtectHome=yes"), "{stderr}");
    assert!(!stderr.contains("/usr/local/bin"), "{stderr}");
}

#[test]
fn with_root_the_user_and_primary_group_come_from_the_roots_files_not_this_machine() {
    if !fixture::require("root (setup chowns)", running_as_root(), "run the tests as root") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    // An image whose service user exists only there, with a primary group of another name.
    std::fs::write(root.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nmlsvc:x:4242:4343::/:/bin/false\n")
        .unwrap();
    std::fs::write(root.path().join("etc/group"), "root:x:0:\nmlsgrp:x:4343:\n").unwrap();
    let out = setup(root.path(), &["--user", "mlsvc"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let data = std::fs::metadata(root.path().join("var/lib/maillogsentinel")).unwrap();
    assert_eq!((data.uid(), data.gid()), (4242, 4343));
    let config = std::fs::metadata(root.path().join("etc/maillogsentinel/maillogsentinel.toml")).unwrap();
    assert_eq!((config.uid(), config.gid()), (0, 4343));
    assert!(stdout.contains("owner mlsvc:mlsgrp"), "{stdout}");
    let scan = read(&root.path().join("etc/systemd/system/maillogsentinel-scan.service"));
    assert!(scan.contains("User=mlsvc\n") && !scan.contains("Group=m"), "{scan}");

    // A staging tree without a user database: this machine's `root` is not taken for the
    // target's; the commands to run there are printed instead.
    let staging = tempfile::tempdir().unwrap();
    let out = setup(staging.path(), &["--user", "root"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("is not in") && stdout.contains("etc/passwd"), "{stdout}");
    assert!(stdout.contains("chown root: /var/lib/maillogsentinel"), "{stdout}");
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

#[test]
fn setup_blocklist_exports_and_loads_after_each_scan_in_both_modes() {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("etc/systemd/system");
    let out = setup(root.path(), &["--user", "mls"]);
    assert!(out.status.success());
    assert!(!units.join("maillogsentinel-blocklist.service").exists(), "only when asked");
    for mode in [&["--blocklist"][..], &["--blocklist", "--watch"][..]] {
        let out = setup(root.path(), &[&["--user", "mls"], mode].concat());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(stdout.contains(" maillogsentinel-blocklist.path\n"), "{stdout}");
        assert!(stdout.contains("ip saddr @maillogsentinel_v4 drop"), "the admin's rule is shown:\n{stdout}");
        let service = read(&units.join("maillogsentinel-blocklist.service"));
        for line in [
            &format!(
                "ExecStart={} --config /etc/maillogsentinel/maillogsentinel.toml blocklist --format nft --output \
                 /var/lib/maillogsentinel/blocklist.nft",
                env!("CARGO_BIN_EXE_maillogsentinel")
            )[..],
            "ExecStartPost=+/usr/sbin/nft -f /var/lib/maillogsentinel/blocklist.nft",
            "Type=oneshot",
            "User=mls",
            "ReadWritePaths=/var/lib/maillogsentinel",
            "RestrictAddressFamilies=AF_NETLINK",
        ] {
            assert!(service.lines().any(|l| l == line), "{line} missing:\n{service}");
        }
        let path = read(&units.join("maillogsentinel-blocklist.path"));
        assert!(path.contains("PathModified=/var/lib/maillogsentinel/maillogsentinel.sqlite3\n"), "{path}");
        assert!(path.contains("PathModified=/var/lib/maillogsentinel/maillogsentinel.sqlite3-wal\n"), "{path}");
        assert!(path.contains("WantedBy=paths.target"), "{path}");
    }
}

#[test]
fn the_documented_nft_rule_loads_with_an_export() {
    let present = Command::new("nft").arg("--version").output().is_ok_and(|o| o.status.success());
    if !fixture::require("nft", present, "apt-get install nftables")
        || !fixture::require("root (nft -c talks to the kernel)", running_as_root(), "run the tests as root")
    {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let out = setup(root.path(), &["--blocklist"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let start = stdout.find("table inet maillogsentinel {").expect("the rule");
    let rule: String =
        stdout[start..].lines().take_while(|l| !l.starts_with("Put")).map(|l| format!("{l}\n")).collect();
    // The rule alone (before any export), and followed by an empty export, as after a reboot.
    let export = "table inet maillogsentinel {\n\tset maillogsentinel_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval, \
                  timeout\n\t}\n\tset maillogsentinel_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval, timeout\n\t}\n}\n\
                  flush set inet maillogsentinel maillogsentinel_v4\n\
                  add element inet maillogsentinel maillogsentinel_v4 { 198.51.100.7 timeout 3600s }\n";
    for text in [rule.clone(), rule + export] {
        let file = root.path().join("check.nft");
        std::fs::write(&file, &text).unwrap();
        let out = Command::new("nft").arg("-c").arg("-f").arg(&file).output().unwrap();
        assert!(out.status.success(), "{}\n{text}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn the_packages_units_and_config_are_the_ones_setup_writes_for_the_packages_layout() {
    let package = tempfile::tempdir().unwrap();
    maillogsentinel::cli::package::generate(package.path()).unwrap();
    let packaged = |name: &str| read(&package.path().join("units").join(name));
    // What setup writes for the package's binary: the timer mode with the blocklist, and the
    // watch service of the other mode.
    for (mode, names) in [
        (&["--blocklist"][..], &[&SCAN_UNITS[..], &BLOCKLIST_UNITS[..]].concat()),
        (&["--watch"][..], &vec!["maillogsentinel-watch.service"]),
    ] {
        let root = tempfile::tempdir().unwrap();
        let out = setup(root.path(), &[&["--bin", "/usr/bin/maillogsentinel"], mode].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for name in names {
            let written = read(&root.path().join("etc/systemd/system").join(name));
            let unit = packaged(name);
            assert_eq!(settings(&unit), settings(&written), "{name}:\n{unit}");
            assert!(unit.starts_with("# Installed by the maillogsentinel package"), "{name}:\n{unit}");
        }
    }
    // Each names the man page of its command, installed beside it.
    for (name, page) in [
        ("maillogsentinel-scan.service", "scan"),
        ("maillogsentinel-watch.service", "watch"),
        ("maillogsentinel-report.timer", "report"),
        ("maillogsentinel-blocklist.path", "blocklist"),
    ] {
        let doc = format!("\nDocumentation=man:maillogsentinel-{page}(1)\n");
        assert!(packaged(name).contains(&doc), "{name}:\n{}", packaged(name));
        assert!(package.path().join(format!("man/maillogsentinel-{page}.1.gz")).exists(), "{page}");
    }
    // The report service serves both modes: it scans first, as with the timer.
    assert!(packaged("maillogsentinel-report.service").contains("\nExecStartPre=-/usr/bin/maillogsentinel --config"));

    // The configuration is the example, as setup writes it, with a header of its own.
    let root = tempfile::tempdir().unwrap();
    assert!(setup(root.path(), &[]).status.success());
    let written = read(&root.path().join("etc/maillogsentinel/maillogsentinel.toml"));
    let config = read(&package.path().join("maillogsentinel.toml"));
    assert_eq!(settings(&config), settings(&written));
    assert!(config.starts_with("# Installed by the maillogsentinel package"), "{config}");
    assert!(config.contains("\ndata_dir = \"/var/lib/maillogsentinel\"\n"), "{config}");
}

/// The lines of a unit or configuration file that set something: without comments, and without
/// `Documentation=`, which only the package's units carry (their man pages come with them).
fn settings(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#') && !l.starts_with("Documentation=")).collect()
}

/// Undoes what a test that runs `setup` on this machine's `/` made, even when it fails half-way.
struct Undo {
    user: String,
    paths: Vec<std::path::PathBuf>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        let _ = Command::new(sbin("userdel")).arg(&self.user).output();
        // useradd --user-group made a group of the user's name, which userdel removes when the
        // system is set so (USERGROUPS_ENAB); otherwise here.
        let _ = Command::new(sbin("groupdel")).arg(&self.user).output();
        for path in &self.paths {
            let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir_all(path));
        }
    }
}

/// `/usr/sbin/NAME`, else NAME through PATH.
fn sbin(name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new("/usr/sbin").join(name);
    if path.exists() { path } else { name.into() }
}

/// `getent DB KEY`: the entry's fields, if any.
fn getent(db: &str, key: &str) -> Option<Vec<String>> {
    let out = Command::new("getent").args([db, key]).output().ok()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !line.is_empty()).then(|| line.split(':').map(String::from).collect())
}

#[test]
fn setup_creates_the_service_user_when_it_does_not_exist() {
    use std::os::unix::fs::MetadataExt;
    if !fixture::require("root (setup creates a user)", running_as_root(), "run the tests as root") {
        return;
    }
    // Without --root, setup writes this machine's /etc: only where maillogsentinel is not set up
    // (CI's fresh machine), and everything it writes is removed again.
    let etc = std::path::Path::new("/etc/maillogsentinel");
    let unit_dir = std::path::Path::new("/etc/systemd/system");
    let free = !etc.exists() && SCAN_UNITS.iter().all(|u| !unit_dir.join(u).exists());
    if !fixture::require(
        "a machine where maillogsentinel is not set up (this test runs setup without --root)",
        free,
        "run the tests where /etc/maillogsentinel and /etc/systemd/system/maillogsentinel-* do not exist",
    ) {
        return;
    }
    let user = format!("mls-test-{}", std::process::id());
    assert!(getent("passwd", &user).is_none(), "{user} exists already");
    let _undo = Undo {
        user: user.clone(),
        paths: std::iter::once(etc.to_path_buf()).chain(SCAN_UNITS.iter().map(|u| unit_dir.join(u))).collect(),
    };
    // The data directory, through a configuration kept by setup, is a temporary one.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(etc).unwrap();
    std::fs::write(etc.join("maillogsentinel.toml"), format!("data_dir = \"{}\"\n", data.display())).unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_maillogsentinel"))
            .env_remove("MAILLOGSENTINEL_CONFIG")
            .args(["setup", "--user", &user, "--bin", "/usr/local/bin/maillogsentinel"])
            .output()
            .expect("run maillogsentinel setup")
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("created  user {user} (useradd --system --user-group --home-dir ")), "{stdout}");

    let entry = getent("passwd", &user).expect("the user was created");
    let (uid, gid): (u32, u32) = (entry[2].parse().unwrap(), entry[3].parse().unwrap());
    // A system user (below Debian's first ordinary uid), at home in the data directory, who cannot log in.
    assert!(uid < 1000, "{entry:?}");
    assert_eq!((entry[5].as_str(), entry[6].as_str()), (data.to_str().unwrap(), "/usr/sbin/nologin"), "{entry:?}");
    assert_eq!(getent("group", &user).map(|g| g[2].clone()), Some(gid.to_string()), "a group of its own");
    let groups = Command::new("id").args(["-Gn", &user]).output().unwrap();
    let groups = String::from_utf8_lossy(&groups.stdout).split_whitespace().map(String::from).collect::<Vec<_>>();
    assert!(groups.contains(&"adm".to_string()), "{groups:?}");
    let journal = getent("group", "systemd-journal").is_some();
    assert_eq!(groups.contains(&"systemd-journal".to_string()), journal, "{groups:?}");

    let meta = std::fs::metadata(&data).unwrap();
    assert_eq!((meta.uid(), meta.gid(), meta.permissions().mode() & 0o777), (uid, gid, 0o750));
    let config = std::fs::metadata(etc.join("maillogsentinel.toml")).unwrap();
    assert_eq!((config.uid(), config.gid()), (0, gid));
    let scan = read(&unit_dir.join("maillogsentinel-scan.service"));
    assert!(scan.contains(&format!("\nUser={user}\n")), "{scan}");

    // Once it exists, it is used as it is.
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !stdout.contains("created  user"), "{stdout}");
}
