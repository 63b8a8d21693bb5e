//! The syslog header: timestamp, host and tag, in every form mail servers write them.
//!
//! Accepted timestamps: classic `Mmm dd HH:MM:SS[.frac]` (day padded with a space, a zero or not
//! at all), RFC 3339 with an offset or `Z`, ISO date and time without zone (`T` or space
//! separated) and TAI64N labels (`@4000000...`, as multilog writes them).
//!
//! After the timestamp comes either the usual `HOST TAG[PID]: MESSAGE`, or, in Dovecot's own log
//! file (`log_path`), no host and no `dovecot:` tag at all: `pop3-login: Info: ...`,
//! `auth-worker(22401): Info: ...`, `auth(user,ip,sasl:login)<session>: Info: ...`. That form is
//! recognised structurally: the first word after the timestamp is a Dovecot process name directly
//! followed by `:`, `(`, `<` or `[` (a syslog host is a single word followed by a space). Such a
//! line is returned with `host: None`, `tag: b"dovecot"` and the message starting at the process
//! name, exactly as the same line reads after a syslog `dovecot: ` tag, so the Dovecot parser sees
//! one shape. (`dovecot:` and `dovecot-auth:` without a host are program tags themselves and are
//! split like syslog tags.)
//!
//! Also read: a line without a host (`Nov 24 10:00:05 postfix/smtpd[1]: ...`, the first word
//! after the timestamp being a tag ending in `:`), a line behind a `<PRI>` priority, and a line
//! between the NUL bytes a crash leaves in a file ([`clean`]).

use jiff::civil;
use jiff::tz::Offset;
use jiff::{Timestamp, civil::DateTime};

use super::{Class, find_byte, span};
use crate::model::event::RawTime;

/// A line split into its syslog parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The timestamp as written.
    pub time: RawTime,
    /// The host field; `None` for Dovecot's own log file.
    pub host: Option<&'a [u8]>,
    /// The program name without `[pid]`: `postfix/submission/smtpd`, `dovecot`, `auth`.
    pub tag: &'a [u8],
    /// Everything after `TAG[PID]: `.
    pub message: &'a [u8],
}

/// Splits a line (without newline) into timestamp, host, tag and message.
pub fn split(line: &[u8]) -> Option<Header<'_>> {
    let line = clean(line);
    let (time, used) = timestamp(line)?;
    let rest = &line[used..];
    // At least one space separates the timestamp from what follows.
    let skip = rest.iter().take_while(|&&b| b == b' ').count();
    if skip == 0 {
        return None;
    }
    let rest = &rest[skip..];
    if let Some(h) = hostless(time, rest) {
        return Some(h);
    }
    let sp = find_byte(b' ', rest)?;
    let host = &rest[..sp];
    if host.is_empty() {
        return None;
    }
    // A host name never ends with `:` but a tag always does: `postfix/smtpd[1]:` right after the
    // timestamp is a line written without a host (syslogd's `-H`, some forwarders). The colon
    // test excludes IPv6 hosts ending in `::`.
    if let Some(word) = host.strip_suffix(b":")
        && !word.contains(&b':')
        && let Some((tag, message)) = split_tag(rest)
    {
        return Some(Header { time, host: None, tag, message });
    }
    let (tag, message) = split_tag(&rest[sp + 1..])?;
    Some(Header { time, host: Some(host), tag, message })
}

/// sysklogd's repeat line, `Nov 24 10:00:06 mx last message repeated 3 times` (host optional,
/// FreeBSD's `--- last message repeated 3 times ---` too): its timestamp and the count. It names
/// no program: it repeats the line before it in the same file.
pub fn repeated(line: &[u8]) -> Option<(RawTime, u32)> {
    let line = clean(line.strip_suffix(b"\r").unwrap_or(line));
    let (time, used) = timestamp(line)?;
    let rest = line[used..].strip_prefix(b" ")?;
    let rest = match find_byte(b' ', rest) {
        // A host, unless the message starts right after the timestamp.
        Some(sp) if !rest.starts_with(b"last ") && !rest.starts_with(b"--- ") => &rest[sp + 1..],
        _ => rest,
    };
    let (rest, dashes) = match rest.strip_prefix(b"--- ") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let rest = rest.strip_prefix(b"last message repeated ")?;
    let n = rest.iter().take(10).take_while(|b| b.is_ascii_digit()).count();
    let count = std::str::from_utf8(&rest[..n]).ok()?.parse::<u32>().ok()?;
    let rest = rest[n..].strip_prefix(b" time")?;
    let rest = rest.strip_prefix(b"s").unwrap_or(rest);
    let tail: &[u8] = if dashes { b" ---" } else { b"" };
    (rest == tail && count > 0).then_some((time, count))
}

