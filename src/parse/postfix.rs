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

/// Whether `text` (an smtpd message, or a whole line whose header could not be split) holds what
/// [`parse`] keys an event on: a `warning: ` with `authentication failed` in it, or a
/// `client=` with `, sasl_method=` after it. Not `SASL authentication failure` (the IP-less
/// companion line), nor `auth` alone (`SASL: Connect to private/auth failed`, HELO names).
pub(crate) fn looks_like_event(text: &[u8]) -> bool {
    let warning = find(text, finder!(b"warning: "));
    let failed = find(text, finder!(b" authentication failed"));
    if let (Some(w), Some(f)) = (warning, failed)
        && w < f
        // Postfix's outbound client says `SASL authentication failed; server X said`: no event.
        && !text[f..].starts_with(b" authentication failed; server ")
    {
        return true;
    }
    let client = find(text, finder!(b": client="));
    let method = find(text, finder!(b", sasl_method="));
    matches!((client, method), (Some(c), Some(m)) if c < m)
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
mod tests;
