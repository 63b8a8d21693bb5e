//! Reading ip-location-db CSV files: `start,end,country_code` and `start,end,asn,organisation`.
//!
//! Addresses are dotted (`1.0.0.0`, `2001::`) or integers (the `-num.csv` files; IPv6 as 128-bit
//! integers). A header row is skipped when its first cell is not an address. Organisation names
//! may be quoted and contain commas, which the `csv` crate handles.

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;

/// What a database file maps addresses to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    /// `start,end,country_code`.
    Country,
    /// `start,end,asn,organisation`.
    Asn,
}

impl DbKind {
    /// `country` or `asn`, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            DbKind::Country => "country",
            DbKind::Asn => "asn",
        }
    }
}

/// The rows of one file, split by family. Values are interned as they are read, so that a
/// million rows cost 12 (IPv4) or 36 (IPv6) bytes each, not a string each.
#[derive(Debug, Default)]
pub struct Rows {
    /// IPv4 ranges: first and last address (inclusive) and value id.
    pub v4: Vec<(u32, u32, u32)>,
    /// IPv6 ranges, likewise.
    pub v6: Vec<(u128, u128, u32)>,
    /// Distinct values: AS number (0 in country files) and organisation name or country code.
    pub values: Vec<(u32, String)>,
    ids: HashMap<(u32, String), u32>,
    /// Rows that could not be read, with the first such line for the message.
    pub bad: u64,
    /// The first unreadable line's number and content (shortened), to show the user.
    pub first_bad: Option<(u64, String)>,
}

impl Rows {
    /// The id of a value, adding it when new.
    fn intern(&mut self, asn: u32, text: String) -> u32 {
        let key = (asn, text);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(key.clone());
        self.ids.insert(key, id);
        id
    }

    /// All ranges.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// True when no range was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a file cannot be read as CSV at all.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Not a database of the expected kind.
    #[error("{0}")]
    Format(String),
}

/// Reads a whole CSV database. Bad rows are counted, not fatal; a file where most rows are bad
/// (an HTML error page, the wrong kind of file) is an error.
pub fn read(input: impl Read, kind: DbKind) -> Result<Rows, CsvError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
    let mut rows = Rows::default();
    // Integer files do not say their family; collected here, split at the end.
    let mut numeric: Vec<(u128, u128, u32)> = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut line = 0u64;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let text = e.to_string();
                if let csv::ErrorKind::Io(io) = e.into_kind() {
                    return Err(CsvError::Io(io));
                }
                line += 1;
                note_bad(&mut rows, line, &text);
                continue;
            }
        }
        line += 1;
        match parse_record(&record, kind) {
            Some((family, start, end, asn, text)) => {
                let id = rows.intern(asn, text);
                match family {
                    // `parse_record` gives V4 only for values from IPv4 addresses.
                    Family::V4 => rows.v4.push((start as u32, end as u32, id)),
                    Family::V6 => rows.v6.push((start, end, id)),
                    Family::Number => numeric.push((start, end, id)),
                }
            }
            None if line == 1 => {} // a header row
            None => note_bad(&mut rows, line, &record.iter().collect::<Vec<_>>().join(",")),
        }
    }
    if !numeric.is_empty() {
        // Integer form: a file with any value beyond 32 bits is IPv6 (the ip-location-db
        // `-ipv6-num.csv` files never hold IPv4-sized numbers anyway).
        if numeric.iter().any(|r| r.1 > u128::from(u32::MAX)) {
            rows.v6.extend(numeric);
        } else {
            rows.v4.extend(numeric.into_iter().map(|(s, e, id)| (s as u32, e as u32, id)));
        }
    }
    if rows.bad > 0 && (rows.is_empty() || rows.bad as usize > rows.len()) {
        let (n, text) = rows.first_bad.clone().unwrap_or_default();
        return Err(CsvError::Format(format!(
            "not an ip-location-db {} CSV: {} of {} lines unreadable (line {n}: {text:?})",
            kind.as_str(),
            rows.bad,
            rows.bad as usize + rows.len()
        )));
    }
    Ok(rows)
}

