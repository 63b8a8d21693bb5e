//! `ip_info`: per-address enrichment (reverse DNS, country, AS), which doubles as the reverse
//! DNS cache.
//!
//! One row per address (a 4- or 16-byte blob, as in `ips`); the AS organisation is interned in
//! `strings`. `resolved_at` is when the reverse lookup was answered: rows with a definite answer
//! younger than `dns.cache_ttl` are reused instead of asking again.

use std::collections::HashMap;
use std::net::IpAddr;

use rusqlite::{Connection, params};

use super::{Result, Store, intern, ip_blob, ip_from_blob, ip_len};
use crate::model::ipinfo::IpInfo;
use crate::model::ipinfo::{DnsAnswer, RdnsStatus};

/// The table, created by [`Store::open`].
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ip_info (
    ip BLOB PRIMARY KEY,
    hostname TEXT,
    rdns_status TEXT,
    country_code TEXT,
    asn INTEGER,
    aso_id INTEGER,
    resolved_at INTEGER
) WITHOUT ROWID;
";

impl Store {
    /// Cached definite reverse DNS answers resolved at or after `since` (Unix seconds).
    pub fn dns_cache(&self, since: i64) -> Result<Vec<(IpAddr, DnsAnswer, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT ip, hostname, rdns_status, resolved_at FROM ip_info
             WHERE resolved_at >= ?1 AND rdns_status IN ('ok', 'unverified', 'nxdomain', 'nodata')",
        )?;
        let rows = stmt.query_map([since], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (ip, hostname, status, at) = row?;
            // Rows this build cannot read are skipped and get looked up again.
            if let (Some(ip), Some(status)) = (ip_from_blob(&ip), RdnsStatus::parse(&status)) {
                out.push((ip, DnsAnswer { hostname, status }, at));
            }
        }
        Ok(out)
    }

    /// What the store holds about `ip` (for reports and tests).
    pub fn ip_info(&self, ip: IpAddr) -> Result<Option<IpInfo>> {
        Ok(lookup(&self.conn, ip)?)
    }
}

/// One address's row. A scalar subquery, not a LEFT JOIN: SQLite re-prepares that join every
/// time it is bound (its `RePrepare` status counted one per lookup), which was half of a
/// report's time.
const LOOKUP: &str = "SELECT i.hostname, i.rdns_status, i.country_code, i.asn,
        (SELECT s FROM strings WHERE id = i.aso_id), i.resolved_at
    FROM ip_info i WHERE i.ip = ?1";

/// What `ip_info` holds about `ip`, on any connection to the store.
pub(super) fn lookup(conn: &Connection, ip: IpAddr) -> rusqlite::Result<Option<IpInfo>> {
    let ip = ip.to_canonical();
    let blob = ip_blob(&ip);
    let mut stmt = conn.prepare_cached(LOOKUP)?;
    let mut rows = stmt.query([&blob[..ip_len(&ip)]])?;
    let Some(r) = rows.next()? else { return Ok(None) };
    Ok(Some(IpInfo {
        hostname: r.get(0)?,
        rdns_status: r.get::<_, Option<String>>(1)?.as_deref().and_then(RdnsStatus::parse),
        country_code: r.get(2)?,
        asn: r.get(3)?,
        aso: r.get(4)?,
        resolved_at: r.get(5)?,
    }))
}

/// Calls `f` on every address `ip_info` holds, with what it holds (rows whose address this build
/// cannot read are skipped: they are enriched again when seen).
pub(super) fn for_each(conn: &Connection, mut f: impl FnMut(IpAddr, IpInfo)) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT i.ip, i.hostname, i.rdns_status, i.country_code, i.asn,
             (SELECT s FROM strings WHERE id = i.aso_id), i.resolved_at
         FROM ip_info i",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let Some(ip) = ip_from_blob(r.get_ref(0)?.as_blob()?) else { continue };
        f(
            ip,
            IpInfo {
                hostname: r.get(1)?,
                rdns_status: r.get::<_, Option<String>>(2)?.as_deref().and_then(RdnsStatus::parse),
                country_code: r.get(3)?,
                asn: r.get(4)?,
                aso: r.get(5)?,
                resolved_at: r.get(6)?,
            },
        );
    }
    Ok(())
}

/// Saves `infos` inside the caller's transaction. Reverse DNS fields are only replaced by a new
/// lookup (`resolved_at` set), so a `--no-dns` scan keeps the cached names.
pub(super) fn save<S>(
    conn: &Connection,
    strings: &mut super::StringIds,
    infos: &HashMap<IpAddr, IpInfo, S>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO ip_info (ip, hostname, rdns_status, country_code, asn, aso_id, resolved_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (ip) DO UPDATE SET
             country_code = coalesce(excluded.country_code, country_code),
             asn = coalesce(excluded.asn, asn),
             aso_id = coalesce(excluded.aso_id, aso_id),
             hostname = CASE WHEN excluded.resolved_at IS NULL THEN hostname ELSE excluded.hostname END,
             rdns_status = CASE WHEN excluded.resolved_at IS NULL THEN rdns_status ELSE excluded.rdns_status END,
             resolved_at = coalesce(excluded.resolved_at, resolved_at)",
    )?;
    for (ip, info) in infos {
        if info.is_empty() {
            continue;
        }
        let blob = ip_blob(ip);
        let aso = info.aso.as_deref().map(|s| intern(conn, strings, s)).transpose()?;
        // Failures (timeout, servfail) are stored too, but `dns_cache` only reuses definite
        // answers, so they are asked again next time.
        let resolved_at = info.resolved_at.filter(|_| info.rdns_status.is_some());
        stmt.execute(params![
            &blob[..ip_len(ip)],
            info.hostname,
            info.rdns_status.map(RdnsStatus::as_str),
            info.country_code,
            info.asn,
            aso,
            resolved_at,
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_find_the_organisation_and_are_not_prepared_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join(super::super::STORE_FILE)).unwrap();
        let info = |n: u8| IpInfo {
            country_code: Some("DE".into()),
            asn: Some(3320),
            aso: Some(format!("AS org {n}")),
            ..IpInfo::default()
        };
        let infos: HashMap<IpAddr, IpInfo> = (1..=20).map(|n| (IpAddr::from([192, 0, 2, n]), info(n))).collect();
        let tx = store.conn.transaction().unwrap();
        save(&tx, &mut store.strings, &infos).unwrap();
        tx.commit().unwrap();
        for n in 1..=20 {
            let found = lookup(&store.conn, IpAddr::from([192, 0, 2, n])).unwrap().unwrap();
            assert_eq!((found.asn, found.aso), (Some(3320), Some(format!("AS org {n}"))));
        }
        assert!(lookup(&store.conn, IpAddr::from([192, 0, 2, 99])).unwrap().is_none());
        let stmt = store.conn.prepare_cached(LOOKUP).unwrap();
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }
}
