//! Making attacker-controlled log text safe to show.
//!
//! Usernames and hostnames come from the network. Before they reach the store, the CSV, a
//! terminal or an email they are turned into printable text: nothing is dropped, so an analyst can
//! still see exactly what was sent.

use std::borrow::Cow;
use std::fmt::Write;

/// `1234567` → `1,234,567`: how every count is shown to a person.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Returns `bytes` as printable UTF-8: valid printable characters are kept, everything else is
/// escaped visibly.
///
/// - invalid UTF-8 bytes become `\xNN`;
/// - control characters (C0, DEL, C1) become `\xNN` (below U+0080) or `\u{NN}`;
/// - bidirectional overrides and other invisible format characters that can reorder or hide text
///   on screen become `\u{NNNN}`;
/// - a backslash becomes `\\`, so every escape is unambiguous.
pub fn visible(bytes: &[u8]) -> String {
    if is_plain(bytes) {
        // The common case, kept cheap: printable ASCII needs no escaping.
        if let Ok(plain) = std::str::from_utf8(bytes) {
            return plain.to_owned();
        }
    }
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    out
}

/// [`visible`] of an identifier that is compared case-insensitively (SASL mechanisms), upper-cased.
pub fn visible_upper(bytes: &[u8]) -> String {
    let mut s = visible(bytes);
    s.make_ascii_uppercase();
    s
}

