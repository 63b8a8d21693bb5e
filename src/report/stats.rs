//! The queries behind a report: everything is read from the store, never from the CSV.
//!
//! The period's events are read once and aggregated in memory (a day is thousands to a few
//! hundred thousand events): the store keeps them in blocks, each with its time range, and
//! [`blocks::for_each_in`] decodes the blocks that meet the period. Texts (accounts, services)
//! are `strings` ids in the events, looked up once each.
//!
//! The questions about history ("seen before?", "failed in the last 7 days?", "where did this
//! account log in from before?") are point lookups in the small history tables the scan keeps
//! (`ips`, `logins`; see `store::history`), so the cost does not grow with the size of the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    AsnRow, BackendOutages, Compromise, CompromiseWhy, CountryRow, DnsRow, HourRow, IpRow, NetworkRow, Period, Report,
    ServiceRow, Totals, UserRow,
};
use crate::model::event::{Kind, Reason};
use crate::store::blocks::{self, Row};
use crate::store::{Names, ip_blob, ip_from_blob, ip_len};

/// How far back a failure makes a later successful login from the same IP suspicious.
pub const COMPROMISE_LOOKBACK_SECS: i64 = 7 * 86_400;

/// Whether a stored event is a counted failure: mechanism probes count only when configured.
fn counted_failure(r: &Row, probes_count: bool) -> bool {
    r.kind == Kind::Failure.code() && (r.reason != Reason::MechanismInvalid.code() || probes_count)
}

/// Opens a read transaction unless the caller has one: the queries, run once per range, then see
/// one state of the store even while a scan commits, and the thousands of point lookups that
/// follow them do not each take and release the store's locks.
fn read_transaction(conn: &Connection) -> rusqlite::Result<Option<rusqlite::Transaction<'_>>> {
    if conn.is_autocommit() { conn.unchecked_transaction().map(Some) } else { Ok(None) }
}

/// What is known about one IP from the enrichment table.
#[derive(Clone, Debug, Default)]
pub struct IpInfo {
    /// Reverse DNS name.
    pub hostname: Option<String>,
    /// Outcome of the reverse lookup (`ok`, `nxdomain`, `timeout`, ...).
    pub reverse_dns_status: Option<String>,
    /// ISO country code.
    pub country_code: Option<String>,
    /// Autonomous system number.
    pub asn: Option<String>,
    /// Autonomous system organisation.
    pub aso: Option<String>,
}

/// Reads the per-address enrichment that scans keep in `ip_info` (see `store::ipinfo`).
struct Enrichment {
    /// Whether any address has been enriched: the report only shows the columns then.
    any: bool,
    cache: HashMap<IpAddr, IpInfo>,
}

impl Enrichment {
    fn new(conn: &Connection) -> rusqlite::Result<Enrichment> {
        let any = conn.query_row("SELECT EXISTS (SELECT 1 FROM ip_info)", [], |r| r.get(0))?;
        Ok(Enrichment { any, cache: HashMap::new() })
    }

    fn available(&self) -> bool {
        self.any
    }

    fn get(&mut self, conn: &Connection, ip: IpAddr) -> rusqlite::Result<IpInfo> {
        if let Some(info) = self.cache.get(&ip) {
            return Ok(info.clone());
        }
        // The store's typed record, turned into the text the report shows.
        let stored = crate::store::ipinfo::lookup(conn, ip)?;
        let info = stored
            .map(|i| IpInfo {
                hostname: i.hostname,
                reverse_dns_status: i.rdns_status.map(|s| s.as_str().to_string()),
                country_code: i.country_code,
                asn: i.asn.map(|a| a.to_string()),
                aso: i.aso,
            })
            .unwrap_or_default();
        self.cache.insert(ip, info.clone());
        Ok(info)
    }
}

/// The /24 (IPv4) or /64 (IPv6) network of an address.
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

