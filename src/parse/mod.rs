//! Turning one log line into a [`Parsed`] event, or nothing.
//!
//! [`syslog`] splits the header (timestamp, host, tag) from the message; [`postfix`] and
//! [`dovecot`] read the messages they own; [`time`] later resolves year-less timestamps.
//! Every parser works on bytes and is linear in the line length: log text is attacker-controlled.
//! No regular expressions: fields are found with `memchr`/`memmem` searches that only move
//! forward (or a bounded number of times), and every attacker-controlled field (usernames,
//! passwords) is delimited by server-written structure found from the side the attacker cannot
//! reach.

pub mod dovecot;
pub mod postfix;
pub mod prefilter;
pub mod syslog;
pub mod time;

use std::net::IpAddr;

use memchr::memmem;

use crate::model::event::Parsed;
pub use prefilter::{NEEDLES, Prefilter};

/// Parses one line (without its trailing newline). Returns `None` for lines that are not
/// authentication events.
pub fn parse_line(line: &[u8]) -> Option<Parsed<'_>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let header = syslog::split(line)?;
    let fields = message(&header)?;
    Some(Parsed { time: header.time, host: header.host, fields })
}

/// Whether a line that [`parse_line`] refused would have been an authentication event, had it
/// started with a timestamp (`postfix/smtpd[1]: warning: ...`, or Dovecot's own log written with
/// an empty `log_timestamp`): such a line cannot be placed in time, but must not vanish unseen.
pub fn untimed(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    syslog::peek_time(line).is_none() && syslog::bare(line).and_then(|header| message(&header)).is_some()
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

/// A substring searcher for a fixed needle, built once: building one costs more than searching
/// a short line, and the parsers search a million lines per gigabyte.
macro_rules! finder {
    ($needle:literal) => {{
        static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new($needle));
        &*FINDER
    }};
}

pub(crate) use finder;

/// First occurrence of the needle of `finder` in `hay`.
pub(crate) fn find(hay: &[u8], finder: &memmem::Finder<'_>) -> Option<usize> {
    finder.find(hay)
}

/// First occurrence of `byte` in `hay`, for searches that end within a few dozen bytes (a host, a
/// tag, a mechanism, an address): inlined, it costs less there than `memchr`'s call and dispatch.
/// On x86-64 it looks at 16 bytes a step (SSE2 is part of the architecture): a loop of one byte a
/// step ended after a number of steps that changed from line to line, and its exit was
/// mispredicted on most lines. Linear either way.
#[inline]
pub(crate) fn find_byte(byte: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
        let mut at = 0;
        while let Some(block) = hay.get(at..at + 16) {
            // SAFETY: SSE2 is always there on x86-64, and the load reads the 16 bytes of `block`.
            let mask = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(byte as i8))) as u32
            };
            if mask != 0 {
                return Some(at + mask.trailing_zeros() as usize);
            }
            at += 16;
        }
        hay[at..].iter().position(|&b| b == byte).map(|k| at + k)
    }
    #[cfg(not(target_arch = "x86_64"))]
    hay.iter().position(|&b| b == byte)
}

/// A set of bytes that server-written words are made of, for [`span`] and [`all_in`]: testing a
/// byte is one table lookup, where a test such as `is_ascii_alphanumeric() || b == b'-'` took a
/// few branches per byte that mispredicted as letters, digits and dashes alternated.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Class(u8);

impl Class {
    /// `[a-z0-9-]`: Dovecot's process and driver names.
    pub const NAME: Class = Class(1);
    /// `[A-Za-z0-9_-]`: mechanism names.
    pub const MECH: Class = Class(2);
    /// `[A-Za-z0-9_.-]`: process ids and instance names (`auth-worker(304)`, `auth(default)`).
    pub const ID: Class = Class(4);
    /// `[A-Za-z0-9 ()?'._-]`: the plain text of PAM's error messages.
    pub const PAM_TEXT: Class = Class(8);
    /// `[A-Za-z0-9]`.
    pub const ALNUM: Class = Class(16);
    /// `[A-Za-z0-9_]`: PAM module names (`pam_unix`).
    pub const MODULE: Class = Class(32);
    /// `[A-Za-z0-9-]`: a Dovecot 2.4 mechanism after `sasl:`, and the words of a prefix chain.
    pub const ALNUM_DASH: Class = Class(64);

