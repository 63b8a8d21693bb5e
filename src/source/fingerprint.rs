//! Recognising a file by its first bytes.
//!
//! A log keeps its first bytes when it is renamed (`mail.log` → `mail.log.1`), copied
//! (`copytruncate`) or compressed (`mail.log.2.gz` decompresses to the same bytes), and a new log
//! starts with new bytes (its first timestamp). So the hash of the first [`FINGERPRINT_BYTES`]
//! of the (decompressed) content identifies what has been read, wherever it now lives; device and
//! inode only break ties.

use xxhash_rust::xxh3::xxh3_64;

/// How many leading bytes identify a file.
pub const FINGERPRINT_BYTES: usize = 1024;

/// The identity of a file's content: the hash of its first `len` bytes.
///
/// A file shorter than [`FINGERPRINT_BYTES`] gets a shorter fingerprint, which still matches once
/// the file has grown (the scan then stores the longer one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// Number of bytes hashed.
    pub len: u32,
    /// xxh3 of those bytes.
    pub hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `prefix`, which holds the file's first bytes (at most
    /// [`FINGERPRINT_BYTES`] of them are used).
    pub fn of(prefix: &[u8]) -> Fingerprint {
        let n = prefix.len().min(FINGERPRINT_BYTES);
        Fingerprint { len: n as u32, hash: xxh3_64(&prefix[..n]) }
    }

    /// True when a file starting with `prefix` is the file this fingerprint was taken of.
    pub fn matches(&self, prefix: &[u8]) -> bool {
        let n = self.len as usize;
        prefix.len() >= n && xxh3_64(&prefix[..n]) == self.hash
    }

    /// The hash stored in SQLite (which has signed 64-bit integers).
    pub fn hash_i64(&self) -> i64 {
        self.hash as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grown_file_still_matches_its_short_fingerprint() {
        let fp = Fingerprint::of(b"Nov 24 10:00:00 mx1 postfix/smtpd[1]: connect");
        assert!(fp.matches(b"Nov 24 10:00:00 mx1 postfix/smtpd[1]: connect from x\nmore\n"));
        assert!(!fp.matches(b"Nov 24 10:00:01 mx1 postfix/smtpd[1]: connect from x\n"));
        assert!(!fp.matches(b"Nov 24"));
    }

    #[test]
    fn only_the_first_bytes_count() {
        let mut a = vec![b'a'; 5000];
        let fp = Fingerprint::of(&a);
        assert_eq!(fp.len as usize, FINGERPRINT_BYTES);
        a[4000] = b'b';
        assert!(fp.matches(&a));
    }
}