/// Just the timestamp of a line.
pub fn peek_time(line: &[u8]) -> Option<RawTime> {
    timestamp(clean(line)).map(|(t, _)| t)
}

/// The line without what surrounds a syslog line in some files: the NUL bytes a crash or power
/// cut leaves where a file's last blocks were allocated but not yet written (before and after
/// the next line written), and the `<PRI>` priority that raw forwarders keep (`<22>Nov 24 ...`).
/// Cheap when there is none: a look at the first and last byte.
pub fn clean(line: &[u8]) -> &[u8] {
    let mut line = line;
    if line.first() == Some(&0) {
        let n = line.iter().take_while(|&&b| b == 0).count();
        line = &line[n..];
    }
    if line.last() == Some(&0) {
        let n = line.iter().rev().take_while(|&&b| b == 0).count();
        line = &line[..line.len() - n];
    }
    if line.first() == Some(&b'<') {
        let n = line[1..].iter().take(4).take_while(|b| b.is_ascii_digit()).count();
        if (1..=3).contains(&n) && line.get(1 + n) == Some(&b'>') {
            line = &line[2 + n..];
        }
    }
    line
}

/// The tag and message of a line without a timestamp (nor a host): a syslog message as a
/// program wrote it, or a line of Dovecot's own log without its timestamp. The time is a
/// placeholder: such a line cannot be placed in time.
pub fn bare(line: &[u8]) -> Option<Header<'_>> {
    let time = RawTime::Instant(jiff::Timestamp::UNIX_EPOCH);
    hostless(time, line).or_else(|| {
        let (tag, message) = split_tag(line)?;
        Some(Header { time, host: None, tag, message })
    })
}

/// `TAG[PID]: MESSAGE` (the `[PID]` optional) → (TAG, MESSAGE).
fn split_tag(s: &[u8]) -> Option<(&[u8], &[u8])> {
    // A tag is one word: it ends at the first space, which must be preceded by `:`.
    let end = find_byte(b' ', s).unwrap_or(s.len());
    let word = &s[..end];
    let word = word.strip_suffix(b":")?;
    let tag = match find_byte(b'[', word) {
        Some(i) if word.ends_with(b"]") => &word[..i],
        Some(_) => return None,
        None => word,
    };
    if tag.is_empty() {
        return None;
    }
    let message = if end < s.len() { &s[end + 1..] } else { &[][..] };
    Some((tag, message))
}

/// Dovecot process names that start a line of Dovecot's own log file.
pub(crate) fn is_dovecot_process(name: &[u8]) -> bool {
    name.ends_with(b"-login")
        || matches!(
            name,
            b"auth"
                | b"auth-worker"
                | b"dovecot"
                | b"dovecot-auth"
                | b"lmtp"
                | b"imap"
                | b"pop3"
                | b"submission"
                | b"managesieve"
                | b"master"
                | b"lda"
                | b"dovecot-lda"
                | b"config"
                | b"anvil"
                | b"log"
                | b"stats"
                | b"indexer"
                | b"indexer-worker"
                | b"doveadm"
                | b"dict"
                | b"quota-status"
                | b"replicator"
                | b"aggregator"
        )
}

fn hostless(time: RawTime, rest: &[u8]) -> Option<Header<'_>> {
    let n = span(rest, usize::MAX, Class::NAME);
    let name = &rest[..n];
    let next = *rest.get(n)?;
    if !matches!(next, b':' | b'(' | b'<' | b'[') || !is_dovecot_process(name) {
        return None;
    }
    if matches!(name, b"dovecot" | b"dovecot-auth") && matches!(next, b':' | b'[') {
        let (tag, message) = split_tag(rest)?;
        return Some(Header { time, host: None, tag, message });
    }
    Some(Header { time, host: None, tag: b"dovecot", message: rest })
}

/// Parses the timestamp at the start of `line`: the time and the number of bytes it used.
#[inline]
fn timestamp(line: &[u8]) -> Option<(RawTime, usize)> {
    match *line.first()? {
        b'@' => tai64n(line),
        b'0'..=b'9' => iso(line),
        b'A'..=b'Z' => bsd(line),
        _ => None,
    }
}

fn digits(s: &[u8], at: usize, n: usize) -> Option<i64> {
    let d = s.get(at..at + n)?;
    let mut v = 0i64;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    Some(v)
}

