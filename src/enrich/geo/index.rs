//! The compact range index built from a CSV database, cached on disk and memory-mapped.
//!
//! Parsing ~1.1 M CSV rows costs about a second; a scan runs hourly and looks up a handful of
//! addresses. So the rows are turned once into sorted arrays (starts, ends, value ids) plus a
//! table of distinct values (AS number and interned organisation name, or country code), written
//! next to the data directory and mapped on later runs: opening costs a few page faults, a
//! lookup is a binary search touching ~20 pages.
//!
//! Layout (little-endian): a 64-byte header (magic, source size, mtime, kind, counts, text
//! length, source inode, source ctime), then IPv4 starts `[u32]`, ends `[u32]`, values
//! `[u32]`, IPv6 starts `[u128]`, ends `[u128]`, values `[u32]`, records `[(asn u32, text offset
//! u32, text len u32)]`, then the text bytes. The header records the source file's size and
//! modification time, inode and change time; a mismatch means the source changed and the index is rebuilt.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::OpenError;
use super::csv::{DbKind, Rows};

const MAGIC: &[u8; 8] = b"MLSGEOI1";
const HEADER: usize = 64;

/// Bytes of an index: mapped from the cache file, or in memory when the cache cannot be written.
enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// A loaded index.
pub struct RangeIndex {
    bytes: Bytes,
    n4: usize,
    n6: usize,
    nrec: usize,
    /// Byte offsets of the sections, in layout order.
    v4: usize,
    v6: usize,
    recs: usize,
    text: usize,
}

/// The source file's identity as recorded in the header. Size and mtime alone are not enough:
/// npm and tar give every release the same 1985 mtime, so the inode and its change time (which
/// no tool can set back) are recorded too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_ns: u64,
    ino: u64,
    ctime_ns: u64,
}

fn stamp_of(path: &Path) -> std::io::Result<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    let ns = |s: i64, n: i64| (s as u64).wrapping_mul(1_000_000_000).wrapping_add(n as u64);
    Ok(Stamp {
        size: meta.len(),
        mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
        ino: meta.ino(),
        ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
    })
}

/// Where the index of `source` is cached inside `cache_dir`.
pub fn cache_path(cache_dir: &Path, source: &Path) -> PathBuf {
    let name = source.file_name().map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned());
    let hash = xxhash_rust::xxh3::xxh3_64(source.as_os_str().as_encoded_bytes());
    cache_dir.join(format!("{name}.{hash:016x}.idx"))
}

/// Why a cached index cannot be used as it is (it is then rebuilt from the CSV).
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// It cannot be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Not an index file at all.
    #[error("not an index file")]
    NotIndex,
    /// Built from another version of the CSV.
    #[error("stale")]
    Stale,
    /// The index of the other kind of database.
    #[error("index of another kind")]
    OtherKind,
    /// Shorter or longer than its header says.
    #[error("truncated or corrupt index")]
    Corrupt,
}

/// How [`RangeIndex::open`] got its index, for `geo update` and the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The cache was current.
    Cached,
    /// The CSV was read and the cache (re)written.
    Built,
    /// The CSV was read but the cache could not be written (kept in memory).
    BuiltInMemory,
}

impl RangeIndex {
    /// Opens the cached index of the CSV `source`, building it first when missing or stale.
    pub fn open(source: &Path, kind: DbKind, cache_dir: &Path) -> Result<(RangeIndex, Origin), OpenError> {
        let stamp = stamp_of(source).map_err(|e| OpenError::Io { path: source.to_path_buf(), source: e })?;
        let cache = cache_path(cache_dir, source);
        if let Ok(index) = RangeIndex::map(&cache, kind, stamp) {
            return Ok((index, Origin::Cached));
        }
        let read_rows = || {
            let file = File::open(source).map_err(|e| OpenError::Io { path: source.to_path_buf(), source: e })?;
            super::csv::read(BufReader::with_capacity(1 << 20, file), kind)
                .map_err(|e| OpenError::Csv { path: source.to_path_buf(), source: e })
        };
        let rows = read_rows()?;
        // Streamed to the cache file: only the rows are held in memory.
        let written = write_atomically(&cache, |out| build(rows, kind, stamp, out))
            .map_err(IndexError::Io)
            .and_then(|()| RangeIndex::map(&cache, kind, stamp));
        match written {
            Ok(index) => Ok((index, Origin::Built)),
            Err(e) => {
                // A read-only data directory: read again (rare) and keep the index in memory.
                tracing::warn!("cannot write geo index {}: {e}; using it from memory", cache.display());
                Ok((RangeIndex::from_rows(read_rows()?, kind), Origin::BuiltInMemory))
            }
        }
    }

