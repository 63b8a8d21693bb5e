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
//!   Dovecot's `(no auth attempts ...)` and `(no_auth_attempts)` (common in real logs: every TLS
//!   probe and port scan ends so). Those lines are never events, and no needle an accepting path
//!   requires has `=` after it or `(no ` or `(no_` before it.
//! - `sasl_method=`: Postfix's successful submission;
//! - `Login: user=<`: Dovecot's successful login.
//!
//! On x86-64 with AVX2, one pass over the buffer finds the lines of all three needles and counts
//! the buffer's lines at once (module `fused`): each needle is recognised by two adjacent bytes of
//! it that are rare in mail logs (`au`, `_m`, `Lo`: nearly every `au` begins `auth`, every `_m`
//! begins `_method=`), and a hit is checked against the whole needle. Elsewhere each needle is
//! searched on its own with `memchr`'s substring search and the hits are merged in order, and the
//! lines are counted apart: the fused pass reads the buffer once where those read it four times.
//! Where the CPU has AVX-512BW (and VBMI: see `Fused::preferred`) the pass takes 64 bytes a
//! step, its tests' results straight in mask registers: a quarter of the instructions per byte,
//! which helps where the pass does not wait for memory.
//!
//! Which pass runs is decided once, when the [`Prefilter`] is built, from the features the CPU
//! reports at run time: a pass is compiled with `#[target_feature]` for everything it uses (the
//! vector instructions and the bit instructions `popcnt`, `lzcnt`, `tzcnt`/`blsr`), and runs only
//! where every one of them is detected, since a missing one may not fault but compute something
//! else (`lzcnt` runs as `bsr` where it is missing). The lists that are checked are written by
//! the same macro as the attributes, so the two cannot drift apart.

#[cfg(target_arch = "x86_64")]
mod fused;

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
    /// The CPU must have every feature `pass` is compiled with (what `Fused::runnable` checks).
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

#[cfg(test)]
mod tests;
