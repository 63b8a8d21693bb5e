//! Dovecot lines through [`parse_line`](crate::parse::parse_line): login processes, auth backends,
//! PAM, and what an attacker can put in them.

use super::super::parse_line;
use crate::model::event::{Detail, Kind, Layer, Reason};

fn one(line: &str) -> Detail {
    parse_line(line.as_bytes()).unwrap_or_else(|| panic!("no event: {line}")).fields.detail()
}

fn none(line: &str) {
    assert_eq!(parse_line(line.as_bytes()), None, "{line}");
}

#[track_caller]
fn check(d: &Detail, ip: &str, user: Option<&str>, reason: Reason, layer: Layer, service: &str) {
    assert_eq!(d.client_ip.to_string(), ip, "{d:?}");
    assert_eq!(d.username.as_deref(), user, "{d:?}");
    assert_eq!(d.reason, reason, "{d:?}");
    assert_eq!(d.layer, layer, "{d:?}");
    assert_eq!(d.service, service, "{d:?}");
    assert_eq!(d.logged_hostname, None);
}

// --- login processes ---

#[test]
fn login_auth_failed_summaries() {
    let d = one(
        "Jun 13 16:30:54 mx dovecot: imap-login: Disconnected (auth failed, 2 attempts in 7 secs): user=<carol>, method=PLAIN, rip=203.0.113.45, lip=192.0.2.10, TLS, session=<AbCd+/12>",
    );
    check(&d, "203.0.113.45", Some("carol"), Reason::AuthenticationFailure, Layer::LoginFront, "dovecot/imap-login");
    assert_eq!((d.kind, d.count, d.duration_secs), (Kind::Failure, 2, Some(7)));
    assert_eq!(d.mechanism.as_deref(), Some("PLAIN"));
    assert_eq!(d.session.as_deref(), Some("AbCd+/12"));

    let d = one(
        "@400000004c91b044077a9e94 imap-login: Info: Aborted login (auth failed, 1 attempts): user=<dan@example.org>, method=CRAM-MD5, rip=198.51.100.80, lip=192.0.2.1, TLS",
    );
    check(
        &d,
        "198.51.100.80",
        Some("dan@example.org"),
        Reason::AuthenticationFailure,
        Layer::LoginFront,
        "dovecot/imap-login",
    );
    assert_eq!((d.count, d.duration_secs, d.session.as_deref()), (1, None, None));
    assert_eq!(d.mechanism.as_deref(), Some("CRAM-MD5"));

    let d = one(
        "Jun 14 00:48:21 p dovecot: imap-login: Disconnected (auth failed, 1 attempts): method=PLAIN, rip=198.51.100.81, lip=192.0.2.1, TLS: Disconnected",
    );
    check(&d, "198.51.100.81", None, Reason::AuthenticationFailure, Layer::LoginFront, "dovecot/imap-login");
    assert_eq!(d.mechanism.as_deref(), Some("PLAIN"));

    let d = one(
        "Jun 12 19:07:29 h dovecot[241]: managesieve-login: Login aborted: Connection closed (auth failed, 3 attempts in 16 secs) (auth_failed): user=<eve>, method=PLAIN, rip=::ffff:192.0.2.241, lip=203.0.113.104, TLS, session=<9ZHq02g3>",
    );
    check(
        &d,
        "192.0.2.241",
        Some("eve"),
        Reason::AuthenticationFailure,
        Layer::LoginFront,
        "dovecot/managesieve-login",
    );
    assert_eq!((d.count, d.duration_secs), (3, Some(16)));
    assert!(d.client_ip.is_ipv4());

    let d = one(
        "Aug 28 06:38:52 s dovecot: imap-login: Disconnected: Connection closed: read(size=1003) failed: Connection reset by peer (auth failed, 1 attempts in 0 secs): user=<frank@example.com>, rip=2001:db8::44, lip=127.0.0.19, session=<Lsz0Oo7W>",
    );
    check(
        &d,
        "2001:db8::44",
        Some("frank@example.com"),
        Reason::AuthenticationFailure,
        Layer::LoginFront,
        "dovecot/imap-login",
    );
    assert_eq!((d.mechanism, d.duration_secs), (None, Some(0)));

    let d = one(
        "Jan 29 09:38:03 pop3-login: Info: Disconnected: Inactivity (auth failed, 1 attempts in 178 secs): user=<gina>, method=PLAIN, rip=198.51.100.82",
    );
    check(&d, "198.51.100.82", Some("gina"), Reason::AuthenticationFailure, Layer::LoginFront, "dovecot/pop3-login");
    let d = one(
        "Aug 29 03:17:18 s dovecot: submission-login: Client has quit the connection (auth failed, 1 attempts in 2 secs): user=<u1>, method=LOGIN, rip=192.0.2.133, lip=0.0.0.0",
    );
    check(&d, "192.0.2.133", Some("u1"), Reason::AuthenticationFailure, Layer::LoginFront, "dovecot/submission-login");
    let d = one(
        "Aug 29 03:53:52 s dovecot: submission-login: Remote closed connection (auth failed, 1 attempts in 2 secs): user=<u4>, method=PLAIN, rip=192.0.2.169, lip=0.0.0.0",
    );
    check(&d, "192.0.2.169", Some("u4"), Reason::AuthenticationFailure, Layer::LoginFront, "dovecot/submission-login");
}

