//! Deterministic generator of realistic mixed Postfix + Dovecot syslog traffic, for benchmarks.
//!
//! ```text
//! cargo run --release --example gen_traffic -- --size 1G --seed 42 \
//!     --start 2026-11-01T00:00:00 --out /tmp/mail.log
//! ```
//!
//! Same arguments ⇒ byte-identical output. Lines use classic syslog headers
//! (`Mmm dd HH:MM:SS mx1 prog[pid]: msg`) with time advancing monotonically. Traffic is generated
//! as *sessions* (an SMTP connection, an IMAP login, a delivery...) whose lines are scheduled at
//! future instants and written in time order, so the lines of concurrent sessions interleave as in
//! a real log.
//!
//! What an accurate scan must find is counted as lines are written, printed to stderr and, with
//! `--out PATH`, written to `PATH.counts.json`:
//! - `failures`: failed password attempts, each counted once: a Postfix SASL warning is one, an
//!   rsyslog `message repeated N times: [...]` line is N more, a Dovecot login line
//!   `(auth failed, N attempts ...)` is N, whether or not its session's auth-worker lines were
//!   logged (they are the same attempts); a Dovecot `auth:` line followed ~2 s later by the Postfix
//!   warning for the same client is one attempt (the Postfix warning carries it).
//! - `mechanism_invalid`: `Invalid authentication mechanism` lines (not in `failures`).
//! - `backend_errors`: `Connection lost to authentication server` lines (not in `failures`).
//! - `successes`: Postfix `sasl_method=` lines + Dovecot `Login:` lines.
//!
//! The generation stops starting new sessions once `--size` bytes are written and finishes the
//! sessions under way, so the file is a little larger than asked and no attempt is cut in half.
//!
//! All addresses are documentation / benchmarking ranges (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24, 198.18.0.0/15, 2001:db8::/32) and all names are made up.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::Instant;

use jiff::civil::DateTime;

const HOST: &str = "mx1";
const LIP4: &str = "192.0.2.25";
const DOMAIN: &str = "example.org";

/// Common usernames tried by password-guessing bots.
const TARGETS: &[&str] = &[
    "admin",
    "info",
    "test",
    "sales",
    "support",
    "office",
    "contact",
    "webmaster",
    "postmaster",
    "user",
    "user1",
    "guest",
    "mail",
    "marketing",
    "hr",
    "billing",
    "noreply",
    "root",
    "abuse",
    "newsletter",
    "scanner",
    "backup",
    "admin@example.org",
    "info@example.org",
    "test@example.org",
    "sales@example.org",
    "contact@example.org",
    "office@example.org",
    "support@example.org",
    "alice",
    "bob@example.org",
    "accounting@example.org",
    "administrator",
    "test1",
    "demo",
    "www",
    "ftp",
    "oracle",
    "spam",
    "jobs@example.org",
];

/// The server's real users.
const USERS: &[&str] = &[
    "alice@example.org",
    "bob@example.org",
    "carol@example.org",
    "dave@example.org",
    "erin@example.org",
    "frank@example.org",
    "grace@example.org",
    "heidi@example.org",
    "ivan@example.org",
    "judy@example.org",
    "mallory@example.org",
    "oscar@example.org",
    "peggy@example.org",
    "trent@example.org",
    "victor@example.org",
    "walter@example.org",
    "info@example.org",
    "sales@example.org",
];

const REMOTE_DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "mail.example.com",
    "lists.example.net",
    "shop.example.com",
    "news.example.net",
    "corp.example",
    "partner.example",
];

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8] = b"0123456789ABCDEF";

/// What a written line counts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Noise,
    /// Postfix `SASL ... authentication failed` warning (one attempt).
    PostfixFailure,
    /// rsyslog `message repeated N times: [ warning: ... SASL ... failed ...]` (N attempts).
    PostfixRepeat,
    /// Dovecot login process `(auth failed, N attempts ...)` (N attempts).
    DovecotLoginFailure,
    /// Dovecot auth / auth-worker failure line (its attempt is carried by another line).
    DovecotBackendFailure,
    PostfixSuccess,
    DovecotSuccess,
    BackendError,
    MechanismInvalid,
}

const N_TAGS: usize = 9;
const TAG_NAMES: [&str; N_TAGS] = [
    "noise",
    "postfix_sasl_failure",
    "postfix_sasl_repeat",
    "dovecot_login_failure",
    "dovecot_backend_failure",
    "postfix_success",
    "dovecot_success",
    "backend_error",
    "mechanism_invalid",
];

impl Tag {
    fn index(self) -> usize {
        self as usize
    }
}

/// A line waiting for its time.
struct Pending {
    t: u64,
    seq: u64,
    prog: &'static str,
    pid: u32,
    body: String,
    tag: Tag,
    /// Attempts (failures) or logins (successes) this line stands for.
    n: u32,
    /// Client to record as an attacker (failure lines).
    ip: Option<IpAddr>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.t, self.seq) == (o.t, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    // Reversed: BinaryHeap is a max-heap, we want the earliest line first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.t, o.seq).cmp(&(self.t, self.seq))
    }
}

/// A client: address and the name Postfix prints before `[ip]`.
#[derive(Clone)]
struct Client {
    ip: IpAddr,
    name: String,
}

struct Gen {
    rng: fastrand::Rng,
    heap: BinaryHeap<Pending>,
    seq: u64,
    attackers: Vec<Client>,
    /// Cumulative Zipf weights over `attackers`.
    attacker_cdf: Vec<f64>,
    legit: Vec<Client>,
    senders: Vec<Client>,
    relays: Vec<Client>,
    qmgr_pid: u32,
    pickup_pid: u32,
    auth_worker_pids: [u32; 3],
}

