//! Postfix lines through [`parse_line`](crate::parse::parse_line), and what an attacker can put in them.

use super::super::parse_line;
use crate::model::event::{Kind, Layer, Reason};

fn one(line: &str) -> crate::model::event::Detail {
    parse_line(line.as_bytes()).unwrap_or_else(|| panic!("no event: {line}")).fields.detail()
}

#[test]
fn sasl_failure_fields() {
    let d = one(
        "Mar  3 10:00:01 mx postfix/submission/smtpd[811]: warning: dyn-7.example.net[198.51.100.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
    );
    assert_eq!(d.kind, Kind::Failure);
    assert_eq!(d.reason, Reason::AuthenticationFailure);
    assert_eq!(d.layer, Layer::SmtpFront);
    assert_eq!(d.service, "postfix/submission/smtpd");
    assert_eq!(d.client_ip.to_string(), "198.51.100.7");
    assert_eq!(d.logged_hostname.as_deref(), Some("dyn-7.example.net"));
    assert_eq!(d.mechanism.as_deref(), Some("LOGIN"));
    assert_eq!(d.username, None);
    assert_eq!(d.count, 1);
    assert_eq!(d.session, None);
}

#[test]
fn mechanisms_any_case_ports_and_ipv6() {
    let d = one(
        "Aug 4 16:47:52 m3 postfix/smtpd[1]: warning: unknown[203.0.113.9]:41234: SASL login authentication failed: authentication failure",
    );
    assert_eq!((d.client_ip.to_string(), d.mechanism.as_deref()), ("203.0.113.9".into(), Some("LOGIN")));
    assert_eq!(d.logged_hostname.as_deref(), Some("unknown"));
    let d = one(
        "Aug 4 16:47:52 m3 postfix-incoming/smtpd[1]: warning: unknown[2001:db8::17]: SASL Plain authentication failed:",
    );
    assert_eq!(d.client_ip.to_string(), "2001:db8::17");
    assert_eq!(d.mechanism.as_deref(), Some("PLAIN"));
    assert_eq!(d.service, "postfix-incoming/smtpd");
    assert_eq!(d.reason, Reason::AuthenticationFailure);
    let d = one(
        "2022-04-14T00:36:03.150Z hub postfix/smtps/smtpd[3]: warning: unknown[2001:db8::a:1]:5555: SASL CRAM-MD5 authentication failed: PDEyMzQ+",
    );
    assert_eq!((d.client_ip.to_string(), d.mechanism.as_deref()), ("2001:db8::a:1".into(), Some("CRAM-MD5")));
    let d = one(
        "Jan 1 00:00:00 m postfix/smtpd[1]: warning: unknown[::ffff:192.0.2.77]: SASL XOAUTH2 authentication failed: Password:",
    );
    assert_eq!(d.client_ip.to_string(), "192.0.2.77");
    assert!(d.client_ip.is_ipv4());
    let d = one(
        "Jan 1 00:00:00 m postfix-smo/submission-haproxy/smtpd[1]: warning: h[192.0.2.8]: SASL DIGEST-MD5 authentication failed: (reason unavailable)",
    );
    assert_eq!(d.service, "postfix-smo/submission-haproxy/smtpd");
    assert_eq!(d.mechanism.as_deref(), Some("DIGEST-MD5"));
}

#[test]
fn sasl_username_suffix_and_injection() {
    let d = one(
        "Sep 28 00:33:04 srv postfix/smtps/smtpd[9]: warning: unknown[192.0.2.152]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=webmaster@example.org",
    );
    assert_eq!(d.username.as_deref(), Some("webmaster@example.org"));
    assert_eq!(d.reason, Reason::AuthenticationFailure);
    // The username runs to the end of the line, whatever it contains.
    let d = one(
        "Sep 28 00:33:04 srv postfix/smtps/smtpd[9]: warning: unknown[192.0.2.153]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=x, sasl_username=y]: rip=10.0.0.1 [10.0.0.2]",
    );
    assert_eq!(d.client_ip.to_string(), "192.0.2.153");
    assert_eq!(d.username.as_deref(), Some("x, sasl_username=y]: rip=10.0.0.1 [10.0.0.2]"));
    let d = one(
        "Sep 28 00:33:04 srv postfix/smtps/smtpd[9]: warning: unknown[192.0.2.154]: SASL PLAIN authentication failed: , sasl_username=a\nSep 28 00:33:05 srv postfix/smtps/smtpd[9]: warning: unknown[10.9.9.9]: SASL PLAIN authentication failed: Connection lost to authentication server",
    );
    assert_eq!(d.client_ip.to_string(), "192.0.2.154");
    assert_eq!(d.kind, Kind::Failure);
    assert!(d.username.unwrap().starts_with("a\\x0ASep 28"));
    let d = parse_line(b"Sep 28 00:33:04 srv postfix/smtpd[9]: warning: unknown[192.0.2.155]: SASL PLAIN authentication failed: authentication failure, sasl_username=r\xe9my\x1b[0m").unwrap().fields.detail();
    assert_eq!(d.username.as_deref(), Some("r\\xE9my\\x1B[0m"));
}

