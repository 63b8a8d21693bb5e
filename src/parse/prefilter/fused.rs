//! The one-pass prefilter, for x86-64 with AVX2 (32 bytes a step) or AVX-512BW (64).

use std::arch::x86_64::{
    __m256i, __m512i, _MM_HINT_T0, _mm_prefetch, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256,
    _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm512_cmpeq_epi8_mask, _mm512_loadu_si512,
    _mm512_mask_cmpeq_epi8_mask, _mm512_set1_epi8,
};
use std::ops::Range;

use super::{NEEDLES, skipped};

/// How far ahead of a block the pass asks for the memory it will read. The CPU's own
/// prefetcher stops at each 4 KiB page, and the log is mapped in pages of the page cache:
/// each new page's first reads waited for memory. A page ahead is what saved CPU time on an
/// Intel Xeon; 1 KiB ahead did nothing, 8 KiB no more than 4 (`bench/README.md`, seventh
/// round).
const PREFETCH_AHEAD: usize = 4096;

/// Where each needle's pair stands in it: two adjacent bytes of it that are rare in mail logs
/// (`au`, `_m`, `Lo`; see the module's documentation).
const PAIR_AT: [usize; 3] = [0, 4, 0];

/// Each needle's pair (checked when compiled to begin with different bytes).
const PAIRS: [[u8; 2]; 3] = {
    let mut pairs = [[0; 2]; 3];
    let mut i = 0;
    while i < pairs.len() {
        let needle = NEEDLES[i].as_bytes();
        pairs[i] = [needle[PAIR_AT[i]], needle[PAIR_AT[i] + 1]];
        i += 1;
    }
    // `needle_at` tells the pairs apart by their first byte.
    assert!(pairs[0][0] != pairs[1][0] && pairs[0][0] != pairs[2][0] && pairs[1][0] != pairs[2][0]);
    pairs
};

/// Whether the pair at `at` stands in a needle that is there whole and makes a candidate.
/// The pairs' first bytes differ, so the byte at `at` tells which; each test is written out
/// with a constant needle, which compiles to a few word compares (a loop over the needles
/// called `memcmp` on every hit: 12% more of the chunk thread's instructions).
#[inline(always)]
fn needle_at(data: &[u8], at: usize) -> bool {
    let whole = |i: usize| {
        at.checked_sub(PAIR_AT[i])
            .is_some_and(|start| data[start..].starts_with(NEEDLES[i].as_bytes()) && !skipped(data, i, start))
    };
    let first = data[at];
    if first == PAIRS[0][0] {
        whole(0)
    } else if first == PAIRS[1][0] {
        whole(1)
    } else if first == PAIRS[2][0] {
        whole(2)
    } else {
        false
    }
}

/// One vector width's tests of a block of bytes, as bit masks (bit `k`: byte `k`). The
/// methods are inlined into [`scan_avx2`] and [`scan_avx512`], which enable the features
/// their instructions need (as `memchr` does).
trait Lanes {
    /// Bytes per block.
    const WIDTH: usize;

    /// Where the first `WIDTH` bytes of `bytes` (at least `WIDTH`) hold a newline.
    ///
    /// # Safety
    /// The CPU must have the instructions.
    unsafe fn newlines(bytes: &[u8]) -> u64;

    /// Where the first `WIDTH` bytes of `bytes` hold a newline, and where a pair starts
    /// (which looks at one byte more: `bytes` holds at least `WIDTH + 1`).
    ///
    /// # Safety
    /// The CPU must have the instructions.
    unsafe fn newlines_and_pairs(bytes: &[u8]) -> (u64, u64);
}

/// 32 bytes a step.
struct Avx2;

/// Each helper's safety: the CPU must have AVX2.
impl Avx2 {
    /// The 32 bytes at the start of `bytes` (at least 32).
    #[inline(always)]
    unsafe fn load(bytes: &[u8]) -> __m256i {
        assert!(bytes.len() >= 32);
        // SAFETY: the 32 bytes read are in `bytes`; the caller promises AVX2.
        unsafe { _mm256_loadu_si256(bytes.as_ptr().cast::<__m256i>()) }
    }

