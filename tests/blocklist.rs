//! `maillogsentinel blocklist` on a store filled by `scan` of a log written here, with the
//! generated files loaded by the real tools in check mode (`nft -c -f`, `ipset restore`).
#![allow(unused_crate_dependencies)]

mod common;
#[path = "support/fixture.rs"]
mod fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::command;

/// The log's lines start an hour ago (UTC), one second apart, so that they are inside the
/// default period (the last 24 hours).
struct Log {
    text: String,
    start: jiff::Timestamp,
    n: i64,
}

impl Log {
    fn new() -> Log {
        Log { text: String::new(), start: jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1), n: 0 }
    }

    fn stamp(&mut self) -> String {
        self.n += 1;
        let t = self.start + jiff::SignedDuration::from_secs(self.n);
        t.to_zoned_datetime(jiff::tz::TimeZone::UTC).strftime("%b %e %H:%M:%S").to_string()
    }

    /// `count` Postfix SASL failures from `ip`, for accounts u0, u1, ...
    fn fail(&mut self, ip: &str, count: usize) -> &mut Log {
        for k in 0..count {
            let ts = self.stamp();
            self.text.push_str(&format!(
                "{ts} mx1 postfix/submission/smtpd[{}]: warning: unknown[{ip}]: SASL LOGIN authentication failed: \
                 UGFzc3dvcmQ6, sasl_username=u{k}\n",
                1000 + self.n
            ));
        }
        self
    }

    /// A successful Postfix SASL login of `user` from `ip`.
    fn login(&mut self, ip: &str, user: &str) -> &mut Log {
        let ts = self.stamp();
        self.text.push_str(&format!(
            "{ts} mx1 postfix/submission/smtpd[{}]: 1D8CC1CA0A7F: client=unknown[{ip}], sasl_method=PLAIN, \
             sasl_username={user}\n",
            1000 + self.n
        ));
        self
    }

    /// Scans the log into a fresh data directory.
    fn scan(&self) -> Store {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mail.log");
        std::fs::write(&log, &self.text).unwrap();
        let data = dir.path().join("data");
        let year = self.start.to_zoned_datetime(jiff::tz::TimeZone::UTC).year().to_string();
        let out = command()
            .arg("scan")
            .arg("--data-dir")
            .arg(&data)
            .arg("--log")
            .arg(&log)
            .args(["--timezone", "UTC", "--year", &year, "--no-dns", "--no-geo", "--quiet"])
            .output()
            .unwrap();
        assert!(out.status.success(), "scan: {}", String::from_utf8_lossy(&out.stderr));
        Store { dir, data }
    }
}

struct Store {
    dir: tempfile::TempDir,
    data: PathBuf,
}

impl Store {
    fn run(&self, args: &[&str]) -> Output {
        command().arg("blocklist").arg("--data-dir").arg(&self.data).args(args).output().unwrap()
    }

    /// Runs `blocklist` and returns its standard output, insisting that it succeeded.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "blocklist {args:?}: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn lines(&self, args: &[&str]) -> Vec<String> {
        self.ok(args).lines().map(str::to_string).collect()
    }
}

#[test]
fn threshold_counts_failed_attempts_in_the_period() {
    let store = Log::new().fail("198.51.100.1", 5).fail("198.51.100.2", 4).fail("198.51.100.3", 12).scan();
    assert_eq!(store.lines(&[]), ["198.51.100.1", "198.51.100.3"], "default --min-attempts 5");
    assert_eq!(store.lines(&["--min-attempts", "4"]), ["198.51.100.1", "198.51.100.2", "198.51.100.3"]);
    assert_eq!(store.lines(&["--min-attempts", "10"]), ["198.51.100.3"]);
    // The failures are an hour old: a period of 30 minutes holds none of them.
    assert!(store.lines(&["--since", "30m"]).is_empty());
    assert_eq!(store.run(&["--min-attempts", "0"]).status.code(), Some(2));
    assert_eq!(store.run(&["--since", "yesterday"]).status.code(), Some(2));
}

