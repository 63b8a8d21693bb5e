//! The Prometheus textfile (`[metrics] textfile`) against the real binary, read back by real
//! Prometheus parsers: `promtool check metrics` (Debian's `prometheus`) checks the format and its
//! conventions, and `prometheus_client`'s parser (Debian's `python3-prometheus-client`) gives the
//! values and the label values unescaped.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;
#[path = "support/fixture.rs"]
mod fixture;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// One sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// A Python that has `prometheus_client`: the one on the `PATH`, or the system's (where Debian's
/// package installs it, when the `PATH` has another).
fn python() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import prometheus_client.parser"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn have_promtool() -> bool {
    Command::new("promtool").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Both parsers, or `None` (the test is skipped, or fails under `CI=true`).
fn parsers() -> Option<&'static str> {
    let promtool = fixture::require("promtool", have_promtool(), "apt-get install prometheus");
    let python = python();
    let client = fixture::require("prometheus_client", python.is_some(), "apt-get install python3-prometheus-client");
    (promtool && client).then_some(python?)
}

/// Checks the textfile with `promtool check metrics` (no error, no lint) and returns its samples
/// as `prometheus_client` parses them.
fn read(python: &str, file: &Path) -> Vec<Sample> {
    let text = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics ({:?}):\n{}{}\nthe file:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&text)
    );
    let script = "import json, sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        text = open(sys.argv[1], encoding='utf-8').read()\n\
        print(json.dumps([[s.name, s.labels, s.value] for f in text_string_to_metric_families(text) for s in f.samples]))";
    let out = Command::new(python).args(["-c", script]).arg(file).output().expect("run python");
    assert!(out.status.success(), "prometheus_client: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the parser's JSON")
}

/// The sum of the samples of `name` whose labels include `with`.
fn value(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, labels, _)| n == name && with.iter().all(|(k, v)| labels.get(*k).is_some_and(|l| l == v)))
        .map(|s| s.2)
        .sum()
}

/// A configuration for `logs` into `data` that writes the textfile `prom`.
fn config(dir: &Path, data: &Path, logs: &[&Path], prom: &Path) -> PathBuf {
    let cfg = dir.join("maillogsentinel.toml");
    let logs: Vec<String> = logs.iter().map(|l| format!("{:?}", l.display().to_string())).collect();
    std::fs::write(
        &cfg,
        format!(
            "data_dir = {:?}\nlogs = [{}]\ntimezone = \"UTC\"\n[metrics]\ntextfile = {:?}\n",
            data.display().to_string(),
            logs.join(", "),
            prom.display().to_string()
        ),
    )
    .unwrap();
    cfg
}

/// `scan` with the configuration `cfg` and nothing else but what keeps it off the network;
/// returns its stdout and stderr, insisting that it exited 0.
fn scan_with(cfg: &Path, extra: &[&str]) -> (String, String) {
    let out = command()
        .arg("--config")
        .arg(cfg)
        .args(["scan", "--year", "2026", "--no-dns", "--no-geo"])
        .args(extra)
        .output()
        .expect("run maillogsentinel");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "scan failed ({:?}):\n{stdout}\n{stderr}", out.status);
    (stdout, stderr)
}

/// No file of the directory but `keep` (the temporary files were renamed or removed).
fn assert_only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, keep, "files left in {}", dir.display());
}