fn ipv4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::from([a, b, c, d])
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut seen = HashSet::new();
        seen.insert(LIP4.parse::<IpAddr>().unwrap());

        // Attackers: a few thousand addresses, ~10% IPv6, heavy-tailed (Zipf) activity.
        let mut attackers = Vec::new();
        while attackers.len() < 3000 {
            let ip = match rng.u32(0..100) {
                0..=9 => {
                    let seg: [u16; 8] =
                        [0x2001, 0xdb8, rng.u16(0x100..0xffff), rng.u16(..), 0, 0, 0, rng.u16(1..0x200)];
                    IpAddr::from(seg)
                }
                10..=14 => ipv4(192, 0, 2, rng.u8(30..255)),
                15..=19 => ipv4(198, 51, 100, rng.u8(1..200)),
                _ => ipv4(198, 18, rng.u8(..), rng.u8(1..255)),
            };
            if !seen.insert(ip) {
                continue;
            }
            let name = match (ip, rng.u32(0..100)) {
                (IpAddr::V4(v4), 0..=14) => {
                    let o = v4.octets();
                    format!("ip-{}-{}-{}-{}.dyn.example.net", o[0], o[1], o[2], o[3])
                }
                (IpAddr::V4(v4), 15..=19) => {
                    let o = v4.octets();
                    format!("static.{}.{}.{}.{}.hosting.example", o[3], o[2], o[1], o[0])
                }
                _ => "unknown".to_string(),
            };
            attackers.push(Client { ip, name });
        }
        let mut acc = 0.0;
        let attacker_cdf = (0..attackers.len())
            .map(|i| {
                acc += 1.0 / ((i + 1) as f64).powf(1.05);
                acc
            })
            .collect();

        let mut legit = Vec::new();
        for i in 0..36u8 {
            let ip = if i < 32 {
                ipv4(203, 0, 113, 10 + i * 7)
            } else {
                IpAddr::from([0x2001, 0xdb8, 0x1, 0x20, 0, 0, 0, 0x10 + i as u16])
            };
            seen.insert(ip);
            let name = if i % 3 == 0 { "unknown".to_string() } else { format!("client{i}.isp.example.net") };
            legit.push(Client { ip, name });
        }

        let mut senders = Vec::new();
        while senders.len() < 600 {
            let ip = ipv4(198, 19, rng.u8(..), rng.u8(1..255));
            if !seen.insert(ip) {
                continue;
            }
            let n = senders.len();
            let name = match n % 5 {
                0 => "unknown".to_string(),
                1 => format!("mail{n}.example.com"),
                2 => format!("smtp-out-{n}.example.net"),
                3 => format!("mx{n}.mailer.example"),
                _ => format!("o{n}.bulk.example.com"),
            };
            senders.push(Client { ip, name });
        }

        let relays = (0..12u8)
            .map(|i| Client {
                ip: ipv4(198, 51, 100, 200 + i),
                name: format!("mx{}.{}", i % 3 + 1, REMOTE_DOMAINS[i as usize % 8]),
            })
            .collect();

        Gen {
            qmgr_pid: rng.u32(600..1500),
            pickup_pid: rng.u32(20000..40000),
            auth_worker_pids: [rng.u32(3000..9000), rng.u32(3000..9000), rng.u32(3000..9000)],
            rng,
            heap: BinaryHeap::new(),
            seq: 0,
            attackers,
            attacker_cdf,
            legit,
            senders,
            relays,
        }
    }

    fn push(&mut self, t: u64, prog: &'static str, pid: u32, body: String) {
        self.push_tagged(t, prog, pid, body, Tag::Noise, 0, None);
    }

    #[allow(clippy::too_many_arguments)]
    fn push_tagged(
        &mut self,
        t: u64,
        prog: &'static str,
        pid: u32,
        body: String,
        tag: Tag,
        n: u32,
        ip: Option<IpAddr>,
    ) {
        self.seq += 1;
        self.heap.push(Pending { t, seq: self.seq, prog, pid, body, tag, n, ip });
    }

    fn attacker(&mut self) -> Client {
        let total = *self.attacker_cdf.last().unwrap();
        let x = self.rng.f64() * total;
        let i = self.attacker_cdf.partition_point(|&c| c < x);
        self.attackers[i.min(self.attackers.len() - 1)].clone()
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.rng.usize(..v.len())]
    }

    fn legit(&mut self) -> Client {
        self.legit[self.rng.usize(..self.legit.len())].clone()
    }

    fn sender(&mut self) -> Client {
        self.senders[self.rng.usize(..self.senders.len())].clone()
    }

    fn relay(&mut self) -> Client {
        self.relays[self.rng.usize(..self.relays.len())].clone()
    }

    fn smtpd_pid(&mut self) -> u32 {
        self.rng.u32(1000..400_000)
    }

    fn queue_id(&mut self) -> String {
        (0..11).map(|_| HEX[self.rng.usize(..16)] as char).collect()
    }

    fn session_id(&mut self) -> String {
        (0..16).map(|_| B64[self.rng.usize(..64)] as char).collect()
    }

    fn port(&mut self) -> u16 {
        self.rng.u16(1024..65535)
    }

    fn lip(ip: IpAddr) -> &'static str {
        if ip.is_ipv6() { "2001:db8::25" } else { LIP4 }
    }

    /// Starts one session at `t` (milliseconds since the start).
    fn session(&mut self, t: u64) {
        let r = self.rng.u32(0..1000);
        match r {
            0..=149 => self.postfix_attack(t),
            150..=254 => self.dovecot_attack(t),
            255..=278 => self.postfix_success(t),
            279..=314 => self.dovecot_success(t),
            315..=609 => self.inbound_delivery(t),
            610..=709 => self.inbound_reject(t),
            710..=789 => self.postscreen_drop(t),
            790..=869 => self.scanner(t),
            870..=939 => self.dovecot_no_auth(t),
            940..=989 => self.local_mail(t),
            _ => self.outbound_sasl_trap_or_noise(t),
        }
    }

    /// A bot connecting to smtpd / submission / smtps and guessing passwords.
    fn postfix_attack(&mut self, mut t: u64) {
        let c = self.attacker();
        let pid = self.smtpd_pid();
        let (prog, is_smtps, is_sub) = match self.rng.u32(0..100) {
            0..=39 => ("postfix/smtpd", false, false),
            40..=74 => ("postfix/submission/smtpd", false, true),
            _ => ("postfix/smtps/smtpd", true, false),
        };
        // The smtps instance runs with smtpd_client_port_logging=yes.
        let who =
            if is_smtps { format!("{}[{}]:{}", c.name, c.ip, self.port()) } else { format!("{}[{}]", c.name, c.ip) };
        if prog == "postfix/smtpd" && self.rng.bool() {
            let port = self.port();
            self.push(
                t,
                "postfix/postscreen",
                self.qmgr_pid + 3,
                format!("CONNECT from [{}]:{port} to [{LIP4}]:25", c.ip),
            );
            t += self.rng.u64(1..40);
            self.push(t, "postfix/postscreen", self.qmgr_pid + 3, format!("PASS OLD [{}]:{port}", c.ip));
            t += self.rng.u64(1..20);
        }
        self.push(t, prog, pid, format!("connect from {who}"));
        t += self.rng.u64(20..400);
        if is_smtps || is_sub || self.rng.bool() {
            self.push(
                t,
                prog,
                pid,
                format!(
                    "Anonymous TLS connection established from {who}: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
                ),
            );
            t += self.rng.u64(50..900);
        }

        let rare = self.rng.u32(0..1000);
        let mut auth_total = 0u32;
        if rare < 4 {
            // Client asking for a mechanism we do not offer: no password tried.
            let mech = if rare < 2 { "CRAM-MD5" } else { "DIGEST-MD5" };
            self.push_tagged(
                t,
                prog,
                pid,
                format!("warning: {who}: SASL {mech} authentication failed: Invalid authentication mechanism"),
                Tag::MechanismInvalid,
                1,
                None,
            );
            auth_total = 1;
            t += self.rng.u64(10..300);
        } else if rare < 6 {
            // The auth backend is down: not an attack.
            self.push(t, prog, pid, "warning: SASL: Connect to private/auth failed: Connection refused".to_string());
            t += self.rng.u64(1..30);
            self.push_tagged(
                t,
                prog,
                pid,
                format!("warning: {who}: SASL LOGIN authentication failed: Connection lost to authentication server"),
                Tag::BackendError,
                1,
                None,
            );
            auth_total = 1;
            t += self.rng.u64(10..300);
        } else {
            let user = *self.pick(TARGETS);
            // One bot, one style.
            let (mech, reason): (&str, String) = match self.rng.u32(0..100) {
                0..=34 => ("LOGIN", "UGFzc3dvcmQ6".into()),
                35..=54 => ("LOGIN", "authentication failure".into()),
                55..=59 => ("login", "UGFzc3dvcmQ6".into()),
                60..=74 => ("LOGIN", format!("(reason unavailable), sasl_username={user}")),
                75..=79 => ("PLAIN", format!("(reason unavailable), sasl_username={user}")),
                80..=89 => ("PLAIN", "authentication failure".into()),
                90..=95 => ("PLAIN", String::new()),
                _ => ("CRAM-MD5", "PDEyMzQ1Njc4OTAxMjM0NTYuMTc5NDYwMDAwMEBteDE+".into()),
            };
            let sep = if reason.is_empty() { "" } else { " " };
            let msg = format!("warning: {who}: SASL {mech} authentication failed:{sep}{reason}");
            let attempts = match self.rng.u32(0..100) {
                0..=59 => 1,
                60..=89 => self.rng.u32(2..4),
                _ => self.rng.u32(4..11),
            };
            let repeat = self.rng.u32(0..100) < 5;
            for i in 0..attempts {
                if i == 1 && repeat {
                    let n = self.rng.u32(2..11);
                    t += n as u64 * self.rng.u64(1500..4000);
                    self.push_tagged(
                        t,
                        prog,
                        pid,
                        format!("message repeated {n} times: [ {msg}]"),
                        Tag::PostfixRepeat,
                        n,
                        Some(c.ip),
                    );
                    auth_total += n;
                    break;
                }
                // Dovecot SASL with auth_verbose: the backend logs at once, Postfix after the
                // 2 s auth_failure_delay.
                if mech != "CRAM-MD5" && self.rng.u32(0..100) < 30 {
                    let b = match self.rng.u32(0..3) {
                        0 => format!("auth: passwd-file({user},{}): Password mismatch", c.ip),
                        1 => format!("auth: passwd-file({user},{}): unknown user", c.ip),
                        _ => format!(
                            "auth-worker({}): pam({user},{}): pam_authenticate() failed: Authentication failure (password mismatch?)",
                            self.auth_worker_pids[0], c.ip
                        ),
                    };
                    self.push_tagged(t, "dovecot", 0, b, Tag::DovecotBackendFailure, 0, Some(c.ip));
                    t += 2000 + self.rng.u64(0..60);
                } else {
                    t += self.rng.u64(300..3500);
                }
                self.push_tagged(t, prog, pid, msg.clone(), Tag::PostfixFailure, 1, Some(c.ip));
                auth_total += 1;
                t += self.rng.u64(100..1500);
            }
        }
        let (ehlo, tls) = if is_sub { ("ehlo=2 starttls=1 ", 2) } else { ("ehlo=1 ", 1) };
        if self.rng.u32(0..100) < 60 {
            self.push(t, prog, pid, format!("lost connection after AUTH from {who}"));
            t += self.rng.u64(0..5);
            self.push(
                t,
                prog,
                pid,
                format!("disconnect from {who} {ehlo}auth=0/{auth_total} commands={tls}/{}", tls + auth_total),
            );
        } else {
            t += self.rng.u64(10..200);
            self.push(
                t,
                prog,
                pid,
                format!(
                    "disconnect from {who} {ehlo}auth=0/{auth_total} quit=1 commands={}/{}",
                    tls + 1,
                    tls + 1 + auth_total
                ),
            );
        }
    }

    /// A bot guessing IMAP / POP3 passwords.
    fn dovecot_attack(&mut self, t0: u64) {
        let c = self.attacker();
        self.dovecot_failure(t0, &c, None);
    }

    fn dovecot_failure(&mut self, t0: u64, c: &Client, user: Option<&str>) {
        let user = user.unwrap_or_else(|| TARGETS[self.rng.usize(..TARGETS.len())]);
        let sess = self.session_id();
        let n = match self.rng.u32(0..100) {
            0..=54 => 1,
            55..=79 => 2,
            _ => 3,
        };
        let verbose = self.rng.bool();
        let backend = self.rng.u32(0..3);
        let mut t = t0 + self.rng.u64(100..3000);
        for _ in 0..n {
            if verbose {
                let b = match backend {
                    0 => format!(
                        "auth-worker({}): pam({user},{},<{sess}>): pam_authenticate() failed: Authentication failure (password mismatch?)",
                        self.auth_worker_pids[self.rng.usize(..3)],
                        c.ip
                    ),
                    1 => format!("auth: passwd-file({user},{},<{sess}>): Password mismatch", c.ip),
                    _ => format!("auth: passwd-file({user},{},<{sess}>): unknown user", c.ip),
                };
                self.push_tagged(t, "dovecot", 0, b, Tag::DovecotBackendFailure, 0, Some(c.ip));
            }
            t += 2000 + self.rng.u64(0..3000);
        }
        let secs = (t - t0).div_ceil(1000);
        let lip = Self::lip(c.ip);
        let body = match self.rng.u32(0..100) {
            0..=44 => format!(
                "imap-login: Disconnected (auth failed, {n} attempts in {secs} secs): user=<{user}>, method=PLAIN, rip={}, lip={lip}, TLS, session=<{sess}>",
                c.ip
            ),
            45..=59 => format!(
                "imap-login: Disconnected: Connection closed (auth failed, {n} attempts in {secs} secs): user=<{user}>, method=PLAIN, rip={}, lip={lip}, TLS: Connection closed, session=<{sess}>",
                c.ip
            ),
            60..=89 => format!(
                "pop3-login: Aborted login (auth failed, {n} attempts in {secs} secs): user=<{user}>, method=PLAIN, rip={}, lip={lip}, TLS, session=<{sess}>",
                c.ip
            ),
            _ => format!(
                "pop3-login: Disconnected (auth failed, {n} attempts in {secs} secs): user=<{user}>, method=PLAIN, rip={}, lip={lip}, session=<{sess}>",
                c.ip
            ),
        };
        self.push_tagged(t, "dovecot", 0, body, Tag::DovecotLoginFailure, n, Some(c.ip));
    }

    fn delivery_tail(&mut self, mut t: u64, qid: &str, from: &str, to: &str, local: bool) -> u64 {
        let size = self.rng.u32(900..250_000);
        self.push(
            t,
            "postfix/qmgr",
            self.qmgr_pid,
            format!("{qid}: from=<{from}>, size={size}, nrcpt=1 (queue active)"),
        );
        t += self.rng.u64(5..300);
        let d1 = self.rng.u32(1..300);
        let d4 = self.rng.u32(1..900);
        let delay = (d1 + d4 + 20) as f64 / 1000.0;
        if local {
            if self.rng.bool() {
                let pid = self.smtpd_pid();
                let rid = self.session_id();
                self.push(
                    t,
                    "postfix/lmtp",
                    pid,
                    format!(
                        "{qid}: to=<{to}>, relay={HOST}.{DOMAIN}[private/dovecot-lmtp], delay={delay:.2}, delays=0.{d1:02}/0.01/0.01/0.{d4:03}, dsn=2.0.0, status=sent (250 2.0.0 <{to}> {rid} Saved)"
                    ),
                );
            } else {
                let pid = self.smtpd_pid();
                self.push(
                    t,
                    "postfix/local",
                    pid,
                    format!(
                        "{qid}: to=<{to}>, relay=local, delay={delay:.2}, delays=0.{d1:02}/0.01/0/0.{d4:03}, dsn=2.0.0, status=sent (delivered to mailbox)"
                    ),
                );
            }
        } else {
            let r = self.relay();
            let pid = self.smtpd_pid();
            let qid2 = self.queue_id();
            self.push(
                t,
                "postfix/smtp",
                pid,
                format!(
                    "{qid}: to=<{to}>, relay={}[{}]:25, delay={delay:.2}, delays=0.{d1:02}/0.01/0.2/0.{d4:03}, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {qid2})",
                    r.name, r.ip
                ),
            );
        }
        t += self.rng.u64(1..10);
        self.push(t, "postfix/qmgr", self.qmgr_pid, format!("{qid}: removed"));
        t
    }

    fn postfix_success(&mut self, mut t: u64) {
        let c = self.legit();
        let user = *self.pick(USERS);
        let pid = self.smtpd_pid();
        let prog = if self.rng.u32(0..4) == 0 { "postfix/smtps/smtpd" } else { "postfix/submission/smtpd" };
        let who = if prog == "postfix/smtps/smtpd" {
            format!("{}[{}]:{}", c.name, c.ip, self.port())
        } else {
            format!("{}[{}]", c.name, c.ip)
        };
        self.push(t, prog, pid, format!("connect from {who}"));
        t += self.rng.u64(30..300);
        self.push(
            t,
            prog,
            pid,
            format!("Anonymous TLS connection established from {who}: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"),
        );
        t += self.rng.u64(50..500);
        let mut auth = "auth=1";
        if self.rng.u32(0..100) < 4 {
            // The user mistyped once.
            self.push_tagged(
                t,
                prog,
                pid,
                format!("warning: {who}: SASL PLAIN authentication failed: (reason unavailable), sasl_username={user}"),
                Tag::PostfixFailure,
                1,
                Some(c.ip),
            );
            t += self.rng.u64(2000..8000);
            auth = "auth=1/2";
        }
        let qid = self.queue_id();
        let method = if self.rng.u32(0..5) == 0 { "LOGIN" } else { "PLAIN" };
        self.push_tagged(
            t,
            prog,
            pid,
            format!("{qid}: client={who}, sasl_method={method}, sasl_username={user}"),
            Tag::PostfixSuccess,
            1,
            None,
        );
        t += self.rng.u64(20..200);
        let mid = self.session_id().replace(['+', '/'], "x");
        self.push(t, "postfix/cleanup", self.qmgr_pid + 11, format!("{qid}: message-id=<{mid}@{DOMAIN}>"));
        t += self.rng.u64(5..100);
        let to =
            format!("{}@{}", TARGETS[self.rng.usize(..22)], REMOTE_DOMAINS[self.rng.usize(..REMOTE_DOMAINS.len())]);
        let t_end = self.delivery_tail(t, &qid, user, &to, false);
        let cmds = if auth == "auth=1" { "8" } else { "8/9" };
        let td = t_end.max(t) + self.rng.u64(1..50);
        self.push(
            td,
            prog,
            pid,
            format!("disconnect from {who} ehlo=2 starttls=1 {auth} mail=1 rcpt=1 data=1 quit=1 commands={cmds}"),
        );
    }

    fn dovecot_success(&mut self, mut t: u64) {
        let c = self.legit();
        let user = *self.pick(USERS);
        if self.rng.u32(0..100) < 3 {
            // Wrong password first (e.g. a stale one on a phone), then success.
            self.dovecot_failure(t, &c, Some(user));
            t += 15_000;
        }
        let sess = self.session_id();
        let mpid = self.rng.u32(10_000..500_000);
        let lip = Self::lip(c.ip);
        let imap = self.rng.u32(0..100) < 80;
        let login = if imap { "imap-login" } else { "pop3-login" };
        self.push_tagged(
            t,
            "dovecot",
            0,
            format!(
                "{login}: Login: user=<{user}>, method=PLAIN, rip={}, lip={lip}, mpid={mpid}, TLS, session=<{sess}>",
                c.ip
            ),
            Tag::DovecotSuccess,
            1,
            None,
        );
        t += self.rng.u64(500..600_000);
        let body = if imap {
            format!(
                "imap({user})<{mpid}><{sess}>: Logged out in={} out={} deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
                self.rng.u32(50..5000),
                self.rng.u32(400..900_000)
            )
        } else {
            let n = self.rng.u32(0..5);
            let sz = n * self.rng.u32(2000..40_000);
            format!(
                "pop3({user})<{mpid}><{sess}>: Disconnected: Logged out top=0/0, retr={n}/{sz}, del={n}/{n}, size={sz}"
            )
        };
        self.push(t, "dovecot", 0, body);
    }

    fn inbound_delivery(&mut self, mut t: u64) {
        let c = self.sender();
        let pid = self.smtpd_pid();
        let port = self.port();
        let ps = self.qmgr_pid + 3;
        self.push(t, "postfix/postscreen", ps, format!("CONNECT from [{}]:{port} to [{LIP4}]:25", c.ip));
        t += self.rng.u64(1..50);
        self.push(t, "postfix/postscreen", ps, format!("PASS OLD [{}]:{port}", c.ip));
        t += self.rng.u64(1..20);
        let who = format!("{}[{}]", c.name, c.ip);
        self.push(t, "postfix/smtpd", pid, format!("connect from {who}"));
        t += self.rng.u64(20..300);
        let tls = self.rng.u32(0..100) < 70;
        if tls {
            self.push(
                t,
                "postfix/smtpd",
                pid,
                format!("Anonymous TLS connection established from {who}: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256"),
            );
            t += self.rng.u64(20..300);
        }
        let qid = self.queue_id();
        self.push(t, "postfix/smtpd", pid, format!("{qid}: client={who}"));
        t += self.rng.u64(20..300);
        let mid = self.session_id().replace(['+', '/'], "x");
        let dom = REMOTE_DOMAINS[self.rng.usize(..REMOTE_DOMAINS.len())];
        self.push(t, "postfix/cleanup", self.qmgr_pid + 11, format!("{qid}: message-id=<{mid}@{dom}>"));
        t += self.rng.u64(5..100);
        let from = format!("{}@{dom}", ["news", "noreply", "billing", "jane", "orders"][self.rng.usize(..5)]);
        let to = *self.pick(USERS);
        let t2 = self.delivery_tail(t, &qid, &from, to, true);
        let starttls = if tls { "starttls=1 " } else { "" };
        let n = if tls { 7 } else { 6 };
        let td = t.max(t2 - 1) + self.rng.u64(0..40);
        self.push(
            td,
            "postfix/smtpd",
            pid,
            format!(
                "disconnect from {who} ehlo={} {starttls}mail=1 rcpt=1 data=1 quit=1 commands={n}",
                if tls { 2 } else { 1 }
            ),
        );
    }

    fn inbound_reject(&mut self, mut t: u64) {
        let c = if self.rng.bool() { self.sender() } else { self.attacker() };
        let pid = self.smtpd_pid();
        let who = format!("{}[{}]", c.name, c.ip);
        self.push(t, "postfix/smtpd", pid, format!("connect from {who}"));
        t += self.rng.u64(200..3000);
        let helo = if c.name == "unknown" { "WIN-3KQ8TLM0B2C".to_string() } else { c.name.clone() };
        let to = format!("{}@{DOMAIN}", TARGETS[self.rng.usize(..22)]);
        let from = format!("spam{}@{}", self.rng.u32(0..1000), REMOTE_DOMAINS[self.rng.usize(..8)]);
        let what = match self.rng.u32(0..4) {
            0 => format!("554 5.7.1 Service unavailable; Client host [{}] blocked using zen.dnsbl.example", c.ip),
            1 => format!("554 5.7.1 <relay@{}>: Relay access denied", REMOTE_DOMAINS[self.rng.usize(..8)]),
            2 => format!("450 4.7.1 Client host rejected: cannot find your hostname, [{}]", c.ip),
            _ => format!("550 5.1.1 <{to}>: Recipient address rejected: User unknown in virtual mailbox table"),
        };
        self.push(
            t,
            "postfix/smtpd",
            pid,
            format!("NOQUEUE: reject: RCPT from {who}: {what}; from=<{from}> to=<{to}> proto=ESMTP helo=<{helo}>"),
        );
        t += self.rng.u64(50..2000);
        self.push(t, "postfix/smtpd", pid, format!("disconnect from {who} ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4"));
    }

    fn postscreen_drop(&mut self, mut t: u64) {
        let c = self.attacker();
        let port = self.port();
        let ps = self.qmgr_pid + 3;
        self.push(t, "postfix/postscreen", ps, format!("CONNECT from [{}]:{port} to [{LIP4}]:25", c.ip));
        t += self.rng.u64(1..200);
        match self.rng.u32(0..3) {
            0 => {
                let after = self.rng.u32(1..99);
                self.push(
                    t,
                    "postfix/postscreen",
                    ps,
                    format!("PREGREET 11 after 0.{after:02} from [{}]:{port}: EHLO User\\r\\n", c.ip),
                );
                t += self.rng.u64(1..200);
                self.push(t, "postfix/postscreen", ps, format!("DISCONNECT [{}]:{port}", c.ip));
            }
            1 => {
                self.push(t, "postfix/postscreen", ps, format!("DNSBL rank 3 for [{}]:{port}", c.ip));
                t += self.rng.u64(1..200);
                self.push(
                    t,
                    "postfix/postscreen",
                    ps,
                    format!("NOQUEUE: reject: RCPT from [{}]:{port}: 550 5.7.1 Service unavailable; client [{}] blocked using zen.dnsbl.example; from=<x@example.com>, to=<info@{DOMAIN}>, proto=ESMTP, helo=<User>", c.ip, c.ip),
                );
                t += self.rng.u64(1..200);
                self.push(t, "postfix/postscreen", ps, format!("DISCONNECT [{}]:{port}", c.ip));
            }
            _ => {
                t += self.rng.u64(100..3000);
                let after = self.rng.u32(0..10);
                self.push(
                    t,
                    "postfix/postscreen",
                    ps,
                    format!("HANGUP after 1.{after} from [{}]:{port} in tests after SMTP handshake", c.ip),
                );
                t += self.rng.u64(0..5);
                self.push(t, "postfix/postscreen", ps, format!("DISCONNECT [{}]:{port}", c.ip));
            }
        }
    }

    fn scanner(&mut self, mut t: u64) {
        let c = self.attacker();
        let pid = self.smtpd_pid();
        let prog = if self.rng.bool() { "postfix/submission/smtpd" } else { "postfix/smtpd" };
        let who = format!("{}[{}]", c.name, c.ip);
        self.push(t, prog, pid, format!("connect from {who}"));
        t += self.rng.u64(10..5000);
        match self.rng.u32(0..4) {
            0 => {
                self.push(t, prog, pid, format!("lost connection after CONNECT from {who}"));
                t += self.rng.u64(0..3);
                self.push(t, prog, pid, format!("disconnect from {who} commands=0/0"));
            }
            1 => {
                self.push(t, prog, pid, format!("lost connection after EHLO from {who}"));
                t += self.rng.u64(0..3);
                self.push(t, prog, pid, format!("disconnect from {who} ehlo=1 commands=1"));
            }
            2 => {
                self.push(t, prog, pid, format!("warning: non-SMTP command from {who}: GET / HTTP/1.1"));
                t += self.rng.u64(0..3);
                self.push(t, prog, pid, format!("disconnect from {who} unknown=0/1 commands=0/1"));
            }
            _ => {
                self.push(t, prog, pid, format!("disconnect from {who} ehlo=1 quit=1 commands=2"));
            }
        }
    }

    fn dovecot_no_auth(&mut self, t: u64) {
        let c = self.attacker();
        let sess = self.session_id();
        let lip = Self::lip(c.ip);
        let secs = self.rng.u32(0..30);
        let body = match self.rng.u32(0..3) {
            0 => format!(
                "imap-login: Disconnected (no auth attempts in {secs} secs): user=<>, rip={}, lip={lip}, TLS handshaking: SSL_accept() failed: error:0A00006C:SSL routines::bad key share, session=<{sess}>",
                c.ip
            ),
            1 => format!(
                "pop3-login: Disconnected (no auth attempts in {secs} secs): user=<>, rip={}, lip={lip}, session=<{sess}>",
                c.ip
            ),
            _ => format!(
                "imap-login: Disconnected (no auth attempts in {secs} secs): user=<>, rip={}, lip={lip}, TLS, session=<{sess}>",
                c.ip
            ),
        };
        self.push(t + secs as u64 * 1000, "dovecot", 0, body);
    }

    fn local_mail(&mut self, mut t: u64) {
        let qid = self.queue_id();
        self.push(t, "postfix/pickup", self.pickup_pid, format!("{qid}: uid=0 from=<root>"));
        t += self.rng.u64(1..30);
        let stamp = 20261101 + self.rng.u32(0..30);
        self.push(
            t,
            "postfix/cleanup",
            self.qmgr_pid + 11,
            format!("{qid}: message-id=<{stamp}.{qid}@{HOST}.{DOMAIN}>"),
        );
        t += self.rng.u64(1..30);
        let to = format!("root@{HOST}.{DOMAIN}");
        self.delivery_tail(t, &qid, &format!("root@{HOST}.{DOMAIN}"), &to, true);
    }

    fn outbound_sasl_trap_or_noise(&mut self, t: u64) {
        if self.rng.u32(0..10) == 0 {
            // Our own relay login failing: an outbound client error, not an attack on us.
            let r = self.relay();
            let qid = self.queue_id();
            let pid = self.smtpd_pid();
            self.push(
                t,
                "postfix/smtp",
                pid,
                format!(
                    "{qid}: SASL authentication failed; server {}[{}] said: 535 5.7.8 Error: authentication failed: authentication failure",
                    r.name, r.ip
                ),
            );
        } else {
            let user = *self.pick(USERS);
            let sess = self.session_id();
            let pid = self.rng.u32(10_000..500_000);
            self.push(t, "dovecot", 0, format!("lmtp({pid}): Connect from local"));
            let t2 = t + self.rng.u64(5..80);
            self.push(
                t2,
                "dovecot",
                0,
                format!("lmtp({user})<{pid}><{sess}>: msgid=<{sess}@example.com>: saved mail to INBOX"),
            );
        }
    }
}