/// The protocol a syslog service name stands for, as shown in the service split.
pub fn service_class(service: &str) -> &'static str {
    let s = service.to_ascii_lowercase();
    if s.contains("submission") {
        "SMTP submission (587)"
    } else if s.contains("smtps") {
        "SMTPS (465)"
    } else if s.starts_with("postfix") || s.contains("smtp") {
        "SMTP (25)"
    } else if s.contains("imap") {
        "IMAP"
    } else if s.contains("pop3") {
        "POP3"
    } else if s.contains("managesieve") || s.contains("sieve") {
        "ManageSieve"
    } else {
        "other"
    }
}

#[derive(Default)]
struct IpAgg {
    attempts: u64,
    users: HashSet<i64>,
    /// Last failure in the period.
    last: i64,
}

#[derive(Default)]
struct UserAgg {
    attempts: u64,
    ips: HashSet<IpAddr>,
}

#[derive(Default)]
struct GroupAgg {
    attempts: u64,
    ips: HashSet<IpAddr>,
}

/// One successful login in the period, grouped by account and IP.
struct SuccessGroup {
    user_id: Option<i64>,
    first: i64,
    last: i64,
    logins: u64,
    service: String,
}

/// Builds the report for `period`; `top` rows per table, mechanism probes counted when
/// `probes_count` (the `[scan]` setting).
pub fn collect(conn: &Connection, period: &Period, top: usize, probes_count: bool) -> rusqlite::Result<Report> {
    let _snapshot = read_transaction(conn)?;
    let (start, end) = (period.start.as_second(), period.end.as_second());
    let mut enrichment = Enrichment::new(conn)?;
    let mut by_ip: HashMap<IpAddr, IpAgg> = HashMap::new();
    let mut by_user: HashMap<i64, UserAgg> = HashMap::new();
    let mut by_service: BTreeMap<&'static str, GroupAgg> = BTreeMap::new();
    let mut successes: BTreeMap<(Option<i64>, IpAddr), SuccessGroup> = BTreeMap::new();
    let mut backend = BackendOutages::default();
    let mut backend_services: BTreeMap<String, u64> = BTreeMap::new();
    let hours = ((end - start).max(0) as u64).div_ceil(3600) as usize;
    let mut per_hour = vec![0u64; hours];
    let mut totals = Totals::default();

    // Every account of the period is read here, for the tables built after the pass.
    let mut names = Names::default();
    blocks::for_each_in(conn, start, end, |r| {
        let ts = r.ts;
        let count = u64::from(r.count.max(1));
        let Some(ip) = r.ip() else { return Ok(()) };
        let user_id = r.username;
        if let Some(id) = user_id {
            names.get(conn, id)?;
        }
        let service = names.get(conn, r.service)?;
        match Kind::from_code(r.kind) {
            Some(Kind::Failure) if !counted_failure(r, probes_count) => totals.mechanism_probes += count,
            Some(Kind::Failure) => {
                totals.failed_attempts += count;
                let agg = by_ip.entry(ip).or_default();
                agg.attempts += count;
                agg.last = agg.last.max(ts);
                if let Some(id) = user_id {
                    agg.users.insert(id);
                    let u = by_user.entry(id).or_default();
                    u.attempts += count;
                    u.ips.insert(ip);
                }
                let s = by_service.entry(service_class(service)).or_default();
                s.attempts += count;
                s.ips.insert(ip);
                if let Some(slot) = per_hour.get_mut(((ts - start) / 3600) as usize) {
                    *slot += count;
                }
            }
            Some(Kind::Success) => {
                totals.successful_logins += count;
                let g = successes.entry((user_id, ip)).or_insert_with(|| SuccessGroup {
                    user_id,
                    first: ts,
                    last: ts,
                    logins: 0,
                    service: service.to_string(),
                });
                g.first = g.first.min(ts);
                g.last = g.last.max(ts);
                g.logins += count;
            }
            Some(Kind::BackendError) => {
                backend.events += count;
                backend.first = Some(backend.first.map_or(ts, |f: i64| f.min(ts)));
                backend.last = Some(backend.last.map_or(ts, |l: i64| l.max(ts)));
                *backend_services.entry(service.to_string()).or_default() += count;
            }
            None => {}
        }
        Ok(())
    })?;
    totals.unique_ips = by_ip.len() as u64;
    let previous = (start - (end - start), start);
    let mut previous_failed: i64 = 0;
    let mut previous_ips: HashSet<Vec<u8>> = HashSet::new();
    blocks::for_each_in(conn, previous.0, previous.1, |r| {
        if counted_failure(r, probes_count) {
            previous_failed += i64::from(r.count.max(1));
            if !previous_ips.contains(r.ip_bytes()) {
                previous_ips.insert(r.ip_bytes().to_vec());
            }
        }
        Ok(())
    })?;
    totals.previous_failed_attempts = previous_failed as u64;
    totals.previous_unique_ips = previous_ips.len() as u64;

    let name = |id: &i64| names.known(*id).unwrap_or_default().to_string();
    // The store keeps each address's first appearance (`ips`, see store::history).
    let mut first_seen = conn.prepare_cached("SELECT first_seen FROM ips WHERE ip = ?1")?;
    let ip_key = |ip: &IpAddr| ip_blob(ip)[..ip_len(ip)].to_vec();

    // Top IPs and new IPs: ranked by attempts, then address for a stable order.
    let mut ranked: Vec<(&IpAddr, &IpAgg)> = by_ip.iter().collect();
    ranked.sort_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(b.0)));
    let mut ip_row = |ip: &IpAddr, agg: &IpAgg, enrichment: &mut Enrichment| -> rusqlite::Result<IpRow> {
        let info = enrichment.get(conn, *ip)?;
        let first: Option<i64> = first_seen.query_row([ip_key(ip)], |r| r.get(0)).optional()?;
        Ok(IpRow {
            ip: ip.to_string(),
            attempts: agg.attempts,
            accounts: agg.users.len() as u64,
            hostname: info.hostname,
            country_code: info.country_code,
            asn: info.asn,
            aso: info.aso,
            first_seen: first.map(|t| period.format_ts(t)),
            last_seen: Some(period.format_ts(agg.last)),
        })
    };
    let mut top_ips = Vec::new();
    for (ip, agg) in ranked.iter().take(top) {
        top_ips.push(ip_row(ip, agg, &mut enrichment)?);
    }
    let mut seen_before = conn.prepare_cached("SELECT 1 FROM ips WHERE ip = ?1 AND first_seen < ?2")?;
    let mut new_ips = super::NewIps::default();
    for (ip, agg) in &ranked {
        if seen_before.query_row(params![ip_key(ip), start], |_| Ok(())).optional()?.is_none() {
            new_ips.count += 1;
            new_ips.attempts += agg.attempts;
            if new_ips.top.len() < top {
                new_ips.top.push(ip_row(ip, agg, &mut enrichment)?);
            }
        }
    }

    let mut users: Vec<UserRow> = by_user
        .iter()
        .map(|(id, u)| UserRow { username: name(id), attempts: u.attempts, ips: u.ips.len() as u64 })
        .collect();
    users.sort_by(|a, b| b.attempts.cmp(&a.attempts).then_with(|| a.username.cmp(&b.username)));
    users.truncate(top);

    let mut countries: HashMap<String, GroupAgg> = HashMap::new();
    let mut asns: HashMap<(String, String), GroupAgg> = HashMap::new();
    let mut networks: HashMap<String, GroupAgg> = HashMap::new();
    let mut dns: HashMap<String, GroupAgg> = HashMap::new();
    for (ip, agg) in &ranked {
        let info = if enrichment.available() { enrichment.get(conn, **ip)? } else { IpInfo::default() };
        let add = |g: &mut GroupAgg| {
            g.attempts += agg.attempts;
            g.ips.insert(**ip);
        };
        if enrichment.available() {
            add(countries.entry(info.country_code.clone().unwrap_or_else(|| "unknown".into())).or_default());
            let asn = info.asn.clone().unwrap_or_else(|| "unknown".into());
            add(asns.entry((asn, info.aso.clone().unwrap_or_default())).or_default());
            add(dns.entry(info.reverse_dns_status.clone().unwrap_or_else(|| "unknown".into())).or_default());
        }
        add(networks.entry(network_of(**ip)).or_default());
    }
    fn ranked_groups<K: Ord + Clone>(m: HashMap<K, GroupAgg>, top: usize) -> Vec<(K, u64, u64)> {
        let mut v: Vec<(K, u64, u64)> = m.into_iter().map(|(k, g)| (k, g.attempts, g.ips.len() as u64)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(top);
        v
    }
    let top_countries = ranked_groups(countries, top)
        .into_iter()
        .map(|(country_code, attempts, ips)| CountryRow { country_code, attempts, ips })
        .collect();
    let top_asns = ranked_groups(asns, top)
        .into_iter()
        .map(|((asn, aso), attempts, ips)| AsnRow { asn, aso, attempts, ips })
        .collect();
    let top_networks = ranked_groups(networks, top)
        .into_iter()
        .map(|(network, attempts, ips)| NetworkRow { network, attempts, ips })
        .collect();
    let reverse_dns = ranked_groups(dns, usize::MAX)
        .into_iter()
        .map(|(status, attempts, ips)| DnsRow { status, attempts, ips })
        .collect();
    let services = ranked_groups(by_service.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), usize::MAX)
        .into_iter()
        .map(|(service, attempts, ips)| ServiceRow { service, attempts, ips })
        .collect();
    backend.services = backend_services.into_iter().collect();

    let compromises = compromises(conn, period, &successes, &names, &mut enrichment, probes_count)?;
    let hour_rows = per_hour
        .iter()
        .enumerate()
        .map(|(i, &attempts)| HourRow { start: period.format_hour(start + i as i64 * 3600), attempts })
        .collect();
    Ok(Report {
        server: String::new(),
        version: String::new(),
        period: period.info(),
        enrichment: enrichment.available(),
        totals,
        compromises,
        top_ips,
        top_users: users,
        top_countries,
        top_asns,
        top_networks,
        per_hour: hour_rows,
        new_ips,
        reverse_dns,
        services,
        backend_outages: backend,
        last_scan: None,
    })
}

