//! The hand-written address readers against the standard library's parser.

use super::*;

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
    for good in
        ["2001:db8::1", "::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "FE80::aBc:0001"]
    {
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
