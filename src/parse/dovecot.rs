//! Dovecot messages: login-process summaries, auth and auth-worker passdb results, PAM.
//!
//! Three shapes, each with attacker text in a known place:
//!
//! - **Login processes** (`imap-login: Disconnected (auth failed, 2 attempts in 5 secs):
//!   user=<U>, method=PLAIN, rip=IP, lip=..., session=<S>`). The reason before the fields is the
//!   server's, so the markers (`(auth failed, `, `(tried to use ...)`) are searched only there. The
//!   username may contain `>, method=PLAIN, rip=1.2.3.4, `; nothing after the real `rip=` is the
//!   client's, so the real one is the **last** `, rip=`, and the username runs from the first
//!   `user=<` to the `>` of the `>, method=M` (or `>`) that directly precedes it.
//! - **Auth backend** (`auth-worker(304): pam(U,IP,<S>): MESSAGE`, Dovecot 2.4:
//!   `auth(U,IP,sasl:login)<S>: Info: sql: MESSAGE`): see [`tuple`] for how the end of the
//!   attacker-controlled username is chosen.
//! - **PAM** (`pam_unix(dovecot:auth): authentication failure; ... ruser=R rhost=IP  user=U`):
//!   see `pam` below.

use std::net::IpAddr;

use memchr::memmem;

use super::{Class, all_in, find, find_short, finder, ip, rfind_short, span};
use crate::model::event::{Fields, Kind, Layer, Reason, Service};

/// Reads a message logged under a Dovecot-related tag (`dovecot`, `auth`, `dovecot-auth`, ...).
pub fn parse<'a>(tag: &'a [u8], msg: &'a [u8]) -> Option<Fields<'a>> {
    if let Some(body) = pam_body(msg) {
        return pam(tag, body);
    }
    let (proc, text) = if tag == b"dovecot" {
        let mut text = msg;
        // `dovecot[442]: dovecot: auth(default): ...`
        if let Some(rest) = text.strip_prefix(b"dovecot: ") {
            text = rest;
        }
        (&text[..name_len(text)], text)
    } else {
        (tag, msg)
    };
    if proc.ends_with(b"-login") || proc == b"lmtp" {
        let body = if tag == b"dovecot" { text[proc.len()..].strip_prefix(b": ")? } else { text };
        return login(Service { prefix: b"dovecot/", name: proc }, strip_level(body));
    }
    let service = match proc {
        b"auth" | b"dovecot-auth" => Service::fixed(b"dovecot/auth"),
        b"auth-worker" => Service::fixed(b"dovecot/auth-worker"),
        _ => return None,
    };
    backend(service, text)
}

/// Length of the `[a-z0-9-]+` name at the start of `s`.
fn name_len(s: &[u8]) -> usize {
    span(s, usize::MAX, Class::NAME)
}

/// Strips one Dovecot log level prefix (`Info: `, `Error: `, ...).
fn strip_level(s: &[u8]) -> &[u8] {
    for level in [&b"Info: "[..], b"Error: ", b"Warning: ", b"Debug: ", b"Fatal: ", b"Panic: "] {
        if let Some(rest) = s.strip_prefix(level) {
            return rest;
        }
    }
    s
}

/// Fields every Dovecot event shares.
#[allow(clippy::too_many_arguments)]
fn detail<'a>(
    kind: Kind,
    reason: Reason,
    service: Service<'a>,
    client_ip: IpAddr,
    username: Option<&'a [u8]>,
    mechanism: Option<&'a [u8]>,
    count: u32,
    layer: Layer,
    session: Option<&'a [u8]>,
    duration_secs: Option<u32>,
) -> Fields<'a> {
    Fields {
        kind,
        reason,
        service,
        client_ip,
        username: username.filter(|u| !u.is_empty()),
        mechanism: mechanism.filter(|m| !m.is_empty()),
        logged_hostname: None,
        count: count.max(1),
        layer,
        session: session.filter(|s| !s.is_empty()),
        duration_secs,
    }
}