#[test]
fn login_other_reasons() {
    let d = one(
        "Dec 12 11:19:11 d dovecot: pop3-login: Aborted login (tried to use disabled plaintext auth): rip=198.51.100.90, lip=192.0.2.2",
    );
    check(&d, "198.51.100.90", None, Reason::PlaintextDisallowed, Layer::LoginFront, "dovecot/pop3-login");
    assert_eq!(d.count, 1);
    let d = one(
        "Jul 26 11:11:21 h dovecot: imap-login: Disconnected: Too many invalid commands (tried to use disallowed plaintext auth): user=<test>, rip=198.51.100.91, lip=192.0.2.1, session=<S5dI>",
    );
    check(&d, "198.51.100.91", Some("test"), Reason::PlaintextDisallowed, Layer::LoginFront, "dovecot/imap-login");
    assert_eq!(d.session.as_deref(), Some("S5dI"));
    let d = one(
        "Aug 31 16:06:05 s dovecot: imap-login: Disconnected: a: a: a: a: a: (reason: x) (tried to use disallowed test auth): user=<>, rip=198.51.100.92",
    );
    check(&d, "198.51.100.92", None, Reason::MechanismDisallowed, Layer::LoginFront, "dovecot/imap-login");
    let d = one(
        "Jul 17 09:21:22 px dovecot: imap-login: Disconnected (proxy dest auth failed): user=<hal@example.com.au>, method=PLAIN, rip=198.51.100.93, lip=192.168.1.2, session=<NTI4>",
    );
    check(
        &d,
        "198.51.100.93",
        Some("hal@example.com.au"),
        Reason::ProxyAuthFailed,
        Layer::LoginFront,
        "dovecot/imap-login",
    );
}

#[test]
fn login_success() {
    let d = one(
        "Oct 13 09:22:59 c dovecot: pop3-login: Info: Login: user=<ivy@example.net>, method=PLAIN, rip=172.16.5.1, lip=172.16.5.2, mpid=18, TLS, session=<PeYc>",
    );
    check(&d, "172.16.5.1", Some("ivy@example.net"), Reason::LoginOk, Layer::LoginFront, "dovecot/pop3-login");
    assert_eq!((d.kind, d.count, d.session.as_deref()), (Kind::Success, 1, Some("PeYc")));
    assert_eq!(d.mechanism.as_deref(), Some("PLAIN"));
}

