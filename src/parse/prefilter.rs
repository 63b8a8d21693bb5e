//! Finding the lines worth parsing in a buffer of whole lines.
//!
//! About one line in eight of a busy mail log is an authentication event; the rest (connects,
//! deliveries, rejects, TLS) must cost a substring search, not a parse. Every line that
//! [`parse_line`](super::parse_line) accepts contains one of three needles (each accepting path
//! of the parsers requires it literally, case-sensitive):
//! - `auth`, not followed by `=`: Postfix `authentication failed`, `authentication server`,
//!   `Invalid authentication mechanism`; Dovecot `(auth failed, ...)`, `(proxy dest auth failed)`,
//!   `(tried to use ... auth)`, the `auth`/`auth-worker`/`dovecot-auth` processes of every passdb
//!   result, `pam_authenticate()` and PAM's `authentication failure;`. The `auth=` of Postfix's
//!   `disconnect ... auth=0/1` session summary is skipped: those lines are never events, and there
//!   is one per SMTP session.
//! - `sasl_method=`: Postfix's successful submission;
//! - `Login: user=<`: Dovecot's successful login.
//!
//! The three needles are searched together in one pass with a vectorised multi-substring search
//! (aho-corasick's Teddy); where the CPU has none (Teddy needs SSSE3 or AVX2, or NEON), each needle
//! is searched on its own with `memchr`'s substring search and the hits are merged in order. On
//! the benchmark's log one Teddy pass takes about 55-60% of the time of the three memchr passes
//! (`examples/parse_bench.rs`); an earlier Teddy over ten longer needles was slower than both,
//! as a multi-pattern search slows down with every pattern it fingerprints.

use std::ops::Range;

use aho_corasick::packed;
use memchr::memmem::Finder;

/// The needles.
pub const NEEDLES: [&str; 3] = ["auth", "sasl_method=", "Login: user=<"];

/// The `auth` needle's index in [`NEEDLES`]: its hits followed by `=` are not candidates.
const AUTH: usize = 0;

/// Searches buffers for candidate lines; built once per scan.
pub struct Prefilter {
    search: Search,
}

enum Search {
    /// All needles in one pass.
    Teddy(packed::Searcher),
    /// One pass per needle, merged.
    Memchr(Box<[Finder<'static>; 3]>),
}

impl Default for Prefilter {
    fn default() -> Prefilter {
        Prefilter::new(true)
    }
}

impl Prefilter {
    /// A prefilter that uses Teddy when `teddy` and the CPU allows it.
    fn new(teddy: bool) -> Prefilter {
        let packed = teddy.then(|| packed::Config::new().only_teddy(true).builder().extend(NEEDLES).build()).flatten();
        let search = match packed {
            Some(searcher) => Search::Teddy(searcher),
            None => Search::Memchr(Box::new(NEEDLES.map(|n| Finder::new(n.as_bytes())))),
        };
        Prefilter { search }
    }

    /// The candidate lines of `data` (whole lines, `\n`-terminated except perhaps the last), in
    /// order, as byte ranges without their newline.
    pub fn lines<'a>(&'a self, data: &'a [u8]) -> Candidates<'a> {
        let mut c = Candidates { search: &self.search, data, pos: 0, next: [0; 3] };
        if let Search::Memchr(_) = self.search {
            for i in 0..c.next.len() {
                c.next[i] = c.search_one(i, 0);
            }
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
    search: &'a Search,
    data: &'a [u8],
    /// Start of the first line not yet handed out.
    pos: usize,
    /// Without Teddy: each needle's next hit at or after `pos`, `usize::MAX` when there is none.
    next: [usize; 3],
}

impl Candidates<'_> {
    /// The first hit at or after `from` (and of which needle), skipping `auth=`.
    fn next_hit(&mut self, mut from: usize) -> Option<(usize, usize)> {
        loop {
            let (needle, hit) = match self.search {
                Search::Teddy(searcher) => {
                    let m = searcher
                        .find_in(self.data, aho_corasick::Span::from(from.min(self.data.len())..self.data.len()))?;
                    (m.pattern().as_usize(), m.start())
                }
                Search::Memchr(_) => {
                    let (i, hit) = self.next.iter().copied().enumerate().min_by_key(|&(_, hit)| hit)?;
                    if hit == usize::MAX {
                        return None;
                    }
                    (i, hit)
                }
            };
            if needle == AUTH && self.data.get(hit + 4) == Some(&b'=') {
                from = hit + 4;
                if let Search::Memchr(_) = self.search {
                    self.next[AUTH] = self.search_one(AUTH, from);
                }
                continue;
            }
            return Some((needle, hit));
        }
    }

    /// Needle `i`'s first hit at or after `from` (`usize::MAX`: none), without Teddy.
    fn search_one(&self, i: usize, from: usize) -> usize {
        let Search::Memchr(finders) = self.search else { return usize::MAX };
        let from = from.min(self.data.len());
        finders[i].find(&self.data[from..]).map_or(usize::MAX, |k| from + k)
    }
}

impl Iterator for Candidates<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let (_, hit) = self.next_hit(self.pos)?;
        let start = memchr::memrchr(b'\n', &self.data[self.pos..hit]).map_or(self.pos, |k| self.pos + k + 1);
        let end = memchr::memchr(b'\n', &self.data[hit..]).map_or(self.data.len(), |k| hit + k);
        self.pos = end + 1;
        if let Search::Memchr(_) = self.search {
            for j in 0..self.next.len() {
                if self.next[j] < self.pos {
                    self.next[j] = self.search_one(j, self.pos);
                }
            }
        }
        Some(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The candidates both ways (Teddy, when this CPU has it, and memchr), which must agree.
    fn candidates(data: &str) -> Vec<&str> {
        let with = |p: Prefilter| p.lines(data.as_bytes()).map(|r| &data[r]).collect::<Vec<_>>();
        let (teddy, memchr) = (with(Prefilter::new(true)), with(Prefilter::new(false)));
        assert_eq!(teddy, memchr, "{data:?}");
        memchr
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
            || line.match_indices("auth").any(|(k, _)| line.as_bytes().get(k + 4) != Some(&b'='))
    }

    #[test]
    fn agrees_with_a_line_by_line_search() {
        let mut rng = fastrand::Rng::with_seed(3);
        let words = ["auth", "auth=", "sasl_method=", "Login: user=<", "x", "\n", " ", "au", "th", "=", "Login"];
        for _ in 0..5_000 {
            let data: String = (0..rng.usize(0..40)).map(|_| words[rng.usize(0..words.len())]).collect();
            let want: Vec<&str> = data.split('\n').filter(|l| is_candidate(l)).collect();
            assert_eq!(candidates(&data), want, "{data:?}");
        }
    }
}