    /// Whether `b` is in the set.
    #[inline]
    pub(crate) fn has(self, b: u8) -> bool {
        CLASSES[usize::from(b)] & self.0 != 0
    }
}

/// Each byte's classes, one bit per [`Class`].
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alnum = c.is_ascii_alphanumeric();
        let mut bits = 0;
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' {
            bits |= Class::NAME.0;
        }
        if alnum || c == b'_' || c == b'-' {
            bits |= Class::MECH.0;
        }
        if alnum || c == b'_' || c == b'.' || c == b'-' {
            bits |= Class::ID.0;
        }
        if alnum || matches!(c, b' ' | b'(' | b')' | b'?' | b'\'' | b'.' | b'_' | b'-') {
            bits |= Class::PAM_TEXT.0;
        }
        if alnum {
            bits |= Class::ALNUM.0;
        }
        if alnum || c == b'_' {
            bits |= Class::MODULE.0;
        }
        if alnum || c == b'-' {
            bits |= Class::ALNUM_DASH.0;
        }
        t[b] = bits;
        b += 1;
    }
    t
};

/// How many bytes at the start of `hay`, at most `max`, are in `class`.
#[inline]
pub(crate) fn span(hay: &[u8], max: usize, class: Class) -> usize {
    hay.iter().take(max).take_while(|&&b| class.has(b)).count()
}

/// Whether every byte of `hay` is in `class`.
#[inline]
pub(crate) fn all_in(hay: &[u8], class: Class) -> bool {
    hay.iter().all(|&b| class.has(b))
}

/// How many bytes at the start of `hay`, at most `max`, are hex digits, dots or colons (what
/// an address is written with). On x86-64 16 bytes are classified a step, for the reason given
/// at [`find_byte`]: an address's length changes from line to line.
#[inline]
pub(crate) fn span_of_ip_chars(hay: &[u8], max: usize) -> usize {
    let is_ip_char = |b: &u8| b.is_ascii_hexdigit() || matches!(b, b'.' | b':');
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
            _mm_sub_epi8,
        };
        let mut at = 0;
        while at < max
            && let Some(block) = hay.get(at..at + 16)
        {
            // SAFETY: SSE2 is always there on x86-64, and the load reads the 16 bytes of `block`.
            let ip_chars = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                // `b - base <= span` (wrapping, unsigned): `b` is in `base..=base + span`.
                let within = |v: __m128i, base: u8, span: u8| {
                    let d = _mm_sub_epi8(v, _mm_set1_epi8(base as i8));
                    let span = _mm_set1_epi8(span as i8);
                    _mm_cmpeq_epi8(_mm_max_epu8(d, span), span)
                };
                let digits_colon = within(v, b'0', 10);
                let letters = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', 5);
                let dots = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8));
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(digits_colon, letters), dots)) as u32
            };
            if ip_chars != 0xffff {
                return (at + (!ip_chars).trailing_zeros() as usize).min(max);
            }
            at += 16;
        }
        let at = at.min(max);
        at + hay[at..].iter().take(max - at).take_while(|b| is_ip_char(b)).count()
    }
    #[cfg(not(target_arch = "x86_64"))]
    hay.iter().take(max).take_while(|b| is_ip_char(b)).count()
}

/// First occurrence of `needle` in `hay`, found by its first byte: for the short haystacks of one
/// line, where setting up a vectorised substring search costs more than it saves. Meant for
/// needles whose first byte is rare in the haystack; linear in `hay` either way (each hit of
/// the first byte costs at most a comparison of the needle's length).
pub(crate) fn find_short(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    memchr::memchr_iter(first, hay).find(|&at| hay.get(at + 1..at + needle.len()).is_some_and(|s| same(s, rest)))
}