#[test]
fn login_username_injection() {
    // Fake rip inside the username: the last `, rip=` is the real one.
    let d = one(
        "Jun 13 16:30:54 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=10.6.6.6, lip=1.1.1.1, session=<F>>, method=PLAIN, rip=203.0.113.7, lip=192.0.2.10, session=<Real>",
    );
    check(
        &d,
        "203.0.113.7",
        Some("x>, method=PLAIN, rip=10.6.6.6, lip=1.1.1.1, session=<F>"),
        Reason::AuthenticationFailure,
        Layer::LoginFront,
        "dovecot/imap-login",
    );
    assert_eq!(d.session.as_deref(), Some("Real"));
    assert_eq!(d.mechanism.as_deref(), Some("PLAIN"));
    // A fake `(auth failed, ...)` inside a username of a no-attempt line is not a marker.
    none(
        "Aug 31 16:15:10 s dovecot: imap-login: Disconnected (client didn't finish SASL auth, waited 2 secs): user=<(auth failed, 9 attempts in 1 secs)>, method=PLAIN, rip=192.0.2.6, lip=192.168.1.2",
    );
    // Non-UTF-8 and control bytes are escaped.
    let d = parse_line(b"Jun 13 16:30:54 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<j\xf6rg\x07>, method=PLAIN, rip=203.0.113.8").unwrap().fields.detail();
    assert_eq!(d.username.as_deref(), Some("j\\xF6rg\\x07"));
}

#[test]
fn login_non_events() {
    for line in [
        "Jan 29 09:38:46 pop3-login: Info: Disconnected (no auth attempts in 10 secs): user=<>, rip=198.51.100.1, TLS handshaking: SSL_accept() failed: error:140760FC:SSL routines:SSL23_GET_CLIENT_HELLO:unknown protocol",
        "Jun 13 20:48:11 p dovecot: pop3-login: Disconnected (no auth attempts): rip=198.51.100.2, lip=192.0.2.1, TLS: Disconnected",
        "Aug 22 12:09:41 s dovecot: imap-login: Login aborted: Connection closed: read(size=653) failed: Connection reset by peer (no auth attempts in 1 secs) (no_auth_attempts): user=<>, rip=192.0.2.6, lip=192.0.2.1, TLS, session=<qMLs>",
        "Aug 29 16:06:58 s dovecot: imap-login: Disconnected (disconnected before auth was ready, waited 0 secs): user=<>, rip=192.0.2.5, lip=192.168.1.2, TLS handshaking: SSL_accept() syscall failed: Connection reset by peer",
        "Aug 22 12:09:41 s dovecot: imap-login: Login aborted: Connection closed: SSL_accept() failed: error:0A0000C1:SSL routines::no shared cipher (disconnected during TLS handshake) (tls_handshake_not_finished): user=<>, rip=192.0.2.7, lip=192.0.2.1, session=<Q23y>",
        "Aug 31 16:06:06 s dovecot: imap-login: Disconnected: a: a: a: a: a: a: a: a: a: a: a: a: a: a: a: a: a: a: a: a: a: a: test no match",
        "Jun 13 16:30:54 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<x>, method=PLAIN, lip=192.0.2.10",
        "Jun 13 16:30:54 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<x>, method=PLAIN, rip=not-an-ip",
        "Jun 13 16:30:54 mx dovecot: imap: Disconnected (auth failed, 1 attempts): user=<x>, method=PLAIN, rip=192.0.2.1",
    ] {
        none(line);
    }
    // The GHSA case stays fast with a huge repetition.
    let line = format!("Aug 31 16:06:06 s dovecot: imap-login: Disconnected: {}test no match", "a: ".repeat(300_000));
    let start = std::time::Instant::now();
    none(&line);
    assert!(start.elapsed().as_secs() < 5);
}

// --- auth backend ---

