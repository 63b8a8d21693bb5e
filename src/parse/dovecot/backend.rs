//! Passdb results of the auth process and its workers (`auth-worker(304): pam(U,IP,<S>):
//! MESSAGE`; Dovecot 2.4: `auth(U,IP,sasl:login)<S>: Info: sql: MESSAGE`).
//!
//! The username inside the tuple is the client's and may imitate the rest of the tuple; how its
//! end is chosen is told at [`tuple()`].

use std::net::IpAddr;

use super::{angle, detail, ip_len, name_len, number, strip_level};
use crate::model::event::{Fields, Kind, Layer, Reason, Service};
use crate::parse::{Class, all_in, find_short, ip, rfind_short, span};

/// `NAME(ID): ` with a server-written id (`304`, `default`): a process prefix, not a tuple.
fn looks_like_id(s: &[u8]) -> bool {
    let n = span(s, 33, Class::ID);
    s[n..].starts_with(b"): ")
}

/// Walks the server-written prefix chain (`auth-worker(304): `, `Info: `, `conn unix:auth-worker
/// (pid=1,uid=2): `, `auth-worker<55>: `) to the passdb tuple `DRIVER(` and reads it.
///
/// The first `NAME(` segment that does not look like a process id is the tuple; everything after
/// its `(` may be attacker text, so the walk stops there. Segments that look like a process id
/// (`auth(default): `) are tried as a tuple only when nothing else matched (a Dovecot 2.4 line
/// whose username is `x): ...`).
pub(super) fn backend<'a>(service: Service<'a>, text: &'a [u8]) -> Option<Fields<'a>> {
    let mut p = 0;
    // At most one per step of the walk below: no allocation for the few there are.
    let (mut deferred, mut n_deferred) = ([0usize; 8], 0);
    for _ in 0..8 {
        if p > 512 {
            break;
        }
        let seg = &text[p..];
        let n = name_len(seg);
        if n > 0 && seg.get(n) == Some(&b'(') {
            let open = p + n;
            if looks_like_id(&text[open + 1..]) {
                deferred[n_deferred] = open;
                n_deferred += 1;
            } else {
                if let Some((d, v24)) = tuple(service, text, open) {
                    // A Dovecot 2.4 tuple (`,sasl:` or `)<session>`) belongs to the process
                    // name (`auth(U,IP,sasl:login)<S>: `): its username may look like `x): y(`.
                    if v24 && let Some(d) = deferred[..n_deferred].iter().find_map(|&o| tuple(service, text, o)) {
                        return Some(d.0);
                    }
                    return Some(d);
                }
                break;
            }
        }
        match find_short(seg, b": ") {
            Some(k) => p += k + 2,
            None => break,
        }
    }
    deferred[..n_deferred].iter().find_map(|&open| tuple(service, text, open)).map(|(d, _)| d)
}

/// Dovecot truncates the username it logs to 64 bytes plus `...`; a tuple whose IP comma lies
/// further than this from the `(` is not one Dovecot wrote.
const MAX_USER_LOG_LEN: usize = 70;

/// Reads `DRIVER(USER,IP[,master][,sasl:MECH][,<SESSION>][,])[<SESSION>]: MESSAGE` with the `(`
/// at `open`.
///
/// USER is the client's and may contain `,1.2.3.4): unknown user`; the message may be followed by
/// `(given password: ...)`, also the client's. The end of USER is chosen structurally:
/// a candidate is a `,` at most [`MAX_USER_LOG_LEN`] bytes after the `(`, followed by a valid IP,
/// the optional server-written fields, `)`, an optional `<SESSION>`, `: ` and a known message
/// that runs to the end of the line (modulo the known suffixes: `(for LDAP bind)`, a
/// `(given password: ...)` / `(SHA1 of given password: ...)` span closed at the end of the line,
/// PAM's error text, `: N Time(s)`). Candidates inside the password span of an earlier valid
/// candidate are rejected (the scan stops at the first valid candidate that has one); of the
/// rest the last is taken, since text after the real tuple is never the client's except the
/// password. A username and a password crafted together can still be ambiguous (both readings
/// are then well-formed lines); this rule then trusts the earlier one.
fn tuple<'a>(service: Service<'a>, text: &'a [u8], open: usize) -> Option<(Fields<'a>, bool)> {
    let start = open + 1;
    let window_end = text.len().min(start + MAX_USER_LOG_LEN + 1);
    let mut best = None;
    let mut pos = start;
    while pos < window_end {
        let Some(k) = memchr::memchr(b',', &text[pos..window_end]) else {
            break;
        };
        let c = pos + k;
        if let Some(m) = candidate(text, c) {
            let stop = m.password_span;
            best = Some((c, m));
            if stop {
                break;
            }
        }
        pos = c + 1;
    }
    let (c, m) = best?;
    let d = detail(
        m.kind,
        m.reason,
        service,
        m.addr,
        Some(&text[start..c]),
        m.mech,
        m.count,
        Layer::Backend,
        m.session,
        None,
    );
    Some((d, m.v24))
}

