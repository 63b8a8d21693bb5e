//! Finding the lines worth parsing in a buffer of whole lines.
//!
//! About one line in eight of a busy mail log is an authentication event; the rest (connects,
//! deliveries, rejects, TLS) must cost a substring search, not a parse. Every line that
//! [`parse_line`](super::parse_line) accepts contains one of three needles (each accepting path
//! of the parsers requires it literally, case-sensitive):
//! - `auth`, not followed by `=`: Postfix `authentication failed`, `authentication server`,
//!   `Invalid authentication mechanism`; Dovecot `(auth failed, ...)`, `(proxy dest auth failed)`,
//!   `(tried to use ... auth)`, the `auth`/`auth-worker`/`dovecot-auth` processes of every passdb
//!   result, `pam_authenticate()` and PAM's `authentication failure;`. Skipped: the `auth=` of
//!   Postfix's `disconnect ... auth=0/1` session summary (one per SMTP session), and the `auth` of
//!   Dovecot's `(no auth attempts ...)` and `(no_auth_attempts)` (a tenth of the benchmark's
//!   candidates, and common in real logs: every TLS probe and port scan ends so). Those lines are
//!   never events, and no needle an accepting path requires has `=` after it or `(no ` or `(no_`
//!   before it.
//! - `sasl_method=`: Postfix's successful submission;
//! - `Login: user=<`: Dovecot's successful login.
//!
//! On x86-64 with AVX2, one pass over the buffer finds the lines of all three needles and counts
//! the buffer's lines at once (module `fused`): each needle is recognised by two adjacent bytes of
//! it that are rare in mail logs (`au`, `_m`, `Lo`: in a generated gigabyte, 99.7% of `au` begin
//! `auth`, every `_m` begins `_method=`), and a hit is checked against the whole needle. Elsewhere
//! each needle is searched on its own with `memchr`'s substring search and the hits are merged in
//! order, and the lines are counted apart. The fused pass took the prefilter and the line count
//! from 17% of a scan's CPU time to 9%, 75 against 165 to 235 ms per gigabyte of a log in memory
//! (measured 2026-12-03; unrolled to 64 bytes a step it was slower); the three substring passes
//! in turn had beaten one pass of aho-corasick's Teddy (149 against 131 ms per gigabyte).
//! Where the CPU has AVX-512BW (and VBMI: see `Fused::preferred`) the pass takes 64 bytes a
//! step, its tests' results straight in mask registers: a quarter of the instructions per byte.
//! That was no faster on an AMD EPYC, where the pass waited for memory (72 against 73 ms per
//! gigabyte); on an Intel Xeon, where it did not, the pass over 256 MB in memory went from 47 to
//! 40 ms (`parse_bench`) and a scan's CPU time fell 4% (`bench/ab.sh`, 11 rounds, 2026-12-04).

use std::ops::Range;

use memchr::memmem::Finder;

/// The needles.
pub const NEEDLES: [&str; 3] = ["auth", "sasl_method=", "Login: user=<"];

/// The `auth` needle's index in [`NEEDLES`]: its hits followed by `=` are not candidates.
const AUTH: usize = 0;

/// Whether needle `i`, found at `start` of `data`, is one that does not make a candidate:
/// `auth=`, `(no auth`, `(no_auth`.
fn skipped(data: &[u8], i: usize, start: usize) -> bool {
    i == AUTH
        && (data.get(start + NEEDLES[AUTH].len()) == Some(&b'=')
            || start.checked_sub(4).is_some_and(|k| matches!(&data[k..start], b"(no " | b"(no_")))
}

/// Searches buffers for candidate lines; built once per scan.
pub struct Prefilter {
    finders: [Finder<'static>; 3],
    /// The widest fused pass this CPU can run.
    #[cfg(target_arch = "x86_64")]
    fused: Fused,
}

/// Which fused pass runs.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fused {
    /// None: the CPU lacks a feature of every vector pass.
    No,
    /// 32 bytes a step.
    Avx2,
    /// 64 bytes a step, on a CPU that also has VBMI (see [`Fused::preferred`]).
    Avx512,
}

#[cfg(target_arch = "x86_64")]
impl Fused {
    /// Every pass, widest first: the order [`Fused::select`] tries them in.
    const ALL: [Fused; 3] = [Fused::Avx512, Fused::Avx2, Fused::No];