/// Last occurrence of `needle` in `hay`; see [`find_short`].
pub(crate) fn rfind_short(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    memchr::memrchr_iter(first, hay).find(|&at| hay.get(at + 1..at + needle.len()).is_some_and(|s| same(s, rest)))
}

/// Whether two texts are equal. The parsers compare many texts of 1 to 32 bytes, often of the
/// same length as the other (`LOGIN` and `PLAIN`, users, needles); comparing them as two
/// overlapping words each instead of calling `memcmp` took ~5% of a scan's CPU time away
/// (`memcmp`'s branches on lengths that change from call to call were mispredicted).
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    fn ends<const N: usize>(s: &[u8]) -> Option<(&[u8; N], &[u8; N])> {
        Some((s.first_chunk()?, s.last_chunk()?))
    }
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    match n {
        0 => true,
        1..4 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..8 => ends::<4>(a) == ends::<4>(b),
        8..=16 => ends::<8>(a) == ends::<8>(b),
        17..=32 => ends::<16>(a) == ends::<16>(b),
        _ => a == b,
    }
}

/// An IP address as logged; IPv4-mapped IPv6 becomes IPv4.
pub(crate) fn ip(s: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = ipv4(s) {
        return Some(IpAddr::V4(v4));
    }
    if let Some(v6) = ipv6(s) {
        return Some(IpAddr::V6(v6).to_canonical());
    }
    if s.is_empty() || s.len() > 45 || !s.iter().all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':')) {
        return None;
    }
    let addr: IpAddr = std::str::from_utf8(s).ok()?.parse().ok()?;
    Some(addr.to_canonical())
}

/// A dotted quad without leading zeros (as Postfix and Dovecot print them), read without the
/// general parser: most addresses in a log are IPv4. Anything else is left to `ip`.
fn ipv4(s: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v: u32 = 0;
        while let Some(&b) = s.get(i).filter(|b| b.is_ascii_digit()) {
            v = v * 10 + u32::from(b - b'0');
            i += 1;
            if i - start > 3 {
                return None;
            }
        }
        if i == start || v > 255 || (i - start > 1 && s[start] == b'0') {
            return None;
        }
        *octet = v as u8;
    }
    (i == s.len()).then_some(std::net::Ipv4Addr::from(octets))
}