/// `HH:MM:SS[.frac]` at `at`: the time and the end position.
#[inline]
fn clock(s: &[u8], at: usize) -> Option<(civil::Time, usize)> {
    let h = digits(s, at, 2)?;
    let m = digits(s, at + 3, 2)?;
    let sec = digits(s, at + 6, 2)?;
    if s[at + 2] != b':' || s[at + 5] != b':' {
        return None;
    }
    let mut end = at + 8;
    let mut nanos = 0i64;
    if s.get(end) == Some(&b'.') || s.get(end) == Some(&b',') {
        let mut k = end + 1;
        let mut scale = 100_000_000i64;
        while let Some(b) = s.get(k).filter(|b| b.is_ascii_digit()) {
            nanos += i64::from(b - b'0') * scale;
            scale /= 10;
            k += 1;
        }
        if k == end + 1 {
            return None;
        }
        end = k;
    }
    // Leap seconds (`:60`) are folded into `:59`; a second past 60 is no time.
    if sec > 60 {
        return None;
    }
    let t = civil::Time::new(h as i8, m as i8, sec.min(59) as i8, nanos as i32).ok()?;
    Some((t, end))
}

#[inline]
fn bsd(s: &[u8]) -> Option<(RawTime, usize)> {
    let month = match s.get(..3)? {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let mut i = 3;
    if s.get(i) != Some(&b' ') {
        return None;
    }
    while s.get(i) == Some(&b' ') && i < 5 {
        i += 1;
    }
    let nd = s[i..].iter().take(3).take_while(|b| b.is_ascii_digit()).count();
    if !(1..=2).contains(&nd) {
        return None;
    }
    let day = digits(s, i, nd)? as i8;
    if !(1..=31).contains(&day) {
        return None;
    }
    i += nd;
    if s.get(i) != Some(&b' ') {
        return None;
    }
    let (time, end) = clock(s, i + 1)?;
    Some((RawTime::YearLess { month, day, time }, end))
}

fn iso(s: &[u8]) -> Option<(RawTime, usize)> {
    let y = digits(s, 0, 4)?;
    let mo = digits(s, 5, 2)?;
    let d = digits(s, 8, 2)?;
    if s[4] != b'-' || s[7] != b'-' || !matches!(s.get(10), Some(b'T' | b' ')) {
        return None;
    }
    let date = civil::Date::new(y as i16, mo as i8, d as i8).ok()?;
    let (time, mut end) = clock(s, 11)?;
    let dt = DateTime::from_parts(date, time);
    let offset = match s.get(end) {
        Some(b'Z' | b'z') => {
            end += 1;
            Some(0)
        }
        Some(&c @ (b'+' | b'-')) => {
            let h = digits(s, end + 1, 2)?;
            let (m, len) = if s.get(end + 3) == Some(&b':') {
                (digits(s, end + 4, 2)?, 6)
            } else {
                (digits(s, end + 3, 2).unwrap_or(0), if digits(s, end + 3, 2).is_some() { 5 } else { 3 })
            };
            // An offset's minutes are a minute of the hour, as RFC 3339 has them.
            if m > 59 {
                return None;
            }
            end += len;
            let secs = (h * 3600 + m * 60) as i32;
            Some(if c == b'-' { -secs } else { secs })
        }
        _ => None,
    };
    let raw = match offset {
        Some(secs) => RawTime::Instant(Offset::from_seconds(secs).ok()?.to_timestamp(dt).ok()?),
        None => RawTime::Civil(dt),
    };
    Some((raw, end))
}

/// TAI64N: `@` and 24 hex digits. Seconds are the label minus 2^62 and minus the 10 s TAI-UTC
/// offset daemontools assumes; nanoseconds are the last 8 hex digits.
fn tai64n(s: &[u8]) -> Option<(RawTime, usize)> {
    let hex = s.get(1..25)?;
    let mut label = 0u64;
    for &b in &hex[..16] {
        label = (label << 4) | u64::from((b as char).to_digit(16)?);
    }
    let mut nanos = 0u32;
    for &b in &hex[16..] {
        nanos = (nanos << 4) | (b as char).to_digit(16)?;
    }
    // A label from 2^63 + 2^62 on is past any second an i64 holds (and an overflow, not a time).
    let secs = i64::try_from(label.checked_sub(1 << 62)?).ok()? - 10;
    if nanos >= 1_000_000_000 {
        return None;
    }
    let ts = Timestamp::new(secs, nanos as i32).ok()?;
    Some((RawTime::Instant(ts), 25))
}

#[cfg(test)]
mod tests;