    /// The CPU features the pass is compiled with (its `#[target_feature]`, comma-separated), each
    /// of which the CPU must have: a pass compiled with `lzcnt` on a CPU without it (a VM may hide
    /// it) runs `bsr` instead, which gives other results, and the lines found are wrong, silently.
    /// The lists are made by the same macro invocation that writes the attribute, so they cannot
    /// drift apart.
    fn required(self) -> &'static str {
        match self {
            Fused::No => "",
            Fused::Avx2 => fused::AVX2_FEATURES,
            Fused::Avx512 => fused::AVX512_FEATURES,
        }
    }

    /// Features the pass does not use but that the CPU must have for it to be chosen. VBMI marks
    /// the CPUs (Intel from Ice Lake, AMD from Zen 4) whose clock drops little or not at all
    /// while they run 512-bit instructions; Skylake's Xeons lower it for all the core's work
    /// (simdjson's AVX-512 kernel, too, asks for Ice Lake's instructions). They take the AVX2
    /// pass.
    fn preferred(self) -> &'static str {
        match self {
            Fused::Avx512 => "avx512vbmi",
            Fused::No | Fused::Avx2 => "",
        }
    }

    /// The widest pass whose required and preferred features `has` all has. A pure function of
    /// the feature set, so that the choice can be tested with made-up CPUs.
    fn select(has: impl Fn(&str) -> bool) -> Fused {
        let all = |list: &str| list.split(',').filter(|f| !f.is_empty()).all(&has);
        Fused::ALL.into_iter().find(|p| all(p.required()) && all(p.preferred())).unwrap_or(Fused::No)
    }

    /// Whether this CPU has every feature the pass is compiled with: whether it may run.
    #[cfg(test)]
    fn runnable(self) -> bool {
        self.required().split(',').filter(|f| !f.is_empty()).all(detected)
    }
}

/// Whether this CPU has `feature` (a `#[target_feature]` name), detected at run time; `false` for
/// a name [`known`] does not know, so that a pass compiled with a feature added later is never
/// chosen until its detection is added here (a test checks that every listed feature is known).
#[cfg(target_arch = "x86_64")]
fn detected(feature: &str) -> bool {
    known(feature).unwrap_or(false)
}

/// Whether this CPU has `feature`, or `None` when the name is not one detected here.
#[cfg(target_arch = "x86_64")]
fn known(feature: &str) -> Option<bool> {
    use std::arch::is_x86_feature_detected as has;
    Some(match feature {
        "avx2" => has!("avx2"),
        "avx512f" => has!("avx512f"),
        "avx512bw" => has!("avx512bw"),
        "avx512vbmi" => has!("avx512vbmi"),
        "popcnt" => has!("popcnt"),
        "lzcnt" => has!("lzcnt"),
        "bmi1" => has!("bmi1"),
        "bmi2" => has!("bmi2"),
        _ => return None,
    })
}

impl Default for Prefilter {
    fn default() -> Prefilter {
        Prefilter {
            finders: NEEDLES.map(|n| Finder::new(n.as_bytes())),
            #[cfg(target_arch = "x86_64")]
            fused: Fused::select(detected),
        }
    }
}

impl Prefilter {
    /// Calls `found` with each candidate line of `data` (whole lines, `\n`-terminated except
    /// perhaps the last), in order, as a byte range without its newline, and the number of lines
    /// before it; returns the number of newlines in `data`.
    pub fn scan(&self, data: &[u8], found: impl FnMut(Range<usize>, u64)) -> u64 {
        // SAFETY: `fused` is chosen by `Fused::select(detected)`, which names a vector pass only
        // when the CPU has every feature that pass is compiled with.
        #[cfg(target_arch = "x86_64")]
        return unsafe { self.scan_with(self.fused, data, found) };
        #[cfg(not(target_arch = "x86_64"))]
        self.scan_portable(data, found)
    }

    /// [`Prefilter::scan`] with the pass `pass`.
    ///
    /// # Safety
    /// The CPU must have every feature `pass` is compiled with ([`Fused::runnable`]).
    #[cfg(target_arch = "x86_64")]
    #[inline]
    unsafe fn scan_with(&self, pass: Fused, data: &[u8], mut found: impl FnMut(Range<usize>, u64)) -> u64 {
        match pass {
            // SAFETY: the caller promises the pass's features.
            Fused::Avx512 => unsafe { fused::scan_avx512(data, &mut found) },
            // SAFETY: as above.
            Fused::Avx2 => unsafe { fused::scan_avx2(data, &mut found) },
            Fused::No => self.scan_portable(data, found),
        }
    }

