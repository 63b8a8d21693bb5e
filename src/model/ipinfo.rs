//! What enrichment learns about an address: its reverse DNS, country and AS.
//!
//! These are model types because three stages share them: [`crate::enrich`] produces them, the
//! store keeps and caches them, and reports show them.

/// The outcome of a reverse lookup, as written to `reverse_dns_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RdnsStatus {
    /// A PTR name that resolves back to the address (forward-confirmed).
    Ok,
    /// A PTR name that does not resolve back to the address: it may be forged.
    Unverified,
    /// The reverse name does not exist (NXDOMAIN).
    Nxdomain,
    /// The reverse name exists but has no PTR record (NOERROR with an empty answer, NODATA).
    NoData,
    /// No answer in time.
    Timeout,
    /// The server failed (SERVFAIL).
    Servfail,
    /// The server refused (REFUSED).
    Refused,
    /// Anything else (network error, malformed answer).
    Error,
}

impl RdnsStatus {
    /// Every status, for decoding.
    pub const ALL: [RdnsStatus; 8] = [
        RdnsStatus::Ok,
        RdnsStatus::Unverified,
        RdnsStatus::Nxdomain,
        RdnsStatus::NoData,
        RdnsStatus::Timeout,
        RdnsStatus::Servfail,
        RdnsStatus::Refused,
        RdnsStatus::Error,
    ];

    /// The CSV and store spelling. The store keeps these texts, so a spelling never changes once
    /// released: a new status gets a new one.
    pub fn as_str(self) -> &'static str {
        match self {
            RdnsStatus::Ok => "ok",
            RdnsStatus::Unverified => "unverified",
            RdnsStatus::Nxdomain => "nxdomain",
            RdnsStatus::NoData => "nodata",
            RdnsStatus::Timeout => "timeout",
            RdnsStatus::Servfail => "servfail",
            RdnsStatus::Refused => "refused",
            RdnsStatus::Error => "error",
        }
    }

    /// Inverse of [`RdnsStatus::as_str`].
    pub fn parse(s: &str) -> Option<RdnsStatus> {
        RdnsStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the answer is worth caching for the full TTL: a server's definite answer, not a
    /// failure that may be gone in a minute.
    pub fn is_definite(self) -> bool {
        matches!(self, RdnsStatus::Ok | RdnsStatus::Unverified | RdnsStatus::Nxdomain | RdnsStatus::NoData)
    }
}

/// The reverse DNS of one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer {
    /// The PTR name without its final dot, made visible with [`crate::text::visible`].
    pub hostname: Option<String>,
    /// How the lookup went.
    pub status: RdnsStatus,
}

/// Everything known about one address, as written to the CSV and the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpInfo {
    /// Reverse DNS name, made visible.
    pub hostname: Option<String>,
    /// How the reverse lookup went; `None` when it was not done (`--no-dns`).
    pub rdns_status: Option<RdnsStatus>,
    /// ISO country code.
    pub country_code: Option<String>,
    /// AS number.
    pub asn: Option<u32>,
    /// AS organisation, made visible.
    pub aso: Option<String>,
    /// When the reverse lookup was answered (Unix seconds); `None` when it was not done.
    pub resolved_at: Option<i64>,
}

impl IpInfo {
    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        self.rdns_status.is_none() && self.country_code.is_none() && self.asn.is_none()
    }
}
