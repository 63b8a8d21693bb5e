//! A real PostgreSQL server for the tests: Debian's `postgresql` binaries (`initdb`, `pg_ctl`,
//! `psql`), a cluster in a temporary directory, listening on a free loopback port and on a Unix
//! socket in that directory. As root (CI), the cluster runs as the `postgres` user the package
//! created, since PostgreSQL refuses to run as root.
//!
//! `mls_admin` is the cluster's superuser, trusted on loopback; every other role must give its
//! password (SCRAM), so that the tests see the password files at work.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running cluster; stopped (immediately) when dropped.
pub struct Postgres {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

/// The directory of the PostgreSQL server binaries: on PATH, else Debian's newest
/// `/usr/lib/postgresql/N/bin`.
fn bin_dir() -> PathBuf {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            if ["pg_ctl", "initdb", "psql"].iter().all(|b| dir.join(b).exists()) {
                return dir;
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|b| b.join("pg_ctl").exists()).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().expect(
        "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: `apt-get install postgresql` (.ci/run does)",
    )
}

fn is_root() -> bool {
    // SAFETY: geteuid takes no argument and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Postgres {
    /// initdb, configure, start.
    pub fn start() -> Postgres {
        Postgres::start_with(&[])
    }

    /// As [`Postgres::start`], with extra `postgresql.conf` lines.
    pub fn start_with(conf: &[&str]) -> Postgres {
        let dir = tempfile::tempdir().unwrap();
        let pg = Postgres { port: free_port(), bin: bin_dir(), dir };
        if is_root() {
            let ok = Command::new("chown").arg("postgres").arg(pg.dir.path()).status().unwrap().success();
            assert!(ok, "chown postgres {}", pg.dir.path().display());
        }
        let out = pg.as_owner(
            pg.bin.join("initdb"),
            &[
                "-D",
                pg.data().to_str().unwrap(),
                "-U",
                "mls_admin",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let hba =
            "local all all trust\nhost all mls_admin 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
        pg.write_owned(&pg.data().join("pg_hba.conf"), hba);
        let mut settings = format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\nfsync = off\n\
             full_page_writes = off\nsynchronous_commit = off\n",
            pg.port,
            pg.dir.path().display()
        );
        for line in conf {
            settings.push_str(line);
            settings.push('\n');
        }
        let conf_path = pg.data().join("postgresql.conf");
        let mut all = std::fs::read_to_string(&conf_path).unwrap();
        all.push_str(&settings);
        pg.write_owned(&conf_path, &all);
        pg.pg_ctl("start");
        pg.psql("postgres", "CREATE DATABASE mls");
        pg
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes `path` as the cluster's owner would own it.
    pub fn write_owned(&self, path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
        if is_root() {
            assert!(Command::new("chown").arg("postgres").arg(path).status().unwrap().success());
        }
    }

    fn as_owner(&self, program: PathBuf, args: &[&str]) -> Output {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args).current_dir(self.dir.path()).output().unwrap()
    }

    /// `pg_ctl start|stop|restart`, waiting for it.
    pub fn pg_ctl(&self, action: &str) {
        let log = self.dir.path().join("server.log");
        let data = self.data();
        let mut args = vec!["-D", data.to_str().unwrap(), "-w", "-l", log.to_str().unwrap()];
        if action != "start" {
            args.extend(["-m", "fast"]);
        }
        args.push(action);
        let out = self.as_owner(self.bin.join("pg_ctl"), &args);
        assert!(
            out.status.success(),
            "pg_ctl {action}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Runs `sql` in `db` as the superuser (on loopback, trusted); its output, unaligned.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.psql_as("mls_admin", db, sql).unwrap_or_else(|e| panic!("psql {sql}: {e}"))
    }

    /// Runs `sql` in `db` as `user` through the Unix socket (trusted); the output, or the error.
    pub fn psql_as(&self, user: &str, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-U", user, "-d", db, "-c", sql])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    }

    /// A URL of `user` on loopback.
    pub fn url(&self, user: &str, sslmode: &str) -> String {
        format!("postgresql://{user}@127.0.0.1:{}/mls?sslmode={sslmode}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.as_owner(self.bin.join("pg_ctl"), &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"]);
    }
}
