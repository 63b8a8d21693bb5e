//! Every timestamp format, and headers with and without a host.

use super::*;

fn yl(month: i8, day: i8, h: i8, m: i8, s: i8) -> RawTime {
    RawTime::YearLess { month, day, time: civil::time(h, m, s, 0) }
}

#[test]
fn bsd_timestamps_with_any_day_padding() {
    assert_eq!(peek_time(b"Aug 3 15:30:49 x"), Some(yl(8, 3, 15, 30, 49)));
    assert_eq!(peek_time(b"Aug  3 15:30:49 x"), Some(yl(8, 3, 15, 30, 49)));
    assert_eq!(peek_time(b"Jul 02 13:49:31 x"), Some(yl(7, 2, 13, 49, 31)));
    assert_eq!(
        peek_time(b"Dec 31 23:59:59.250 x"),
        Some(RawTime::YearLess { month: 12, day: 31, time: civil::time(23, 59, 59, 250_000_000) })
    );
    assert_eq!(peek_time(b"Foo 3 15:30:49 x"), None);
    assert_eq!(peek_time(b"Aug 32 15:30:49 x"), None);
    assert_eq!(peek_time(b"Aug 3 15:30 x"), None);
    assert_eq!(peek_time(b"warning: unknown[1.2.3.4]: SASL"), None);
    assert_eq!(peek_time(b""), None);
}

#[test]
fn rfc3339_and_civil_timestamps() {
    let t = peek_time(b"2024-12-31T06:56:17.784598+01:00 mail x").unwrap();
    assert_eq!(t, RawTime::Instant("2024-12-31T05:56:17.784598Z".parse().unwrap()));
    let t = peek_time(b"2022-04-14T00:36:03.150Z mailhub x").unwrap();
    assert_eq!(t, RawTime::Instant("2022-04-14T00:36:03.15Z".parse().unwrap()));
    let t = peek_time(b"2022-04-14T00:36:03-0530 x").unwrap();
    assert_eq!(t, RawTime::Instant("2022-04-14T06:06:03Z".parse().unwrap()));
    let t = peek_time(b"2013-08-11 03:56:40 auth-worker(default): x").unwrap();
    assert_eq!(t, RawTime::Civil(civil::datetime(2013, 8, 11, 3, 56, 40, 0)));
    let t = peek_time(b"2013-08-11T03:56:40 host x").unwrap();
    assert_eq!(t, RawTime::Civil(civil::datetime(2013, 8, 11, 3, 56, 40, 0)));
    assert_eq!(peek_time(b"2013-02-30 03:56:40 x"), None);
    assert_eq!(peek_time(b"2013-08-11"), None);
}

#[test]
fn tai64n_labels() {
    let t = peek_time(b"@400000004c91b044077a9e94 imap-login: x").unwrap();
    // 0x4c91b044 = 1284616260, minus the 10 s offset; 0x077a9e94 = 125476500 ns.
    assert_eq!(t, RawTime::Instant(Timestamp::new(1_284_616_250, 125_476_500).unwrap()));
    assert_eq!(peek_time(b"@400000004c91b044077a9e9"), None);
    assert_eq!(peek_time(b"@400000004c91b044077a9eZZ x"), None);
    assert_eq!(peek_time(b"@000000004c91b044077a9e94 x"), None);
}

#[test]
fn syslog_header() {
    let h = split(b"Jul 02 13:49:31 mx1 dovecot[442]: pop3-login: Aborted").unwrap();
    assert_eq!(h.host, Some(&b"mx1"[..]));
    assert_eq!(h.tag, b"dovecot");
    assert_eq!(h.message, b"pop3-login: Aborted");
    let h = split(b"Oct  1 00:00:00 mx postfix/submission/smtpd[1]: warning: x").unwrap();
    assert_eq!(h.tag, b"postfix/submission/smtpd");
    assert_eq!(h.message, b"warning: x");
    let h = split(b"Apr 19 05:22:20 vm5 auth: pam_unix(dovecot:auth): fail").unwrap();
    assert_eq!(h.tag, b"auth");
    assert_eq!(h.message, b"pam_unix(dovecot:auth): fail");
    // A host named like a Dovecot process is still a host.
    let h = split(b"Apr 19 05:22:20 imap dovecot: auth: x").unwrap();
    assert_eq!(h.host, Some(&b"imap"[..]));
    assert_eq!(h.message, b"auth: x");
    assert!(split(b"Apr 19 05:22:20 host notag message").is_none());
    assert!(split(b"Apr 19 05:22:20").is_none());
    assert!(split(b"Apr 19 05:22:20 host").is_none());
}

