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
    /// Whether the fused pass can run here.
    #[cfg(target_arch = "x86_64")]
    fused: bool,
}

impl Default for Prefilter {
    fn default() -> Prefilter {
        Prefilter {
            finders: NEEDLES.map(|n| Finder::new(n.as_bytes())),
            #[cfg(target_arch = "x86_64")]
            fused: std::arch::is_x86_feature_detected!("avx2"),
        }
    }
}

impl Prefilter {
    /// Calls `found` with each candidate line of `data` (whole lines, `\n`-terminated except
    /// perhaps the last), in order, as a byte range without its newline, and the number of lines
    /// before it; returns the number of newlines in `data`.
    pub fn scan(&self, data: &[u8], found: impl FnMut(Range<usize>, u64)) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if self.fused {
            let mut found = found;
            // SAFETY: `fused` is set only where the CPU has AVX2.
            return unsafe { fused::scan(data, &mut found) };
        }
        self.scan_portable(data, found)
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

/// The one-pass prefilter, for x86-64 with AVX2.
#[cfg(target_arch = "x86_64")]
mod fused {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };
    use std::ops::Range;

    use super::{NEEDLES, skipped};

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

    /// The 32 bytes at the start of `bytes` (at least 32).
    #[target_feature(enable = "avx2")]
    fn load(bytes: &[u8]) -> __m256i {
        assert!(bytes.len() >= 32);
        // SAFETY: the 32 bytes read are in `bytes`.
        unsafe { _mm256_loadu_si256(bytes.as_ptr().cast::<__m256i>()) }
    }

    /// Bit `k` set where byte `k` of `v` is `b`.
    #[target_feature(enable = "avx2")]
    fn eq(v: __m256i, b: u8) -> u32 {
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8))) as u32
    }

    /// Bytes set to all ones where a pair starts: `v0` holds 32 bytes, `v1` the 32 after
    /// the first of them.
    #[target_feature(enable = "avx2")]
    fn pairs(v0: __m256i, v1: __m256i) -> __m256i {
        let pair = |[a, b]: [u8; 2]| {
            let (a, b) = (_mm256_set1_epi8(a as i8), _mm256_set1_epi8(b as i8));
            _mm256_and_si256(_mm256_cmpeq_epi8(v0, a), _mm256_cmpeq_epi8(v1, b))
        };
        _mm256_or_si256(_mm256_or_si256(pair(PAIRS[0]), pair(PAIRS[1])), pair(PAIRS[2]))
    }

    /// The first newline at or after `from`, or the end of `data`. (A line's end is rarely more
    /// than a few blocks away: `memchr`'s call and dispatch there cost the chunk thread 9% more
    /// instructions.)
    #[target_feature(enable = "avx2")]
    fn line_end(data: &[u8], mut from: usize) -> usize {
        while from + 32 <= data.len() {
            let newlines = eq(load(&data[from..]), b'\n');
            if newlines != 0 {
                return from + newlines.trailing_zeros() as usize;
            }
            from += 32;
        }
        data[from.min(data.len())..].iter().position(|&b| b == b'\n').map_or(data.len(), |k| from + k)
    }

    /// Just after the last newline in `data[floor..to]`, or `floor`; see [`line_end`].
    #[target_feature(enable = "avx2")]
    fn line_start(data: &[u8], floor: usize, mut to: usize) -> usize {
        while to >= floor + 32 {
            let newlines = eq(load(&data[to - 32..]), b'\n');
            if newlines != 0 {
                return to - newlines.leading_zeros() as usize;
            }
            to -= 32;
        }
        data[floor..to].iter().rposition(|&b| b == b'\n').map_or(floor, |k| floor + k + 1)
    }

    /// [`Prefilter::scan`](super::Prefilter::scan) in one pass.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2,popcnt,lzcnt,bmi1")]
    pub unsafe fn scan(data: &[u8], found: &mut impl FnMut(Range<usize>, u64)) -> u64 {
        let len = data.len();
        // The last bytes, fewer than 33, are searched in a copy padded with zeros (which
        // are neither a newline nor a pair's byte), so that every load is in bounds.
        let mut tail = [0u8; 33];
        // `floor`: where the line holding `at` starts at the earliest.
        let (mut at, mut lines, mut floor) = (0, 0, 0);
        'blocks: while at < len {
            let block = if at + 33 <= len {
                &data[at..at + 33]
            } else {
                tail.fill(0);
                tail[..len - at].copy_from_slice(&data[at..]);
                &tail
            };
            let (v0, v1) = (load(block), load(&block[1..]));
            let newlines = eq(v0, b'\n');
            let mut hits = _mm256_movemask_epi8(pairs(v0, v1)) as u32;
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
                    0 => line_start(data, floor, at),
                    _ => at + 32 - before.leading_zeros() as usize,
                };
                let end = match newlines >> bit {
                    0 => line_end(data, (at + 32).min(len)),
                    after => hit + after.trailing_zeros() as usize,
                };
                let lines_before = lines + u64::from(before.count_ones());
                found(start..end, lines_before);
                (at, floor) = (end + 1, end + 1);
                lines = lines_before + u64::from(end < len);
                continue 'blocks;
            }
            lines += u64::from(newlines.count_ones());
            at += 32;
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
        if prefilter.fused {
            let mut fused = Vec::new();
            // SAFETY: `fused` is set only where the CPU has AVX2.
            let fused_lines = unsafe { fused::scan(data.as_bytes(), &mut |r, n| fused.push((&data[r], n))) };
            assert_eq!((&fused, fused_lines), (&portable, lines), "{data:?}");
        }
        (portable, lines)
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
        // Fillers of 13 and 31 bytes move the needles across the fused pass's 32-byte blocks
        // and into its last, padded block.
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