/// Counts of what was written.
#[derive(Default)]
struct Counts {
    bytes: u64,
    lines: u64,
    by_tag: [u64; N_TAGS],
    failures_postfix: u64,
    failures_dovecot: u64,
    successes: u64,
    backend_errors: u64,
    mechanism_invalid: u64,
    /// Lines standing for one or more counted attempts (Postfix warnings, repeat lines, Dovecot
    /// login lines): the records a scan would make if it keeps one per attempt group.
    failure_records: u64,
    grep_authentication_failed: u64,
    attacker_ips: HashSet<IpAddr>,
}

/// Formats `Mmm dd HH:MM:SS` for the instant `ms` after `start`.
struct Clock {
    start: DateTime,
    start_secs_of_day: u64,
    day: u64,
    prefix: [u8; 7],
}

impl Clock {
    fn new(start: DateTime) -> Clock {
        let start_secs_of_day = start.hour() as u64 * 3600 + start.minute() as u64 * 60 + start.second() as u64;
        let mut c = Clock { start, start_secs_of_day, day: u64::MAX, prefix: *b"Jan  1 " };
        c.set_day(0);
        c
    }

    fn set_day(&mut self, day: u64) {
        let date = self.start.date().checked_add(jiff::Span::new().days(day as i64)).expect("date in range");
        let m = MONTHS[date.month() as usize - 1].as_bytes();
        let d = date.day() as u8;
        self.prefix = [m[0], m[1], m[2], b' ', if d >= 10 { b'0' + d / 10 } else { b' ' }, b'0' + d % 10, b' '];
        self.day = day;
    }

