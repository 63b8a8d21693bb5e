//! Postfix in `mail.log`, Dovecot in its own log file: every SMTP AUTH attempt leaves a line in
//! each (Postfix's warning, Dovecot's passdb result), and must still count once, whatever order
//! the logs are given in, over hours of log (longer than the correlator keeps its records), and
//! across scans. And the other way round: rsyslog's `mail.warn` holding copies of `mail.log`'s
//! warnings, listed beside it.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;

use std::path::Path;

use common::*;

/// Attempts, one a minute from 10:00: over three hours.
const ATTEMPTS: u32 = 200;

/// The two logs of attempts `range`: (Postfix's lines, Dovecot's lines, a second earlier).
fn logs(range: std::ops::Range<u32>) -> (String, String) {
    let (mut postfix, mut dovecot) = (String::new(), String::new());
    for i in range {
        let (h, m) = (10 + i / 60, i % 60);
        let ip = format!("198.51.100.{}", 10 + i % 4);
        dovecot
            .push_str(&format!("Nov 24 {h:02}:{m:02}:04 auth: Info: passwd-file(user{i},{ip}): Password mismatch\n"));
        postfix.push_str(&format!(
            "Nov 24 {h:02}:{m:02}:05 mx1 postfix/submission/smtpd[{}]: warning: unknown[{ip}]: SASL LOGIN authentication \
             failed: UGFzc3dvcmQ6\n",
            1000 + i
        ));
        // Traffic that is not an attempt, in both.
        postfix.push_str(&format!(
            "Nov 24 {h:02}:{m:02}:30 mx1 postfix/smtpd[7]: connect from unknown[192.0.2.{}]\n",
            i % 250
        ));
        dovecot.push_str(&format!("Nov 24 {h:02}:{m:02}:31 imap(u{i}): Info: Logged out in=10 out=20\n"));
    }
    (postfix, dovecot)
}

/// Every attempt is one CSV row, stored under Postfix's service with Dovecot's user name.
fn assert_each_attempt_once(data: &Path) {
    let rows = csv_rows(data);
    assert_eq!(rows.len(), ATTEMPTS as usize, "one row per attempt");
    let mut users: Vec<&str> = rows.iter().map(|r| r[4].as_str()).collect();
    users.sort_unstable();
    users.dedup();
    assert_eq!(users.len(), ATTEMPTS as usize, "every attempt's user once");
    assert!(rows.iter().all(|r| r[2] == "postfix/submission/smtpd"), "joined into Postfix's line");
}

#[test]
fn both_orders_count_each_attempt_once() {
    let dir = tempfile::tempdir().unwrap();
    let (postfix, dovecot) = logs(0..ATTEMPTS);
    let mail_log = dir.path().join("mail.log");
    let dovecot_log = dir.path().join("dovecot.log");
    std::fs::write(&mail_log, postfix).unwrap();
    std::fs::write(&dovecot_log, dovecot).unwrap();
    for (name, order) in [("postfix-first", [&mail_log, &dovecot_log]), ("dovecot-first", [&dovecot_log, &mail_log])] {
        let data = dir.path().join(name);
        let out = scan_ok(&data, &[order[0].as_path(), order[1].as_path()], &[]);
        assert!(out.contains(&format!("{ATTEMPTS} new failed logins")), "{name}: {out}");
        assert_each_attempt_once(&data);
    }
}

#[test]
fn hourly_scans_of_both_logs_count_each_attempt_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mail_log = dir.path().join("mail.log");
    let dovecot_log = dir.path().join("dovecot.log");
    std::fs::write(&mail_log, "").unwrap();
    std::fs::write(&dovecot_log, "").unwrap();
    for hour in 0..ATTEMPTS.div_ceil(60) {
        let (postfix, dovecot) = logs(hour * 60..((hour + 1) * 60).min(ATTEMPTS));
        append(&mail_log, &postfix);
        append(&dovecot_log, &dovecot);
        scan_ok(&data, &[&mail_log, &dovecot_log], &[]);
    }
    assert_each_attempt_once(&data);
}