#[test]
fn dovecot_own_log_has_no_host() {
    let h = split(b"Jan 29 09:33:58 pop3-login: Info: Aborted login").unwrap();
    assert_eq!(h.host, None);
    assert_eq!(h.tag, b"dovecot");
    assert_eq!(h.message, b"pop3-login: Info: Aborted login");
    let h = split(b"2013-08-11 03:56:40 auth-worker(default): Info: pam(u,1.2.3.4): x").unwrap();
    assert_eq!((h.host, h.tag), (None, &b"dovecot"[..]));
    assert_eq!(h.message, b"auth-worker(default): Info: pam(u,1.2.3.4): x");
    let h = split(b"Aug 30 00:10:57 auth(a b,192.0.2.1,sasl:login)<S>: Info: sql: x").unwrap();
    assert_eq!(h.message, b"auth(a b,192.0.2.1,sasl:login)<S>: Info: sql: x");
    let h = split(b"@400000004c91b044077a9e94 dovecot-auth: pam_unix(dovecot:auth): x").unwrap();
    assert_eq!((h.host, h.tag), (None, &b"dovecot-auth"[..]));
    assert_eq!(h.message, b"pam_unix(dovecot:auth): x");
}

#[test]
fn sysklogd_repeat_lines() {
    let t = yl(11, 24, 10, 0, 6);
    assert_eq!(repeated(b"Nov 24 10:00:06 mx last message repeated 3 times"), Some((t, 3)));
    assert_eq!(repeated(b"Nov 24 10:00:06 last message repeated 1 time"), Some((t, 1)));
    assert_eq!(repeated(b"Nov 24 10:00:06 mx --- last message repeated 12 times ---\r"), Some((t, 12)));
    assert_eq!(repeated(b"<13>Nov 24 10:00:06 mx last message repeated 2 times"), Some((t, 2)));
    for no in [
        &b"Nov 24 10:00:06 mx last message repeated 0 times"[..],
        b"Nov 24 10:00:06 mx last message repeated 3 times and more",
        b"Nov 24 10:00:06 mx last message repeated 99999999999 times",
        b"Nov 24 10:00:06 mx postfix/smtpd[1]: last message repeated 3 times",
        b"last message repeated 3 times",
    ] {
        assert_eq!(repeated(no), None, "{}", String::from_utf8_lossy(no));
    }
}

/// Found by the `lines` fuzz target (fuzz/regressions/lines/): `:76` was read as the leap second
/// `:59`, and an offset's minutes past 59 as more hours. Neither is a time.
#[test]
fn seconds_past_60_and_offset_minutes_past_59_are_no_time() {
    assert!(peek_time(b"2024-08-26T01:33:60.5+00:00 x").is_some());
    assert!(peek_time(b"Aug 26 01:33:60 x").is_some());
    for no in [&b"2024-08-26T01:33:76.572449+00:00 x"[..], b"Aug 26 01:33:61 x", b"2024-08-26T01:33:00+00:60 x"] {
        assert_eq!(peek_time(no), None, "{}", String::from_utf8_lossy(no));
    }
    assert!(peek_time(b"2024-08-26T01:33:00+05:45 x").is_some());
}

/// A TAI64N label past 2^63 + 2^62 wrapped to a negative second count (an overflow in a debug
/// build): it is no time.
#[test]
fn tai64n_labels_past_i64_are_no_time() {
    assert_eq!(peek_time(b"@c000000000000000077a9e94 x"), None);
    assert_eq!(peek_time(b"@ffffffffffffffff00000000 x"), None);
    assert!(peek_time(b"@400000004c91b044077a9e94 x").is_some());
}