    fn civil(&self, ms: u64) -> DateTime {
        self.start.checked_add(jiff::SignedDuration::from_millis(ms as i64)).expect("time in range")
    }

    fn write(&mut self, ms: u64, out: &mut Vec<u8>) {
        let s = self.start_secs_of_day + ms / 1000;
        let day = s / 86400;
        if day != self.day {
            self.set_day(day);
        }
        let sod = s % 86400;
        let (h, m, sec) = ((sod / 3600) as u8, (sod / 60 % 60) as u8, (sod % 60) as u8);
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&[
            b'0' + h / 10,
            b'0' + h % 10,
            b':',
            b'0' + m / 10,
            b'0' + m % 10,
            b':',
            b'0' + sec / 10,
            b'0' + sec % 10,
        ]);
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    let n: f64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    if n.is_nan() || n <= 0.0 {
        return Err(format!("bad size {s:?}"));
    }
    Ok((n * mult as f64) as u64)
}

struct Args {
    size: u64,
    size_arg: String,
    seed: u64,
    start: DateTime,
    out: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: gen_traffic [--size N[K|M|G]] [--seed N] [--start YYYY-MM-DDTHH:MM:SS] [--out PATH]\n\
         defaults: --size 100M --seed 42 --start 2026-11-01T00:00:00, output to stdout"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        size: 100 << 20,
        size_arg: "100M".into(),
        seed: 42,
        start: "2026-11-01T00:00:00".parse().unwrap(),
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let (k, inline) = match k.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (k, None),
        };
        if k == "-h" || k == "--help" {
            usage();
        }
        let Some(v) = inline.or_else(|| it.next()) else { usage() };
        let bad = |what: &str| -> ! {
            eprintln!("gen_traffic: bad {what}: {v:?}");
            std::process::exit(2)
        };
        match k.as_str() {
            "--size" => {
                a.size = parse_size(&v).unwrap_or_else(|e| {
                    eprintln!("gen_traffic: {e}");
                    std::process::exit(2)
                });
                a.size_arg = v;
            }
            "--seed" => a.seed = v.parse().unwrap_or_else(|_| bad("seed")),
            "--start" => a.start = v.parse().unwrap_or_else(|_| bad("start")),
            "--out" => a.out = Some(v),
            _ => usage(),
        }
    }
    a
}