    /// All ones where a byte of `v` is `b`.
    #[inline(always)]
    unsafe fn eq(v: __m256i, b: u8) -> __m256i {
        // SAFETY: the caller promises AVX2.
        unsafe { _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8)) }
    }

    /// Each byte's top bit.
    #[inline(always)]
    unsafe fn mask(v: __m256i) -> u64 {
        // SAFETY: the caller promises AVX2.
        u64::from(unsafe { _mm256_movemask_epi8(v) } as u32)
    }
}

impl Lanes for Avx2 {
    const WIDTH: usize = 32;

    #[inline(always)]
    unsafe fn newlines(bytes: &[u8]) -> u64 {
        // SAFETY: the caller promises AVX2.
        unsafe { Self::mask(Self::eq(Self::load(bytes), b'\n')) }
    }

    #[inline(always)]
    unsafe fn newlines_and_pairs(bytes: &[u8]) -> (u64, u64) {
        // SAFETY: the caller promises AVX2.
        unsafe {
            let (v0, v1) = (Self::load(bytes), Self::load(&bytes[1..]));
            let pair = |[a, b]: [u8; 2]| _mm256_and_si256(Self::eq(v0, a), Self::eq(v1, b));
            let pairs = _mm256_or_si256(_mm256_or_si256(pair(PAIRS[0]), pair(PAIRS[1])), pair(PAIRS[2]));
            (Self::mask(Self::eq(v0, b'\n')), Self::mask(pairs))
        }
    }
}

/// 64 bytes a step, the tests' results straight in mask registers.
struct Avx512;

/// Its helper's safety: the CPU must have AVX-512F.
impl Avx512 {
    /// The 64 bytes at the start of `bytes` (at least 64).
    #[inline(always)]
    unsafe fn load(bytes: &[u8]) -> __m512i {
        assert!(bytes.len() >= 64);
        // SAFETY: the 64 bytes read are in `bytes`; the caller promises AVX-512F.
        unsafe { _mm512_loadu_si512(bytes.as_ptr().cast::<__m512i>()) }
    }
}

impl Lanes for Avx512 {
    const WIDTH: usize = 64;

    #[inline(always)]
    unsafe fn newlines(bytes: &[u8]) -> u64 {
        // SAFETY: the caller promises AVX-512F and AVX-512BW.
        unsafe { _mm512_cmpeq_epi8_mask(Self::load(bytes), _mm512_set1_epi8(b'\n' as i8)) }
    }

    #[inline(always)]
    unsafe fn newlines_and_pairs(bytes: &[u8]) -> (u64, u64) {
        // SAFETY: the caller promises AVX-512F and AVX-512BW.
        unsafe {
            let (v0, v1) = (Self::load(bytes), Self::load(&bytes[1..]));
            let pair = |[a, b]: [u8; 2]| {
                let first = _mm512_cmpeq_epi8_mask(v0, _mm512_set1_epi8(a as i8));
                _mm512_mask_cmpeq_epi8_mask(first, v1, _mm512_set1_epi8(b as i8))
            };
            let newlines = _mm512_cmpeq_epi8_mask(v0, _mm512_set1_epi8(b'\n' as i8));
            (newlines, pair(PAIRS[0]) | pair(PAIRS[1]) | pair(PAIRS[2]))
        }
    }
}

/// Just after the highest bit set in `mask` (not zero), counted from bit 0.
#[inline(always)]
fn after_last(mask: u64) -> usize {
    64 - mask.leading_zeros() as usize
}

/// The first newline at or after `from`, or the end of `data`. (A line's end is rarely more
/// than a few blocks away: `memchr`'s call and dispatch there cost the chunk thread 9% more
/// instructions.)
#[inline(always)]
unsafe fn line_end<L: Lanes>(data: &[u8], mut from: usize) -> usize {
    while from + L::WIDTH <= data.len() {
        // SAFETY: the caller's CPU has `L`'s instructions.
        let newlines = unsafe { L::newlines(&data[from..]) };
        if newlines != 0 {
            return from + newlines.trailing_zeros() as usize;
        }
        from += L::WIDTH;
    }
    data[from.min(data.len())..].iter().position(|&b| b == b'\n').map_or(data.len(), |k| from + k)
}

