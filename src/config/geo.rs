//! `[geo]`: where the offline country and AS databases are and where `geo update` fetches them,
//! with the defaults that make `geo update` followed by `scan` work without any setting.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Directory of the geolocation databases and of `geo update`'s downloads, under the data
/// directory's default.
pub const DEFAULT_GEO_DIR: &str = "/var/lib/maillogsentinel/geo";
/// Default `geo.country_url`: ip-location-db's country-by-ASN files (IPv4 and IPv6).
pub const DEFAULT_COUNTRY_URLS: [&str; 2] = [
    "https://cdn.jsdelivr.net/npm/@ip-location-db/asn-country/asn-country-ipv4.csv",
    "https://cdn.jsdelivr.net/npm/@ip-location-db/asn-country/asn-country-ipv6.csv",
];
/// Default `geo.asn_url`: ip-location-db's ASN files (IPv4 and IPv6).
pub const DEFAULT_ASN_URLS: [&str; 2] = [
    "https://cdn.jsdelivr.net/npm/@ip-location-db/asn/asn-ipv4.csv",
    "https://cdn.jsdelivr.net/npm/@ip-location-db/asn/asn-ipv6.csv",
];

/// One path or URL, or a list of them (`key = "a"` or `key = ["a", "b"]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged, expecting = "expected a string or a list of strings")]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// Several values, tried in order.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `[geo]`: offline country and AS databases (ip-location-db CSV or MaxMind DB `.mmdb`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoConfig {
    /// Look up country and AS at all (default true; `scan --no-geo` turns it off for one run).
    pub enabled: bool,
    /// Country databases, tried in order (IPv4 and IPv6 may be two files). Default: the two files
    /// `geo update` writes, `country-ipv4.csv` and `country-ipv6.csv` in `<data_dir>/geo`.
    pub country_db: Option<OneOrMany<PathBuf>>,
    /// ASN databases, likewise. Default: `asn-ipv4.csv` and `asn-ipv6.csv` in `<data_dir>/geo`.
    pub asn_db: Option<OneOrMany<PathBuf>>,
    /// Where `geo update` downloads the country databases from, one URL per `country_db` path.
    /// Default: [`DEFAULT_COUNTRY_URLS`].
    pub country_url: Option<OneOrMany<String>>,
    /// Where `geo update` downloads the ASN databases from, one URL per `asn_db` path.
    /// Default: [`DEFAULT_ASN_URLS`].
    pub asn_url: Option<OneOrMany<String>>,
    /// `geo update` rejects a download with fewer rows than this (a truncated file or an error
    /// page). Default 1000.
    pub min_rows: u64,
    /// Addresses a downloaded database must know, as a sanity check: at least one of them, and
    /// every one of an address family it holds ranges of (`geo update --force` installs a file
    /// missing some).
    /// Default: `1.1.1.1`, `8.8.8.8`, `2001:4860:4860::8888`.
    pub check_ips: Vec<std::net::IpAddr>,
    /// How long `geo update` waits for a server (seconds). Default 300.
    pub download_timeout_secs: u64,
}

impl Default for GeoConfig {
    fn default() -> GeoConfig {
        GeoConfig {
            enabled: true,
            country_db: None,
            asn_db: None,
            country_url: None,
            asn_url: None,
            min_rows: 1000,
            check_ips: ["1.1.1.1", "8.8.8.8", "2001:4860:4860::8888"].iter().filter_map(|s| s.parse().ok()).collect(),
            download_timeout_secs: 300,
        }
    }
}

impl GeoConfig {
    /// The country database paths, with `data_dir/geo` defaults.
    pub fn country_paths(&self, data_dir: &Path) -> Vec<PathBuf> {
        self.country_db.as_ref().map_or_else(
            || vec![data_dir.join("geo/country-ipv4.csv"), data_dir.join("geo/country-ipv6.csv")],
            OneOrMany::to_vec,
        )
    }

    /// The ASN database paths, with `data_dir/geo` defaults.
    pub fn asn_paths(&self, data_dir: &Path) -> Vec<PathBuf> {
        self.asn_db.as_ref().map_or_else(
            || vec![data_dir.join("geo/asn-ipv4.csv"), data_dir.join("geo/asn-ipv6.csv")],
            OneOrMany::to_vec,
        )
    }

    /// The country download URLs.
    pub fn country_urls(&self) -> Vec<String> {
        self.country_url
            .as_ref()
            .map_or_else(|| DEFAULT_COUNTRY_URLS.iter().map(|s| s.to_string()).collect(), OneOrMany::to_vec)
    }

    /// The ASN download URLs.
    pub fn asn_urls(&self) -> Vec<String> {
        self.asn_url
            .as_ref()
            .map_or_else(|| DEFAULT_ASN_URLS.iter().map(|s| s.to_string()).collect(), OneOrMany::to_vec)
    }
}
