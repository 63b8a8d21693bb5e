//! Reading ip-location-db CSV files: `start,end,country_code` and `start,end,asn,organisation`.
//!
//! Addresses are dotted (`1.0.0.0`, `2001::`) or integers (the `-num.csv` files; IPv6 as 128-bit
//! integers). A header row is skipped when its first cell is not an address. Organisation names
//! may be quoted and contain commas, which the `csv` crate handles.

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

/// One row: an inclusive range and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// First address, as a 128-bit number (IPv4 as its 32-bit value; see [`Rows::v6`]).
    pub start: u128,
    /// Last address, inclusive.
    pub end: u128,
    /// Country code (country files) or AS number (ASN files; 0 when unknown).
    pub asn: u32,
    /// Country code or organisation name.
    pub text: String,
}

/// The rows of one file, split by family.
#[derive(Debug, Default)]
pub struct Rows {
    /// IPv4 ranges (values fit in 32 bits).
    pub v4: Vec<Row>,
    /// IPv6 ranges.
    pub v6: Vec<Row>,
    /// Rows that could not be read, with the first such line for the message.
    pub bad: u64,
    /// The first unreadable line's number and content (shortened), to show the user.
    pub first_bad: Option<(u64, String)>,
}

impl Rows {
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
    let mut numeric: Vec<Row> = Vec::new();
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
            Some((Family::V4, row)) => rows.v4.push(row),
            Some((Family::V6, row)) => rows.v6.push(row),
            Some((Family::Number, row)) => numeric.push(row),
            None if line == 1 => {} // a header row
            None => note_bad(&mut rows, line, &record.iter().collect::<Vec<_>>().join(",")),
        }
    }
    if !numeric.is_empty() {
        // Integer form: a file with any value beyond 32 bits is IPv6 (the ip-location-db
        // `-ipv6-num.csv` files never hold IPv4-sized numbers anyway).
        if numeric.iter().any(|r| r.end > u128::from(u32::MAX)) {
            rows.v6.extend(numeric);
        } else {
            rows.v4.extend(numeric);
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

fn parse_record(record: &csv::StringRecord, kind: DbKind) -> Option<(Family, Row)> {
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
    let row = match kind {
        DbKind::Country => {
            let code = record.get(2)?.trim();
            if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
                return None;
            }
            Row { start, end, asn: 0, text: code.to_ascii_uppercase() }
        }
        DbKind::Asn => {
            let asn = record.get(2)?.trim();
            let asn = asn.strip_prefix("AS").unwrap_or(asn).parse().ok()?;
            let org = record.get(3).unwrap_or("").trim();
            Row { start, end, asn, text: crate::text::visible(org.as_bytes()) }
        }
    };
    Some((family, row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_country_rows_with_and_without_header() {
        let rows =
            read("1.0.0.0,1.0.0.255,AU\n2001::,2001:0:ffff:ffff:ffff:ffff:ffff:ffff,us\n".as_bytes(), DbKind::Country)
                .unwrap();
        assert_eq!(rows.v4, vec![Row { start: 0x0100_0000, end: 0x0100_00ff, asn: 0, text: "AU".into() }]);
        assert_eq!(rows.v6.len(), 1);
        assert_eq!(rows.v6[0].text, "US");
        let rows = read("ip_range_start,ip_range_end,country_code\n1.0.0.0,1.0.0.255,AU\n".as_bytes(), DbKind::Country)
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows.bad, 0);
    }

    #[test]
    fn asn_rows_keep_quoted_commas_and_integer_files_pick_their_family() {
        let rows = read("16777216,16777471,13335,\"Cloudflare, Inc.\"\n".as_bytes(), DbKind::Asn).unwrap();
        assert_eq!(rows.v4, vec![Row { start: 16777216, end: 16777471, asn: 13335, text: "Cloudflare, Inc.".into() }]);
        let v6 = "42540528726795050063891204319802818560,42540528806023212578155541913346768895,2500,WIDE\n";
        let rows = read(v6.as_bytes(), DbKind::Asn).unwrap();
        assert_eq!((rows.v4.len(), rows.v6.len()), (0, 1));
        assert_eq!(rows.v6[0].start, u128::from("2001:200::".parse::<std::net::Ipv6Addr>().unwrap()));
    }

    #[test]
    fn an_html_page_is_rejected_and_hostile_org_names_are_made_visible() {
        let e = read("<html>\n<body>404 Not Found</body>\n</html>\n".as_bytes(), DbKind::Asn).unwrap_err();
        assert!(e.to_string().contains("not an ip-location-db asn CSV"), "{e}");
        let rows = read("1.0.0.0,1.0.0.255,1,\"Evil\x1b[31m\"\nbad,row,x\n".as_bytes(), DbKind::Asn).unwrap();
        assert_eq!(rows.v4[0].text, "Evil\\x1B[31m");
        assert_eq!(rows.bad, 1);
    }
}
