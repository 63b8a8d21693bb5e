//! PAM's own lines for Dovecot's PAM service (`pam_unix(dovecot:auth): authentication failure;
//! ... ruser=R rhost=IP  user=U`).
//!
//! The remote user and the user are the client's and may contain ` rhost=1.2.3.4`; how the real
//! address is told from imitations is told at [`pam()`].

use memchr::memmem;

use super::{detail, ip_len};
use crate::model::event::{Fields, Kind, Layer, Reason, Service};
use crate::parse::{Class, all_in, find, finder, ip, span};

/// The message from `pam_` on, when the line is a PAM module line, after at most three
/// server-written prefixes (`auth: `, `auth-worker(42): `, `Info: `).
pub(super) fn pam_body(msg: &[u8]) -> Option<&[u8]> {
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
pub(super) fn pam<'a>(tag: &'a [u8], body: &'a [u8]) -> Option<Fields<'a>> {
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
