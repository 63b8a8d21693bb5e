//! Dovecot messages: login-process summaries, auth and auth-worker passdb results, PAM.
//!
//! Three shapes, each with attacker text in a known place, each read by a module of its own:
//!
//! - `login`: the login processes' summaries (`imap-login: Disconnected (auth failed, 2
//!   attempts in 5 secs): user=<U>, method=PLAIN, rip=IP, lip=..., session=<S>`);
//! - `backend`: the passdb results of the auth process and its workers (`auth-worker(304):
//!   pam(U,IP,<S>): MESSAGE`, Dovecot 2.4: `auth(U,IP,sasl:login)<S>: Info: sql: MESSAGE`);
//! - `pam`: PAM's own lines (`pam_unix(dovecot:auth): authentication failure; ... ruser=R
//!   rhost=IP  user=U`).
//!
//! This module tells them apart by the line's tag and process name, and holds what they share.

mod backend;
mod login;
mod pam;

use std::net::IpAddr;

use super::{Class, span};
use crate::model::event::{Fields, Kind, Layer, Reason, Service};

/// Reads a message logged under a Dovecot-related tag (`dovecot`, `auth`, `dovecot-auth`, ...).
pub fn parse<'a>(tag: &'a [u8], msg: &'a [u8]) -> Option<Fields<'a>> {
    if let Some(body) = pam::pam_body(msg) {
        return pam::pam(tag, body);
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
        return login::login(Service { prefix: b"dovecot/", name: proc }, strip_level(body));
    }
    let service = match proc {
        b"auth" | b"dovecot-auth" => Service::fixed(b"dovecot/auth"),
        b"auth-worker" => Service::fixed(b"dovecot/auth-worker"),
        _ => return None,
    };
    backend::backend(service, text)
}

/// Whether `text` (a Dovecot message, or a whole line whose header could not be split) holds a
/// phrase that [`parse`] keys an event on. Dovecot's disconnects before any attempt
/// (`(disconnected before auth was ready`, `(client didn't finish SASL auth`, `(no auth
/// attempts`) hold none of them.
pub(crate) fn looks_like_event(text: &[u8]) -> bool {
    use super::{find, finder};
    find(text, finder!(b"(auth failed, ")).is_some()
        || find(text, finder!(b"(proxy dest auth failed)")).is_some()
        || find(text, finder!(b"Login: user=<")).is_some()
        || find(text, finder!(b"): Password mismatch")).is_some()
        || find(text, finder!(b"): password mismatch")).is_some()
        || find(text, finder!(b"): unknown user")).is_some()
        || find(text, finder!(b"): invalid credentials")).is_some()
        || find(text, finder!(b"pam_authenticate() failed")).is_some()
        || find(text, finder!(b"): authentication failure; ")).is_some()
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

#[cfg(test)]
mod tests;