#[test]
fn a_log_holding_copies_of_another_counts_each_attempt_once() {
    let dir = tempfile::tempdir().unwrap();
    let warning = |t: &str, pid: u32, ip: &str, user: &str| {
        format!(
            "Nov 24 {t} mx1 postfix/submission/smtpd[{pid}]: warning: unknown[{ip}]: SASL LOGIN authentication \
             failed: authentication failure, sasl_username={user}\n"
        )
    };
    let info = |t: &str| format!("Nov 24 {t} mx1 postfix/smtpd[7]: connect from unknown[192.0.2.1]\n");
    // mail.log has everything: the same attempt twice in one second (two attempts, both
    // counted), three single lines of one account, and one attempt of another address.
    let mut mail_log = String::new();
    for line in [
        info("10:00:00"),
        warning("10:00:01", 11, "198.51.100.1", "admin"),
        warning("10:00:01", 11, "198.51.100.1", "admin"),
        info("10:00:02"),
        warning("10:00:03", 12, "198.51.100.2", "info"),
        info("10:00:03"),
        warning("10:00:04", 12, "198.51.100.2", "info"),
        info("10:00:04"),
        warning("10:00:05", 12, "198.51.100.2", "info"),
        warning("10:00:06", 13, "2001:db8::3", "sales"),
        info("10:00:07"),
    ] {
        mail_log.push_str(&line);
    }
    // mail.warn has the warnings only, reduced by rsyslog where they follow each other.
    let mail_warn = [
        warning("10:00:01", 11, "198.51.100.1", "admin"),
        warning("10:00:01", 11, "198.51.100.1", "admin"),
        warning("10:00:03", 12, "198.51.100.2", "info"),
        "Nov 24 10:00:05 mx1 postfix/submission/smtpd[12]: message repeated 2 times: [ warning: \
         unknown[198.51.100.2]: SASL LOGIN authentication failed: authentication failure, sasl_username=info]\n"
            .to_string(),
        warning("10:00:06", 13, "2001:db8::3", "sales"),
    ]
    .concat();
    let (log, warn) = (dir.path().join("mail.log"), dir.path().join("mail.warn"));
    std::fs::write(&log, mail_log).unwrap();
    std::fs::write(&warn, mail_warn).unwrap();
    let alone = dir.path().join("alone");
    scan_ok(&alone, &[&log], &[]);
    let expected = rows_per_user(&alone);
    assert_eq!(expected.values().sum::<usize>(), 6, "{expected:?}");
    for (name, order) in [("log-first", [&log, &warn]), ("warn-first", [&warn, &log])] {
        let data = dir.path().join(name);
        let out = scan(&data, &[order[0].as_path(), order[1].as_path()], &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        assert!(stdout.contains("6 new failed logins"), "{name}: {stdout}");
        assert_eq!(rows_per_user(&data), expected, "{name}");
        assert!(
            stderr.contains("hold the same lines") && stderr.contains("the 6 events found in both counted once"),
            "{name}: the copies are reported: {stderr}"
        );
    }
    // Hourly scans that each find the new lines of both logs (split after 10:00:03).
    let data = dir.path().join("incremental");
    let (whole_log, whole_warn) = (std::fs::read_to_string(&log).unwrap(), std::fs::read_to_string(&warn).unwrap());
    let split = |text: &str| text.split_inclusive('\n').take_while(|l| &l[7..15] <= "10:00:03").map(str::len).sum();
    let (cut_log, cut_warn) = (split(&whole_log), split(&whole_warn));
    std::fs::write(&log, &whole_log[..cut_log]).unwrap();
    std::fs::write(&warn, &whole_warn[..cut_warn]).unwrap();
    scan_ok(&data, &[&log, &warn], &[]);
    append(&log, &whole_log[cut_log..]);
    append(&warn, &whole_warn[cut_warn..]);
    scan_ok(&data, &[&log, &warn], &[]);
    assert_eq!(rows_per_user(&data), expected, "incremental");
}