struct Candidate<'a> {
    addr: IpAddr,
    session: Option<&'a [u8]>,
    mech: Option<&'a [u8]>,
    kind: Kind,
    reason: Reason,
    count: u32,
    password_span: bool,
    /// Dovecot 2.4 shape: `,sasl:MECH` or `)<SESSION>`.
    v24: bool,
}

fn candidate(text: &[u8], comma: usize) -> Option<Candidate<'_>> {
    let mut i = comma + 1;
    let n = ip_len(&text[i..]);
    let addr = ip(&text[i..i + n])?;
    i += n;
    let mut session = None;
    let mut mech = None;
    for _ in 0..4 {
        let rest = &text[i..];
        if rest.starts_with(b",master") && matches!(rest.get(7), Some(b',' | b')')) {
            i += 7;
        } else if let Some(m) = rest.strip_prefix(b",sasl:") {
            let len = span(m, 32, Class::ALNUM_DASH);
            mech = Some(&m[..len]);
            i += 6 + len;
        } else if rest.starts_with(b",<") {
            let (s, used) = angle(&rest[1..])?;
            session = Some(s);
            i += 1 + used;
        } else if rest.starts_with(b",)") {
            i += 1;
            break;
        } else {
            break;
        }
    }
    if text.get(i) != Some(&b')') {
        return None;
    }
    i += 1;
    let v24 = mech.is_some() || text.get(i) == Some(&b'<');
    if text.get(i) == Some(&b'<') {
        let (s, used) = angle(&text[i..])?;
        session = Some(s);
        i += used;
    }
    let msg = text[i..].strip_prefix(b": ")?;
    let (kind, reason, count, password_span) = backend_message(msg)?;
    Some(Candidate { addr, session, mech, kind, reason, count, password_span, v24 })
}

/// Classifies a passdb result message; it must run to the end of the line.
/// Returns (kind, reason, count, whether a given-password span follows).
fn backend_message(msg: &[u8]) -> Option<(Kind, Reason, u32, bool)> {
    let mut msg = strip_level(msg);
    // Dovecot 2.4 names the driver after the tuple: `sql: Password mismatch`.
    let n = name_len(msg);
    if n > 0 && msg[n..].starts_with(b": ") && !msg.starts_with(b"pam_authenticate") {
        msg = &msg[n + 2..];
    }
    if let Some(pam) = msg.strip_prefix(b"pam_authenticate() failed: ") {
        return pam_result(pam).map(|(r, c)| (Kind::Failure, r, c, false));
    }
    let (reason, rest) = if let Some(r) = msg.strip_prefix(b"unknown user") {
        (Reason::UnknownUser, r)
    } else if let Some(r) = msg.strip_prefix(b"Password mismatch").or_else(|| msg.strip_prefix(b"password mismatch")) {
        (Reason::PasswordMismatch, r)
    } else if let Some(r) = msg.strip_prefix(b"invalid credentials") {
        (Reason::InvalidCredentials, r)
    } else {
        return None;
    };
    let rest = rest.strip_prefix(b" (for LDAP bind)").unwrap_or(rest);
    if rest.is_empty() {
        return Some((Kind::Failure, reason, 1, false));
    }
    if let Some(c) = times(rest) {
        return Some((Kind::Failure, reason, c, false));
    }
    if (rest.starts_with(b" (given password: ") || rest.starts_with(b" (SHA1 of given password: "))
        && rest.ends_with(b")")
    {
        return Some((Kind::Failure, reason, 1, true));
    }
    None
}

/// `: N Time(s)` (as some log summarisers append): N.
fn times(s: &[u8]) -> Option<u32> {
    let s = s.strip_prefix(b": ")?;
    let (n, used) = number(s)?;
    (&s[used..] == b" Time(s)").then_some(n)
}

/// PAM's error text after `pam_authenticate() failed: `: server text, so only a plain charset.
fn pam_result(s: &[u8]) -> Option<(Reason, u32)> {
    // Bounded before any search: this runs once per tuple candidate.
    if s.len() > 230 {
        return None;
    }
    let (text, count) = match rfind_short(s, b": ") {
        Some(i) => (&s[..i], times(&s[i..])?),
        None => (s, 1),
    };
    if text.is_empty() || text.len() > 200 || !all_in(text, Class::PAM_TEXT) {
        return None;
    }
    // At most 200 bytes (checked above): lower-cased on the stack.
    let mut buf = [0u8; 200];
    let lower = &mut buf[..text.len()];
    lower.copy_from_slice(text);
    lower.make_ascii_lowercase();
    let lower = &*lower;
    let reason = if find_short(lower, b"password mismatch").is_some() {
        Reason::PasswordMismatch
    } else if lower.starts_with(b"user not known to the underlying authentication module") {
        Reason::UnknownUser
    } else if lower.starts_with(b"permission denied") {
        Reason::PermissionDenied
    } else {
        Reason::AuthenticationFailure
    };
    Some((reason, count))
}