/// An IPv6 address in hexadecimal groups (`2001:db8::1`), read without the general parser,
/// which takes ~1,200 instructions per address (~4% of the parse thread's on the benchmark's
/// log, one IPv6 client in ten). Forms
/// with a dotted quad (`::ffff:192.0.2.1`) are left to `ip`, as is anything else this does not
/// accept; what it accepts, the general parser reads the same (`ipv6_agrees_with_std`).
fn ipv6(s: &[u8]) -> Option<std::net::Ipv6Addr> {
    // Groups before `::` (all of them when there is none), then after it.
    let (mut head, mut tail) = ([0u16; 8], [0u16; 8]);
    let (mut heads, mut tails) = (0, 0);
    let mut compressed = false;
    let mut i = 0;
    if s.starts_with(b"::") {
        compressed = true;
        i = 2;
    }
    while i < s.len() {
        let start = i;
        let mut group = 0u16;
        while let Some(digit) = s.get(i).and_then(|&b| char::from(b).to_digit(16)) {
            if i - start == 4 {
                return None;
            }
            group = group << 4 | digit as u16;
            i += 1;
        }
        if i == start {
            return None;
        }
        let (groups, n) = if compressed { (&mut tail, &mut tails) } else { (&mut head, &mut heads) };
        *groups.get_mut(*n)? = group;
        *n += 1;
        match s.get(i) {
            None => break,
            Some(b':') if s.get(i + 1) == Some(&b':') => {
                if compressed {
                    return None;
                }
                compressed = true;
                i += 2;
            }
            Some(b':') if i + 1 < s.len() => i += 1,
            _ => return None,
        }
    }
    // `::` stands for at least one group.
    if (compressed && heads + tails > 7) || (!compressed && heads != 8) {
        return None;
    }
    let mut groups = head;
    groups[8 - tails..].copy_from_slice(&tail[..tails]);
    Some(std::net::Ipv6Addr::from(groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-written lines covering every accepted and rejected variant, one per line; `#` starts
    /// a comment.
    const FIXTURES: &str = include_str!("../../tests/fixtures/parse/lines.log");

    fn fixture_lines() -> impl Iterator<Item = &'static str> {
        FIXTURES.lines().filter(|l| !l.is_empty() && !l.starts_with('#'))
    }

    fn has_needle(line: &[u8]) -> bool {
        Prefilter::default().matches(line)
    }

    /// Random texts of a few letters, of every length around the word sizes.
    fn random_text(rng: &mut fastrand::Rng) -> Vec<u8> {
        (0..rng.usize(0..80)).map(|_| rng.u8(b'a'..b'e')).collect()
    }

    #[test]
    fn substring_searches_agree_with_naive_ones() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..50_000 {
            let hay = random_text(&mut rng);
            let needle: Vec<u8> = (0..rng.usize(1..4)).map(|_| rng.u8(b'a'..b'e')).collect();
            let at = |i: &usize| hay[*i..].starts_with(&needle);
            assert_eq!(find_short(&hay, &needle), (0..hay.len()).find(at), "{hay:?} {needle:?}");
            assert_eq!(rfind_short(&hay, &needle), (0..hay.len()).rev().find(at), "{hay:?} {needle:?}");
        }
    }

    #[test]
    fn find_byte_agrees_with_a_naive_search() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..50_000 {
            let hay = random_text(&mut rng);
            let byte = rng.u8(b'a'..b'f');
            assert_eq!(find_byte(byte, &hay), hay.iter().position(|&b| b == byte), "{hay:?} {byte}");
        }
    }

    #[test]
    fn span_of_ip_chars_agrees_with_a_naive_count() {
        let mut rng = fastrand::Rng::with_seed(13);
        let alphabet = b"0123456789abcdefABCDEF.:gG/@[`; \xff\x8e";
        for _ in 0..50_000 {
            let hay: Vec<u8> = (0..rng.usize(0..70))
                .map(|_| {
                    if rng.u8(0..8) == 0 { alphabet[rng.usize(0..alphabet.len())] } else { alphabet[rng.usize(0..22)] }
                })
                .collect();
            let max = rng.usize(0..60);
            let naive = hay.iter().take(max).take_while(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':')).count();
            assert_eq!(span_of_ip_chars(&hay, max), naive, "{hay:?} {max}");
        }
        // Every byte value, alone before a run.
        for b in 0..=255u8 {
            let mut hay = vec![b'1'; 20];
            hay[17] = b;
            let want = if b.is_ascii_hexdigit() || matches!(b, b'.' | b':') { 20 } else { 17 };
            assert_eq!(span_of_ip_chars(&hay, 46), want, "{b}");
        }
    }

    #[test]
    fn byte_classes_hold_what_their_docs_say() {
        let sets: [(Class, &dyn Fn(u8) -> bool); 7] = [
            (Class::NAME, &|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            (Class::MECH, &|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')),
            (Class::ID, &|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')),
            (Class::PAM_TEXT, &|b| b.is_ascii_alphanumeric() || b" ()?'._-".contains(&b)),
            (Class::ALNUM, &|b| b.is_ascii_alphanumeric()),
            (Class::MODULE, &|b| b.is_ascii_alphanumeric() || b == b'_'),
            (Class::ALNUM_DASH, &|b| b.is_ascii_alphanumeric() || b == b'-'),
        ];
        for (class, want) in sets {
            for b in 0..=255u8 {
                assert_eq!(class.has(b), want(b), "{class:?} {b}");
            }
        }
        assert_eq!(span(b"auth-worker(1)", 40, Class::NAME), 11);
        assert_eq!(span(b"auth-worker(1)", 4, Class::NAME), 4);
        assert!(all_in(b"", Class::ALNUM) && !all_in(b"a b", Class::ALNUM));
    }

    #[test]
    fn same_agrees_with_slice_equality() {
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..100_000 {
            let a = random_text(&mut rng);
            let mut b = a.clone();
            match rng.u8(0..3) {
                0 => {}
                1 if !b.is_empty() => {
                    let i = rng.usize(0..b.len());
                    b[i] = b'x';
                }
                _ => b = random_text(&mut rng),
            }
            assert_eq!(same(&a, &b), a == b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn every_accepted_fixture_line_contains_a_needle() {
        let mut accepted = 0;
        for line in fixture_lines() {
            if parse_line(line.as_bytes()).is_some() {
                accepted += 1;
                assert!(has_needle(line.as_bytes()), "accepted without needle: {line}");
            }
        }
        assert!(accepted >= 40, "only {accepted} fixture lines accepted");
    }

    #[test]
    fn accepted_events_never_carry_password_material() {
        for line in fixture_lines() {
            if let Some(p) = parse_line(line.as_bytes()) {
                let d = format!("{:?}", p.fields.detail());
                assert!(!d.contains("S3cret"), "password leaked from {line}: {d}");
                assert!(!d.contains("given password"), "password leaked from {line}: {d}");
            }
        }
    }

    #[test]
    fn needle_property_on_mutated_fixture_lines() {
        // Truncations and byte flips of accepted lines must still obey the needle contract.
        let mut rng = fastrand::Rng::with_seed(7);
        for line in fixture_lines() {
            let b = line.as_bytes();
            for _ in 0..30 {
                let mut m = b.to_vec();
                match rng.u8(0..3) {
                    0 => m.truncate(rng.usize(0..=b.len())),
                    1 => {
                        let i = rng.usize(0..m.len());
                        m[i] = rng.u8(..);
                    }
                    _ => {
                        let i = rng.usize(0..m.len());
                        m.remove(i);
                    }
                }
                if parse_line(&m).is_some() {
                    assert!(has_needle(&m), "accepted without needle: {}", String::from_utf8_lossy(&m));
                }
            }
        }
    }

    #[test]
    fn events_without_a_timestamp_are_recognised_as_such() {
        for line in [
            "postfix/submission/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            "auth: Info: passwd-file(bob,192.0.2.5): Password mismatch",
            "imap-login: Info: Disconnected (auth failed, 3 attempts in 8 secs): user=<bob>, method=PLAIN, \
             rip=192.0.2.5, lip=192.0.2.1, session=<abc>",
            "dovecot: imap-login: Login: user=<bob>, method=PLAIN, rip=192.0.2.5, lip=192.0.2.1\r",
        ] {
            assert_eq!(parse_line(line.as_bytes()), None, "{line}");
            assert!(untimed(line.as_bytes()), "{line}");
            let timed = format!("Nov 24 10:00:00 mx1 {line}");
            assert!(parse_line(timed.as_bytes()).is_some(), "{timed}");
            assert!(!untimed(timed.as_bytes()), "{timed}");
        }
        for line in [
            "postfix/smtpd[1]: connect from unknown[192.0.2.1]",
            "auth: Info: passwd-file(bob,192.0.2.5): logged in",
            "random text with auth in it",
            "",
            // A timestamp that is there but names no real date is another problem.
            "Feb 30 10:00:00 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x",
        ] {
            assert!(!untimed(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn carriage_return_is_stripped() {
        let p = parse_line(b"Jan 1 00:00:00 m postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: , sasl_username=bob\r").unwrap();
        assert_eq!(p.fields.username, Some(&b"bob"[..]));
        assert_eq!(p.host, Some(&b"m"[..]));
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(42);
        let alphabet: &[u8] = b"abc:;,()<>[] =@.0123456789\x00\xff\xc3user=rip=auth failed";
        for _ in 0..20_000 {
            let len = rng.usize(0..200);
            let mut v: Vec<u8> = (0..len).map(|_| alphabet[rng.usize(0..alphabet.len())]).collect();
            if rng.bool() {
                let prefix: &[u8] = match rng.u8(0..4) {
                    0 => b"Jan  1 00:00:00 h dovecot: auth: pam(",
                    1 => b"Jan  1 00:00:00 h dovecot: imap-login: ",
                    2 => b"Jan  1 00:00:00 h postfix/smtpd[1]: warning: ",
                    _ => b"@400000004c91b044077a9e94 auth(",
                };
                v.splice(0..0, prefix.iter().copied());
            }
            let _ = parse_line(&v);
        }
        for _ in 0..2_000 {
            let v: Vec<u8> = (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect();
            let _ = parse_line(&v);
        }
    }

    #[test]
    fn megabyte_lines_are_fast_and_safe() {
        let start = std::time::Instant::now();
        let fill = |unit: &str| unit.repeat(1_048_576 / unit.len());
        let heads = [
            "Jan  1 00:00:00 h dovecot: imap-login: Disconnected: ",
            "Jan  1 00:00:00 h dovecot: auth: sql(",
            "Jan  1 00:00:00 h dovecot: auth-worker(1): pam(",
            "Aug 30 00:10:57 auth(",
            "Jan  1 00:00:00 h postfix/smtpd[1]: warning: ",
            "Jan  1 00:00:00 h postfix/smtpd[1]: 1A2B: client=h[192.0.2.1]",
            "Jan  1 00:00:00 h auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=",
            "Jan  1 00:00:00 h postfix/smtpd[1]: message repeated 5 times: [ ",
        ];
        let units = [
            "a: ",
            ",1.2.3.4): unknown user ",
            ",1.2.3.4): pam_authenticate() failed: x: ",
            ",1.2.3.4,sasl:login)<s>: Info: sql: unknown user (given password: ",
            ", rip=1.2.3.4",
            "user=<",
            "(given password: ",
            ",1.2.3.4,<s>",
            " rhost=1.2.3.4",
            "[",
            "(auth failed, 1 attempts",
            ": ",
            "x",
        ];
        for head in heads {
            for unit in units {
                let mut line = head.as_bytes().to_vec();
                line.extend_from_slice(fill(unit).as_bytes());
                let _ = parse_line(&line);
                line.extend_from_slice(
                    b"), user=<a>, method=PLAIN, rip=192.0.2.9, lip=192.0.2.1: unknown user rhost=192.0.2.9",
                );
                let _ = parse_line(&line);
            }
        }
        // A 1 MB username still yields the real IP.
        let mut line = b"Jan  1 00:00:00 h postfix/smtpd[1]: warning: unknown[192.0.2.99]: SASL LOGIN authentication failed: x, sasl_username=".to_vec();
        line.extend(std::iter::repeat_n(b'A', 1 << 20));
        let p = parse_line(&line).unwrap();
        assert_eq!(p.fields.client_ip.to_string(), "192.0.2.99");
        let mut line =
            b"Jan  1 00:00:00 h dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<".to_vec();
        line.extend(std::iter::repeat_n(b'>', 1 << 20));
        line.extend_from_slice(b">, method=PLAIN, rip=192.0.2.98, lip=192.0.2.1");
        let p = parse_line(&line).unwrap();
        assert_eq!(p.fields.client_ip.to_string(), "192.0.2.98");
        // Debug builds are slow; this bounds quadratic behaviour, not speed.
        assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
    }

    /// Used by `scripts/corpus-check.py --parser-only`: parses every line of
    /// `$MLS_PARSE_INPUT` and writes one tab-separated result per line to `$MLS_PARSE_OUTPUT`
    /// (`kind reason ip username`, or `-` for no event).
    #[test]
    #[ignore]
    fn dump_for_corpus_check() {
        let (Ok(input), Ok(output)) = (std::env::var("MLS_PARSE_INPUT"), std::env::var("MLS_PARSE_OUTPUT")) else {
            return;
        };
        let data = std::fs::read(input).unwrap();
        let mut out = String::new();
        for line in data.split(|&b| b == b'\n') {
            match parse_line(line) {
                Some(p) => {
                    let d = p.fields.detail();
                    let user = d.username.unwrap_or_default();
                    out.push_str(&format!("{}\t{}\t{}\t{}\n", d.kind.as_str(), d.reason.as_str(), d.client_ip, user));
                }
                None => out.push_str("-\n"),
            }
        }
        std::fs::write(output, out).unwrap();
    }

    #[test]
    fn repeat_unwrapping() {
        assert_eq!(unrepeat(b"message repeated 4 times: [ x]"), (&b"x"[..], 4));
        assert_eq!(unrepeat(b"message repeated 4 times: [ x]]"), (&b"x]"[..], 4));
        assert_eq!(unrepeat(b"message repeated many times: [ x]"), (&b"message repeated many times: [ x]"[..], 1));
        assert_eq!(unrepeat(b"message repeated 99999999999 times: [ x]").1, 1);
    }

    #[test]
    fn ip_canonical() {
        for good in ["192.0.2.1", "0.0.0.0", "255.255.255.255", "10.0.12.9"] {
            assert_eq!(ipv4(good.as_bytes()), good.parse().ok(), "{good}");
        }
        for other in ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", "1.2.3.", "1.2.3.4 ", "1234.1.1.1", ""] {
            assert_eq!(ipv4(other.as_bytes()), None, "{other}");
        }
        assert_eq!(ip(b"::ffff:192.0.2.1").unwrap().to_string(), "192.0.2.1");
        assert_eq!(ip(b"2001:db8::1").unwrap().to_string(), "2001:db8::1");
        assert!(ip(b"1.2.3").is_none());
        assert!(ip(b"").is_none());
        assert!(ip(b"1.2.3.4 ").is_none());
    }

    #[test]
    fn ipv6_agrees_with_std() {
        let std = |s: &[u8]| std::str::from_utf8(s).ok()?.parse::<std::net::Ipv6Addr>().ok();
        for good in [
            "2001:db8::1",
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "FE80::aBc:0001",
        ] {
            assert_eq!(ipv6(good.as_bytes()), std(good.as_bytes()), "{good}");
            assert!(ipv6(good.as_bytes()).is_some(), "{good}");
        }
        for bad in [
            "",
            ":",
            ":::",
            "1:::2",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "1::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7",
            "12345::",
            "1:",
            ":1",
            "1::2:",
            "g::",
            "1:2:3:4:5:6:7:8::",
        ] {
            assert_eq!(ipv6(bad.as_bytes()), None, "{bad}");
        }
        // Random strings over the address alphabet, and random valid addresses shortened.
        let mut rng = fastrand::Rng::with_seed(6);
        let alphabet = b"0123456789abcdefABCDEF:::::.";
        let mut accepted = 0;
        for _ in 0..200_000 {
            let s: Vec<u8> = if rng.bool() {
                (0..rng.usize(0..20)).map(|_| alphabet[rng.usize(..alphabet.len())]).collect()
            } else {
                let addr = std::net::Ipv6Addr::from(rng.u128(..) & !(u128::from(rng.u16(..)) << rng.u32(0..112)));
                let mut s = addr.to_string().into_bytes();
                if rng.u8(..4) == 0 {
                    let i = rng.usize(..s.len());
                    s.remove(i);
                }
                s
            };
            let fast = ipv6(&s);
            if fast.is_some() {
                accepted += 1;
                assert_eq!(fast, std(&s), "{}", String::from_utf8_lossy(&s));
            } else if !s.contains(&b'.') {
                assert_eq!(std(&s), None, "{}", String::from_utf8_lossy(&s));
            }
        }
        assert!(accepted > 50_000, "{accepted}");
    }
}
