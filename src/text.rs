//! Making attacker-controlled log text safe to show.
//!
//! Usernames and hostnames come from the network. Before they reach the store, the CSV, a
//! terminal or an email they are turned into printable text: nothing is dropped, so an analyst can
//! still see exactly what was sent.

use std::fmt::Write;

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

/// C1 controls and Unicode format characters that change how surrounding text is displayed.
fn is_hidden(c: char) -> bool {
    matches!(c as u32,
        0x80..=0x9f            // C1 controls (includes CSI 0x9b)
        | 0xad                 // soft hyphen
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
    fn invalid_utf8_is_escaped_not_dropped() {
        assert_eq!(visible(b"ab\xff\xfecd"), "ab\\xFF\\xFEcd");
    }

    #[test]
    fn backslash_is_doubled_so_escapes_are_unambiguous() {
        assert_eq!(visible(b"a\\x1B"), "a\\\\x1B");
        assert!(!is_plain(b"a\\b"));
    }

    #[test]
    fn valid_unicode_is_kept_but_bidi_overrides_are_shown() {
        assert_eq!(visible("jos\u{e9}".as_bytes()), "jos\u{e9}");
        assert_eq!(visible("a\u{202e}b".as_bytes()), "a\\u{202E}b");
        assert_eq!(visible("a\u{9b}b".as_bytes()), "a\\u{009B}b");
    }
}
