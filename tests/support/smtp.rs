//! The real SMTP server of the email tests: aiosmtpd on loopback (tests/support/smtp_server.py),
//! which writes each message it receives, parsed, as JSON.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The SMTP server process; killed when dropped.
pub struct Server {
    child: Child,
    /// Where it writes the messages.
    pub out: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether Python's aiosmtpd is installed (CI installs it).
pub fn have_aiosmtpd() -> bool {
    Command::new("python3").args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success())
}

/// A free port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the server, writing into `dir/received`, with smtp_server.py's `args` (TLS, AUTH, a
/// reply to refuse with).
pub fn start(dir: &Path, args: &[&str]) -> Server {
    let out = dir.join("received");
    std::fs::create_dir_all(&out).unwrap();
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg(&out)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python3 smtp_server.py");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "SMTP server did not start");
    Server { child, out, port }
}

impl Server {
    /// The messages received, in order, waiting up to 10 s for `n` of them.
    pub fn messages(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&self.out)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            if found.len() >= n || Instant::now() > deadline {
                found.sort_by_key(|p| {
                    p.file_stem().unwrap().to_string_lossy().trim_start_matches("msg-").parse::<u32>().unwrap_or(0)
                });
                return found
                    .iter()
                    .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
                    .collect();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
