//! Each search and class against a naive version of itself.

use super::*;

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
        let hay: Vec<u8> =
            (0..rng.usize(0..70))
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