#[test]
fn backend_and_mechanism_reasons() {
    let d = one(
        "Feb  3 08:29:28 mail postfix/smtpd[2]: warning: unknown[192.0.2.30]: SASL LOGIN authentication failed: Connection lost to authentication server",
    );
    assert_eq!((d.kind, d.reason), (Kind::BackendError, Reason::BackendOutage));
    let d = one(
        "Feb  3 08:29:28 mail postfix/smtpd[2]: warning: unknown[192.0.2.31]: SASL LOGIN authentication failed: SASL authentication failure: cannot connect to saslauthd server: No such file or directory",
    );
    assert_eq!((d.kind, d.reason), (Kind::BackendError, Reason::BackendOutage));
    let d = one(
        "Jan 14 16:18:16 x postfix/smtpd[3]: warning: h[192.0.2.32]: SASL CRAM-MD5 authentication failed: Invalid authentication mechanism",
    );
    assert_eq!((d.kind, d.reason), (Kind::Failure, Reason::MechanismInvalid));
}

#[test]
fn not_events() {
    for line in [
        "Jan 1 00:00:00 m postfix/smtp[5]: 4A1B2C: SASL authentication failed; server mx.example.com[192.0.2.1] said: 535 5.7.8 Error",
        "Jan 1 00:00:00 m postfix/smtpd[5]: warning: SASL authentication failure: Password verification failed",
        "Jan 1 00:00:00 m postfix/smtpd[5]: warning: SASL authentication failure: no secret in database",
        "Jan 1 00:00:00 m postfix/smtpd[5]: warning: unknown[not-an-ip]: SASL LOGIN authentication failed: x",
        "Jan 1 00:00:00 m postfix/smtpd[5]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed",
        "Jan 1 00:00:00 m postfix/smtpd[5]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 Relay access denied",
        "Jan 1 00:00:00 m postfix/smtpd[5]: lost connection after AUTH from unknown[192.0.2.1]",
        "Jan 1 00:00:00 m postfix/cleanup[5]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x",
        "Jan 1 00:00:00 m sendmail/smtpd[5]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x",
        "warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: authentication failure",
    ] {
        assert_eq!(parse_line(line.as_bytes()), None, "{line}");
    }
}

#[test]
fn repeated_messages_count() {
    let d = one(
        "Jan 1 00:00:00 m postfix/smtpd[5]: message repeated 10 times: [ warning: unknown[192.0.2.60]: SASL LOGIN authentication failed: authentication failure]",
    );
    assert_eq!(d.count, 10);
    assert_eq!(d.client_ip.to_string(), "192.0.2.60");
    assert_eq!(d.username, None);
    let d = one(
        "Jan 1 00:00:00 m postfix/smtpd[5]: message repeated 3 times: [ warning: unknown[192.0.2.61]: SASL LOGIN authentication failed: , sasl_username=bob]",
    );
    assert_eq!((d.count, d.username.as_deref()), (3, Some("bob")));
}

#[test]
fn successful_submissions() {
    let d = one(
        "Mar  7 02:09:33 mx postfix/submission/smtpd[27]: 1D8CC1CA0A7F: client=laptop.example.org[198.51.100.20]:50123, sasl_method=PLAIN, sasl_username=alice@example.org",
    );
    assert_eq!((d.kind, d.reason, d.layer), (Kind::Success, Reason::LoginOk, Layer::SmtpFront));
    assert_eq!(d.client_ip.to_string(), "198.51.100.20");
    assert_eq!(d.username.as_deref(), Some("alice@example.org"));
    assert_eq!(d.mechanism.as_deref(), Some("PLAIN"));
    assert_eq!(d.logged_hostname.as_deref(), Some("laptop.example.org"));
    let d = one(
        "Mar  7 02:09:33 mx postfix/smtpd[27]: 4JCRG5tYPzCqt2: client=unknown[2001:db8::5], orig_queue_id=4JCRG5tYPzCqt1, orig_client=a[192.0.2.1], sasl_method=login, sasl_username=bob, sasl_sender=bob@example.org",
    );
    assert_eq!(d.client_ip.to_string(), "2001:db8::5");
    assert_eq!((d.username.as_deref(), d.mechanism.as_deref()), (Some("bob"), Some("LOGIN")));
    assert_eq!(parse_line(b"Mar  7 02:09:33 mx postfix/smtpd[27]: 1D8CC1CA0A7F: client=unknown[192.0.2.1]"), None);
}