/// The decimal number (at most 9 digits, so it fits) at the start of `s`, and its length.
fn number(s: &[u8]) -> Option<(u32, usize)> {
    let n = s.iter().take(9).take_while(|b| b.is_ascii_digit()).count();
    let v = s[..n].iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
    (n > 0).then_some((v, n))
}

/// Length of the address at the start of `s`: its hex digits, dots and colons, at most 46.
fn ip_len(s: &[u8]) -> usize {
    super::span_of_ip_chars(s, 46)
}

/// `<...>` at the start of `s` (server-generated session id): (content, bytes used).
fn angle(s: &[u8]) -> Option<(&[u8], usize)> {
    let rest = s.strip_prefix(b"<")?;
    let close = memchr::memchr(b'>', &rest[..rest.len().min(80)])?;
    Some((&rest[..close], close + 2))
}

// ---------------------------------------------------------------------------------------------
// Login processes

fn login<'a>(service: Service<'a>, body: &'a [u8]) -> Option<Fields<'a>> {
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

// ---------------------------------------------------------------------------------------------
// Auth process / auth worker

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
fn backend<'a>(service: Service<'a>, text: &'a [u8]) -> Option<Fields<'a>> {
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

// ---------------------------------------------------------------------------------------------
// PAM

/// The message from `pam_` on, when the line is a PAM module line, after at most three
/// server-written prefixes (`auth: `, `auth-worker(42): `, `Info: `).
fn pam_body(msg: &[u8]) -> Option<&[u8]> {
    let mut b = msg;
    for _ in 0..4 {
        if b.starts_with(b"pam_") {
            // `pam_unix(dovecot:auth): `, not a driver's `pam_authenticate() failed`.
            let n = span(b, 40, Class::MODULE);
            return b[n..].starts_with(b"(dovecot").then_some(b);
        }
        let n = span(b, 40, Class::ALNUM_DASH);
        if n == 0 {
            return None;
        }
        let mut j = n;
        if b.get(j) == Some(&b'(') {
            j += 1 + memchr::memchr(b')', &b[j..b.len().min(j + 34)])?;
        }
        b = b[j..].strip_prefix(b": ")?;
    }
    None
}

/// `pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot
/// ruser=R rhost=IP[  user=U]`, only for PAM service names starting with `dovecot`.
///
/// R and U are the client's and may contain ` rhost=1.2.3.4`. A candidate is a ` rhost=`
/// followed by an IP and then the end of the line or `  user=`. Dovecot passes the same name as
/// PAM user and remote user, so when `  user=` is present the split where R equals U is taken;
/// without `  user=` the IP is the one ending the line. Only when R and U differ (a
/// `pam_username_format`) is the first candidate followed by `  user=` trusted.
fn pam<'a>(tag: &'a [u8], body: &'a [u8]) -> Option<Fields<'a>> {
    let open = memchr::memchr(b'(', &body[..body.len().min(64)])?;
    if !all_in(&body[..open], Class::MODULE) {
        return None;
    }
    let svc = &body[open + 1..];
    if !svc.starts_with(b"dovecot") {
        return None;
    }
    let close = find(&svc[..svc.len().min(64)], finder!(b"): "))?;
    let rest = svc[close + 3..].strip_prefix(b"authentication failure; ")?;
    let r = find(rest, finder!(b" ruser="))?;
    let tail = &rest[r + 7..];

    // (rhost position in tail, ip end in tail)
    let cands = memmem::find_iter(tail, b" rhost=").filter_map(|k| {
        let s = k + 7;
        let e = s + ip_len(&tail[s..]);
        ip(&tail[s..e])?;
        (e == tail.len() || tail[e..].starts_with(b"  user=")).then_some((k, e))
    });
    let has_user = find(tail, finder!(b"  user=")).is_some();
    let mut chosen: Option<(usize, usize, Option<&[u8]>)> = None;
    let mut first_with_user = None;
    let mut last_at_end = None;
    for (k, e) in cands {
        if e == tail.len() {
            last_at_end = Some((k, e));
            continue;
        }
        let u = &tail[e + 7..];
        if first_with_user.is_none() {
            first_with_user = Some((k, e));
        }
        if u.len() == k && &tail[..k] == u {
            chosen = Some((k, e, Some(u)));
            break;
        }
    }
    let (k, e, user) = match chosen {
        Some(c) => c,
        None if !has_user => {
            let (k, e) = last_at_end?;
            (k, e, None)
        }
        None => {
            let (k, e) = first_with_user?;
            (k, e, Some(&tail[e + 7..]))
        }
    };
    let addr = ip(&tail[k + 7..e])?;
    let ruser = &tail[..k];
    let name = user.filter(|u| !u.is_empty()).or(Some(ruser));
    let service = Service { prefix: b"", name: tag };
    Some(detail(Kind::Failure, Reason::AuthenticationFailure, service, addr, name, None, 1, Layer::Pam, None, None))
}

#[cfg(test)]
mod tests {
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
        check(
            &d,
            "203.0.113.45",
            Some("carol"),
            Reason::AuthenticationFailure,
            Layer::LoginFront,
            "dovecot/imap-login",
        );
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
        check(
            &d,
            "198.51.100.82",
            Some("gina"),
            Reason::AuthenticationFailure,
            Layer::LoginFront,
            "dovecot/pop3-login",
        );
        let d = one(
            "Aug 29 03:17:18 s dovecot: submission-login: Client has quit the connection (auth failed, 1 attempts in 2 secs): user=<u1>, method=LOGIN, rip=192.0.2.133, lip=0.0.0.0",
        );
        check(
            &d,
            "192.0.2.133",
            Some("u1"),
            Reason::AuthenticationFailure,
            Layer::LoginFront,
            "dovecot/submission-login",
        );
        let d = one(
            "Aug 29 03:53:52 s dovecot: submission-login: Remote closed connection (auth failed, 1 attempts in 2 secs): user=<u4>, method=PLAIN, rip=192.0.2.169, lip=0.0.0.0",
        );
        check(
            &d,
            "192.0.2.169",
            Some("u4"),
            Reason::AuthenticationFailure,
            Layer::LoginFront,
            "dovecot/submission-login",
        );
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
        let line =
            format!("Aug 31 16:06:06 s dovecot: imap-login: Disconnected: {}test no match", "a: ".repeat(300_000));
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

        let d =
            one("Jan 29 13:54:06 auth-worker(22401): Info: sql(ned@example.de,192.0.2.25,<n4JLdHNV>): unknown user");
        check(&d, "192.0.2.25", Some("ned@example.de"), Reason::UnknownUser, Layer::Backend, "dovecot/auth-worker");
        assert_eq!(d.session.as_deref(), Some("n4JLdHNV"));

        let d = one(
            "Jun 12 23:06:05 auth-worker(57065): Info: conn unix:auth-worker (uid=143): auth-worker<225622>: sql(oz@example.com,192.0.2.26,<Yx7+W8+Io>): Password mismatch",
        );
        check(
            &d,
            "192.0.2.26",
            Some("oz@example.com"),
            Reason::PasswordMismatch,
            Layer::Backend,
            "dovecot/auth-worker",
        );
        assert_eq!(d.session.as_deref(), Some("Yx7+W8+Io"));

        let d = one(
            "Apr 29 15:54:21 mail dovecot: auth-worker(14877): conn unix:auth-worker (pid=14830,uid=109): auth-worker<5>: pam(a,5.34.207.161): pam_authenticate() failed: Authentication failure (Password mismatch?)",
        );
        check(&d, "5.34.207.161", Some("a"), Reason::PasswordMismatch, Layer::Backend, "dovecot/auth-worker");

        let d = one(
            "Jan 29 14:38:51 example.com dovecot[24941]: auth-worker(30165): pam(pat@example.com,192.0.2.27,<PNHQ>): pam_authenticate() failed: Permission denied",
        );
        check(
            &d,
            "192.0.2.27",
            Some("pat@example.com"),
            Reason::PermissionDenied,
            Layer::Backend,
            "dovecot/auth-worker",
        );
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
}
