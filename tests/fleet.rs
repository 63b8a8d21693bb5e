//! The fleet against a real PostgreSQL server (tests/support/postgres.rs), with the real binary
//! and the roles and GRANTs of README's "A fleet of servers": two servers shipping at once, the
//! database stopped during a scan and started again, a crash between the database's commit and
//! the local mark (simulated exactly, and by `kill -9` at random moments), a migration from the
//! previous schema version, `report --fleet` against the servers' own reports, TLS.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/smtp.rs"]
mod smtp;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use postgres::Postgres;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_maillogsentinel");

/// The SQL block after `marker` in README.md.
fn readme_sql(marker: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let at = readme.find(marker).unwrap_or_else(|| panic!("README has no {marker}"));
    let rest = &readme[at..];
    let start = rest.find("```sql\n").unwrap() + 7;
    let end = rest[start..].find("```").unwrap();
    rest[start..start + end].to_string()
}

/// A fleet database set up as README says: roles, `fleet init` as the owner, then the GRANTs.
struct Fleet {
    pg: Postgres,
    dir: tempfile::TempDir,
    sslmode: &'static str,
}

impl Fleet {
    fn new() -> Fleet {
        Fleet::on(Postgres::start(), "disable")
    }

    fn on(pg: Postgres, sslmode: &'static str) -> Fleet {
        // The database of the README's statements is made here: `mls` exists already.
        let roles = readme_sql("<!-- fleet-roles").replace("CREATE DATABASE mls OWNER mls_owner;", "");
        pg.psql("postgres", &roles);
        pg.psql("postgres", "ALTER DATABASE mls OWNER TO mls_owner");
        pg.psql("mls", "ALTER SCHEMA public OWNER TO mls_owner");
        let fleet = Fleet { pg, dir: tempfile::tempdir().unwrap(), sslmode };
        for (user, secret) in [("mls_owner", "owner-secret"), ("mls_ship", "ship-secret"), ("mls_read", "read-secret")]
        {
            std::fs::write(fleet.dir.path().join(format!("{user}.password")), format!("{secret}\n")).unwrap();
        }
        let out = fleet.run("owner", &["fleet", "init"]);
        assert!(out.status.success(), "fleet init: {}", stderr(&out));
        assert!(stdout(&out).contains("created the tables"), "{}", stdout(&out));
        fleet.pg.psql_as("mls_owner", "mls", &readme_sql("<!-- fleet-grants")).unwrap();
        fleet
    }