#[test]
fn backend_drivers_and_prefix_chains() {
    let d = one("Jan 29 05:13:50 mail dovecot: auth: passwd-file(kim,192.0.2.20): unknown user");
    check(&d, "192.0.2.20", Some("kim"), Reason::UnknownUser, Layer::Backend, "dovecot/auth");
    assert_eq!((d.kind, d.count, d.session.as_deref(), d.mechanism.as_deref()), (Kind::Failure, 1, None, None));

    let d = one(
        "Jan 29 05:32:50 mail dovecot: auth-worker(304): pam(lee,192.0.2.21): pam_authenticate() failed: Authentication failure (password mismatch?)",
    );
    check(&d, "192.0.2.21", Some("lee"), Reason::PasswordMismatch, Layer::Backend, "dovecot/auth-worker");
    let d = one(
        "Jan 29 18:55:55 mail dovecot: auth-worker(12182): pam(lee,192.0.2.22): pam_authenticate() failed: Authentication failure (Password mismatch?)",
    );
    assert_eq!(d.reason, Reason::PasswordMismatch);

    let d = one(
        "Jul 02 13:49:32 h dovecot[442]: dovecot: auth(default): pam(acct@EXAMPLE.com,192.0.2.23): pam_authenticate() failed: User not known to the underlying authentication module: 2 Time(s)",
    );
    check(&d, "192.0.2.23", Some("acct@EXAMPLE.com"), Reason::UnknownUser, Layer::Backend, "dovecot/auth");
    assert_eq!(d.count, 2);

    let d = one(
        "2013-08-11 03:56:40 auth-worker(default): Info: pam(mo,192.0.2.24): pam_authenticate() failed: Authentication failure (password mismatch?)",
    );
    check(&d, "192.0.2.24", Some("mo"), Reason::PasswordMismatch, Layer::Backend, "dovecot/auth-worker");

    let d = one("Jan 29 13:54:06 auth-worker(22401): Info: sql(ned@example.de,192.0.2.25,<n4JLdHNV>): unknown user");
    check(&d, "192.0.2.25", Some("ned@example.de"), Reason::UnknownUser, Layer::Backend, "dovecot/auth-worker");
    assert_eq!(d.session.as_deref(), Some("n4JLdHNV"));

    let d = one(
        "Jun 12 23:06:05 auth-worker(57065): Info: conn unix:auth-worker (uid=143): auth-worker<225622>: sql(oz@example.com,192.0.2.26,<Yx7+W8+Io>): Password mismatch",
    );
    check(&d, "192.0.2.26", Some("oz@example.com"), Reason::PasswordMismatch, Layer::Backend, "dovecot/auth-worker");
    assert_eq!(d.session.as_deref(), Some("Yx7+W8+Io"));

    let d = one(
        "Apr 29 15:54:21 mail dovecot: auth-worker(14877): conn unix:auth-worker (pid=14830,uid=109): auth-worker<5>: pam(a,5.34.207.161): pam_authenticate() failed: Authentication failure (Password mismatch?)",
    );
    check(&d, "5.34.207.161", Some("a"), Reason::PasswordMismatch, Layer::Backend, "dovecot/auth-worker");

    let d = one(
        "Jan 29 14:38:51 example.com dovecot[24941]: auth-worker(30165): pam(pat@example.com,192.0.2.27,<PNHQ>): pam_authenticate() failed: Permission denied",
    );
    check(&d, "192.0.2.27", Some("pat@example.com"), Reason::PermissionDenied, Layer::Backend, "dovecot/auth-worker");
    let d = one(
        "Jan 29 14:38:51 e dovecot: auth-worker(1): pam(q,192.0.2.28): pam_authenticate() failed: Authentication failure",
    );
    assert_eq!(d.reason, Reason::AuthenticationFailure);

    let d = one("Mar 23 06:10:52 auth: Info: ldap(dog,198.51.100.121,): invalid credentials");
    check(&d, "198.51.100.121", Some("dog"), Reason::InvalidCredentials, Layer::Backend, "dovecot/auth");

    let d = one(
        "Jun 11 13:57:17 main dovecot: auth: ldap(rae@example.org,192.0.2.29,<LZmG>): Password mismatch (for LDAP bind) (SHA1 of given password: f638ff)",
    );
    check(&d, "192.0.2.29", Some("rae@example.org"), Reason::PasswordMismatch, Layer::Backend, "dovecot/auth");
    assert_eq!(d.session.as_deref(), Some("LZmG"));

    let d = one("Jun 11 13:57:17 main dovecot: auth: sql(sam,2001:db8::29,master,<MsT>): unknown user");
    check(&d, "2001:db8::29", Some("sam"), Reason::UnknownUser, Layer::Backend, "dovecot/auth");
    assert_eq!(d.session.as_deref(), Some("MsT"));

    let d = one("Jun 11 13:57:17 main dovecot-auth: passwd(tom,::ffff:192.0.2.30): unknown user");
    check(&d, "192.0.2.30", Some("tom"), Reason::UnknownUser, Layer::Backend, "dovecot/auth");
}

