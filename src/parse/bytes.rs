//! Searching the bytes of one line: the parsers' building blocks.
//!
//! A line is short (a few hundred bytes) and most searches end within a few dozen: setting up a
//! vectorised search, calling `memcmp` or testing a byte with a chain of comparisons costs more
//! there than the search itself. Here are searches inlined at their callers (16 bytes a step with
//! SSE2, which every x86-64 has, so that no feature detection is needed), byte classes tested by
//! one table lookup, and comparisons of short texts as a few words. All are linear in the line.

use memchr::memmem;

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

#[cfg(test)]
mod tests;
