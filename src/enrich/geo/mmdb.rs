//! MaxMind DB (`.mmdb`) databases through the `maxminddb` crate.
//!
//! Vendors name the same facts differently, so each lookup tries the known paths:
//! country `country.iso_code` (GeoLite2, DB-IP) or `country_code` (IPinfo lite, ip-location-db);
//! AS number `autonomous_system_number` (GeoLite2, DB-IP, ip-location-db) or `asn` (IPinfo lite,
//! a string like `AS15169`, or a number); organisation `autonomous_system_organization` or
//! `as_name`.

use std::fs::File;
use std::net::IpAddr;
use std::path::Path;

use maxminddb::{MaxMindDbError, PathElement, Reader};
use memmap2::Mmap;

use super::OpenError;

/// The marker that starts an MMDB file's metadata section.
const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

/// True when the file's tail holds the MMDB metadata marker (format chosen by content).
pub fn looks_like_mmdb(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else { return false };
    let Ok(len) = f.metadata().map(|m| m.len()) else { return false };
    // The metadata is at most 128 KiB from the end (the format's own rule).
    let tail = len.min(128 * 1024);
    if f.seek(SeekFrom::Start(len - tail)).is_err() {
        return false;
    }
    let mut buf = Vec::with_capacity(tail as usize);
    if f.read_to_end(&mut buf).is_err() {
        return false;
    }
    memchr::memmem::rfind(&buf, METADATA_MARKER).is_some()
}

/// An open MMDB file.
pub struct Mmdb {
    reader: Reader<Mmap>,
}

impl Mmdb {
    /// Opens and maps `path`.
    pub fn open(path: &Path) -> Result<Mmdb, OpenError> {
        let io = |source| OpenError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io)?;
        // SAFETY: databases are replaced by rename (`geo update`), never rewritten in place.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let reader = Reader::from_source(map).map_err(|source| OpenError::Mmdb { path: path.to_path_buf(), source })?;
        Ok(Mmdb { reader })
    }

    /// Builds a reader over bytes in memory (to check a download before installing it).
    pub fn check_bytes(bytes: Vec<u8>) -> Result<Reader<Vec<u8>>, MaxMindDbError> {
        Reader::from_source(bytes)
    }

    /// The number of nodes of the search tree: the size `geo update` compares a download with.
    pub fn node_count(&self) -> u64 {
        u64::from(self.reader.metadata().node_count)
    }

    /// The country code of `ip`, if the database has one.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        country(&self.reader, ip)
    }

    /// AS number and organisation of `ip`.
    pub fn asn(&self, ip: IpAddr) -> Option<(u32, Option<String>)> {
        asn(&self.reader, ip)
    }
}

/// Country code of `ip` in any MMDB reader.
pub fn country<S: AsRef<[u8]>>(reader: &Reader<S>, ip: IpAddr) -> Option<String> {
    let found = reader.lookup(ip.to_canonical()).ok()?;
    if !found.has_data() {
        return None;
    }
    let paths: [&[PathElement<'_>]; 3] = [
        &[PathElement::Key("country"), PathElement::Key("iso_code")],
        &[PathElement::Key("country_code")],
        &[PathElement::Key("registered_country"), PathElement::Key("iso_code")],
    ];
    // A path of the wrong shape (IPinfo's `country` is a name, not a map) is an error: try the next.
    paths
        .iter()
        .find_map(|p| found.decode_path::<String>(p).ok().flatten())
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(|c| c.to_ascii_uppercase())
}

/// AS number and organisation of `ip` in any MMDB reader.
pub fn asn<S: AsRef<[u8]>>(reader: &Reader<S>, ip: IpAddr) -> Option<(u32, Option<String>)> {
    let found = reader.lookup(ip.to_canonical()).ok()?;
    if !found.has_data() {
        return None;
    }
    let number = |key| {
        let path = [PathElement::Key(key)];
        found.decode_path::<u32>(&path).ok().flatten().or_else(|| {
            let text = found.decode_path::<String>(&path).ok().flatten()?;
            text.trim().trim_start_matches("AS").parse().ok()
        })
    };
    let asn = number("autonomous_system_number").or_else(|| number("asn"))?;
    let org = ["autonomous_system_organization", "as_name", "as_organization"]
        .iter()
        .find_map(|k| found.decode_path::<String>(&[PathElement::Key(k)]).ok().flatten())
        .map(|o| crate::text::visible(o.as_bytes()));
    Some((asn, org))
}
