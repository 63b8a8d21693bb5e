//! `report --send` against a real SMTP server on loopback (aiosmtpd, tests/support/smtp_server.py):
//! the received message is parsed back and its parts, attachment and numbers checked.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

#[path = "support/fixture.rs"]
mod fixture;
#[path = "support/smtp.rs"]
mod smtp;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

fn email_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    fixture::fill(&dir.join("data"), true);
    fixture::config(
        dir,
        &format!(
            "[email]\nto = [\"admin@example.org\", \"sec@example.org\"]\nfrom = \"sentinel@mx1.example.org\"\n\
             smtp_host = \"localhost\"\nsmtp_port = {port}\ntimeout_secs = 10\n{extra}"
        ),
    )
}

fn part<'a>(msg: &'a Value, content_type: &str) -> &'a Value {
    msg["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in {msg:#}"))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_report_is_sent_as_text_html_and_csv() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = smtp::start(dir.path(), &[]);
    let config = email_config(dir.path(), server.port, "");
    let day = fixture::day().to_string();
    let out = fixture::run(&config, &["report", "--day", &day, "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let msgs = server.messages(1);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(
        m["subject"],
        format!("[MailLogSentinel] mx1: 15 failed logins, 2 possible compromises ({day}), auth backend errors")
    );
    assert_eq!(m["mail_from"], "sentinel@mx1.example.org");
    let id = m["message_id"].as_str().unwrap_or_else(|| panic!("no Message-ID header: {m:#}"));
    assert!(id.starts_with('<') && id.ends_with("@mx1.example.org>"), "Message-ID in the sender's domain: {id}");
    assert!(m["date"].as_str().is_some_and(|d| !d.is_empty()), "a Date header: {m:#}");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["admin@example.org", "sec@example.org"]));
    assert_eq!(m["content_type"], "multipart/mixed");
    part(m, "multipart/alternative");
    let text = part(m, "text/plain")["content"].as_str().unwrap();
    assert!(text.contains("Possible compromises: 2") && text.contains("Failed login attempts"), "{text}");
    let html = part(m, "text/html")["content"].as_str().unwrap();
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "HTML is escaped");
    let csv = part(m, "text/csv");
    assert_eq!(csv["filename"], format!("intrusions-{day}.csv"));
    let rows: Vec<&str> = csv["content"].as_str().unwrap().lines().collect();
    assert!(rows[0].starts_with("timestamp,server,service,client_ip,username"), "{rows:?}");
    assert_eq!(rows.len() as u64, 1 + fixture::FAILED, "one row per failed attempt: {rows:?}");
    assert!(rows.iter().any(|r| r.contains("203.0.113.5") && r.contains("scanner.example.net") && r.contains(",CN,")));
    // Exactly reports/intrusions.csv (header, quoting, columns) restricted to the day.
    let file = std::fs::read_to_string(dir.path().join("data/reports/intrusions.csv")).unwrap();
    let day_rows: Vec<&str> =
        file.lines().enumerate().filter(|(i, l)| *i == 0 || l.starts_with(&day)).map(|(_, l)| l).collect();
    assert_eq!(rows, day_rows, "the attachment is intrusions.csv's header and rows of the day");

    // The last scan missed something: the subject says so, not only the body.
    let store = maillogsentinel::store::Store::open(&dir.path().join("data").join(maillogsentinel::store::STORE_FILE));
    store.unwrap().record_scan(1).unwrap();
    let out = fixture::run(&config, &["report", "--day", &day, "--send", "--resend"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = &server.messages(2)[1];
    assert!(m["subject"].as_str().unwrap().ends_with(", auth backend errors, may be incomplete"), "{}", m["subject"]);
    let text = part(m, "text/plain")["content"].as_str().unwrap();
    assert!(text.contains("WARNING: this report may be incomplete") && text.contains("(1 problem)"), "{text}");
}

#[test]
fn a_large_csv_is_gzipped() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = smtp::start(dir.path(), &[]);
    let config = email_config(dir.path(), server.port, "gzip_over_bytes = 100\n");
    let out = fixture::run(&config, &["report", "--day", &fixture::day().to_string(), "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = &server.messages(1)[0];
    let gz = part(m, "application/gzip");
    assert!(gz["filename"].as_str().unwrap().ends_with(".csv.gz"));
    assert_eq!(gz["content"].as_str().unwrap().lines().count() as u64, 1 + fixture::FAILED);
}

/// Makes a CA and a `localhost` certificate signed by it with openssl.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Test CA",
    ]);
    run(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost"]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"))
}