    /// [`Prefilter::scan`] with `memchr`'s searches alone, on any machine.
    fn scan_portable(&self, data: &[u8], mut found: impl FnMut(Range<usize>, u64)) -> u64 {
        // Lines are counted up to each candidate as it comes: one pass in all.
        let (mut counted_to, mut n) = (0, 0);
        for line in self.lines(data) {
            n += bytecount::count(&data[counted_to..line.start], b'\n') as u64;
            counted_to = line.start;
            found(line, n);
        }
        n + bytecount::count(&data[counted_to..], b'\n') as u64
    }

    /// The candidate lines of `data` (whole lines, `\n`-terminated except perhaps the last), in
    /// order, as byte ranges without their newline.
    pub fn lines<'a>(&'a self, data: &'a [u8]) -> Candidates<'a> {
        let mut c = Candidates { finders: &self.finders, data, pos: 0, next: [0; 3] };
        for i in 0..c.next.len() {
            c.next[i] = c.search_one(i, 0);
        }
        c
    }

    /// Whether `line` (one line, no newline) may hold an event.
    pub fn matches(&self, line: &[u8]) -> bool {
        self.lines(line).next().is_some()
    }
}

/// Iterator over the candidate lines of one buffer; see [`Prefilter::lines`].
pub struct Candidates<'a> {
    finders: &'a [Finder<'static>; 3],
    data: &'a [u8],
    /// Start of the first line not yet handed out.
    pos: usize,
    /// Each needle's next hit at or after `pos`, `usize::MAX` when there is none.
    next: [usize; 3],
}

impl Candidates<'_> {
    /// The first hit not yet handed out, skipping `auth=`.
    fn next_hit(&mut self) -> Option<usize> {
        loop {
            let (i, hit) = self.next.iter().copied().enumerate().min_by_key(|&(_, hit)| hit)?;
            if hit == usize::MAX {
                return None;
            }
            if skipped(self.data, i, hit) {
                self.next[AUTH] = self.search_one(AUTH, hit + NEEDLES[AUTH].len());
                continue;
            }
            return Some(hit);
        }
    }

    /// Needle `i`'s first hit at or after `from` (`usize::MAX`: none).
    fn search_one(&self, i: usize, from: usize) -> usize {
        let from = from.min(self.data.len());
        self.finders[i].find(&self.data[from..]).map_or(usize::MAX, |k| from + k)
    }
}

impl Iterator for Candidates<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let hit = self.next_hit()?;
        let start = memchr::memrchr(b'\n', &self.data[self.pos..hit]).map_or(self.pos, |k| self.pos + k + 1);
        let end = memchr::memchr(b'\n', &self.data[hit..]).map_or(self.data.len(), |k| hit + k);
        self.pos = end + 1;
        for j in 0..self.next.len() {
            if self.next[j] < self.pos {
                self.next[j] = self.search_one(j, self.pos);
            }
        }
        Some(start..end)
    }
}

/// The one-pass prefilter, for x86-64 with AVX2 (32 bytes a step) or AVX-512BW (64).
#[cfg(target_arch = "x86_64")]
mod fused {
    use std::arch::x86_64::{
        __m256i, __m512i, _MM_HINT_T0, _mm_prefetch, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm512_cmpeq_epi8_mask, _mm512_loadu_si512,
        _mm512_mask_cmpeq_epi8_mask, _mm512_set1_epi8,
    };
    use std::ops::Range;

    use super::{NEEDLES, skipped};

    /// How far ahead of a block the pass asks for the memory it will read. The CPU's own
    /// prefetcher stops at each 4 KiB page, and the log is mapped in pages of the page cache:
    /// each new page's first reads waited for memory. A page ahead took 8% off a scan's CPU
    /// time on an Intel Xeon (`bench/ab.sh`, 15 rounds, 2026-12-04); 1 KiB ahead did nothing,
    /// 8 KiB no more than 4.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each candidate line and the lines before it, then the lines in all, as every
    /// implementation here finds them: they must agree.
    fn scanned(data: &str) -> (Vec<(&str, u64)>, u64) {
        let prefilter = Prefilter::default();
        let mut portable = Vec::new();
        let lines = prefilter.scan_portable(data.as_bytes(), |r, n| portable.push((&data[r], n)));
        let iterated: Vec<&str> = prefilter.lines(data.as_bytes()).map(|r| &data[r]).collect();
        assert_eq!(portable.iter().map(|c| c.0).collect::<Vec<_>>(), iterated, "{data:?}");
        #[cfg(target_arch = "x86_64")]
        for pass in Fused::ALL.into_iter().filter(|p| p.runnable()) {
            let mut got = Vec::new();
            // SAFETY: the CPU has every feature the pass is compiled with (`runnable`).
            let got_lines = unsafe { prefilter.scan_with(pass, data.as_bytes(), |r, n| got.push((&data[r], n))) };
            assert_eq!((&got, got_lines), (&portable, lines), "{pass:?}: {data:?}");
        }
        (portable, lines)
    }

