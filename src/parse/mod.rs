//! Turning one log line into a [`Parsed`] event, or nothing.
//!
//! [`syslog`] splits the header (timestamp, host, tag) from the message; [`postfix`] and
//! [`dovecot`] read the messages they own; [`time`] later resolves year-less timestamps.
//! Every parser works on bytes and is linear in the line length: log text is attacker-controlled.
//! No regular expressions: fields are found with `memchr`/`memmem` searches that only move
//! forward (or a bounded number of times), and every attacker-controlled field (usernames,
//! passwords) is delimited by server-written structure found from the side the attacker cannot
//! reach.

mod bytes;
pub mod dovecot;
mod ip;
pub mod postfix;
pub mod prefilter;
pub mod syslog;
pub mod time;

pub(crate) use bytes::{Class, all_in, find, find_byte, find_short, finder, rfind_short, same, span, span_of_ip_chars};
pub(crate) use ip::ip;
pub use prefilter::{NEEDLES, Prefilter};

use crate::model::event::Parsed;

/// Parses one line (without its trailing newline). Returns `None` for lines that are not
/// authentication events.
pub fn parse_line(line: &[u8]) -> Option<Parsed<'_>> {
    let line = syslog::clean(line.strip_suffix(b"\r").unwrap_or(line));
    let header = syslog::split(line)?;
    let fields = message(&header)?;
    Some(Parsed { time: header.time, host: header.host, fields })
}

/// Whether a line that [`parse_line`] refused would have been an authentication event, had it
/// started with a timestamp (`postfix/smtpd[1]: warning: ...`, or Dovecot's own log written with
/// an empty `log_timestamp`): such a line cannot be placed in time, but must not vanish unseen.
pub fn untimed(line: &[u8]) -> bool {
    let line = syslog::clean(line.strip_suffix(b"\r").unwrap_or(line));
    syslog::peek_time(line).is_none() && syslog::bare(line).and_then(|header| message(&header)).is_some()
}

pub use syslog::repeated;

/// Whether a candidate line that [`parse_line`] refused (and that is not [`untimed`]) still reads
/// as an authentication event of a mail daemon: a line in a form the parsers do not know, or
/// damaged. Such a line must be reported, not dropped.
///
/// The prefilter's needles also match lines that are recognised as no event, and those must not
/// be reported: text without a syslog timestamp (comments, continuations), other programs' lines
/// (`sshd`, `sudo`, Postfix's outbound `smtp` client: `SASL authentication failed; server ...
/// said`), `auth` in attacker text (a HELO name, an address in a `reject:` line), Postfix's
/// `warning: SASL: Connect to private/auth failed` (its backend, logged with no client) and
/// Dovecot's disconnects before any attempt (`(disconnected before auth was ready, ...)`,
/// `(client didn't finish SASL auth, ...)`). So a line is reported only when it starts with a
/// timestamp and, under a Postfix smtpd or Dovecot tag (or a header that cannot be split: a
/// torn line), holds a phrase that an accepting path of the parsers keys on, in the place a
/// server writes it.
pub fn unreadable(line: &[u8]) -> bool {
    let line = syslog::clean(line.strip_suffix(b"\r").unwrap_or(line));
    if syslog::peek_time(line).is_none() {
        return false;
    }
    let Some(header) = syslog::split(line) else {
        return postfix::looks_like_event(line) || dovecot::looks_like_event(line);
    };
    let (message, _) = unrepeat(header.message);
    if postfix::is_smtpd(header.tag) {
        postfix::looks_like_event(message)
    } else if header.tag.starts_with(b"dovecot") || syslog::is_dovecot_process(header.tag) {
        dovecot::looks_like_event(message)
    } else {
        false
    }
}

/// The event in a line's message, by the daemon its tag names.
fn message<'a>(header: &syslog::Header<'a>) -> Option<crate::model::event::Fields<'a>> {
    let (message, repeat) = unrepeat(header.message);
    let mut fields = if postfix::is_smtpd(header.tag) {
        postfix::parse(header.tag, message)?
    } else {
        dovecot::parse(header.tag, message)?
    };
    fields.count = fields.count.max(1).saturating_mul(repeat);
    Some(fields)
}

/// rsyslog's repeat reduction: `message repeated N times: [ INNER]` → (INNER, N).
fn unrepeat(msg: &[u8]) -> (&[u8], u32) {
    let Some(rest) = msg.strip_prefix(b"message repeated ") else {
        return (msg, 1);
    };
    let n = rest.iter().take(10).take_while(|b| b.is_ascii_digit()).count();
    let Some(count) = std::str::from_utf8(&rest[..n]).ok().and_then(|s| s.parse::<u32>().ok()) else {
        return (msg, 1);
    };
    let Some(inner) = rest[n..].strip_prefix(b" times: [ ") else {
        return (msg, 1);
    };
    (inner.strip_suffix(b"]").unwrap_or(inner), count.max(1))
}

#[cfg(test)]
mod tests;