fn main() -> io::Result<()> {
    let args = parse_args();
    let began = Instant::now();
    let sink: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(std::fs::File::create(p)?),
        None => Box::new(io::stdout().lock()),
    };
    let mut sink = io::BufWriter::with_capacity(1 << 20, sink);

    let mut g = Gen::new(args.seed);
    let mut clock = Clock::new(args.start);
    let mut counts = Counts::default();
    let finder = memchr::memmem::Finder::new("authentication failed");
    let mut line = Vec::with_capacity(512);
    let mut next_session = 0u64;
    let mut stopping = false;
    let mut last_t = 0u64;
    // Mean gap between session starts: ~4 lines per session, ~0.6 s per line on average.
    let mean_gap_ms = 2600.0;

    loop {
        while !stopping && g.heap.peek().is_none_or(|p| next_session <= p.t) {
            g.session(next_session);
            let u = g.rng.f64().max(1e-12);
            next_session += (-u.ln() * mean_gap_ms) as u64 + 1;
        }
        let Some(p) = g.heap.pop() else { break };
        debug_assert!(p.t >= last_t);
        last_t = p.t;

        line.clear();
        clock.write(p.t, &mut line);
        line.push(b' ');
        line.extend_from_slice(HOST.as_bytes());
        line.push(b' ');
        line.extend_from_slice(p.prog.as_bytes());
        if p.pid != 0 {
            let mut s = String::new();
            let _ = write!(s, "[{}]", p.pid);
            line.extend_from_slice(s.as_bytes());
        }
        line.extend_from_slice(b": ");
        line.extend_from_slice(p.body.as_bytes());
        line.push(b'\n');
        sink.write_all(&line)?;

        counts.bytes += line.len() as u64;
        counts.lines += 1;
        counts.by_tag[p.tag.index()] += 1;
        if finder.find(&line).is_some() {
            counts.grep_authentication_failed += 1;
        }
        match p.tag {
            Tag::PostfixFailure | Tag::PostfixRepeat => {
                counts.failures_postfix += p.n as u64;
                counts.failure_records += 1;
            }
            Tag::DovecotLoginFailure => {
                counts.failures_dovecot += p.n as u64;
                counts.failure_records += 1;
            }
            Tag::PostfixSuccess | Tag::DovecotSuccess => counts.successes += 1,
            Tag::BackendError => counts.backend_errors += 1,
            Tag::MechanismInvalid => counts.mechanism_invalid += 1,
            Tag::Noise | Tag::DovecotBackendFailure => {}
        }
        if let Some(ip) = p.ip {
            counts.attacker_ips.insert(ip);
        }
        if counts.bytes >= args.size {
            stopping = true;
        }
    }
    sink.flush()?;
    drop(sink);

    let elapsed = began.elapsed().as_secs_f64();
    let fmt = |dt: DateTime| dt.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let by_tag: serde_json::Map<String, serde_json::Value> =
        TAG_NAMES.iter().zip(counts.by_tag).map(|(k, v)| (k.to_string(), v.into())).collect();
    let json = serde_json::json!({
        "generator": "examples/gen_traffic.rs",
        "size_arg": args.size_arg,
        "seed": args.seed,
        "start": fmt(args.start),
        "first_line": fmt(clock.civil(0)),
        "last_line": fmt(clock.civil(last_t)),
        "host": HOST,
        "bytes": counts.bytes,
        "lines": counts.lines,
        "failures": counts.failures_postfix + counts.failures_dovecot,
        "failures_postfix": counts.failures_postfix,
        "failures_dovecot": counts.failures_dovecot,
        "failure_records": counts.failure_records,
        "successes": counts.successes,
        "backend_errors": counts.backend_errors,
        "mechanism_invalid": counts.mechanism_invalid,
        "distinct_attacker_ips": counts.attacker_ips.len(),
        "grep_authentication_failed": counts.grep_authentication_failed,
        "lines_by_category": by_tag,
    });
    let text = serde_json::to_string_pretty(&json).expect("json") + "\n";
    eprint!("{text}");
    eprintln!(
        "gen_traffic: {} lines, {:.1} MiB in {elapsed:.2} s ({:.0} MiB/s)",
        counts.lines,
        counts.bytes as f64 / (1 << 20) as f64,
        counts.bytes as f64 / (1 << 20) as f64 / elapsed.max(1e-9)
    );
    if let Some(p) = &args.out {
        std::fs::write(format!("{p}.counts.json"), text)?;
    }
    Ok(())
}