/// True when `bytes` would come out of [`visible`] unchanged, so callers on the hot path can
/// skip the copy-and-escape work.
pub fn is_plain(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02X}", c as u32);
        }
        c if is_hidden(c) => {
            let _ = write!(out, "\\u{{{:04X}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// The inverse of [`visible`]: the bytes that were made visible, exactly
/// (`unvisible_bytes(&visible(b)) == b` for every `b`). A backslash that does not start one of
/// [`visible`]'s escapes is kept as it is (text that never went through [`visible`]).
pub fn unvisible_bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if let Some((bytes, len)) = (b[i] == b'\\').then(|| escape_at(&b[i + 1..])).flatten() {
            out.extend_from_slice(bytes.as_slice());
            i += 1 + len;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// [`unvisible_bytes`] as text, for media that need valid Unicode (JSON): a byte that was not
/// valid UTF-8 in the log (shown as `\xNN` from `\x80`) becomes U+FFFD, the replacement
/// character. Borrowed when there is nothing to undo.
pub fn unvisible(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    match String::from_utf8_lossy(&unvisible_bytes(s)) {
        Cow::Borrowed(b) => Cow::Owned(b.to_owned()),
        Cow::Owned(o) => Cow::Owned(o),
    }
}

/// The bytes of the escape whose text (after its backslash) starts `rest`, and that text's length.
fn escape_at(rest: &[u8]) -> Option<(EscapeBytes, usize)> {
    let hex = |digits: &[u8]| std::str::from_utf8(digits).ok().and_then(|d| u32::from_str_radix(d, 16).ok());
    match rest.first()? {
        b'\\' => Some((EscapeBytes::one(b'\\'), 1)),
        b'x' => {
            let digits = rest.get(1..3)?;
            if !digits.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            // Below 0x80 a control character, from 0x80 a byte that was not UTF-8: one byte either way.
            Some((EscapeBytes::one(hex(digits)? as u8), 3))
        }
        b'u' if rest.get(1) == Some(&b'{') => {
            let close = rest.iter().position(|&c| c == b'}')?;
            let digits = &rest[2..close];
            if digits.is_empty() || digits.len() > 6 || !digits.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let c = char::from_u32(hex(digits)?)?;
            let mut e = EscapeBytes { bytes: [0; 4], len: 0 };
            e.len = c.encode_utf8(&mut e.bytes).len();
            Some((e, close + 1))
        }
        _ => None,
    }
}

/// The one to four bytes an escape stands for.
struct EscapeBytes {
    bytes: [u8; 4],
    len: usize,
}

impl EscapeBytes {
    fn one(b: u8) -> EscapeBytes {
        EscapeBytes { bytes: [b, 0, 0, 0], len: 1 }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// C1 controls and Unicode format characters that change how surrounding text is displayed
/// (bidi overrides, isolates and marks, zero-width characters): every output escapes them.
pub fn is_hidden(c: char) -> bool {
    matches!(c as u32,
        0x80..=0x9f            // C1 controls (includes CSI 0x9b)
        | 0xad                 // soft hyphen
        | 0x061c               // Arabic letter mark (a bidi control)
        | 0x200b..=0x200f      // zero-width, LRM, RLM
        | 0x2028..=0x202e      // separators, bidi embeddings and overrides
        | 0x2060..=0x2069      // word joiner, bidi isolates
        | 0xfeff               // BOM / zero-width no-break space
        | 0xfff9..=0xfffb) // interlinear annotations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_is_kept() {
        assert_eq!(visible(b"admin@example.org"), "admin@example.org");
        assert!(is_plain(b"admin@example.org"));
    }

    #[test]
    fn escape_sequences_and_controls_are_escaped() {
        assert_eq!(visible(b"a\x1b[31mb\r\n\0"), "a\\x1B[31mb\\x0D\\x0A\\x00");
        assert!(!is_plain(b"a\x1b"));
    }

    #[test]
    fn bidi_controls_are_escaped() {
        for (c, escaped) in [('\u{202e}', "\\u{202E}"), ('\u{2067}', "\\u{2067}"), ('\u{061c}', "\\u{061C}")] {
            let text = format!("a{c}b");
            assert_eq!(visible(text.as_bytes()), format!("a{escaped}b"));
            assert_eq!(unvisible(&visible(text.as_bytes())), text);
        }
    }

    #[test]
    fn invalid_utf8_is_escaped_not_dropped() {
        assert_eq!(visible(b"ab\xff\xfecd"), "ab\\xFF\\xFEcd");
    }

    #[test]
    fn backslash_is_doubled_so_escapes_are_unambiguous() {
        assert_eq!(visible(b"a\\x1B"), "a\\\\x1B");
        assert!(!is_plain(b"a\\b"));
    }

    #[test]
    fn unvisible_gives_back_what_was_logged() {
        assert_eq!(unvisible("a\\x1B[31mb\\x0D"), "a\x1b[31mb\r");
        // A literal backslash-x in the log stays literal.
        assert_eq!(unvisible(&visible(b"\\x1b[31mroot")), "\\x1b[31mroot");
        assert_eq!(unvisible("a\\u{202E}b"), "a\u{202e}b");
        // A byte that was not UTF-8 is the replacement character in text, itself in bytes.
        assert_eq!(unvisible("ab\\xFFcd"), "ab\u{fffd}cd");
        assert_eq!(unvisible_bytes("ab\\xFFcd"), b"ab\xffcd");
        // Text plain already is borrowed; stray backslashes are kept.
        assert!(matches!(unvisible("admin"), Cow::Borrowed("admin")));
        assert_eq!(unvisible("a\\qb\\x4\\u{zz}\\u{110000}\\"), "a\\qb\\x4\\u{zz}\\u{110000}\\");
    }

    /// Bytes drawn mostly from those that make escapes, so that odd mixtures come up often.
    fn random_bytes(rng: &mut fastrand::Rng) -> Vec<u8> {
        const PIECES: &[&[u8]] = &[
            b"\\",
            b"x",
            b"u",
            b"{",
            b"}",
            b"1B",
            b"Ff",
            b"0",
            b"a",
            b"\x1b",
            b"\xff",
            b"\xc3",
            b"\xa9",
            "\u{202e}".as_bytes(),
            "\u{9b}".as_bytes(),
            "\u{e9}".as_bytes(),
            b"\x7f",
            b"\x00",
            b"\n",
        ];
        let len = rng.usize(0..24);
        let mut out = Vec::new();
        for _ in 0..len {
            if rng.u8(0..4) == 0 {
                out.push(rng.u8(..));
            } else {
                out.extend_from_slice(PIECES[rng.usize(0..PIECES.len())]);
            }
        }
        out
    }

    #[test]
    fn visible_then_unvisible_is_the_identity_on_random_bytes() {
        let mut rng = fastrand::Rng::with_seed(0x5e47);
        for _ in 0..500 {
            let raw = random_bytes(&mut rng);
            let shown = visible(&raw);
            assert_eq!(unvisible_bytes(&shown), raw, "{shown}");
            // Text that was valid UTF-8 comes back as it was.
            if let Ok(text) = std::str::from_utf8(&raw) {
                assert_eq!(unvisible(&shown), text, "{shown}");
            }
            // And making visible again gives the same escapes.
            assert_eq!(visible(&unvisible_bytes(&shown)), shown);
        }
    }

    #[test]
    fn valid_unicode_is_kept_but_bidi_overrides_are_shown() {
        assert_eq!(visible("jos\u{e9}".as_bytes()), "jos\u{e9}");
        assert_eq!(visible("a\u{202e}b".as_bytes()), "a\\u{202E}b");
        assert_eq!(visible("a\u{9b}b".as_bytes()), "a\\u{009B}b");
    }
}
