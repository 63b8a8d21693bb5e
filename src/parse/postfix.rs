//! Postfix smtpd messages: SASL failures and authenticated submissions.
//!
//! Only the server side counts: the tag's last path segment must be `smtpd` under a `postfix*`
//! instance (`postfix/smtpd`, `postfix/submission/smtpd`, `postfix-incoming/smtpd`, ...). The
//! outbound client (`postfix/smtp`) and the IP-less `warning: SASL authentication failure: ...`
//! companion lines are not events.
//!
//! Fields are read by position: `warning: HOST[IP](:PORT)?: SASL MECH authentication failed:
//! REASON(, sasl_username=USER)?`. The host name cannot contain `[` (Postfix prints `unknown`
//! for names that fail its checks), so the IP is what lies between the first `[` and the next `]`.
//! The reason is the server's; the username is attacker text and runs to the end of the line, so
//! the split is at the first `, sasl_username=` after the reason.

use super::{Class, all_in, find, find_byte, find_short, finder, ip};
use crate::model::event::{Fields, Kind, Layer, Reason, Service};

/// True for a Postfix smtpd tag (`postfix*/.../smtpd`).
pub fn is_smtpd(tag: &[u8]) -> bool {
    tag.starts_with(b"postfix") && tag.ends_with(b"/smtpd")
}

/// Reads a message logged under an smtpd tag.
pub fn parse<'a>(tag: &'a [u8], msg: &'a [u8]) -> Option<Fields<'a>> {
    if let Some(rest) = msg.strip_prefix(b"warning: ") {
        return failure(tag, rest);
    }
    success(tag, msg)
}

/// `HOST[IP](:PORT)?` at the start of `s`: (host, ip, bytes used).
fn client(s: &[u8]) -> Option<(&[u8], std::net::IpAddr, usize)> {
    let open = find_byte(b'[', s)?;
    let host = &s[..open];
    if host.is_empty() || host.iter().any(|&b| b == b' ' || b == b',') {
        return None;
    }
    let close = open + 1 + find_byte(b']', &s[open + 1..])?;
    let addr = ip(&s[open + 1..close])?;
    let mut end = close + 1;
    if s.get(end) == Some(&b':') {
        let n = s[end + 1..].iter().take(6).take_while(|b| b.is_ascii_digit()).count();
        if n > 0 {
            end += 1 + n;
        }
    }
    Some((host, addr, end))
}

fn failure<'a>(tag: &'a [u8], s: &'a [u8]) -> Option<Fields<'a>> {
    let (host, addr, end) = client(s)?;
    let rest = s[end..].strip_prefix(b": SASL ")?;
    let sp = find_byte(b' ', rest)?;
    let mech = &rest[..sp];
    if mech.is_empty() || !all_in(mech, Class::MECH) {
        return None;
    }
    let rest = rest[sp..].strip_prefix(b" authentication failed:")?;
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    // `find_short`: the reason before the username is a few bytes with no comma in it.
    let (reason_text, user) = match find_short(rest, b", sasl_username=") {
        Some(i) => (&rest[..i], Some(&rest[i + 16..])),
        None => (rest, None),
    };
    let (kind, reason) = classify(reason_text);
    Some(Fields {
        kind,
        reason,
        service: Service { prefix: b"", name: tag },
        client_ip: addr,
        username: user.filter(|u| !u.is_empty()),
        mechanism: Some(mech),
        logged_hostname: Some(host),
        count: 1,
        layer: Layer::SmtpFront,
        session: None,
        duration_secs: None,
    })
}

/// The class of a Postfix SASL failure reason.
fn classify(reason: &[u8]) -> (Kind, Reason) {
    if reason.starts_with(b"Invalid authentication mechanism") {
        return (Kind::Failure, Reason::MechanismInvalid);
    }
    // The usual reasons (`authentication failure`, a base64 challenge) skip the searches below:
    // each backend phrase holds a space, and neither is one of them.
    if reason == b"authentication failure" || !reason.contains(&b' ') {
        return (Kind::Failure, Reason::AuthenticationFailure);
    }
    // Problems between Postfix and its SASL backend (Dovecot auth socket, saslauthd): our side.
    let backend = [finder!(b"authentication server"), finder!(b"saslauthd server"), finder!(b"cannot connect to")];
    if backend.into_iter().any(|f| find(reason, f).is_some()) {
        return (Kind::BackendError, Reason::BackendOutage);
    }
    (Kind::Failure, Reason::AuthenticationFailure)
}

/// `QUEUEID: client=HOST[IP](:PORT)?, ..., sasl_method=M, sasl_username=U(, sasl_sender=S)?`
fn success<'a>(tag: &'a [u8], msg: &'a [u8]) -> Option<Fields<'a>> {
    let colon = find_byte(b':', msg)?;
    let qid = &msg[..colon];
    if qid.is_empty() || qid.len() > 32 || !all_in(qid, Class::ALNUM) {
        return None;
    }
    let rest = msg[colon..].strip_prefix(b": client=")?;
    let (host, addr, end) = client(rest)?;
    let rest = &rest[end..];
    // Server-written fields (`orig_queue_id=`, `orig_client=`) may come before sasl_method.
    let m = find(rest, finder!(b", sasl_method="))?;
    let rest = &rest[m + 14..];
    let comma = find(rest, finder!(b", sasl_username="))?;
    let mech = &rest[..comma];
    let user = &rest[comma + 16..];
    let user = match find(user, finder!(b", sasl_sender=")) {
        Some(i) => &user[..i],
        None => user,
    };
    Some(Fields {
        kind: Kind::Success,
        reason: Reason::LoginOk,
        service: Service { prefix: b"", name: tag },
        client_ip: addr,
        username: (!user.is_empty()).then_some(user),
        mechanism: (!mech.is_empty()).then_some(mech),
        logged_hostname: Some(host),
        count: 1,
        layer: Layer::SmtpFront,
        session: None,
        duration_secs: None,
    })
}

#[cfg(test)]
mod tests {
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
}