    /// A configuration for server `name` connecting as role `mls_{role}` (`owner`, `ship`, `read`).
    fn config(&self, name: &str, role: &str, extra: &str) -> PathBuf {
        let data = self.dir.path().join(format!("data-{name}"));
        std::fs::create_dir_all(&data).unwrap();
        let path = self.dir.path().join(format!("{name}-{role}.toml"));
        let text = format!(
            "server_name = \"{name}\"\ndata_dir = \"{}\"\ntimezone = \"UTC\"\n[fleet]\nurl = \"{}\"\npassword_file = \"{}\"\n{extra}",
            data.display(),
            self.pg.url(&format!("mls_{role}"), self.sslmode),
            self.dir.path().join(format!("mls_{role}.password")).display(),
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn run_as(&self, name: &str, role: &str, args: &[&str]) -> Output {
        Command::new(BIN).arg("--config").arg(self.config(name, role, "")).args(args).output().unwrap()
    }

    fn run(&self, role: &str, args: &[&str]) -> Output {
        self.run_as("mx1", role, args)
    }

    fn count(&self, sql: &str) -> i64 {
        self.pg.psql("mls", sql).parse().unwrap_or_else(|_| panic!("{sql}"))
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A Postfix SASL failure of `user` from `ip` on 2026-11-24 at `hh:mm:ss`.
fn failure(time: &str, ip: &str, user: &str) -> String {
    format!(
        "Nov 24 {time} mx1 postfix/submission/smtpd[4242]: warning: unknown[{ip}]: SASL LOGIN authentication failed: \
         UGFzc3dvcmQ6, sasl_username={user}\n"
    )
}

/// A Postfix SASL login of `user` from `ip`.
fn login(time: &str, ip: &str, user: &str) -> String {
    format!(
        "Nov 24 {time} mx1 postfix/submission/smtpd[4243]: 5D6E7F8091: client=unknown[{ip}], sasl_method=LOGIN, \
         sasl_username={user}\n"
    )
}

fn scan(config: &Path, log: &Path) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(["scan", "--no-dns", "--no-geo", "--year", "2026", "--log"])
        .arg(log)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn report(config: &Path, fleet: bool) -> Value {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(config).args(["report", "--day", "2026-11-24", "--format", "json", "--top", "50"]);
    if fleet {
        cmd.arg("--fleet");
    }
    json(&cmd.output().unwrap())
}

#[test]
fn two_servers_ship_at_once_and_the_fleet_report_adds_up() {
    let f = Fleet::new();
    let dir = f.dir.path();
    // mx1: the example log, and a botnet address that only fails here.
    let mut mx1 = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mail.log")).unwrap();
    mx1.push_str(&failure("11:00:00", "203.0.113.99", "carol@example.org"));
    mx1.push_str(&failure("11:00:05", "203.0.113.99", "carol@example.org"));
    // mx2: many failures, some from an address mx1 saw too, and a login from the address that
    // failed only on mx1: a compromise only the fleet can see.
    let mut mx2 = String::new();
    for i in 0..20_000u32 {
        let ip = if i % 10 == 0 {
            "198.51.100.23".to_string()
        } else {
            format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)
        };
        mx2.push_str(&failure(
            &format!("{:02}:{:02}:{:02}", 12 + i / 3600, i / 60 % 60, i % 60),
            &ip,
            &format!("user{}", i % 97),
        ));
    }
    mx2.push_str(&login("23:00:00", "203.0.113.99", "carol@example.org"));
    let (log1, log2) = (dir.join("mx1.log"), dir.join("mx2.log"));
    std::fs::write(&log1, mx1).unwrap();
    std::fs::write(&log2, mx2).unwrap();
    let (c1, c2) = (f.config("mx1", "ship", "batch = 1000\n"), f.config("mx2", "ship", "batch = 1000\n"));
    // Both at once, each in many shipments.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| scan(&c1, &log1));
        let b = s.spawn(|| scan(&c2, &log2));
        (a.join().unwrap(), b.join().unwrap())
    });
    for out in [&a, &b] {
        assert!(out.status.success(), "{}", stderr(out));
        assert!(stdout(out).contains("shipped to the fleet"), "{}", stdout(out));
        assert!(!stderr(out).contains("not shipped"), "{}", stderr(out));
    }
    // Every stored event is in the database once.
    let events = |name: &str| {
        f.count(&format!(
            "SELECT count(*) FROM mls_events e JOIN mls_servers s ON s.id = e.server WHERE s.name = '{name}'"
        ))
    };
    assert_eq!(events("mx2"), 20_001);
    assert!(events("mx1") > 20, "{}", events("mx1"));

    let own1 = report(&c1, false);
    let own2 = report(&c2, false);
    let fleet = report(&f.config("mx1", "read", ""), true);
    let total = |r: &Value, k: &str| r["totals"][k].as_u64().unwrap();
    for k in ["failed_attempts", "successful_logins", "mechanism_probes", "previous_failed_attempts"] {
        assert_eq!(total(&fleet, k), total(&own1, k) + total(&own2, k), "{k}");
    }
    // Addresses both saw count once.
    assert_eq!(total(&fleet, "unique_ips"), total(&own1, "unique_ips") + total(&own2, "unique_ips") - 1);
    let servers = fleet["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    for (s, own) in servers.iter().zip([&own1, &own2]) {
        assert_eq!(s["failed_attempts"], own["totals"]["failed_attempts"], "{s}");
        assert_eq!(s["unique_ips"], own["totals"]["unique_ips"], "{s}");
        assert_eq!(s["successful_logins"], own["totals"]["successful_logins"], "{s}");
        assert_eq!(s["backend_errors"], own["backend_outages"]["events"], "{s}");
    }
    // The example log's "Connection lost to authentication server", on mx1.
    assert_eq!(servers[0]["backend_errors"], 1);
    assert_eq!(fleet["backend_outages"]["events"], 1);
    assert_eq!(servers[0]["server"], "mx1");
    let shared = &fleet["shared_attackers"];
    assert_eq!(shared["count"], 1, "{shared}");
    assert_eq!(shared["top"][0]["ip"], "198.51.100.23");
    assert_eq!(shared["top"][0]["servers"], serde_json::json!(["mx1", "mx2"]));
    let attempts_of = |r: &Value| {
        r["top_ips"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["ip"] == "198.51.100.23")
            .map_or(0, |x| x["attempts"].as_u64().unwrap())
    };
    assert_eq!(shared["top"][0]["attempts"].as_u64().unwrap(), attempts_of(&own1) + attempts_of(&own2));
    assert_eq!(attempts_of(&own2), 2_000);
    // The login on mx2 from an address that failed on mx1 is a compromise of the fleet only.
    let flagged = |r: &Value| r["compromises"].as_array().unwrap().iter().any(|c| c["ip"] == "203.0.113.99");
    assert!(flagged(&fleet), "{}", fleet["compromises"]);
    assert!(!flagged(&own2));
    // The text report has the fleet's sections.
    let text = Command::new(BIN)
        .arg("--config")
        .arg(f.config("mx1", "read", ""))
        .args(["report", "--fleet", "--day", "2026-11-24"])
        .output()
        .unwrap();
    assert!(stdout(&text).contains("Attackers seen on several servers: 1"), "{}", stdout(&text));
    assert!(stdout(&text).contains("operational problem on the servers that logged them"), "{}", stdout(&text));
    // Emailed, from the machine that sends it, to a real SMTP server on loopback (aiosmtpd,
    // which .ci/run installs).
    let server = smtp::start(dir, &[]);
    let mail = f.config(
        "mx1",
        "read",
        &format!("[email]\nto = [\"noc@example.org\"]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\n", server.port),
    );
    let sent = Command::new(BIN)
        .arg("--config")
        .arg(&mail)
        .args(["report", "--fleet", "--day", "2026-11-24", "--send"])
        .output()
        .unwrap();
    assert!(sent.status.success(), "{}", stderr(&sent));
    assert!(stdout(&sent).contains("fleet report 2026-11-24 sent to noc@example.org"), "{}", stdout(&sent));
    let messages = server.messages(1);
    assert_eq!(messages.len(), 1);
    let subject = messages[0]["subject"].as_str().unwrap();
    let compromises = fleet["compromises"].as_array().unwrap().len();
    assert!(
        subject.contains("fleet of 2 servers") && subject.contains(&format!("{compromises} possible")),
        "{subject}"
    );
    assert_eq!(messages[0]["mail_from"], "maillogsentinel@mx1");
    // The shipper may insert, not read, change or drop.
    for sql in ["SELECT count(*) FROM mls_events", "DELETE FROM mls_events", "SELECT mls_prune(now())"] {
        let err = f.pg.psql_as("mls_ship", "mls", sql).unwrap_err();
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
}

#[test]
fn a_database_down_during_a_scan_loses_nothing_and_ships_later() {
    let f = Fleet::new();
    let dir = f.dir.path();
    let log = dir.join("mail.log");
    std::fs::write(
        &log,
        (0..500).map(|i| failure(&format!("10:{:02}:{:02}", i / 60, i % 60), "192.0.2.7", "root")).collect::<String>(),
    )
    .unwrap();
    let prom = dir.join("mls.prom");
    // A copy: `f.run` writes mx1's configuration again, without the textfile.
    let config = dir.join("mx1-metrics.toml");
    std::fs::copy(f.config("mx1", "ship", &format!("[metrics]\ntextfile = {prom:?}\n")), &config).unwrap();
    // The textfile's shipping gauges, by name.
    let gauge = |name: &str| -> Option<i64> {
        let text = std::fs::read_to_string(&prom).unwrap();
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    };
    f.pg.pg_ctl("stop");
    let out = scan(&config, &log);
    assert!(out.status.success(), "the scan succeeds: {}", stderr(&out));
    assert_eq!(gauge("maillogsentinel_fleet_backlog_events"), Some(500));
    assert_eq!(gauge("maillogsentinel_fleet_synced_timestamp_seconds"), None, "never synced");
    let warnings: Vec<&str> =
        std::str::from_utf8(&out.stderr).unwrap().lines().filter(|l| l.contains("not shipped")).collect();
    assert_eq!(warnings.len(), 1, "{}", stderr(&out));
    assert!(warnings[0].contains("500 events wait in the local store"), "{}", warnings[0]);
    assert!(!warnings[0].contains("ship-secret"));
    let status = f.run("ship", &["fleet", "status", "--format", "json"]);
    assert_eq!(status.status.code(), Some(8), "{}", stderr(&status));
    let s: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(s["backlog_events"], 500);
    assert_eq!(s["reachable"], false);
    f.pg.pg_ctl("start");
    // The next run ships what waited, although it reads nothing new.
    let before = jiff::Timestamp::now().as_second();
    let out = scan(&config, &log);
    assert!(out.status.success() && !stderr(&out).contains("not shipped"), "{}", stderr(&out));
    assert_eq!(f.count("SELECT sum(attempts) FROM mls_events"), 500);
    assert_eq!(gauge("maillogsentinel_fleet_backlog_events"), Some(0), "written again after the shipment");
    let synced = gauge("maillogsentinel_fleet_synced_timestamp_seconds").expect("synced");
    assert!((before..=jiff::Timestamp::now().as_second()).contains(&synced), "{synced}");
    let s = json(&f.run("ship", &["fleet", "status", "--format", "json"]));
    assert_eq!(s["backlog_events"], 0);
    assert_eq!(s["shipped_events"], 500);
    assert_eq!(s["schema_version"], s["build_schema_version"]);

    // Stopped while a scan ships, in shipments of 100: what the database committed stays, the
    // rest waits, and nothing is doubled when it ships.
    let big = dir.join("big.log");
    let mut text = String::new();
    for i in 0..200_000u32 {
        text.push_str(&failure(
            &format!("{:02}:{:02}:{:02}", 12 + i / 3600 % 12, i / 60 % 60, i % 60),
            &format!("10.1.{}.{}", (i >> 8) & 255, i & 255),
            "info",
        ));
    }
    std::fs::write(&big, text).unwrap();
    let config = f.config("mx1", "ship", "batch = 100\n");
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["scan", "--no-dns", "--no-geo", "--year", "2026", "--log"])
        .arg(&big)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while f.count("SELECT count(*) FROM mls_events") <= 1_000 {
        assert!(std::time::Instant::now() < deadline, "the scan never shipped");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    f.pg.pg_ctl("stop");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("events wait in the local store"), "{}", stderr(&out));
    f.pg.pg_ctl("start");
    let partial = f.count("SELECT count(*) FROM mls_events");
    assert!(partial > 1_000 && partial < 200_500, "{partial}");
    let out = f.run("ship", &["fleet", "ship"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(f.count("SELECT count(*) FROM mls_events"), 200_500);
    assert_eq!(f.count("SELECT sum(attempts) FROM mls_events"), 200_500);
}

#[test]
fn a_crash_between_the_database_commit_and_the_local_mark_stores_nothing_twice() {
    let f = Fleet::new();
    let dir = f.dir.path();
    let log = dir.join("mail.log");
    let mut text = String::new();
    for i in 0..60_000u32 {
        text.push_str(&failure(
            &format!("{:02}:{:02}:{:02}", i / 3600, i / 60 % 60, i % 60),
            &format!("10.0.{}.{}", (i >> 8) & 255, i & 255),
            "admin",
        ));
    }
    std::fs::write(&log, text).unwrap();
    // Stored without shipping first (no [fleet] url).
    let plain = dir.join("plain.toml");
    std::fs::write(&plain, format!("data_dir = \"{}\"\ntimezone = \"UTC\"\n", dir.join("data-mx1").display())).unwrap();
    std::fs::create_dir_all(dir.join("data-mx1")).unwrap();
    assert!(scan(&plain, &log).status.success());
    // kill -9 at random moments of shipments of 500 events; the first kill waits for a first
    // commit, which a loaded machine may not reach within the others' delays.
    let config = f.config("mx1", "ship", "batch = 500\n");
    for round in 0..6u64 {
        let mut child = Command::new(BIN).arg("--config").arg(&config).args(["fleet", "ship"]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(40 + round * 37));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while round == 0 && f.count("SELECT count(*) FROM mls_events") == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    // Exactly the state a crash after the database's commit leaves: the mark not moved.
    let store = rusqlite::Connection::open(dir.join("data-mx1/maillogsentinel.sqlite3")).unwrap();
    let mark: i64 =
        store.query_row("SELECT value FROM meta WHERE key = 'fleet_shipped_block'", [], |r| r.get(0)).unwrap_or(0);
    let before = f.count("SELECT count(*) FROM mls_events");
    assert!(before > 0, "some shipments were committed before the kills");
    store.execute("UPDATE meta SET value = 0 WHERE key = 'fleet_shipped_block'", []).unwrap();
    drop(store);
    let out = f.run("ship", &["fleet", "ship"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("shipped 60,000 events"), "{} (mark was {mark})", stdout(&out));
    assert_eq!(f.count("SELECT count(*) FROM mls_events"), 60_000);
    assert_eq!(f.count("SELECT count(DISTINCT (source, \"offset\")) FROM mls_events"), 60_000);
    // The server's count is of new events only.
    assert_eq!(f.count("SELECT shipped_events FROM mls_servers"), 60_000);
    let again = f.run("ship", &["fleet", "ship"]);
    assert!(stdout(&again).contains("shipped 0 events"), "{}", stdout(&again));
}

#[test]
fn fleet_init_migrates_a_database_of_the_previous_schema_version() {
    let pg = Postgres::start();
    // Version 1 as the previous build left it, with a shipment of its own.
    let v1 = maillogsentinel::store::postgres::schema::migration_sql(1, "public").unwrap();
    pg.psql("mls", &v1);
    pg.psql(
        "mls",
        "INSERT INTO mls_meta VALUES ('schema_version', '1');
         SELECT mls_ship_begin('old', ARRAY['2026-11-24 08:00+00'::timestamptz]);
         INSERT INTO mls_events VALUES (1, 42, 0, '2026-11-24 08:00+00', 1, 2, 3, '192.0.2.55', 'old', 'dovecot', 'bob', NULL, NULL);",
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "server_name = \"mx1\"\ndata_dir = \"{}\"\ntimezone = \"UTC\"\n[fleet]\nurl = \"{}\"\n",
            dir.path().display(),
            pg.url("mls_admin", "disable")
        ),
    )
    .unwrap();
    // This build refuses it and says what to run.
    let status = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["report", "--fleet", "--day", "2026-11-24"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(8));
    assert!(
        stderr(&status).contains("schema version 1") && stderr(&status).contains("fleet init"),
        "{}",
        stderr(&status)
    );
    let out = Command::new(BIN).arg("--config").arg(&config).args(["fleet", "init"]).output().unwrap();
    assert!(stdout(&out).contains("from schema version 1 to 2"), "{}{}", stdout(&out), stderr(&out));
    // The old events are kept and named; new shipments go beside them.
    assert_eq!(
        pg.psql("mls", "SELECT server || ' ' || kind || ' ' || reason FROM mls_events_named"),
        "old failure password mismatch"
    );
    let log = dir.path().join("mail.log");
    std::fs::write(&log, failure("09:00:00", "192.0.2.55", "bob")).unwrap();
    assert!(scan(&config, &log).status.success());
    let r = report(&config, true);
    assert_eq!(r["totals"]["failed_attempts"], 4);
    assert!(
        r["top_ips"][0]["first_seen"].as_str().is_some_and(|s| s.starts_with("2026-11-24T08:00")),
        "{}",
        r["top_ips"]
    );
    let again = Command::new(BIN).arg("--config").arg(&config).args(["fleet", "init"]).output().unwrap();
    assert!(stdout(&again).contains("nothing to do"), "{}", stdout(&again));
}

#[test]
fn verify_full_checks_the_database_certificate() {
    let certs = tempfile::tempdir().unwrap();
    let d = certs.path();
    let sh = |script: &str| {
        let out = Command::new("sh").arg("-c").arg(script).current_dir(d).output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    };
    for ca in ["ca", "other"] {
        sh(&format!(
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout {ca}.key -out {ca}.pem -days 2 -subj /CN={ca}-authority 2>/dev/null"
        ));
    }
    sh("openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null \
        && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext \
        && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null");
    let pg = Postgres::start_with(&[]);
    for f in ["server.pem", "server.key"] {
        let text = std::fs::read_to_string(d.join(f)).unwrap();
        pg.write_owned(&pg.data().join(f), &text);
    }
    let mut perms = std::fs::metadata(pg.data().join("server.key")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(pg.data().join("server.key"), perms).unwrap();
    for setting in ["ssl = on", "ssl_cert_file = 'server.pem'", "ssl_key_file = 'server.key'"] {
        pg.psql("postgres", &format!("ALTER SYSTEM SET {setting}"));
    }
    // Only TLS for the roles that give a password.
    pg.write_owned(
        &pg.data().join("pg_hba.conf"),
        "local all all trust\nhost all mls_admin 127.0.0.1/32 trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
    );
    pg.pg_ctl("restart");
    let f = Fleet::on(pg, "require");
    let status = |sslmode: &str, ca: &str| {
        let url = f.pg.url("mls_ship", sslmode);
        let extra = if ca.is_empty() { String::new() } else { format!("ca_file = \"{}\"\n", d.join(ca).display()) };
        let config = f.dir.path().join("tls.toml");
        std::fs::write(
            &config,
            format!(
                "server_name = \"mx1\"\ndata_dir = \"{}\"\n[fleet]\nurl = \"{url}\"\npassword_file = \"{}\"\n{extra}",
                f.dir.path().display(),
                f.dir.path().join("mls_ship.password").display()
            ),
        )
        .unwrap();
        Command::new(BIN).arg("--config").arg(&config).args(["fleet", "status"]).output().unwrap()
    };
    let ok = status("verify-full", "ca.pem");
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("sslmode=verify-full"));
    let wrong = status("verify-full", "other.pem");
    assert_eq!(wrong.status.code(), Some(8));
    assert!(stderr(&wrong).to_lowercase().contains("certificate"), "{}", stderr(&wrong));
    assert!(status("verify-ca", "ca.pem").status.success());
    assert_eq!(status("verify-ca", "other.pem").status.code(), Some(8));
    // `require` encrypts without checking; `disable` is refused by this server's hostssl rule.
    assert!(status("require", "").status.success());
    let plain = status("disable", "");
    assert_eq!(plain.status.code(), Some(8));
    for out in [&ok, &wrong, &plain] {
        assert!(!stdout(out).contains("ship-secret") && !stderr(out).contains("ship-secret"));
    }
}

#[test]
fn the_fleet_report_is_sent_as_a_servers_own_report_is() {
    let f = Fleet::new();
    let dir = f.dir.path();
    let email =
        |port: u16| format!("[email]\nto = [\"noc@example.org\"]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n");
    let run = |config: &Path, args: &[&str]| Command::new(BIN).arg("--config").arg(config).args(args).output().unwrap();
    let day = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date().yesterday().unwrap();
    let (day, before) = (day.to_string(), day.checked_sub(jiff::ToSpan::days(2)).unwrap().to_string());
    // A machine that only sends the fleet's report: its data directory has no store yet.
    let refusing = smtp::start(dir, &["--reject", "451"]);
    let config = f.config("reporter", "read", &email(refusing.port));
    let data = dir.join("data-reporter");
    let out = run(&config, &["report", "--fleet", "--send", "--day", &before]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("fleet report {before} not sent")), "{err}");
    assert!(err.contains("the next scheduled `report --fleet --send` (without --day/--since) sends it again"), "{err}");
    let kept = data.join(format!("reports/unsent/fleet-report-{before}.eml"));
    assert!(kept.exists(), "the message is kept");
    assert!(data.join("maillogsentinel.sqlite3").exists(), "the record of sends is kept in a new store");
    drop(refusing);
    // The scheduled run sends the failed day, then yesterday; the days between were never due.
    let server = smtp::start(dir, &[]);
    let config = f.config("reporter", "read", &email(server.port));
    let out = run(&config, &["report", "--fleet", "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("fleet report {before} sent to noc@example.org")), "{}", stdout(&out));
    assert!(stdout(&out).contains(&format!("fleet report {day} sent to noc@example.org")), "{}", stdout(&out));
    assert!(!kept.exists(), "sent, so no longer kept");
    let subjects = |n: usize| -> Vec<String> {
        server.messages(n).iter().map(|m| m["subject"].as_str().unwrap().to_string()).collect()
    };
    let sent = subjects(2);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].contains(&before) && sent[1].contains(&day) && sent[1].contains("fleet of 0 servers"), "{sent:?}");
    // Sent once: the next scheduled run says so, --resend sends it again.
    let out = run(&config, &["report", "--fleet", "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("fleet report {day} was already sent on")), "{}", stdout(&out));
    let out = run(&config, &["report", "--fleet", "--send", "--resend", "--day", &day]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(subjects(3).len(), 3, "one more message, for --resend only");
    // The machine's own report keeps its own record: its yesterday was never sent.
    let out = run(&config, &["report", "--send"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("report {day} sent to")), "{}", stdout(&out));
    assert!(!stdout(&out).contains("fleet"), "{}", stdout(&out));
    // Without a data directory there is nowhere to keep that record: refused before any work.
    let text = std::fs::read_to_string(&config).unwrap().replace("data-reporter", "missing");
    let missing = dir.join("missing.toml");
    std::fs::write(&missing, text).unwrap();
    let out = run(&missing, &["report", "--fleet", "--send"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not exist: it keeps which fleet reports this machine sent"),
        "{}",
        stderr(&out)
    );
    assert_eq!(subjects(4).len(), 4);
}

#[test]
fn watch_ships_as_it_stores_and_prune_drops_whole_months() {
    let f = Fleet::new();
    let dir = f.dir.path();
    let log = dir.join("mail.log");
    std::fs::write(&log, failure("10:00:00", "192.0.2.8", "root")).unwrap();
    let config = f.config("mx1", "ship", "");
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["watch", "--no-dns", "--no-geo", "--log"])
        .arg(&log)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |n: i64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let got = f.pg.psql("mls", "SELECT coalesce(sum(attempts), 0) FROM mls_events").parse::<i64>().unwrap();
            if got == n {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{got} events shipped, expected {n}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    wait_for(1);
    let mut more = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut more, failure("10:00:05", "192.0.2.9", "admin").as_bytes()).unwrap();
    wait_for(2);
    // The database stops while `watch` runs: the pass that cannot ship keeps its events, and
    // the first pass after the database is back ships them with its own.
    f.pg.pg_ctl("stop");
    std::io::Write::write_all(&mut more, failure("10:00:10", "192.0.2.10", "admin").as_bytes()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    f.pg.pg_ctl("start");
    std::io::Write::write_all(&mut more, failure("10:00:15", "192.0.2.11", "admin").as_bytes()).unwrap();
    wait_for(4);
    // SAFETY: kill with a pid this test spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    // November's partition ends on December 1st: older than a day from now (December 2026 or
    // later), so it goes, as a whole table.
    let out = f.run("owner", &["fleet", "prune", "--older-than", "1d"]);
    assert!(stdout(&out).contains("mls_events_2026_11"), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(f.count("SELECT count(*) FROM mls_events"), 0);
    assert_eq!(f.pg.psql("mls", "SELECT to_regclass('mls_events_2026_11') IS NULL"), "t");
}

#[test]
fn a_fleet_report_reads_one_state_of_the_database_while_servers_ship() {
    use maillogsentinel::report::stats::Source;
    use maillogsentinel::store::postgres::FleetDb;
    let f = Fleet::new();
    let dir = f.dir.path();
    let ship = |name: &str, ips: &[&str]| {
        let log = dir.join(format!("{name}.log"));
        let lines: String = ips.iter().map(|ip| failure("10:00:00", ip, "root")).collect();
        std::fs::write(&log, lines).unwrap();
        let out = scan(&f.config(name, "ship", ""), &log);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    ship("mx1", &["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
    let config = maillogsentinel::config::Config::load(Some(&f.config("mx1", "read", ""))).unwrap();
    let db = FleetDb::connect(&config.fleet).unwrap();
    let count = || {
        let mut n = 0;
        db.events_in(0, 4_000_000_000, |_| n += 1).unwrap();
        n
    };
    let held = db.hold().unwrap();
    assert_eq!(count(), 3);
    // A second hold within the first (a report inside another) keeps the first's state.
    drop(db.hold().unwrap());
    ship("mx2", &["198.51.100.1", "198.51.100.2"]);
    assert_eq!(f.count("SELECT count(*) FROM mls_events"), 5);
    assert_eq!(count(), 3, "the shipment committed after the hold began is not seen");
    drop(held);
    assert_eq!(count(), 5);
    assert_eq!(db.servers().unwrap().iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["mx1", "mx2"]);
}