    /// Builds an index from rows in memory (for tests and for checking downloads).
    pub fn from_rows(rows: Rows, kind: DbKind) -> RangeIndex {
        let mut bytes = Vec::new();
        let stamp = Stamp { size: 0, mtime_ns: 0, ino: 0, ctime_ns: 0 };
        // Writing to a Vec cannot fail.
        let _ = build(rows, kind, stamp, &mut bytes);
        match RangeIndex::from_bytes(Bytes::Owned(bytes), kind, None) {
            Ok(index) => index,
            // `build` wrote the layout `from_bytes` checks; a mismatch is a bug in this file.
            Err(e) => unreachable!("freshly built index is invalid: {e}"),
        }
    }

    fn map(path: &Path, kind: DbKind, stamp: Stamp) -> Result<RangeIndex, IndexError> {
        let file = File::open(path)?;
        // SAFETY: the cache file is only ever replaced by rename (see `write_atomically`), never
        // written in place, so the mapped inode does not change under us.
        let map = unsafe { Mmap::map(&file) }?;
        RangeIndex::from_bytes(Bytes::Mapped(map), kind, Some(stamp))
    }

    fn from_bytes(bytes: Bytes, kind: DbKind, stamp: Option<Stamp>) -> Result<RangeIndex, IndexError> {
        let b = bytes.as_ref();
        if b.len() < HEADER || &b[..8] != MAGIC {
            return Err(IndexError::NotIndex);
        }
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
        let found = Stamp { size: u64_at(8), mtime_ns: u64_at(16), ino: u64_at(48), ctime_ns: u64_at(56) };
        if stamp.is_some_and(|s| s != found) {
            return Err(IndexError::Stale);
        }
        if u32_at(24) != kind_code(kind) {
            return Err(IndexError::OtherKind);
        }
        let (n4, n6, nrec) = (u32_at(28) as usize, u32_at(32) as usize, u32_at(36) as usize);
        let text_len = u64_at(40) as usize;
        let v4 = HEADER;
        let v6 = v4 + n4 * 12;
        let recs = v6 + n6 * 36;
        let text = recs + nrec * 12;
        if text.checked_add(text_len) != Some(b.len()) {
            return Err(IndexError::Corrupt);
        }
        Ok(RangeIndex { bytes, n4, n6, nrec, v4, v6, recs, text })
    }

    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.n4 + self.n6
    }

    /// True when the index has no range.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value for `ip`: (AS number or 0, organisation name or country code).
    pub fn lookup(&self, ip: IpAddr) -> Option<(u32, &str)> {
        let b = self.bytes.as_ref();
        let val = match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let x = u32::from(v4);
                let start = |i: usize| read_u32(b, self.v4 + i * 4);
                let i = last_at_most(self.n4, |i| start(i).is_some_and(|s| s <= x))?;
                let end = read_u32(b, self.v4 + self.n4 * 4 + i * 4)?;
                if x > end {
                    return None;
                }
                read_u32(b, self.v4 + self.n4 * 8 + i * 4)?
            }
            IpAddr::V6(v6) => {
                let x = u128::from(v6);
                let start = |i: usize| read_u128(b, self.v6 + i * 16);
                let i = last_at_most(self.n6, |i| start(i).is_some_and(|s| s <= x))?;
                let end = read_u128(b, self.v6 + self.n6 * 16 + i * 16)?;
                if x > end {
                    return None;
                }
                read_u32(b, self.v6 + self.n6 * 32 + i * 4)?
            }
        } as usize;
        if val >= self.nrec {
            return None;
        }
        let r = self.recs + val * 12;
        let asn = read_u32(b, r)?;
        let off = read_u32(b, r + 4)? as usize;
        let len = read_u32(b, r + 8)? as usize;
        let start = self.text.checked_add(off)?;
        let text = std::str::from_utf8(b.get(start..start.checked_add(len)?)?).ok()?;
        Some((asn, text))
    }
}