    /// A made-up CPU with the features `list` (comma-separated).
    #[cfg(target_arch = "x86_64")]
    fn cpu(list: &str) -> impl Fn(&str) -> bool + '_ {
        move |f| list.split(',').any(|g| g == f)
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn every_feature_a_pass_is_compiled_with_is_detected_at_run_time() {
        for pass in Fused::ALL {
            for f in pass.required().split(',').chain(pass.preferred().split(',')).filter(|f| !f.is_empty()) {
                assert!(known(f).is_some(), "{pass:?} is compiled with {f}, which is not detected");
            }
        }
        // The bit instructions the passes use (`lzcnt` runs as `bsr` where it is missing).
        for pass in [Fused::Avx2, Fused::Avx512] {
            for f in ["avx2", "popcnt", "lzcnt", "bmi1"] {
                assert!(pass.required().split(',').any(|g| g == f), "{pass:?} without {f}");
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_chosen_pass_has_every_feature_it_needs_on_this_cpu() {
        let chosen = Prefilter::default().fused;
        assert_eq!(chosen, Fused::select(detected));
        assert!(chosen.runnable(), "{chosen:?} chosen without all of {}", chosen.required());
        for f in chosen.required().split(',').filter(|f| !f.is_empty()) {
            assert!(detected(f), "{chosen:?} needs {f}");
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn a_missing_feature_falls_back_to_a_narrower_pass() {
        let everything = "avx2,avx512f,avx512bw,avx512vbmi,popcnt,lzcnt,bmi1,bmi2";
        assert_eq!(Fused::select(cpu(everything)), Fused::Avx512);
        // No VBMI: AVX-512 is there but not wanted.
        assert_eq!(Fused::select(cpu("avx2,avx512f,avx512bw,popcnt,lzcnt,bmi1")), Fused::Avx2);
        assert_eq!(Fused::select(cpu("avx2,popcnt,lzcnt,bmi1")), Fused::Avx2);
        // A VM that hides LZCNT (or POPCNT, BMI1, AVX2): no vector pass at all.
        for hidden in ["lzcnt", "popcnt", "bmi1", "avx2"] {
            let without: Vec<&str> = everything.split(',').filter(|f| *f != hidden).collect();
            let without = without.join(",");
            assert_eq!(Fused::select(cpu(&without)), Fused::No, "without {hidden}");
        }
        // Without AVX-512BW: the AVX2 pass.
        assert_eq!(Fused::select(cpu("avx2,avx512f,avx512vbmi,popcnt,lzcnt,bmi1")), Fused::Avx2);
        assert_eq!(Fused::select(cpu("")), Fused::No);
        // Whatever is chosen, every feature it is compiled with was in the set.
        let mut rng = fastrand::Rng::with_seed(9);
        let names: Vec<&str> = everything.split(',').collect();
        for _ in 0..1_000 {
            let set: Vec<&str> = names.iter().copied().filter(|_| rng.bool()).collect();
            let set = set.join(",");
            let chosen = Fused::select(cpu(&set));
            assert!(chosen.required().split(',').filter(|f| !f.is_empty()).all(cpu(&set)), "{set}: {chosen:?}");
        }
    }

    #[test]
    fn every_pass_this_cpu_runs_agrees_with_the_portable_one() {
        // `scanned` runs them all and compares; here on a log-like text of many blocks.
        let line = "Dec  7 05:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x\n\
                    Dec  7 05:00:01 mx postfix/smtpd[1]: connect from unknown[192.0.2.2]\n\
                    Dec  7 05:00:02 mx dovecot: imap-login: Login: user=<bob>, method=PLAIN, rip=192.0.2.3\n";
        let data = line.repeat(200);
        let (found, lines) = scanned(&data);
        assert_eq!((found.len(), lines), (400, 600));
        #[cfg(target_arch = "x86_64")]
        eprintln!("passes run here: {:?}", Fused::ALL.into_iter().filter(|p| p.runnable()).collect::<Vec<_>>());
    }

    fn candidates(data: &str) -> Vec<&str> {
        scanned(data).0.into_iter().map(|c| c.0).collect()
    }

    #[test]
    fn finds_each_needle_once_per_line_in_order() {
        let data = "connect from x[192.0.2.1]\n\
                    a Login: user=<u> auth sasl_method=PLAIN\n\
                    deliver\n\
                    client=h[192.0.2.2], sasl_method=PLAIN\n\
                    auth: passwd-file(u,192.0.2.3): unknown user\n\
                    last Login: user=<v>";
        assert_eq!(
            candidates(data),
            [
                "a Login: user=<u> auth sasl_method=PLAIN",
                "client=h[192.0.2.2], sasl_method=PLAIN",
                "auth: passwd-file(u,192.0.2.3): unknown user",
                "last Login: user=<v>",
            ]
        );
    }

    #[test]
    fn postfix_session_summaries_are_skipped_but_not_what_follows_them() {
        let data = "disconnect from x[192.0.2.1] ehlo=1 auth=0/1 quit=1 commands=2\n\
                    disconnect auth=1/1 then SASL LOGIN authentication failed\n\
                    auth=";
        assert_eq!(candidates(data), ["disconnect auth=1/1 then SASL LOGIN authentication failed"]);
    }

    #[test]
    fn dovecot_logins_without_an_attempt_are_skipped_but_not_attempts() {
        let data = "dovecot: imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=192.0.2.1\n\
                    dovecot: imap-login: Login aborted: Connection closed (no auth attempts in 1 secs) (no_auth_attempts): user=<>, rip=192.0.2.2\n\
                    dovecot: pop3-login: Disconnected (no auth attempts): user=<(auth failed, 1 attempts)>, rip=192.0.2.3\n\
                    dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<(no auth>, rip=192.0.2.4\n\
                    (no auth\n\
                    no auth";
        assert_eq!(
            candidates(data),
            [
                "dovecot: pop3-login: Disconnected (no auth attempts): user=<(auth failed, 1 attempts)>, rip=192.0.2.3",
                "dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<(no auth>, rip=192.0.2.4",
                "no auth",
            ]
        );
    }

    #[test]
    fn nothing_in_nothing() {
        assert!(candidates("").is_empty());
        assert!(candidates("\n\n").is_empty());
        assert!(candidates("aut\nh\n").is_empty());
        assert_eq!(candidates("\nauth\n"), ["auth"]);
    }

    /// The contract, one line at a time.
    fn is_candidate(line: &str) -> bool {
        line.contains("sasl_method=")
            || line.contains("Login: user=<")
            || line.match_indices("auth").any(|(k, _)| {
                line.as_bytes().get(k + 4) != Some(&b'=')
                    && !line[..k].ends_with("(no ")
                    && !line[..k].ends_with("(no_")
            })
    }

    #[test]
    fn agrees_with_a_line_by_line_search() {
        let mut rng = fastrand::Rng::with_seed(3);
        // Fillers of 13 and 31 bytes move the needles across the fused pass's 32- and 64-byte
        // blocks and into its last, padded block.
        let words = [
            "auth",
            "auth=",
            "(no ",
            "(no_",
            "no ",
            "sasl_method=",
            "Login: user=<",
            "x",
            "\n",
            " ",
            "au",
            "th",
            "=",
            "Login",
            "_m",
            "sasl",
            "L",
            "a",
            "ThirteenBytes",
            "a filler of thirty-one bytes...",
        ];
        for round in 0..20_000 {
            let n = if round % 4 == 0 { rng.usize(0..200) } else { rng.usize(0..40) };
            let data: String = (0..n).map(|_| words[rng.usize(0..words.len())]).collect();
            let want: Vec<(&str, u64)> =
                data.split('\n').enumerate().filter(|(_, l)| is_candidate(l)).map(|(k, l)| (l, k as u64)).collect();
            assert_eq!(scanned(&data), (want, data.matches('\n').count() as u64), "{data:?}");
        }
    }

    #[test]
    fn needles_at_every_place_of_a_block() {
        for needle in NEEDLES {
            for before in 0..70 {
                for after in [0, 1, 5, 40] {
                    let data = format!(
                        "{}{needle}{}\nnext\n",
                        "\n".repeat(before % 3) + &"y".repeat(before),
                        "z".repeat(after)
                    );
                    let (found, lines) = scanned(&data);
                    let line = format!("{}{needle}{}", "y".repeat(before), "z".repeat(after));
                    assert_eq!(found, [(line.as_str(), (before % 3) as u64)], "{data:?}");
                    assert_eq!(lines, (before % 3) as u64 + 2);
                }
            }
        }
    }
}