#[test]
fn backend_dovecot_24_tuple_in_tag_position() {
    let d = one(
        "Aug 30 00:10:57 auth(uma@example.com,192.0.2.110,sasl:login)<CvN+E95Uf4e7eEnj>: Info: sql: Password mismatch (given password: S3cretPw)",
    );
    check(&d, "192.0.2.110", Some("uma@example.com"), Reason::PasswordMismatch, Layer::Backend, "dovecot/auth");
    assert_eq!(d.session.as_deref(), Some("CvN+E95Uf4e7eEnj"));
    assert_eq!(d.mechanism.as_deref(), Some("LOGIN"));
    // A username that looks like a process id.
    let d = one(
        "Aug 30 00:10:57 auth(123): pam(a,10.6.6.6): pam_authenticate() failed: ,192.0.2.111,sasl:plain)<Q>: Info: sql: unknown user",
    );
    check(
        &d,
        "192.0.2.111",
        Some("123): pam(a,10.6.6.6): pam_authenticate() failed: "),
        Reason::UnknownUser,
        Layer::Backend,
        "dovecot/auth",
    );
}

#[test]
fn backend_injection_in_username_and_password() {
    // Fake tuple in the username: the message must run to the end of the line.
    let d = one(
        "Jan 29 05:13:40 mail dovecot: auth-worker(31326): pam(x,10.6.6.6): unknown user,192.0.2.40): unknown user",
    );
    check(
        &d,
        "192.0.2.40",
        Some("x,10.6.6.6): unknown user"),
        Reason::UnknownUser,
        Layer::Backend,
        "dovecot/auth-worker",
    );
    let d = one(
        "Jan 29 05:13:40 mail dovecot: auth-worker(31326): pam(x,10.6.6.6): pam_authenticate() failed: x,192.0.2.41): Password mismatch",
    );
    check(
        &d,
        "192.0.2.41",
        Some("x,10.6.6.6): pam_authenticate() failed: x"),
        Reason::PasswordMismatch,
        Layer::Backend,
        "dovecot/auth-worker",
    );
    // Fake tuple in the given password: inside the span of the earlier valid candidate.
    let d = one(
        "2024-12-31T06:56:17.784598+01:00 mail dovecot: auth-worker(10377): conn unix:auth-worker (pid=919,uid=112): auth-worker<1>: sql(vic@example.com,192.0.2.42): unknown user (given password: S3cret,10.6.6.6): unknown user)",
    );
    check(&d, "192.0.2.42", Some("vic@example.com"), Reason::UnknownUser, Layer::Backend, "dovecot/auth-worker");
    let d = one(
        "Jun 11 13:57:17 m dovecot: auth: sql(w,192.0.2.43,<s1>): Password mismatch (given password: S3cret,10.6.6.6,<s2>): unknown user)",
    );
    check(&d, "192.0.2.43", Some("w"), Reason::PasswordMismatch, Layer::Backend, "dovecot/auth");
    assert_eq!(d.session.as_deref(), Some("s1"));
    // A whole fake syslog line in the username.
    let d = one(
        "Jun 11 13:57:17 m dovecot: auth: sql(Jun 11 13:57:17 m dovecot: auth: sql(z,10.6.6.6): unknown user,192.0.2.44): unknown user",
    );
    check(
        &d,
        "192.0.2.44",
        Some("Jun 11 13:57:17 m dovecot: auth: sql(z,10.6.6.6): unknown user"),
        Reason::UnknownUser,
        Layer::Backend,
        "dovecot/auth",
    );
    // A fake tuple beyond Dovecot's username length is not a candidate.
    let long = "y".repeat(80);
    let d = one(&format!(
        "Jun 11 13:57:17 m dovecot: auth: sql(a,192.0.2.45): unknown user (given password: {long},10.6.6.6): unknown user)"
    ));
    assert_eq!(d.client_ip.to_string(), "192.0.2.45");
    // Truncated username (Dovecot appends `...`).
    let d = one(&format!("Jun 11 13:57:17 m dovecot: auth: sql({}...,192.0.2.46): unknown user", "u".repeat(64)));
    assert_eq!(d.client_ip.to_string(), "192.0.2.46");
    assert_eq!(d.username.as_deref().map(str::len), Some(67));
}