/// The largest `i < n` with `pred(i)` true, for a predicate true on a prefix.
fn last_at_most(n: usize, pred: impl Fn(usize) -> bool) -> Option<usize> {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo.checked_sub(1)
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn read_u128(b: &[u8], at: usize) -> Option<u128> {
    Some(u128::from_le_bytes(b.get(at..at + 16)?.try_into().ok()?))
}

fn kind_code(kind: DbKind) -> u32 {
    match kind {
        DbKind::Country => 1,
        DbKind::Asn => 2,
    }
}

/// Writes the index of `rows` to `out`, streaming: the rows are the only large allocation.
fn build(mut rows: Rows, kind: DbKind, stamp: Stamp, out: &mut impl Write) -> std::io::Result<()> {
    rows.v4.sort_unstable_by_key(|r| r.0);
    rows.v6.sort_unstable_by_key(|r| r.0);
    // Each distinct text once (an organisation can have several AS numbers).
    let mut text = Vec::new();
    let mut text_at: HashMap<&str, (u32, u32)> = HashMap::new();
    let mut recs = Vec::with_capacity(rows.values.len());
    for (asn, t) in &rows.values {
        let (off, len) = *text_at.entry(t.as_str()).or_insert_with(|| {
            let off = text.len() as u32;
            text.extend_from_slice(t.as_bytes());
            (off, t.len() as u32)
        });
        recs.push((*asn, off, len));
    }
    let (n4, n6) = (rows.v4.len(), rows.v6.len());
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&stamp.size.to_le_bytes());
    header.extend_from_slice(&stamp.mtime_ns.to_le_bytes());
    header.extend_from_slice(&kind_code(kind).to_le_bytes());
    header.extend_from_slice(&(n4 as u32).to_le_bytes());
    header.extend_from_slice(&(n6 as u32).to_le_bytes());
    header.extend_from_slice(&(recs.len() as u32).to_le_bytes());
    header.extend_from_slice(&(text.len() as u64).to_le_bytes());
    header.extend_from_slice(&stamp.ino.to_le_bytes());
    header.extend_from_slice(&stamp.ctime_ns.to_le_bytes());
    out.write_all(&header)?;
    for r in &rows.v4 {
        out.write_all(&r.0.to_le_bytes())?;
    }
    for r in &rows.v4 {
        out.write_all(&r.1.to_le_bytes())?;
    }
    for r in &rows.v4 {
        out.write_all(&r.2.to_le_bytes())?;
    }
    for r in &rows.v6 {
        out.write_all(&r.0.to_le_bytes())?;
    }
    for r in &rows.v6 {
        out.write_all(&r.1.to_le_bytes())?;
    }
    for r in &rows.v6 {
        out.write_all(&r.2.to_le_bytes())?;
    }
    for (asn, off, len) in &recs {
        out.write_all(&asn.to_le_bytes())?;
        out.write_all(&off.to_le_bytes())?;
        out.write_all(&len.to_le_bytes())?;
    }
    out.write_all(&text)
}

/// Writes `path` through a temporary file and a rename, so that readers (and a running scan's
/// mapping) only ever see a complete file.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    super::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().map_or_else(|| "index".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let result = (|| {
        let mut f = BufWriter::with_capacity(1 << 20, super::create_file(&tmp)?);
        write(&mut f)?;
        let f = f.into_inner().map_err(|e| e.into_error())?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
#[cfg(test)]
mod tests {
    use super::*;

    const ASN: &str = "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n8.8.8.0,8.8.8.255,15169,Google LLC\n\
                       9.9.9.0,9.9.9.255,19281,Quad9\n2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC\n";

    #[test]
    fn lookups_hit_inside_ranges_and_miss_in_gaps() {
        let idx = RangeIndex::from_rows(super::super::csv::read(ASN.as_bytes(), DbKind::Asn).unwrap(), DbKind::Asn);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(idx.lookup(ip("1.0.0.7")), Some((13335, "Cloudflare, Inc.")));
        assert_eq!(idx.lookup(ip("8.8.8.255")), Some((15169, "Google LLC")));
        assert_eq!(idx.lookup(ip("::ffff:8.8.8.8")), Some((15169, "Google LLC")));
        assert_eq!(idx.lookup(ip("2001:4860:4860::8888")), Some((15169, "Google LLC")));
        assert_eq!(idx.lookup(ip("8.8.9.0")), None);
        assert_eq!(idx.lookup(ip("0.255.255.255")), None);
        assert_eq!(idx.lookup(ip("255.255.255.255")), None);
        assert_eq!(idx.lookup(ip("2001:4861::")), None);
        assert_eq!(idx.lookup(ip("::1")), None);
    }

    #[test]
    fn the_cache_is_written_reused_and_rebuilt_when_the_source_changes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("asn.csv");
        std::fs::write(&src, ASN).unwrap();
        let cache = dir.path().join("cache");
        let (idx, origin) = RangeIndex::open(&src, DbKind::Asn, &cache).unwrap();
        assert_eq!((origin, idx.len()), (Origin::Built, 4));
        let (_, origin) = RangeIndex::open(&src, DbKind::Asn, &cache).unwrap();
        assert_eq!(origin, Origin::Cached);
        std::fs::write(&src, "1.0.0.0,1.0.0.255,64500,Changed\n").unwrap();
        let (idx, origin) = RangeIndex::open(&src, DbKind::Asn, &cache).unwrap();
        assert_eq!(origin, Origin::Built);
        assert_eq!(idx.lookup("1.0.0.1".parse().unwrap()), Some((64500, "Changed")));
        // A corrupt cache is rebuilt, not trusted.
        let cached = cache_path(&cache, &src);
        let len = std::fs::metadata(&cached).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&cached).unwrap();
        f.set_len(len - 3).unwrap();
        let (_, origin) = RangeIndex::open(&src, DbKind::Asn, &cache).unwrap();
        assert_eq!(origin, Origin::Built);
        // A cache directory that cannot be created: the index is used from memory.
        let (idx, origin) = RangeIndex::open(&src, DbKind::Asn, &src.join("cache")).unwrap();
        assert_eq!(origin, Origin::BuiltInMemory);
        assert_eq!(idx.lookup("1.0.0.1".parse().unwrap()), Some((64500, "Changed")));
    }
}