fn note_bad(rows: &mut Rows, line: u64, text: &str) {
    rows.bad += 1;
    if rows.first_bad.is_none() {
        rows.first_bad = Some((line, text.chars().take(80).collect()));
    }
}

enum Family {
    V4,
    V6,
    Number,
}

fn parse_record(record: &csv::StringRecord, kind: DbKind) -> Option<(Family, u128, u128, u32, String)> {
    let start = record.get(0)?.trim();
    let end = record.get(1)?.trim();
    let (family, start, end) = match (start.parse::<IpAddr>(), end.parse::<IpAddr>()) {
        (Ok(IpAddr::V4(s)), Ok(IpAddr::V4(e))) => (Family::V4, u128::from(u32::from(s)), u128::from(u32::from(e))),
        (Ok(IpAddr::V6(s)), Ok(IpAddr::V6(e))) => (Family::V6, u128::from(s), u128::from(e)),
        (Ok(_), Ok(_)) => return None,
        _ => (Family::Number, start.parse().ok()?, end.parse().ok()?),
    };
    if end < start {
        return None;
    }
    let (asn, text) = match kind {
        DbKind::Country => {
            let code = record.get(2)?.trim();
            if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
                return None;
            }
            (0, code.to_ascii_uppercase())
        }
        DbKind::Asn => {
            let asn = record.get(2)?.trim();
            let asn = asn.strip_prefix("AS").unwrap_or(asn).parse().ok()?;
            let org = record.get(3).unwrap_or("").trim();
            (asn, crate::text::visible(org.as_bytes()))
        }
    };
    Some((family, start, end, asn, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_country_rows_with_and_without_header() {
        let rows =
            read("1.0.0.0,1.0.0.255,AU\n2001::,2001:0:ffff:ffff:ffff:ffff:ffff:ffff,us\n".as_bytes(), DbKind::Country)
                .unwrap();
        assert_eq!(rows.v4, vec![(0x0100_0000, 0x0100_00ff, 0)]);
        assert_eq!(rows.v6.len(), 1);
        assert_eq!(rows.values, vec![(0, "AU".to_string()), (0, "US".to_string())]);
        let rows = read("ip_range_start,ip_range_end,country_code\n1.0.0.0,1.0.0.255,AU\n".as_bytes(), DbKind::Country)
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows.bad, 0);
    }

    #[test]
    fn asn_rows_keep_quoted_commas_and_integer_files_pick_their_family() {
        let rows = read("16777216,16777471,13335,\"Cloudflare, Inc.\"\n".as_bytes(), DbKind::Asn).unwrap();
        assert_eq!(rows.v4, vec![(16777216, 16777471, 0)]);
        assert_eq!(rows.values, vec![(13335, "Cloudflare, Inc.".to_string())]);
        let v6 = "42540528726795050063891204319802818560,42540528806023212578155541913346768895,2500,WIDE\n";
        let rows = read(v6.as_bytes(), DbKind::Asn).unwrap();
        assert_eq!((rows.v4.len(), rows.v6.len()), (0, 1));
        assert_eq!(rows.v6[0].0, u128::from("2001:200::".parse::<std::net::Ipv6Addr>().unwrap()));
    }

    #[test]
    fn an_html_page_is_rejected_and_hostile_org_names_are_made_visible() {
        let e = read("<html>\n<body>404 Not Found</body>\n</html>\n".as_bytes(), DbKind::Asn).unwrap_err();
        assert!(e.to_string().contains("not an ip-location-db asn CSV"), "{e}");
        let rows = read("1.0.0.0,1.0.0.255,1,\"Evil\x1b[31m\"\nbad,row,x\n".as_bytes(), DbKind::Asn).unwrap();
        assert_eq!(rows.values[rows.v4[0].2 as usize].1, "Evil\\x1B[31m");
        assert_eq!(rows.bad, 1);
    }
}