#[test]
fn starttls_with_a_private_ca_and_auth() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let server = smtp::start(
        dir.path(),
        &["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap(), "--starttls", "--auth", "reporter:s3cret"],
    );
    std::fs::write(dir.path().join("smtp.pass"), "s3cret\n").unwrap();
    let extra = format!(
        "security = \"starttls\"\nusername = \"reporter\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
        dir.path().join("smtp.pass").display(),
        ca.display()
    );
    let config = email_config(dir.path(), server.port, &extra);
    let day = fixture::day().to_string();
    let out = fixture::run(&config, &["report", "--day", &day, "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = &server.messages(1)[0];
    assert_eq!(m["tls"], true);
    assert_eq!(m["auth_user"], "reporter");

    // Without the CA, the self-signed chain is refused: nothing is sent in clear instead.
    let config = fixture::config(
        dir.path(),
        &format!(
            "[email]\nto = [\"a@example.org\"]\nsmtp_port = {}\nsecurity = \"starttls\"\nusername = \"reporter\"\n\
             password = \"s3cret\"\ntimeout_secs = 10\n",
            server.port
        ),
    );
    let out = fixture::run(&config, &["report", "--day", &day, "--send", "--resend"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert_eq!(server.messages(1).len(), 1);

    // A wrong password is refused with the server's reply.
    let config = email_config(
        dir.path(),
        server.port,
        &extra.replace("password_file", "x_unused").replace("x_unused", "password_file"),
    );
    std::fs::write(dir.path().join("smtp.pass"), "wrong\n").unwrap();
    let out = fixture::run(&config, &["report", "--day", &day, "--send", "--resend"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(stderr(&out).contains("535"), "the SMTP reply is shown: {}", stderr(&out));
}

#[test]
fn implicit_tls() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let server = smtp::start(dir.path(), &["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap(), "--tls"]);
    let config =
        email_config(dir.path(), server.port, &format!("security = \"tls\"\nca_file = \"{}\"\n", ca.display()));
    let out = fixture::run(&config, &["report", "--day", &fixture::day().to_string(), "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.messages(1)[0]["tls"], true);
}

#[test]
fn a_failed_send_is_kept_reported_and_sent_by_the_next_scheduled_run() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let refusing = smtp::start(dir.path(), &["--reject", "451"]);
    let config = email_config(dir.path(), refusing.port, "");
    let day = fixture::day();
    let before = day.yesterday().unwrap().to_string();
    let out = fixture::run(&config, &["report", "--day", &before, "--send"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("451") && err.contains("Test server says no"), "the SMTP reply is shown: {err}");
    let kept = dir.path().join(format!("data/reports/unsent/report-{before}.eml"));
    let eml = std::fs::read_to_string(&kept).unwrap_or_else(|e| panic!("{}: {e}; stderr: {err}", kept.display()));
    assert!(eml.contains("Subject: [MailLogSentinel] mx1: 4 failed logins"), "{eml}");
    // The message holds the report: for the service's group, not every local user.
    let mode = |p: &std::path::Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777
    };
    assert_eq!((mode(&kept), mode(kept.parent().unwrap())), (0o640, 0o750));
    drop(refusing);

    // The scheduled run (no --day) sends yesterday and the day that failed, oldest first.
    let server = smtp::start(dir.path(), &[]);
    let config = email_config(dir.path(), server.port, "");
    let out = fixture::run(&config, &["report", "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let msgs = server.messages(2);
    let subjects: Vec<&str> = msgs.iter().map(|m| m["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects[0].ends_with(&format!("({before})")), "{subjects:?}");
    assert!(subjects[1].contains(&format!("({day})")), "{subjects:?}");
    assert!(!kept.exists(), "the kept message is removed once its day is sent: {}", kept.display());
    // Once sent, a day is not sent again, the scheduled day included.
    let out = fixture::run(&config, &["report", "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("report {day} was already sent")), "{}", stdout(&out));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.messages(3).len(), 2);
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_day_already_sent_is_not_sent_again_unless_resent() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = smtp::start(dir.path(), &[]);
    let config = email_config(dir.path(), server.port, "");
    let day = fixture::day().to_string();
    let out = fixture::run(&config, &["report", "--send", "--day", &day]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.messages(1).len(), 1);

    // The same day again, by --day or as the scheduled run's yesterday: said, not sent, exit 0.
    for args in [&["report", "--send", "--day", &day][..], &["report", "--send"]] {
        let out = fixture::run(&config, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let said = stdout(&out);
        assert!(said.contains(&format!("report {day} was already sent on ")), "{said}");
        assert!(said.contains("to admin@example.org, sec@example.org"), "{said}");
        assert!(said.contains("--resend"), "{said}");
        assert!(!said.contains(" sent to "), "{said}");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.messages(2).len(), 1, "nothing was sent again");
    // The scheduled run that skipped its day still counts as the schedule running that day.
    let store = maillogsentinel::store::Store::open(&dir.path().join("data/maillogsentinel.sqlite3")).unwrap();
    assert_eq!(store.sent_log().unwrap().first_scheduled_day().unwrap(), Some(day.clone()));
    drop(store);

    // --resend sends it again, and records it again.
    let out = fixture::run(&config, &["report", "--send", "--resend"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("report {day} sent to admin@example.org")), "{}", stdout(&out));
    assert_eq!(subject_days(&server.messages(2)), [day.clone(), day.clone()]);
    let out = fixture::run(&config, &["report", "--send", "--day", &day]);
    assert!(stdout(&out).contains("already sent"), "{}", stdout(&out));

    // A --since period ends when it is asked for: never the same, always sent.
    for n in 3..=4 {
        let out = fixture::run(&config, &["report", "--send", "--since", "2d"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(server.messages(n).len(), n);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.messages(5).len(), 4);

    // --resend means nothing without --send.
    let out = fixture::run(&config, &["report", "--resend"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// Days of the subjects of `msgs`, in order: the text between the last parentheses.
fn subject_days(msgs: &[Value]) -> Vec<String> {
    msgs.iter()
        .map(|m| {
            let s = m["subject"].as_str().unwrap();
            let open = s.rfind('(').unwrap();
            s[open + 1..open + 11].to_string()
        })
        .collect()
}

#[test]
fn a_manual_send_does_not_make_the_next_scheduled_run_send_the_days_since() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = smtp::start(dir.path(), &[]);
    let config = email_config(dir.path(), server.port, "");
    let day = fixture::day();
    let old = day.checked_sub(jiff::ToSpan::days(17)).unwrap().to_string();
    let out = fixture::run(&config, &["report", "--send", "--day", &old]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(subject_days(&server.messages(1)), std::slice::from_ref(&old));
    let out = fixture::run(&config, &["report", "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(subject_days(&server.messages(3)), [old, day.to_string()], "only the scheduled day is sent");
}

#[test]
fn days_missed_after_the_first_scheduled_send_are_caught_up() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = smtp::start(dir.path(), &[]);
    let config = email_config(dir.path(), server.port, "");
    let day = fixture::day();
    let back = |n: i64| day.checked_sub(jiff::ToSpan::days(n)).unwrap().to_string();
    {
        // As left by earlier runs: a scheduled send 4 days back; 3 and 2 days back missed (the
        // machine was off); 1 day back sent by hand; 10 days back sent by hand, before the schedule.
        use maillogsentinel::store::sends::{SendState, Trigger};
        let store = maillogsentinel::store::Store::open(&dir.path().join("data/maillogsentinel.sqlite3")).unwrap();
        let log = store.sent_log().unwrap();
        log.record(&back(10), &SendState::Sent, Trigger::Manual).unwrap();
        log.record(&back(4), &SendState::Sent, Trigger::Scheduled).unwrap();
        log.record(&back(1), &SendState::Sent, Trigger::Manual).unwrap();
    }
    let out = fixture::run(&config, &["report", "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(subject_days(&server.messages(4)), [back(3), back(2), day.to_string()]);
}

#[test]
fn periods_left_untried_after_a_failure_are_recorded_as_failed() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    use maillogsentinel::store::sends::SendState;
    let dir = tempfile::tempdir().unwrap();
    let refusing = smtp::start(dir.path(), &["--reject", "451"]);
    let config = email_config(dir.path(), refusing.port, "");
    let day = fixture::day().to_string();
    let before = fixture::day().yesterday().unwrap().to_string();
    let out = fixture::run(&config, &["report", "--send", "--day", &before]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    // The scheduled run retries `before` first; it fails, and yesterday is not tried.
    let out = fixture::run(&config, &["report", "--send"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("report {before} not sent")), "{err}");
    assert!(err.contains(&format!("report {day} not tried")), "{err}");
    let store = maillogsentinel::store::Store::open(&dir.path().join("data/maillogsentinel.sqlite3")).unwrap();
    let log = store.sent_log().unwrap();
    assert!(matches!(log.state(&day).unwrap(), Some(SendState::Failed(_))), "so that a later run catches it up");
    assert_eq!(log.first_scheduled_day().unwrap(), Some(day), "it was the scheduled run's day");
}

#[test]
fn a_failed_day_outside_the_catch_up_window_says_how_to_send_it() {
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let refusing = smtp::start(dir.path(), &["--reject", "451"]);
    let config = email_config(dir.path(), refusing.port, "[report]\ncatch_up_days = 3\n");
    let day = fixture::day();
    let old = day.checked_sub(jiff::ToSpan::days(5)).unwrap().to_string();
    let out = fixture::run(&config, &["report", "--send", "--day", &old]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("will not be sent again automatically"), "{err}");
    assert!(err.contains(&format!("report --send --day {old}")), "{err}");
    assert!(!err.contains("sends it again"), "{err}");
    // Within the window: the scheduled run will send it.
    let recent = day.checked_sub(jiff::ToSpan::days(2)).unwrap().to_string();
    let out = fixture::run(&config, &["report", "--send", "--day", &recent]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("the next scheduled `report --send` (without --day/--since) sends it again"));
    drop(refusing);
    // And so it does; the old day is not sent, and its kept message stays.
    let server = smtp::start(dir.path(), &[]);
    let config = email_config(dir.path(), server.port, "[report]\ncatch_up_days = 3\n");
    let out = fixture::run(&config, &["report", "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(subject_days(&server.messages(3)), [recent.clone(), day.to_string()]);
    assert!(dir.path().join(format!("data/reports/unsent/report-{old}.eml")).exists());
    assert!(!dir.path().join(format!("data/reports/unsent/report-{recent}.eml")).exists());
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// Every file and directory under `dir` with the owner `uid` other than `uid`.
fn not_owned_by(dir: &Path, uid: u32) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.uid() != uid {
            out.push(path.clone());
        }
        if meta.is_dir() {
            out.extend(not_owned_by(&path, uid));
        }
    }
    out
}

#[test]
fn a_send_as_root_leaves_the_data_directory_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success());
    if !fixture::require("aiosmtpd", smtp::have_aiosmtpd(), "pip install aiosmtpd")
        || !fixture::require("setpriv", setpriv, "apt-get install util-linux")
        || !fixture::require(
            "root (to send as root into nobody's data directory)",
            running_as_root(),
            "run the tests as root",
        )
    {
        return;
    }
    const NOBODY: u32 = 65534;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let refusing = smtp::start(dir.path(), &["--reject", "451"]);
    let config = email_config(dir.path(), refusing.port, "");
    let data = dir.path().join("data");
    let chown = Command::new("chown").args(["-R", "65534:65534"]).arg(&data).status().unwrap();
    assert!(chown.success());
    // Root's failed send creates reports/unsent/ and the kept message: nobody's, like the rest.
    let out = fixture::run(&config, &["report", "--send"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let kept = data.join(format!("reports/unsent/report-{}.eml", fixture::day()));
    assert!(kept.exists(), "{}", stderr(&out));
    assert_eq!(not_owned_by(&data, NOBODY), Vec::<PathBuf>::new(), "files left to root in the data directory");
    let refusing_port = refusing.port;
    drop(refusing);
    // So the service user's next scheduled send works, and removes the kept message.
    let server = smtp::start(dir.path(), &[]);
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(&format!("smtp_port = {}", refusing_port), &format!("smtp_port = {}", server.port));
    std::fs::write(&config, text).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_maillogsentinel"))
        .arg("--config")
        .arg(&config)
        .args(["report", "--send"])
        .env_remove("MAILLOGSENTINEL_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(subject_days(&server.messages(1)), [fixture::day().to_string()]);
    let port = server.port;
    assert!(!kept.exists(), "the kept message is removed once sent");
    drop(server);
    // A reports/unsent/ left to root by an older build: the error says what to run.
    let unsent = data.join("reports/unsent");
    std::os::unix::fs::chown(&unsent, Some(0), Some(0)).unwrap();
    let refusing = smtp::start(dir.path(), &["--reject", "451"]);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace(&format!("smtp_port = {}", port), &format!("smtp_port = {}", refusing.port)))
        .unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_maillogsentinel"))
        .arg("--config")
        .arg(&config)
        .args(["report", "--send", "--resend"])
        .env_remove("MAILLOGSENTINEL_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let err = stderr(&out);
    let fix = format!("chown -R --reference={} {}", data.display(), unsent.display());
    assert!(err.contains("Permission denied") && err.contains(&fix), "{err}");
}

#[test]
fn a_server_that_stays_silent_is_reported_as_a_timeout() {
    // Accepts the connection and never says a word (no greeting).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let conn = listener.accept();
        std::thread::sleep(Duration::from_secs(5));
        drop(conn);
    });
    let dir = tempfile::tempdir().unwrap();
    let config = email_config(dir.path(), port, "").with_file_name("silent.toml");
    let text = std::fs::read_to_string(dir.path().join("config.toml"))
        .unwrap()
        .replace("timeout_secs = 10", "timeout_secs = 1");
    std::fs::write(&config, text).unwrap();
    let started = Instant::now();
    let out = fixture::run(&config, &["report", "--day", &fixture::day().to_string(), "--send"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("timed out after 1 s"), "{err}");
    assert!(!err.contains("os error 11") && !err.contains("temporarily unavailable"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "the timeout applies: {:?}", started.elapsed());
    holder.join().unwrap();
}

#[test]
fn sendmail_transport_pipes_to_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    // A stand-in MTA that records its arguments and the message.
    let fake = dir.path().join("sendmail");
    let log = dir.path().join("sendmail.out");
    std::fs::write(&fake, format!("#!/bin/sh\necho \"$@\" > {0}.args\ncat > {0}\n", log.display())).unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&fake).unwrap().permissions(), 0o755);
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    fixture::fill(&dir.path().join("data"), false);
    let config = fixture::config(
        dir.path(),
        &format!(
            "[email]\nto = [\"admin@example.org\"]\ntransport = \"sendmail\"\nsendmail_path = \"{}\"\n",
            fake.display()
        ),
    );
    let out = fixture::run(&config, &["report", "--day", &fixture::day().to_string(), "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let msg = std::fs::read_to_string(&log).unwrap();
    assert!(msg.contains("Subject: [MailLogSentinel] mx1: 15 failed logins, 1 possible compromise"), "{msg}");
    assert!(msg.contains("multipart/alternative"));
    let args = std::fs::read_to_string(format!("{}.args", log.display())).unwrap();
    assert!(args.contains("-i") && args.contains("admin@example.org"), "{args}");
}
