//! Login processes' summaries (`imap-login: Disconnected (auth failed, 2 attempts in 5 secs):
//! user=<U>, method=PLAIN, rip=IP, lip=..., session=<S>`, and `Login: user=<U>, ...`).
//!
//! The reason before the fields is the server's, so its markers (`(auth failed, `, `(tried to use
//! ...)`) are searched only there. The username may contain `>, method=PLAIN, rip=1.2.3.4, `;
//! nothing after the real `rip=` is the client's, so the real one is the **last** `, rip=`, and
//! the username runs from the first `user=<` to the `>` of the `>, method=M` (or `>`) that
//! directly precedes it.

use super::{angle, detail, ip_len, number};
use crate::model::event::{Fields, Kind, Layer, Reason, Service};
use crate::parse::{Class, all_in, find, find_short, finder, ip, rfind_short, span};

/// Reads a login process's message (after its level), logged by `service`.
pub(super) fn login<'a>(service: Service<'a>, body: &'a [u8]) -> Option<Fields<'a>> {
    // The fields start at the first `: user=<`, `: method=` or `: rip=`: everything before is the
    // server's reason text.
    let fields_start = memchr::memchr_iter(b':', body).find(|&i| {
        let r = &body[i + 1..];
        r.starts_with(b" user=<") || r.starts_with(b" method=") || r.starts_with(b" rip=")
    })?;
    let reason_text = &body[..fields_start];
    let fields = &body[fields_start + 2..];

    let success = body.starts_with(b"Login: user=<");
    let (kind, reason, count, duration) = if success {
        (Kind::Success, Reason::LoginOk, 1, None)
    } else if let Some(i) = find_short(reason_text, b"(auth failed, ") {
        let s = &reason_text[i + 14..];
        let (n, used) = number(s)?;
        let s = s[used..].strip_prefix(b" attempt")?;
        let s = s.strip_prefix(b"s").unwrap_or(s);
        let duration = s.strip_prefix(b" in ").and_then(number).map(|(v, _)| v);
        (Kind::Failure, Reason::AuthenticationFailure, n, duration)
    } else if find(reason_text, finder!(b"(proxy dest auth failed)")).is_some() {
        (Kind::Failure, Reason::ProxyAuthFailed, 1, None)
    } else if find(reason_text, finder!(b"(tried to use disabled plaintext auth)")).is_some()
        || find(reason_text, finder!(b"(tried to use disallowed plaintext auth)")).is_some()
    {
        (Kind::Failure, Reason::PlaintextDisallowed, 1, None)
    } else if let Some(i) = find(reason_text, finder!(b"(tried to use disallowed "))
        && let mech = &reason_text[i + 25..]
        // A mechanism's name, as Dovecot writes it (the prefilter relies on it: no `(no auth)`).
        && let n = span(mech, usize::MAX, Class::MECH)
        && n > 0
        && mech[n..].starts_with(b" auth)")
    {
        (Kind::Failure, Reason::MechanismDisallowed, 1, None)
    } else {
        return None;
    };

    // The real client address: the last `, rip=` (or the leading `rip=` when there is no user).
    let (rip_at, pre_end) = match rfind_short(fields, b", rip=") {
        Some(r) => (r + 6, r),
        None if fields.starts_with(b"rip=") => (4, 0),
        None => return None,
    };
    let addr = ip(&fields[rip_at..rip_at + ip_len(&fields[rip_at..])])?;

    let pre = &fields[..pre_end];
    let mut user = None;
    let mut mech = None;
    if let Some(u) = pre.strip_prefix(b"user=<") {
        if let Some(m) = rfind_short(u, b">, method=") {
            let value = &u[m + 10..];
            if all_in(value, Class::MECH) {
                user = Some(&u[..m]);
                mech = Some(value);
            }
        }
        if user.is_none() {
            user = Some(u.strip_suffix(b">")?);
        }
    } else if let Some(m) = pre.strip_prefix(b"method=") {
        mech = Some(m);
    }
    if success && user.is_none() {
        return None;
    }
    let after = &fields[rip_at..];
    let session = find_short(after, b"session=<").and_then(|i| angle(&after[i + 8..])).map(|(s, _)| s);
    Some(detail(kind, reason, service, addr, user, mech, count, Layer::LoginFront, session, duration))
}
