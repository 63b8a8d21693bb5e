//! A running `watch` for the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// A running `watch`, killed if the test ends without stopping it.
pub struct Watch {
    /// The process.
    pub child: Child,
    /// Where its standard error goes.
    pub stderr: PathBuf,
}

impl Watch {
    /// Starts `watch` into `data` with `args` (logs or `--config`), in UTC, without the network.
    pub fn start(data: &Path, args: &[&std::ffi::OsStr]) -> Watch {
        let stderr = data.with_extension("stderr");
        let child = command()
            .arg("watch")
            .arg("--data-dir")
            .arg(data)
            .args(["--timezone", "UTC", "--no-dns", "--no-geo"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start watch");
        let watch = Watch { child, stderr };
        // Its first pass has read what was there once the CSV exists.
        watch.wait_for("first pass", || data.join("reports/intrusions.csv").exists());
        watch
    }

    pub fn logs(data: &Path, logs: &[&Path]) -> Watch {
        let args: Vec<&std::ffi::OsStr> =
            logs.iter().flat_map(|l| [std::ffi::OsStr::new("--log"), l.as_os_str()]).collect();
        Watch::start(data, &args)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits up to 10 s for `done`; fails the test with what `watch` said otherwise.
    pub fn wait_for(&self, what: &str, done: impl FnMut() -> bool) {
        self.wait_within(what, Duration::from_secs(10), done)
    }

    /// Waits up to `limit` for `done`; fails the test with what `watch` said otherwise.
    pub fn wait_within(&self, what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !done() {
            assert!(Instant::now() < deadline, "watch: timed out waiting for {what}; it said:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until users `user{n}`, `n` in `expected`, each have exactly one row (and nobody else
    /// has any), then checks that it stays so a moment later.
    pub fn wait_rows(&self, data: &Path, expected: std::ops::Range<u64>) {
        let want = expected.end - expected.start;
        self.wait_for(&format!("{want} rows"), || csv_rows_so_far(data).len() as u64 >= want);
        std::thread::sleep(Duration::from_millis(300));
        assert_exactly_once(data, expected);
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill");
    }

    /// SIGTERM: it must exit 0 within 2 s.
    pub fn stop(self) -> String {
        self.stop_within(Duration::from_secs(2))
    }

    /// SIGTERM: it must exit 0 within `limit`.
    pub fn stop_within(mut self, limit: Duration) -> String {
        let sent = Instant::now();
        self.signal(libc::SIGTERM);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(sent.elapsed() < limit, "watch still running {limit:?} after SIGTERM:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "watch exited {status:?}:\n{}", self.stderr());
        self.stderr()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