/// Just after the last newline in `data[floor..to]`, or `floor`; see [`line_end`].
#[inline(always)]
unsafe fn line_start<L: Lanes>(data: &[u8], floor: usize, mut to: usize) -> usize {
    while to >= floor + L::WIDTH {
        // SAFETY: the caller's CPU has `L`'s instructions.
        let newlines = unsafe { L::newlines(&data[to - L::WIDTH..]) };
        if newlines != 0 {
            return to - L::WIDTH + after_last(newlines);
        }
        to -= L::WIDTH;
    }
    data[floor..to].iter().rposition(|&b| b == b'\n').map_or(floor, |k| floor + k + 1)
}

/// Writes a pass's entry point with `#[target_feature(enable = $features)]` and, from the same
/// literal, the constant `$list` that runtime detection checks ([`super::Fused::required`]):
/// what the pass is compiled with and what is detected cannot drift apart.
macro_rules! entry {
    ($features:literal, $list:ident; $item:item) => {
        #[doc = concat!("The features the pass below is compiled with, all needed: `", $features, "`.")]
        pub const $list: &str = $features;
        #[target_feature(enable = $features)]
        $item
    };
}

entry!("avx2,popcnt,lzcnt,bmi1", AVX2_FEATURES;
    /// [`Prefilter::scan`](super::Prefilter::scan) in one pass, with AVX2.
    ///
    /// # Safety
    /// The CPU must have every feature of [`AVX2_FEATURES`].
    pub unsafe fn scan_avx2(data: &[u8], found: &mut impl FnMut(Range<usize>, u64)) -> u64 {
        // SAFETY: the caller promises AVX2 (and the bit instructions the pass is compiled with).
        unsafe { scan::<Avx2>(data, found) }
    }
);

// AVX-512F implies AVX2 to the compiler, which may then use it: it is listed too.
entry!("avx512f,avx512bw,avx2,popcnt,lzcnt,bmi1", AVX512_FEATURES;
    /// [`Prefilter::scan`](super::Prefilter::scan) in one pass, with AVX-512BW.
    ///
    /// # Safety
    /// The CPU must have every feature of [`AVX512_FEATURES`].
    pub unsafe fn scan_avx512(data: &[u8], found: &mut impl FnMut(Range<usize>, u64)) -> u64 {
        // SAFETY: the caller promises AVX-512F and AVX-512BW (and the bit instructions the pass
        // is compiled with).
        unsafe { scan::<Avx512>(data, found) }
    }
);

/// The pass, for one width.
///
/// # Safety
/// The CPU must have `L`'s instructions.
#[inline(always)]
unsafe fn scan<L: Lanes>(data: &[u8], found: &mut impl FnMut(Range<usize>, u64)) -> u64 {
    let (len, width) = (data.len(), L::WIDTH);
    // The last bytes, at most one block's and one more, are searched in a copy padded with
    // zeros (which are neither a newline nor a pair's byte), so that every load is in bounds.
    let mut tail = [0u8; 65];
    // `floor`: where the line holding `at` starts at the earliest.
    let (mut at, mut lines, mut floor) = (0, 0, 0);
    'blocks: while at < len {
        let block = if at + width < len {
            &data[at..at + width + 1]
        } else {
            tail.fill(0);
            tail[..len - at].copy_from_slice(&data[at..]);
            &tail[..width + 1]
        };
        // SAFETY: a prefetch reads nothing and never faults, even beyond `data`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(data.as_ptr().wrapping_add(at + PREFETCH_AHEAD).cast::<i8>()) };
        // SAFETY: the caller's CPU has `L`'s instructions.
        let (newlines, mut hits) = unsafe { L::newlines_and_pairs(block) };
        while hits != 0 {
            let bit = hits.trailing_zeros();
            hits &= hits - 1;
            let hit = at + bit as usize;
            if !needle_at(data, hit) {
                continue;
            }
            let before = newlines & ((1 << bit) - 1);
            // The line's ends are in the block's newlines, or else searched beyond it.
            let start = match before {
                // SAFETY: as above.
                0 => unsafe { line_start::<L>(data, floor, at) },
                _ => at + after_last(before),
            };
            let end = match newlines >> bit {
                // SAFETY: as above.
                0 => unsafe { line_end::<L>(data, (at + width).min(len)) },
                after => hit + after.trailing_zeros() as usize,
            };
            let lines_before = lines + u64::from(before.count_ones());
            found(start..end, lines_before);
            (at, floor) = (end + 1, end + 1);
            lines = lines_before + u64::from(end < len);
            continue 'blocks;
        }
        lines += u64::from(newlines.count_ones());
        at += width;
    }
    lines
}