#[test]
fn allowed_networks_are_never_listed() {
    let store = Log::new()
        .fail("198.51.100.1", 6)
        .fail("198.51.100.77", 6)
        .fail("203.0.113.5", 6)
        .fail("2001:db8::7", 6)
        .scan();
    assert_eq!(store.lines(&["--allow", "198.51.100.0/24"]), ["203.0.113.5", "2001:db8::7"]);
    assert_eq!(store.lines(&["--allow", "198.51.100.1", "--allow", "2001:db8::/32"]), ["198.51.100.77", "203.0.113.5"]);

    let file = store.dir.path().join("allow.txt");
    std::fs::write(&file, "# monitoring\n203.0.113.5\n\n198.51.100.64/26   # office\n").unwrap();
    assert_eq!(store.lines(&["--allow-file", file.to_str().unwrap()]), ["198.51.100.1", "2001:db8::7"]);

    let config = store.dir.path().join("config.toml");
    std::fs::write(&config, "timezone = \"UTC\"\n[blocklist]\nallow = [\"198.51.100.1\", \"2001:db8::/48\"]\n")
        .unwrap();
    let out = command()
        .arg("--config")
        .arg(&config)
        .args(["blocklist", "--data-dir"])
        .arg(&store.data)
        .args(["--allow", "203.0.113.0/24"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "198.51.100.77\n", "config and command line add up");

    // Mistakes name what is wrong: usage errors on the command line, configuration errors in the file.
    let out = store.run(&["--allow", "198.51.100.0/33"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow"));
    std::fs::write(&file, "198.51.100.1\nnot-a-net\n").unwrap();
    let out = store.run(&["--allow-file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allow.txt, line 2") && err.contains("not-a-net"), "{err}");
    let out = store.run(&["--allow-file", "/nonexistent/allow.txt"]);
    assert_eq!(out.status.code(), Some(2));
    for bad in ["[blocklist]\nallow = [\"nope\"]\n", "[blocklist]\nallowed = []\n"] {
        std::fs::write(&config, bad).unwrap();
        let out =
            command().arg("--config").arg(&config).args(["blocklist", "--data-dir"]).arg(&store.data).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("blocklist.allow"), "{bad}");
    }
}

#[test]
fn private_and_loopback_addresses_only_when_asked() {
    let store = Log::new()
        .fail("127.0.0.1", 6)
        .fail("10.1.2.3", 6)
        .fail("192.168.1.9", 6)
        .fail("::1", 6)
        .fail("fd00::9", 6)
        .fail("198.51.100.1", 6)
        .scan();
    assert_eq!(store.lines(&[]), ["198.51.100.1"]);
    assert_eq!(
        store.lines(&["--include-private"]),
        ["10.1.2.3", "127.0.0.1", "192.168.1.9", "198.51.100.1", "::1", "fd00::9"]
    );
}

#[test]
fn addresses_that_logged_in_are_listed_only_when_flagged_as_a_possible_compromise() {
    // .1 logged in, then mistyped: a user of the server, not listed. .2 failed for several
    // accounts, then got in: the report's possible compromise, listed.
    let store = Log::new()
        .login("198.51.100.1", "alice")
        .fail("198.51.100.1", 6)
        .fail("198.51.100.2", 6)
        .login("198.51.100.2", "u3")
        .fail("198.51.100.3", 6)
        .scan();
    assert_eq!(store.lines(&[]), ["198.51.100.2", "198.51.100.3"]);
    let report = command()
        .args(["report", "--since", "24h", "--format", "json", "--timezone", "UTC", "--data-dir"])
        .arg(&store.data)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let flagged: Vec<&str> =
        report["compromises"].as_array().unwrap().iter().map(|c| c["ip"].as_str().unwrap()).collect();
    assert_eq!(flagged, ["198.51.100.2"], "the same rule as the report's");
}

#[test]
fn ipv6_goes_to_its_own_set() {
    let store = Log::new().fail("2001:db8::7", 6).fail("198.51.100.1", 6).scan();
    let nft = store.ok(&["--format", "nft"]);
    let v4 = nft.split("add element inet maillogsentinel maillogsentinel_v4 {").nth(1).unwrap();
    let v4 = v4.split('}').next().unwrap();
    let v6 = nft.split("add element inet maillogsentinel maillogsentinel_v6 {").nth(1).unwrap();
    let v6 = v6.split('}').next().unwrap();
    assert!(v4.contains("198.51.100.1 timeout") && !v4.contains("2001:db8"), "{nft}");
    assert!(v6.contains("2001:db8::7 timeout") && !v6.contains("198.51"), "{nft}");
    let json: serde_json::Value = serde_json::from_str(&store.ok(&["--format", "json"])).unwrap();
    assert_eq!(json["ipv4"][0]["address"], "198.51.100.1");
    assert_eq!(json["ipv6"][0]["address"], "2001:db8::7");
    assert_eq!(json["ipv4"].as_array().unwrap().len(), 1);
    let ipset = store.ok(&["--format", "ipset"]);
    assert!(ipset.contains("add maillogsentinel_v6_new 2001:db8::7 timeout"), "{ipset}");
    assert!(ipset.contains("create maillogsentinel_v6 hash:net family inet6"), "{ipset}");
}

#[test]
fn aggregate_merges_only_prefixes_whose_every_address_qualifies() {
    let mut log = Log::new();
    for i in 0..=255 {
        log.fail(&format!("203.0.113.{i}"), 5);
    }
    // 192.0.2.0/24 lacks .3 (too few attempts): it stays split.
    for i in [0, 1, 2, 4, 5, 6, 7] {
        log.fail(&format!("192.0.2.{i}"), 5);
    }
    log.fail("192.0.2.3", 2);
    let store = log.scan();
    assert_eq!(store.lines(&[]).len(), 256 + 7, "without --aggregate, one line per address");
    assert_eq!(store.lines(&["--aggregate"]), ["192.0.2.0/31", "192.0.2.2", "192.0.2.4/30", "203.0.113.0/24"]);
    let json: serde_json::Value = serde_json::from_str(&store.ok(&["--aggregate", "--format", "json"])).unwrap();
    let net = &json["ipv4"][3];
    assert_eq!(net["address"], "203.0.113.0/24");
    assert_eq!(net["attempts"], 256 * 5);
    assert_eq!(net["accounts"], 5);
}

#[test]
fn formats_have_their_shape() {
    let store = Log::new().fail("198.51.100.1", 6).fail("2001:db8::7", 7).scan();
    assert_eq!(store.ok(&["--format", "plain"]), "198.51.100.1\n2001:db8::7\n");

    let nft = store.ok(&["--format", "nft", "--timeout", "1h"]);
    assert!(nft.starts_with("#!/usr/sbin/nft -f\n"), "{nft}");
    for part in [
        "table inet maillogsentinel {",
        "set maillogsentinel_v4 {",
        "type ipv4_addr",
        "flags interval, timeout",
        "flush set inet maillogsentinel maillogsentinel_v4\n",
        "flush set inet maillogsentinel maillogsentinel_v6\n",
        "198.51.100.1 timeout 3600s",
    ] {
        assert!(nft.contains(part), "{part}\n{nft}");
    }
    // The default timeout is the period.
    assert!(store.ok(&["--format", "nft", "--since", "2d"]).contains("198.51.100.1 timeout 172800s"));

    let ipset = store.ok(&["--format", "ipset", "--timeout", "90m"]);
    let commands: Vec<&str> = ipset.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        commands[..6],
        [
            "create maillogsentinel_v4 hash:net family inet timeout 5400",
            "create maillogsentinel_v4_new hash:net family inet timeout 5400",
            "flush maillogsentinel_v4_new",
            "add maillogsentinel_v4_new 198.51.100.1 timeout 5400",
            "swap maillogsentinel_v4_new maillogsentinel_v4",
            "destroy maillogsentinel_v4_new",
        ]
    );

    let json: serde_json::Value = serde_json::from_str(&store.ok(&["--format", "json"])).unwrap();
    let e = &json["ipv6"][0];
    assert_eq!((e["attempts"].as_u64(), e["accounts"].as_u64()), (Some(7), Some(7)));
    for key in ["first_seen", "last_seen"] {
        assert!(e[key].as_str().unwrap().ends_with("+00:00"), "{e}");
    }
    assert!(e["country"].is_null() && e["asn"].is_null(), "{e}");
    assert_eq!(json["min_attempts"], 5);
    assert_eq!(json["timeout_secs"], 86_400);
    assert_eq!(store.run(&["--timeout", "30d"]).status.code(), Some(2), "beyond ipset's limit");
}

#[test]
fn output_is_written_atomically() {
    let store = Log::new().fail("198.51.100.1", 6).scan();
    let dir = store.dir.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("blocklist.nft");
    std::fs::write(&file, "old\n").unwrap();
    let out = store.run(&["--format", "nft", "--output", file.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(std::fs::read_to_string(&file).unwrap().contains("198.51.100.1 timeout"));
    assert_eq!(entries(&dir), ["blocklist.nft"], "no temporary file left");

    // A store that cannot be read leaves the old file as it was.
    std::fs::write(&file, "old\n").unwrap();
    let out = command().args(["blocklist", "--data-dir", "/nonexistent", "--output"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "old\n");
    // A directory that cannot be written to: nothing is left behind.
    let out = store.run(&["--output", dir.join("missing/blocklist.txt").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing/blocklist.txt"));
    assert_eq!(entries(&dir), ["blocklist.nft"]);
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

fn tool_present(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
        || Command::new(tool).arg("-v").output().is_ok_and(|o| o.status.success())
}

/// A store with IPv4, IPv6 and a merged prefix, for the real tools.
fn mixed_store() -> Store {
    let mut log = Log::new();
    log.fail("198.51.100.1", 6).fail("2001:db8::7", 6).fail("2001:db8::8", 6);
    for i in 0..4 {
        log.fail(&format!("203.0.113.{i}"), 5);
    }
    log.scan()
}

#[test]
fn nft_accepts_the_script_in_check_mode() {
    if !fixture::require("nft", tool_present("nft"), "apt-get install nftables") {
        return;
    }
    if !fixture::require("root (nft -c talks to the kernel)", running_as_root(), "run the tests as root") {
        return;
    }
    let store = mixed_store();
    for extra in [&[][..], &["--aggregate"][..], &["--min-attempts", "1000"][..]] {
        let file = store.dir.path().join("blocklist.nft");
        let mut args = vec!["--format", "nft", "--output", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        store.ok(&args);
        let out = Command::new("nft").arg("-c").arg("-f").arg(&file).output().unwrap();
        assert!(
            out.status.success(),
            "nft -c -f ({extra:?}): {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&file).unwrap()
        );
    }
    // The check is real: an IPv6 address in the IPv4 set is refused.
    let file = store.dir.path().join("blocklist.nft");
    let bad = std::fs::read_to_string(&file).unwrap().replace(
        "flush set inet maillogsentinel maillogsentinel_v6",
        "add element inet maillogsentinel maillogsentinel_v4 { 2001:db8::1 }",
    );
    std::fs::write(&file, bad).unwrap();
    assert!(!Command::new("nft").arg("-c").arg("-f").arg(&file).output().unwrap().status.success());
}

#[test]
fn ipset_restores_the_sets() {
    if !fixture::require("ipset", tool_present("ipset"), "apt-get install ipset") {
        return;
    }
    let store = mixed_store();
    let text = store.ok(&["--format", "ipset", "--aggregate", "--timeout", "1h"]);
    // Sets of this test's own names, destroyed afterwards: the machine's are never touched.
    let prefix = format!("mlst{}", std::process::id() % 100_000);
    let text = text.replace("maillogsentinel", &prefix);
    let file = store.dir.path().join("blocklist.ipset");
    std::fs::write(&file, &text).unwrap();
    let restore = Command::new("ipset").args(["-exist", "restore", "-file"]).arg(&file).output().unwrap();
    if restore.status.success() {
        // Twice: the second run swaps new sets in over the first's.
        let again = Command::new("ipset").args(["-exist", "restore", "-file"]).arg(&file).output().unwrap();
        let list = Command::new("ipset").args(["list", &format!("{prefix}_v4")]).output().unwrap();
        let list6 = Command::new("ipset").args(["list", &format!("{prefix}_v6")]).output().unwrap();
        for set in ["_v4", "_v6", "_v4_new", "_v6_new"] {
            let _ = Command::new("ipset").args(["destroy", &format!("{prefix}{set}")]).output();
        }
        assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
        let list = String::from_utf8_lossy(&list.stdout);
        assert!(list.contains("198.51.100.1 timeout") && list.contains("203.0.113.0/30 timeout"), "{list}");
        assert!(String::from_utf8_lossy(&list6.stdout).contains("2001:db8::7 timeout"));
        return;
    }
    // Without the kernel module (or the right to load it): a syntax check of every command.
    let err = String::from_utf8_lossy(&restore.stderr);
    eprintln!("ipset restore not possible here ({err}); checking the syntax only");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let ok = match words[..] {
            ["create", name, "hash:net", "family", "inet" | "inet6", "timeout", t] => {
                name.len() < 32 && t.parse::<u32>().is_ok()
            }
            ["flush" | "destroy", name] => name.ends_with("_new"),
            ["swap", a, b] => a == format!("{b}_new"),
            ["add", _, net, "timeout", t] => net.parse::<ipnet_check::Net>().is_ok() && t.parse::<u32>().is_ok(),
            _ => false,
        };
        assert!(ok, "{line}");
    }
}

/// An address or prefix, checked with the standard library alone.
mod ipnet_check {
    pub struct Net;
    impl std::str::FromStr for Net {
        type Err = ();
        fn from_str(s: &str) -> Result<Net, ()> {
            let (addr, len) = s.split_once('/').unwrap_or((s, "0"));
            let ip: std::net::IpAddr = addr.parse().map_err(|_| ())?;
            let len: u8 = len.parse().map_err(|_| ())?;
            if len <= if ip.is_ipv4() { 32 } else { 128 } { Ok(Net) } else { Err(()) }
        }
    }
}
