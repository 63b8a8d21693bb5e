//! [`parse_line`](super::parse_line) and [`untimed`](super::untimed) on the hand-written fixtures,
//! mutated and random lines.

use super::*;

/// Hand-written lines covering every accepted and rejected variant, one per line; `#` starts
/// a comment.
const FIXTURES: &str = include_str!("../../tests/fixtures/parse/lines.log");

fn fixture_lines() -> impl Iterator<Item = &'static str> {
    FIXTURES.lines().filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn has_needle(line: &[u8]) -> bool {
    Prefilter::default().matches(line)
}

#[test]
fn every_accepted_fixture_line_contains_a_needle() {
    let mut accepted = 0;
    for line in fixture_lines() {
        if parse_line(line.as_bytes()).is_some() {
            accepted += 1;
            assert!(has_needle(line.as_bytes()), "accepted without needle: {line}");
        }
    }
    assert!(accepted >= 40, "only {accepted} fixture lines accepted");
}

#[test]
fn accepted_events_never_carry_password_material() {
    for line in fixture_lines() {
        if let Some(p) = parse_line(line.as_bytes()) {
            let d = format!("{:?}", p.fields.detail());
            assert!(!d.contains("S3cret"), "password leaked from {line}: {d}");
            assert!(!d.contains("given password"), "password leaked from {line}: {d}");
        }
    }
}

#[test]
fn needle_property_on_mutated_fixture_lines() {
    // Truncations and byte flips of accepted lines must still obey the needle contract.
    let mut rng = fastrand::Rng::with_seed(7);
    for line in fixture_lines() {
        let b = line.as_bytes();
        for _ in 0..30 {
            let mut m = b.to_vec();
            match rng.u8(0..3) {
                0 => m.truncate(rng.usize(0..=b.len())),
                1 => {
                    let i = rng.usize(0..m.len());
                    m[i] = rng.u8(..);
                }
                _ => {
                    let i = rng.usize(0..m.len());
                    m.remove(i);
                }
            }
            if parse_line(&m).is_some() {
                assert!(has_needle(&m), "accepted without needle: {}", String::from_utf8_lossy(&m));
            }
        }
    }
}

#[test]
fn events_without_a_timestamp_are_recognised_as_such() {
    for line in [
        "postfix/submission/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        "auth: Info: passwd-file(bob,192.0.2.5): Password mismatch",
        "imap-login: Info: Disconnected (auth failed, 3 attempts in 8 secs): user=<bob>, method=PLAIN, \
         rip=192.0.2.5, lip=192.0.2.1, session=<abc>",
        "dovecot: imap-login: Login: user=<bob>, method=PLAIN, rip=192.0.2.5, lip=192.0.2.1\r",
    ] {
        assert_eq!(parse_line(line.as_bytes()), None, "{line}");
        assert!(untimed(line.as_bytes()), "{line}");
        let timed = format!("Nov 24 10:00:00 mx1 {line}");
        assert!(parse_line(timed.as_bytes()).is_some(), "{timed}");
        assert!(!untimed(timed.as_bytes()), "{timed}");
    }
    for line in [
        "postfix/smtpd[1]: connect from unknown[192.0.2.1]",
        "auth: Info: passwd-file(bob,192.0.2.5): logged in",
        "random text with auth in it",
        "",
        // A timestamp that is there but names no real date is another problem.
        "Feb 30 10:00:00 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x",
    ] {
        assert!(!untimed(line.as_bytes()), "{line}");
    }
}