#[test]
fn counters_are_the_scans_counts_and_add_up_across_scans() {
    let Some(python) = parsers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (data, prom_dir) = (dir.path().join("data"), dir.path().join("textfile"));
    std::fs::create_dir(&prom_dir).unwrap();
    let prom = prom_dir.join("maillogsentinel.prom");
    let log = dir.path().join("mail.log");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mail.log"), &log).unwrap();
    let cfg = config(dir.path(), &data, &[&log], &prom);
    let before = jiff::Timestamp::now().as_second() as f64;

    let (out, _) = scan_with(&cfg, &[]);
    assert!(
        out.contains("24 new failed logins, 5 successful logins, 1 auth backend error, 1 mechanism probe"),
        "{out}"
    );
    let s = read(python, &prom);
    assert_eq!(value(&s, "maillogsentinel_failed_logins_total", &[]), 24.0, "{s:?}");
    assert_eq!(value(&s, "maillogsentinel_successful_logins_total", &[]), 5.0);
    assert_eq!(value(&s, "maillogsentinel_backend_errors_total", &[]), 1.0);
    assert_eq!(value(&s, "maillogsentinel_mechanism_probes_total", &[]), 1.0);
    // The failures by service add up to the CSV's rows by service.
    let mut per_service: BTreeMap<String, f64> = BTreeMap::new();
    for row in csv_rows(&data) {
        *per_service.entry(row[2].clone()).or_default() += 1.0;
    }
    for (service, n) in &per_service {
        assert_eq!(value(&s, "maillogsentinel_failed_logins_total", &[("service", service)]), *n, "{service}");
    }
    assert!(value(&s, "maillogsentinel_last_pass_timestamp_seconds", &[]) >= before);
    let log_name = log.display().to_string();
    assert_eq!(value(&s, "maillogsentinel_log_unread_bytes", &[("log", &log_name)]), 0.0, "all read");
    let store = data.join("maillogsentinel.sqlite3");
    assert!(value(&s, "maillogsentinel_store_size_bytes", &[]) >= std::fs::metadata(store).unwrap().len() as f64);
    assert_only(&prom_dir, &["maillogsentinel.prom"]);

    // A second process adds to the counters: they are totals, not this run's counts.
    append(&log, &failures(0..7));
    let first = std::fs::metadata(&prom).unwrap();
    let (out, _) = scan_with(&cfg, &[]);
    assert!(out.contains("7 new failed logins"), "{out}");
    let s = read(python, &prom);
    assert_eq!(value(&s, "maillogsentinel_failed_logins_total", &[]), 31.0);
    assert_eq!(
        value(&s, "maillogsentinel_failed_logins_total", &[("service", "postfix/submission/smtpd")]),
        per_service.get("postfix/submission/smtpd").copied().unwrap_or(0.0) + 7.0
    );
    assert_eq!(value(&s, "maillogsentinel_successful_logins_total", &[]), 5.0);
    // Replaced by a rename (a new inode), not rewritten in place, and nothing left beside it.
    use std::os::unix::fs::MetadataExt;
    assert_ne!(std::fs::metadata(&prom).unwrap().ino(), first.ino(), "renamed over");
    assert_only(&prom_dir, &["maillogsentinel.prom"]);

    // A scan with nothing new, or one that reads everything again, leaves the counters as they
    // are: an event already stored is not counted again.
    scan_with(&cfg, &[]);
    assert_eq!(value(&read(python, &prom), "maillogsentinel_failed_logins_total", &[]), 31.0);
    scan_with(&cfg, &["--full"]);
    assert_eq!(value(&read(python, &prom), "maillogsentinel_failed_logins_total", &[]), 31.0);
}

#[test]
fn a_service_name_with_quotes_backslashes_and_controls_stays_inside_its_label() {
    let Some(python) = parsers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (data, prom) = (dir.path().join("data"), dir.path().join("m.prom"));
    let log = dir.path().join("mail.log");
    // A forged syslog tag: quotes, a backslash, a carriage return, a vertical tab, NEL, an
    // invalid byte, and a fake end of the label followed by a forged label (a tag has no space,
    // so no forged sample).
    let mut line = b"Nov 24 00:00:05 mx1 postfix/\"x\\\r\x0b\xc2\x85\xff\"},reason=\"forged/smtpd[1003]:".to_vec();
    line.extend_from_slice(
        b" warning: unknown[198.51.100.4]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=eve\n",
    );
    std::fs::write(&log, &line).unwrap();
    append(&log, &failure(1));
    let cfg = config(dir.path(), &data, &[&log], &prom);
    scan_with(&cfg, &[]);
    let s = read(python, &prom);
    let failed: Vec<&Sample> = s.iter().filter(|x| x.0 == "maillogsentinel_failed_logins_total").collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    // The label is the service as the CSV shows it (made visible), byte for byte.
    let csv_services: Vec<String> = csv_rows(&data).into_iter().map(|r| r[2].clone()).collect();
    for service in &csv_services {
        assert_eq!(
            value(&s, "maillogsentinel_failed_logins_total", &[("service", service)]),
            1.0,
            "{service:?} in {s:?}"
        );
    }
    assert!(csv_services.iter().any(|x| x.contains("\"x\\")), "{csv_services:?}");
    assert!(!s.iter().any(|x| x.1.get("reason").is_some_and(|r| r.starts_with("forged"))), "a forged label: {s:?}");
}