#[test]
fn backend_non_events() {
    for line in [
        "Jan 29 05:13:40 mail dovecot: auth-worker(31326): pam(x,10.6.6.6): unknown user - trying next",
        "Jan 29 05:13:40 mail dovecot: auth-worker(31326): pam(x): unknown user",
        "Jan 29 05:13:40 mail dovecot: auth-worker(31326): pam(x,,<s>): unknown user",
        "Jan 29 05:13:40 mail dovecot: auth: Error: ldap: connection lost",
        "Jan 29 05:13:40 mail dovecot: auth: sql(x,192.0.2.1): Password mismatch (given password: open",
        "Jan 29 05:13:40 mail dovecot: lmtp(x,192.0.2.1): unknown user",
        "Jan 29 05:13:40 mail sshd[1]: pam(x,192.0.2.1): unknown user",
    ] {
        none(line);
    }
}

// --- PAM ---

#[test]
fn pam_module_lines() {
    let d = one(
        "Apr 19 05:22:20 vm5 auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=informix rhost=198.51.100.104",
    );
    check(&d, "198.51.100.104", Some("informix"), Reason::AuthenticationFailure, Layer::Pam, "auth");
    assert_eq!((d.kind, d.count, d.mechanism.as_deref()), (Kind::Failure, 1, None));
    let d = one(
        "@400000004c91b044077a9e94 dovecot-auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=root rhost=198.51.100.225  user=root",
    );
    check(&d, "198.51.100.225", Some("root"), Reason::AuthenticationFailure, Layer::Pam, "dovecot-auth");
    let d = one(
        "Apr 19 05:22:20 vm5 dovecot: auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser= rhost=2001:db8::9",
    );
    check(&d, "2001:db8::9", None, Reason::AuthenticationFailure, Layer::Pam, "dovecot");
    let d = one(
        "Apr 19 05:22:20 vm5 auth: pam_sss(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=ann rhost=198.51.100.5  user=ann@example.org",
    );
    check(&d, "198.51.100.5", Some("ann@example.org"), Reason::AuthenticationFailure, Layer::Pam, "auth");
}

#[test]
fn pam_injection() {
    let d = one(
        "@400000004c91b044077a9e94 dovecot-auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=rhost=10.6.6.6 rhost=198.51.100.10",
    );
    check(&d, "198.51.100.10", Some("rhost=10.6.6.6"), Reason::AuthenticationFailure, Layer::Pam, "dovecot-auth");
    let s = "b rhost=10.6.6.6  user=b rhost=10.7.7.7";
    let d = one(&format!(
        "Apr 19 05:22:20 vm5 auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser={s} rhost=198.51.100.11  user={s}"
    ));
    check(&d, "198.51.100.11", Some(s), Reason::AuthenticationFailure, Layer::Pam, "auth");
}

#[test]
fn pam_non_events() {
    none(
        "Apr 19 05:22:20 vm5 sshd[9]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.1  user=root",
    );
    none(
        "Apr 19 05:22:20 vm5 auth: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.1",
    );
    none("Apr 19 05:22:20 vm5 auth: pam_unix(dovecot:auth): check pass; user unknown");
    none(
        "Apr 19 05:22:20 vm5 auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=x rhost=",
    );
}

#[test]
fn repeated_dovecot_lines() {
    let d = one(
        "Jan 29 05:13:50 mail dovecot: message repeated 4 times: [ auth: passwd-file(kim,192.0.2.20): unknown user]",
    );
    assert_eq!((d.count, d.reason, d.username.as_deref()), (4, Reason::UnknownUser, Some("kim")));
    let d = one(
        "Jan 29 05:13:50 mail dovecot: message repeated 2 times: [ imap-login: Disconnected (auth failed, 3 attempts in 9 secs): user=<kim>, method=PLAIN, rip=192.0.2.20, lip=192.0.2.1]",
    );
    assert_eq!(d.count, 6);
}