/// One counted failure read for the logins' look-back: (time, attempts, username id).
type Failure = (i64, i64, Option<i64>);

/// Successful logins that look like a guessed password: from an IP that failed (for any
/// account) in the 7 days before, or from a country the account never logged in from before.
fn compromises(
    conn: &Connection,
    period: &Period,
    successes: &BTreeMap<(Option<i64>, IpAddr), SuccessGroup>,
    names: &Names,
    enrichment: &mut Enrichment,
    probes_count: bool,
) -> rusqlite::Result<Vec<Compromise>> {
    // The logins' windows (the 7 days before each) are read in one pass over their union,
    // keeping the failures of the logins' addresses only: a pass per login would read the same
    // week again for each of thousands of logins.
    let mut earlier_ips = conn.prepare_cached("SELECT ip FROM logins WHERE username = ?1 AND first_seen < ?2")?;
    let window = |g: &SuccessGroup| (g.first - COMPROMISE_LOOKBACK_SECS, g.last);
    let mut looked_up: HashMap<Vec<u8>, Vec<Failure>> = HashMap::new();
    let mut union: Option<(i64, i64)> = None;
    for ((_, ip), g) in successes {
        let (lo, hi) = window(g);
        looked_up.insert(ip_blob(ip)[..ip_len(ip)].to_vec(), Vec::new());
        union = Some(union.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    if let Some((lo, hi)) = union {
        // A half-open period; the windows include the last login.
        blocks::for_each_in(conn, lo, hi.saturating_add(1), |r| {
            if counted_failure(r, probes_count)
                && let Some(list) = looked_up.get_mut(r.ip_bytes())
            {
                list.push((r.ts, i64::from(r.count.max(1)), r.username));
            }
            Ok(())
        })?;
    }
    let mut out = Vec::new();
    for ((_, ip), g) in successes {
        let (lo, hi) = window(g);
        let (mut failures, mut accounts) = (0_i64, HashSet::new());
        for &(ts, count, user) in looked_up.get(&ip_blob(ip)[..ip_len(ip)]).into_iter().flatten() {
            if (lo..=hi).contains(&ts) {
                failures += count;
                accounts.extend(user);
            }
        }
        let info = enrichment.get(conn, *ip)?;
        let mut why = Vec::new();
        if failures > 0 {
            why.push(CompromiseWhy::FailedBefore);
        }
        let mut previous_countries = Vec::new();
        if let (Some(user), Some(country)) = (g.user_id, info.country_code.as_ref()) {
            let ips: Vec<Vec<u8>> =
                earlier_ips.query_map(params![user, g.first], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            let mut seen = std::collections::BTreeSet::new();
            for earlier in ips.iter().filter_map(|b| ip_from_blob(b)) {
                if let Some(c) = enrichment.get(conn, earlier)?.country_code {
                    seen.insert(c);
                }
            }
            // An account with no located login before has no "usual" country to compare with.
            if !seen.is_empty() && !seen.contains(country) {
                why.push(CompromiseWhy::NewCountry);
            }
            previous_countries = seen.into_iter().collect();
        }
        if why.is_empty() {
            continue;
        }
        out.push(Compromise {
            username: g.user_id.and_then(|id| names.known(id).map(str::to_string)),
            ip: ip.to_string(),
            first_login: period.format_ts(g.first),
            logins: g.logins,
            service: g.service.clone(),
            why,
            failures_7d: failures as u64,
            failed_accounts_7d: accounts.len() as u64,
            hostname: info.hostname,
            country_code: info.country_code,
            previous_countries,
            asn: info.asn,
            aso: info.aso,
        });
    }
    out.sort_by(|a, b| a.first_login.cmp(&b.first_login).then_with(|| a.ip.cmp(&b.ip)));
    Ok(out)
}

/// One row of [`intrusion_csv`], its strings as ids into the texts gathered with the rows.
struct Intrusion {
    ts: i64,
    id: i64,
    reason: u8,
    count: u32,
    ip: IpAddr,
    /// `strings` ids of the server, service, username, mechanism and logged host name.
    strings: [Option<i64>; 5],
}

/// The period's intrusion rows, in the format (and with the header) of `intrusions.csv`, with the
/// enrichment columns filled when known: the email attachment.
pub fn intrusion_csv(conn: &Connection, period: &Period, probes_count: bool) -> rusqlite::Result<Vec<u8>> {
    use crate::store::csv::neutralise;
    let _snapshot = read_transaction(conn)?;
    let mut enrichment = Enrichment::new(conn)?;
    let mut out = crate::store::csv::HEADER.as_bytes().to_vec();
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    // Blocks interleave in time (two log files cover the same hours), so the rows are gathered
    // and sorted here; compactly, each string kept once in `texts` (already made safe for a
    // spreadsheet) and the rows holding its id. Within a block rows come in line order, which
    // is nearly time order: the sort mostly merges runs.
    let mut found: Vec<Intrusion> = Vec::new();
    let mut texts: HashMap<i64, String> = HashMap::new();
    let mut names = Names::default();
    blocks::for_each_in(conn, period.start.as_second(), period.end.as_second(), |r| {
        let Some(ip) = r.ip().filter(|_| counted_failure(r, probes_count)) else { return Ok(()) };
        let strings = [Some(r.server), Some(r.service), r.username, r.mechanism, r.logged_hostname];
        for id in strings.into_iter().flatten() {
            if let std::collections::hash_map::Entry::Vacant(slot) = texts.entry(id) {
                slot.insert(neutralise(names.get(conn, id)?).into_owned());
            }
        }
        found.push(Intrusion { ts: r.ts, id: r.key, reason: r.reason, count: r.count, ip, strings });
        Ok(())
    })?;
    found.sort_by_key(|i| (i.ts, i.id));
    let o = |s: &Option<String>| s.as_deref().map(|s| neutralise(s).into_owned()).unwrap_or_default();
    for i in &found {
        let info = enrichment.get(conn, i.ip)?;
        let time = jiff::Timestamp::from_second(i.ts)
            .map(|t| t.to_zoned_datetime(period.tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
            .unwrap_or_else(|_| i.ts.to_string());
        let reason = Reason::from_code(i.reason).map_or("unknown", Reason::as_str);
        let text = |k: usize| i.strings[k].and_then(|id| texts.get(&id)).map_or("", String::as_str);
        let (ip, hostname, rdns, country, asn, aso) = (
            i.ip.to_string(),
            o(&info.hostname),
            o(&info.reverse_dns_status),
            o(&info.country_code),
            o(&info.asn),
            o(&info.aso),
        );
        let record: [&str; 13] =
            [&time, text(0), text(1), &ip, text(2), text(3), reason, text(4), &hostname, &rdns, &country, &asn, &aso];
        for _ in 0..i.count.max(1) {
            w.write_record(record).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        }
    }
    let rows = w.into_inner().map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e.into_error())))?;
    out.extend_from_slice(&rows);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::{Detail, EventKey, Layer, OwnedEvent};
    use crate::store::csv::{IntrusionCsv, RowFormatter};
    use crate::store::{Batch, STORE_FILE, Store};

    /// One line: (source, offset, time, kind, ip, user, count).
    type Line = (u32, u64, &'static str, Kind, &'static str, &'static str, u32);

    fn output(&(source, offset, time, kind, ip, user, count): &Line) -> (EventKey, OwnedEvent) {
        (
            EventKey { source, offset },
            OwnedEvent {
                time: time.parse().unwrap(),
                server: "mx1".into(),
                detail: Detail {
                    kind,
                    reason: if kind == Kind::Success { Reason::LoginOk } else { Reason::PasswordMismatch },
                    service: "dovecot/imap-login".into(),
                    client_ip: ip.parse().unwrap(),
                    username: Some(user.into()),
                    mechanism: None,
                    logged_hostname: None,
                    count,
                    layer: Layer::LoginFront,
                    session: None,
                    duration_secs: None,
                },
            },
        )
    }

    /// A store holding `batches`, each committed the way a scan commits it.
    fn store_with(dir: &std::path::Path, batches: &[&[Line]]) -> Store {
        let mut store = Store::open(&dir.join(STORE_FILE)).unwrap();
        let (mut csv, _) = IntrusionCsv::open(&dir.join("intrusions.csv"), None).unwrap();
        let mut rows = RowFormatter::new(jiff::tz::TimeZone::UTC);
        for lines in batches {
            let batch = Batch::of(lines.iter().map(output));
            store.commit_batch(&batch, &mut csv, &mut rows, false, &mut |_| Default::default()).unwrap();
        }
        store
    }

    fn day(date: &str) -> Period {
        Period::day(date.parse().unwrap(), &jiff::tz::TimeZone::UTC).unwrap()
    }

    #[test]
    fn reports_read_every_block_once_and_only_the_period() {
        use Kind::{Failure, Success};
        let dir = tempfile::tempdir().unwrap();
        // Two log files covering the same hours, committed in several batches, so that the
        // period's events lie in several blocks whose times interleave, and some blocks also
        // hold events of the days around it.
        let store = store_with(
            dir.path(),
            &[
                &[
                    (1, 0, "2026-03-09T23:00:00Z", Failure, "198.51.100.1", "a", 2),
                    (1, 100, "2026-03-10T01:00:00Z", Failure, "198.51.100.1", "b", 1),
                    (2, 0, "2026-03-09T22:00:00Z", Failure, "198.51.100.2", "a", 1),
                    (2, 100, "2026-03-10T00:30:00Z", Failure, "198.51.100.1", "c", 1),
                ],
                &[
                    (1, 200, "2026-03-10T03:00:00Z", Failure, "198.51.100.3", "a", 1),
                    (2, 200, "2026-03-10T02:00:00Z", Failure, "198.51.100.3", "a", 1),
                    (2, 300, "2026-03-10T04:00:00Z", Success, "198.51.100.1", "c", 1),
                    (1, 300, "2026-03-11T00:00:00Z", Failure, "198.51.100.9", "a", 7),
                ],
            ],
        );
        let conn = store.connection();
        let period = day("2026-03-10");
        let r = collect(conn, &period, 10, false).unwrap();
        assert_eq!((r.totals.failed_attempts, r.totals.unique_ips), (4, 2));
        assert_eq!((r.totals.previous_failed_attempts, r.totals.previous_unique_ips), (3, 2));
        assert_eq!(r.totals.successful_logins, 1);
        // 198.51.100.1 failed 4 times for 3 accounts in the 7 days before its login, in both files.
        assert_eq!(r.compromises.len(), 1);
        assert_eq!((r.compromises[0].failures_7d, r.compromises[0].failed_accounts_7d), (4, 3));

        let csv = String::from_utf8(intrusion_csv(conn, &period, false).unwrap()).unwrap();
        let times: Vec<&str> = csv.lines().skip(1).map(|l| &l[11..19]).collect();
        assert_eq!(times, ["00:30:00", "01:00:00", "02:00:00", "03:00:00"], "in time order across the files");
    }

    #[test]
    fn each_login_counts_the_failures_of_its_own_week() {
        use Kind::{Failure, Success};
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(
            dir.path(),
            &[&[
                // Too old for both logins (more than 7 days before the first).
                (1, 0, "2026-03-01T23:00:00Z", Failure, "198.51.100.1", "x", 5),
                // Within the week of both.
                (1, 100, "2026-03-09T08:00:00Z", Failure, "198.51.100.1", "a", 2),
                (1, 300, "2026-03-10T10:00:00Z", Success, "198.51.100.1", "c", 1),
                (1, 400, "2026-03-10T12:00:00Z", Success, "198.51.100.1", "d", 1),
                // Another address's failures count for nobody here.
                (1, 500, "2026-03-10T11:00:00Z", Failure, "198.51.100.2", "c", 4),
                // After the first login, before the second: counts for the second only.
                (1, 550, "2026-03-10T11:30:00Z", Failure, "198.51.100.1", "b", 3),
                (1, 600, "2026-03-10T13:00:00Z", Success, "198.51.100.3", "e", 1),
            ]],
        );
        let r = collect(store.connection(), &day("2026-03-10"), 10, false).unwrap();
        let got: Vec<(String, Option<String>, u64, u64)> = r
            .compromises
            .iter()
            .map(|c| (c.ip.clone(), c.username.clone(), c.failures_7d, c.failed_accounts_7d))
            .collect();
        assert_eq!(
            got,
            [
                ("198.51.100.1".to_string(), Some("c".to_string()), 2, 1),
                ("198.51.100.1".to_string(), Some("d".to_string()), 5, 2),
            ]
        );
    }

    #[test]
    fn networks_are_slash_24_and_slash_64() {
        assert_eq!(network_of("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(network_of("2001:db8:1:2:3:4:5:6".parse().unwrap()), "2001:db8:1:2::/64");
    }

    #[test]
    fn services_are_classified_by_syslog_name() {
        assert_eq!(service_class("postfix/submission/smtpd"), "SMTP submission (587)");
        assert_eq!(service_class("postfix/smtps/smtpd"), "SMTPS (465)");
        assert_eq!(service_class("postfix/smtpd"), "SMTP (25)");
        assert_eq!(service_class("dovecot/imap-login"), "IMAP");
        assert_eq!(service_class("dovecot/pop3-login"), "POP3");
        assert_eq!(service_class("dovecot/auth"), "other");
    }
}