#[test]
fn watch_rewrites_the_file_after_a_pass_and_it_is_never_seen_half_written() {
    let Some(python) = parsers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (data, prom_dir) = (dir.path().join("data"), dir.path().join("textfile"));
    std::fs::create_dir(&prom_dir).unwrap();
    let prom = prom_dir.join("maillogsentinel.prom");
    let log = dir.path().join("mail.log");
    append(&log, &failures(0..10));
    let cfg = config(dir.path(), &data, &[&log], &prom);
    let stderr = dir.path().join("watch.stderr");
    let mut child = command()
        .arg("--config")
        .arg(&cfg)
        .args(["watch", "--no-dns", "--no-geo"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("start watch");
    let said = || std::fs::read_to_string(&stderr).unwrap_or_default();
    let failed = |python| value(&read(python, &prom), "maillogsentinel_failed_logins_total", &[]);
    let wait = |what: &str, done: &mut dyn FnMut() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}; watch said:\n{}", said());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait("the first pass's textfile", &mut || prom.exists());
    assert_eq!(failed(python), 10.0);

    // A reader beside the passes only ever sees a whole file.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (prom, stop) = (prom.clone(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let text = std::fs::read_to_string(&prom).expect("the textfile is always there");
                assert!(text.ends_with("\n") && text.contains("\nmaillogsentinel_store_size_bytes "), "{text}");
                reads += 1;
            }
            reads
        })
    };
    for n in 10..30 {
        append(&log, &failures(n..n + 1));
        std::thread::sleep(Duration::from_millis(30));
    }
    wait("30 failures counted", &mut || failed(python) == 30.0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().expect("the reader saw whole files only") > 0);
    assert_only(&prom_dir, &["maillogsentinel.prom"]);

    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert!(status.success(), "watch exited {status:?}:\n{}", said());
}

#[test]
fn a_textfile_that_cannot_be_written_is_a_warning_naming_it_and_the_scan_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let prom = dir.path().join("no-such-dir/maillogsentinel.prom");
    let log = dir.path().join("mail.log");
    append(&log, &failures(0..3));
    let cfg = config(dir.path(), &data, &[&log], &prom);
    let (out, err) = scan_with(&cfg, &[]);
    assert!(out.contains("3 new failed logins"), "{out}");
    assert!(
        err.contains(&format!("cannot write the metrics textfile {}", prom.display()))
            && err.contains("create its directory"),
        "{err}"
    );
    assert_eq!(csv_rows(&data).len(), 3, "the scan's rows are stored");
}

#[test]
fn an_unknown_metrics_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[metrics]\ntextfile = \"/tmp/x.prom\"\ntext_file = \"/tmp/y.prom\"\n").unwrap();
    let out = command().arg("--config").arg(&cfg).arg("scan").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("metrics.text_file"), "{out:?}");
}

/// README's alerting rule for a fleet database that is down, evaluated by Prometheus's own rule
/// engine (`promtool test rules`) over four servers' gauges: one whose last sync is old, one
/// that syncs every minute, one with nothing waiting, one never synced.
#[test]
fn the_readmes_fleet_alert_fires_when_events_wait_since_an_old_sync_or_none() {
    if !fixture::require("promtool", have_promtool(), "apt-get install prometheus") {
        return;
    }
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let at = readme.find("<!-- fleet-alert-rule").expect("README's fleet alerting rule");
    let start = readme[at..].find("```yaml\n").unwrap() + at + 8;
    let rule = &readme[start..start + readme[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let indented: String = rule.lines().map(|l| format!("      {l}\n")).collect();
    std::fs::write(dir.path().join("rules.yml"), format!("groups:\n  - name: maillogsentinel\n    rules:\n{indented}"))
        .unwrap();
    // Evaluation starts at Unix time 0; at 30 minutes, time() is 1800.
    let series = |instance: &str, backlog: &str, synced: Option<&str>| {
        let mut s = format!(
            "      - series: 'maillogsentinel_fleet_backlog_events{{instance=\"{instance}\"}}'\n        values: '{backlog}'\n"
        );
        if let Some(synced) = synced {
            s += &format!(
                "      - series: 'maillogsentinel_fleet_synced_timestamp_seconds{{instance=\"{instance}\"}}'\n        values: '{synced}'\n"
            );
        }
        s
    };
    let tests = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{}{}{}{}    alert_rule_test:\n      - eval_time: 30m\n        alertname: MailLogSentinelFleetBacklog\n        exp_alerts:\n          - exp_labels: {{instance: down}}\n          - exp_labels: {{instance: never}}\n",
        series("down", "5x40", Some("0x40")),
        series("busy", "5x40", Some("0+60x40")),
        series("quiet", "0x40", Some("0x40")),
        series("never", "5x40", None),
    );
    std::fs::write(dir.path().join("tests.yml"), tests).unwrap();
    let out = Command::new("promtool").args(["test", "rules", "tests.yml"]).current_dir(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}\nthe rule:\n{rule}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