#[test]
fn carriage_return_is_stripped() {
    let p = parse_line(b"Jan 1 00:00:00 m postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: , sasl_username=bob\r").unwrap();
    assert_eq!(p.fields.username, Some(&b"bob"[..]));
    assert_eq!(p.host, Some(&b"m"[..]));
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = fastrand::Rng::with_seed(42);
    let alphabet: &[u8] = b"abc:;,()<>[] =@.0123456789\x00\xff\xc3user=rip=auth failed";
    for _ in 0..20_000 {
        let len = rng.usize(0..200);
        let mut v: Vec<u8> = (0..len).map(|_| alphabet[rng.usize(0..alphabet.len())]).collect();
        if rng.bool() {
            let prefix: &[u8] = match rng.u8(0..4) {
                0 => b"Jan  1 00:00:00 h dovecot: auth: pam(",
                1 => b"Jan  1 00:00:00 h dovecot: imap-login: ",
                2 => b"Jan  1 00:00:00 h postfix/smtpd[1]: warning: ",
                _ => b"@400000004c91b044077a9e94 auth(",
            };
            v.splice(0..0, prefix.iter().copied());
        }
        let _ = parse_line(&v);
    }
    for _ in 0..2_000 {
        let v: Vec<u8> = (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect();
        let _ = parse_line(&v);
    }
}

#[test]
fn megabyte_lines_are_fast_and_safe() {
    let start = std::time::Instant::now();
    let fill = |unit: &str| unit.repeat(1_048_576 / unit.len());
    let heads = [
        "Jan  1 00:00:00 h dovecot: imap-login: Disconnected: ",
        "Jan  1 00:00:00 h dovecot: auth: sql(",
        "Jan  1 00:00:00 h dovecot: auth-worker(1): pam(",
        "Aug 30 00:10:57 auth(",
        "Jan  1 00:00:00 h postfix/smtpd[1]: warning: ",
        "Jan  1 00:00:00 h postfix/smtpd[1]: 1A2B: client=h[192.0.2.1]",
        "Jan  1 00:00:00 h auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=",
        "Jan  1 00:00:00 h postfix/smtpd[1]: message repeated 5 times: [ ",
    ];
    let units = [
        "a: ",
        ",1.2.3.4): unknown user ",
        ",1.2.3.4): pam_authenticate() failed: x: ",
        ",1.2.3.4,sasl:login)<s>: Info: sql: unknown user (given password: ",
        ", rip=1.2.3.4",
        "user=<",
        "(given password: ",
        ",1.2.3.4,<s>",
        " rhost=1.2.3.4",
        "[",
        "(auth failed, 1 attempts",
        ": ",
        "x",
    ];
    for head in heads {
        for unit in units {
            let mut line = head.as_bytes().to_vec();
            line.extend_from_slice(fill(unit).as_bytes());
            let _ = parse_line(&line);
            line.extend_from_slice(
                b"), user=<a>, method=PLAIN, rip=192.0.2.9, lip=192.0.2.1: unknown user rhost=192.0.2.9",
            );
            let _ = parse_line(&line);
        }
    }
    // A 1 MB username still yields the real IP.
    let mut line = b"Jan  1 00:00:00 h postfix/smtpd[1]: warning: unknown[192.0.2.99]: SASL LOGIN authentication failed: x, sasl_username=".to_vec();
    line.extend(std::iter::repeat_n(b'A', 1 << 20));
    let p = parse_line(&line).unwrap();
    assert_eq!(p.fields.client_ip.to_string(), "192.0.2.99");
    let mut line = b"Jan  1 00:00:00 h dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<".to_vec();
    line.extend(std::iter::repeat_n(b'>', 1 << 20));
    line.extend_from_slice(b">, method=PLAIN, rip=192.0.2.98, lip=192.0.2.1");
    let p = parse_line(&line).unwrap();
    assert_eq!(p.fields.client_ip.to_string(), "192.0.2.98");
    // Debug builds are slow; this bounds quadratic behaviour, not speed.
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}

/// Used by `scripts/corpus-check.py --parser-only`: parses every line of
/// `$MLS_PARSE_INPUT` and writes one tab-separated result per line to `$MLS_PARSE_OUTPUT`
/// (`kind reason ip username`, or `-` for no event).
#[test]
#[ignore]
fn dump_for_corpus_check() {
    let (Ok(input), Ok(output)) = (std::env::var("MLS_PARSE_INPUT"), std::env::var("MLS_PARSE_OUTPUT")) else {
        return;
    };
    let data = std::fs::read(input).unwrap();
    let mut out = String::new();
    for line in data.split(|&b| b == b'\n') {
        match parse_line(line) {
            Some(p) => {
                let d = p.fields.detail();
                let user = d.username.unwrap_or_default();
                out.push_str(&format!("{}\t{}\t{}\t{}\n", d.kind.as_str(), d.reason.as_str(), d.client_ip, user));
            }
            None => out.push_str("-\n"),
        }
    }
    std::fs::write(output, out).unwrap();
}

#[test]
fn repeat_unwrapping() {
    assert_eq!(unrepeat(b"message repeated 4 times: [ x]"), (&b"x"[..], 4));
    assert_eq!(unrepeat(b"message repeated 4 times: [ x]]"), (&b"x]"[..], 4));
    assert_eq!(unrepeat(b"message repeated many times: [ x]"), (&b"message repeated many times: [ x]"[..], 1));
    assert_eq!(unrepeat(b"message repeated 99999999999 times: [ x]").1, 1);
}

#[test]
fn nuls_a_priority_and_a_missing_host_do_not_hide_an_event() {
    let line = "Nov 24 10:00:01 mx postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x";
    let event = parse_line(line.as_bytes()).unwrap();
    let mut nuls = vec![0; 300];
    nuls.extend_from_slice(line.as_bytes());
    nuls.extend_from_slice(&[0; 20]);
    assert_eq!(parse_line(&nuls), Some(event));
    assert_eq!(parse_line(format!("<22>{line}").as_bytes()), Some(event));
    assert_eq!(parse_line(format!("<191>{line}\r").as_bytes()), Some(event));
    let without_host = line.replace(" mx ", " ");
    let hostless = parse_line(without_host.as_bytes()).unwrap();
    assert_eq!((hostless.host, hostless.fields), (None, event.fields));
    // Not a priority: the line stays unread.
    assert_eq!(parse_line(format!("<2222>{line}").as_bytes()), None);
    assert_eq!(parse_line(format!("<>{line}").as_bytes()), None);
    // An IPv6 host ending in `::` is a host, not a tag.
    let v6_host = line.replace(" mx ", " fe80:: ");
    let v6 = parse_line(v6_host.as_bytes()).unwrap();
    assert_eq!(v6.host, Some(&b"fe80::"[..]));
}

#[test]
fn candidates_that_are_no_event_are_told_from_unreadable_ones() {
    for line in [
        "Nov 24 10:00:01 mx postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed",
        "Nov 24 10:00:01 mx postfix/smtpd[1]: warning: unknown[192.0.2.1: SASL LOGIN authentication failed: x",
        "Nov 24 10:00:01 mx postfix/smtpd[1]: ABC: client=unknown[192.0.2.1], sasl_method=PLAIN",
        "Nov 24 10:00:01 mx postfix/smtNov 24 10:00:02 mx postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL \
         LOGIN authentication failed: x",
        "Nov 24 10:00:01 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<a>, \
         rip=999.0.2.1",
        "Nov 24 10:00:01 mx dovecot: auth: passwd-file(bob,not-an-ip): Password mismatch",
    ] {
        assert_eq!(parse_line(line.as_bytes()), None, "{line}");
        assert!(unreadable(line.as_bytes()), "{line}");
    }
    for line in fixture_lines().filter(|l| parse_line(l.as_bytes()).is_none()).chain([
        "Nov 24 10:00:01 mx postfix/smtpd[1]: warning: SASL: Connect to private/auth failed: Connection refused",
        "Nov 24 10:00:01 mx postfix/smtpd[1]: warning: SASL authentication failure: Password verification failed",
        "Nov 24 10:00:01 mx postfix/smtp[1]: 4F2A: SASL authentication failed; server mx.example.net[192.0.2.9] \
         said: 535 5.7.8 Error: authentication failed: authentication failure",
        "Nov 24 10:00:01 mx postfix/smtpd[1]: disconnect from unknown[192.0.2.1] ehlo=1 auth=0/1 quit=1",
        "Nov 24 10:00:01 mx dovecot: imap-login: Disconnected (client didn't finish SASL auth, waited 2 secs): \
         user=<>, method=PLAIN, rip=192.0.2.6, lip=192.0.2.1",
        "Nov 24 10:00:01 mx sshd[9]: pam_unix(sshd:auth): authentication failure; logname= uid=0 rhost=192.0.2.7",
        "# failJSON: { \"desc\": \"proxy dest auth failed\" }",
        "warning: unknown[1.2.3.4]: SASL LOGIN authentication failed: authentication failure",
    ]) {
        assert!(!unreadable(line.as_bytes()), "{line}");
    }
}
