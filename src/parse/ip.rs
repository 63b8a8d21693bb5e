//! Reading the client addresses that Postfix and Dovecot log.
//!
//! Most lines carry one, so the common forms (a dotted quad, IPv6 in hexadecimal groups) are read
//! by hand, without the standard library's general parser, which is the fallback for the rest.

use std::net::IpAddr;

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
mod tests;
