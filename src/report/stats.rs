//! The numbers behind a report, asked of the store's typed read API ([`Store::events_in`] and the
//! questions beside it).
//!
//! A report may cover a day (thousands to a few hundred thousand events) or a year (millions),
//! and must take well under a second for either. So the events are read once for every total
//! and ranking (`pass::read`) and aggregated by number: addresses as [`IpKey`]s, accounts and
//! services as [`TextId`]s, never as text. Only the rows a report shows are turned into text,
//! and what only they need is read by a second pass filtered by small sets (`pass::details`).
//!
//! The questions about history ("seen before?", "where did this account log in from before?")
//! are answered from the small history tables the scan keeps, so their cost does not grow with
//! the size of the store.
//!
//! A [`Source`] of several servers (the fleet database) gives each event its server's number, and
//! the same pass counts per server and finds the addresses that failed on several: the fleet's
//! own section comes from the read every section needs, not from more scans of the database.

mod pass;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::IpAddr;

use pass::{Map, Set};

use super::{
    AsnRow, BackendOutages, BucketRow, Compromise, CompromiseWhy, CountryRow, DnsRow, FleetSection, IpRow, NetworkRow,
    NewIps, Period, Report, ServerRow, ServiceRow, SharedAttacker, Totals, UserRow,
};
use crate::model::ipinfo::IpInfo;
use crate::store::postgres::{FleetDb, ServerInfo};
use crate::store::{EventRecord, IpKey, Result, Store, TextId};

/// Where a report's events and history come from: one server's store, or the fleet database
/// (`report --fleet`), which answers the same questions for every server at once.
pub trait Source {
    /// What keeps the reads of one report in one state of the source while it lives.
    fn hold(&self) -> Result<Box<dyn Held + '_>>;
    /// Calls `f` on every event with `start <= ts < end`.
    fn events_in(&self, start: i64, end: i64, f: impl FnMut(&EventRecord)) -> Result<()>;
    /// Calls `f` with the address and attempts of the counted failures with `start <= ts < end`:
    /// of each failure, or of each address once with their sum.
    fn previous_failures(&self, start: i64, end: i64, probes_count: bool, mut f: impl FnMut(IpKey, u64)) -> Result<()> {
        self.events_in(start, end, |e| {
            if e.is_counted_failure(probes_count) {
                f(e.ip, u64::from(e.count));
            }
        })
    }
    /// Calls `f` on the failures with `start <= ts < end` from one of `ips` or for one of
    /// `users`, and maybe on other events: a source that can only read whole periods (the local
    /// store, which decodes blocks) calls it on all of them, as [`Source::events_in`].
    fn failures_of(
        &self,
        start: i64,
        end: i64,
        _ips: &[IpKey],
        _users: &[TextId],
        f: impl FnMut(&EventRecord),
    ) -> Result<()> {
        self.events_in(start, end, f)
    }
    /// The servers of a source that holds several (a fleet), by name, whose events carry their
    /// server's number as `key.source`; `None` for one server's store.
    fn servers(&self) -> Result<Option<Vec<ServerInfo>>> {
        Ok(None)
    }
    /// The text of an id the events carry.
    fn text(&self, id: TextId) -> Result<String>;
    /// Whether any address has enrichment.
    fn has_enrichment(&self) -> Result<bool>;
    /// When each address was first seen.
    fn first_seen(&self, ips: &[IpKey]) -> Result<Vec<Option<i64>>>;
    /// The enrichment of each address.
    fn ip_infos(&self, ips: &[IpKey]) -> Result<Vec<Option<IpInfo>>>;
    /// The enrichment of one address.
    fn ip_info(&self, ip: IpAddr) -> Result<Option<IpInfo>>;
    /// The addresses an account first logged in from before `before`.
    fn earlier_login_ips(&self, user: TextId, before: i64) -> Result<Vec<IpAddr>>;
}

/// Anything held for its effect while it lives ([`Source::hold`]).
pub trait Held {}
impl<T> Held for T {}

impl Source for Store {
    fn hold(&self) -> Result<Box<dyn Held + '_>> {
        Ok(Box::new(self.snapshot()?))
    }
    fn events_in(&self, start: i64, end: i64, f: impl FnMut(&EventRecord)) -> Result<()> {
        Store::events_in(self, start, end, f)
    }
    fn text(&self, id: TextId) -> Result<String> {
        Store::text(self, id)
    }
    fn has_enrichment(&self) -> Result<bool> {
        Store::has_enrichment(self)
    }
    fn first_seen(&self, ips: &[IpKey]) -> Result<Vec<Option<i64>>> {
        Store::first_seen(self, ips)
    }
    fn ip_infos(&self, ips: &[IpKey]) -> Result<Vec<Option<IpInfo>>> {
        Store::ip_infos(self, ips)
    }
    fn ip_info(&self, ip: IpAddr) -> Result<Option<IpInfo>> {
        Store::ip_info(self, ip)
    }
    fn earlier_login_ips(&self, user: TextId, before: i64) -> Result<Vec<IpAddr>> {
        Store::earlier_login_ips(self, user, before)
    }
}

impl Source for FleetDb {
    fn hold(&self) -> Result<Box<dyn Held + '_>> {
        Ok(Box::new(FleetDb::snapshot(self)?))
    }
    fn events_in(&self, start: i64, end: i64, f: impl FnMut(&EventRecord)) -> Result<()> {
        Ok(FleetDb::events_in(self, start, end, f)?)
    }
    /// Summed by the database, per address: a month of the fleet is millions of failures.
    fn previous_failures(&self, start: i64, end: i64, probes_count: bool, f: impl FnMut(IpKey, u64)) -> Result<()> {
        Ok(FleetDb::failures_per_ip(self, start, end, probes_count, f)?)
    }
    /// Filtered by the database: the look-back of a day's logins is a week of the whole fleet's
    /// events, of which only the logins' addresses are wanted.
    fn failures_of(
        &self,
        start: i64,
        end: i64,
        ips: &[IpKey],
        users: &[TextId],
        f: impl FnMut(&EventRecord),
    ) -> Result<()> {
        Ok(FleetDb::failures_of(self, start, end, ips, users, f)?)
    }
    fn servers(&self) -> Result<Option<Vec<ServerInfo>>> {
        Ok(Some(FleetDb::servers(self)?))
    }
    fn text(&self, id: TextId) -> Result<String> {
        Ok(FleetDb::text(self, id))
    }
    fn has_enrichment(&self) -> Result<bool> {
        Ok(FleetDb::has_enrichment(self)?)
    }
    fn first_seen(&self, ips: &[IpKey]) -> Result<Vec<Option<i64>>> {
        Ok(FleetDb::first_seen(self, ips)?)
    }
    fn ip_infos(&self, ips: &[IpKey]) -> Result<Vec<Option<IpInfo>>> {
        Ok(FleetDb::ip_infos(self, ips)?)
    }
    fn ip_info(&self, ip: IpAddr) -> Result<Option<IpInfo>> {
        Ok(FleetDb::ip_info(self, ip)?)
    }
    fn earlier_login_ips(&self, user: TextId, before: i64) -> Result<Vec<IpAddr>> {
        Ok(FleetDb::earlier_login_ips(self, user, before)?)
    }
}

/// How far back a failure makes a later successful login from the same IP suspicious.
pub const COMPROMISE_LOOKBACK_SECS: i64 = 7 * 86_400;

/// The protocols of the service split, as shown; [`class_of`] gives a service's index.
const SERVICE_CLASSES: [&str; 7] =
    ["SMTP submission (587)", "SMTPS (465)", "SMTP (25)", "IMAP", "POP3", "ManageSieve", "other"];

/// The index in [`SERVICE_CLASSES`] of a syslog service name's protocol.
fn class_of(service: &str) -> u8 {
    let s = service.to_ascii_lowercase();
    if s.contains("submission") {
        0
    } else if s.contains("smtps") {
        1
    } else if s.starts_with("postfix") || s.contains("smtp") {
        2
    } else if s.contains("imap") {
        3
    } else if s.contains("pop3") {
        4
    } else if s.contains("managesieve") || s.contains("sieve") {
        5
    } else {
        6
    }
}

/// The protocol a syslog service name stands for, as shown in the service split.
pub fn service_class(service: &str) -> &'static str {
    SERVICE_CLASSES[usize::from(class_of(service))]
}

/// The /24 (IPv4) or /64 (IPv6) network of an address.
pub fn network_of(ip: IpAddr) -> String {
    let net = IpKey::of(ip).network().addr();
    format!("{net}/{}", if ip.is_ipv4() { 24 } else { 64 })
}

/// Attempts and distinct addresses of one group of addresses (a country, a network, ...).
#[derive(Clone, Copy, Debug, Default)]
struct Group {
    attempts: u64,
    ips: u64,
}

impl Group {
    /// Counts one address with `attempts`.
    fn add(&mut self, attempts: u64) {
        self.attempts += attempts;
        self.ips += 1;
    }
}

/// The `top` groups by attempts, ties in the order of their labels. `label` is asked only of
/// the groups that can make the cut: a year has hundreds of thousands of networks.
fn top_groups<K, L: Ord>(
    groups: impl IntoIterator<Item = (K, Group)>,
    top: usize,
    mut label: impl FnMut(&K) -> Result<L>,
) -> Result<Vec<(K, L, Group)>> {
    let mut all: Vec<(K, Group)> = groups.into_iter().collect();
    if top == 0 {
        return Ok(Vec::new());
    }
    if top < all.len() {
        all.select_nth_unstable_by(top - 1, |a, b| b.1.attempts.cmp(&a.1.attempts));
        let cut = all[top - 1].1.attempts;
        all.retain(|(_, g)| g.attempts >= cut);
    }
    let mut labelled = all.into_iter().map(|(k, g)| Ok((label(&k)?, k, g))).collect::<Result<Vec<_>>>()?;
    labelled.sort_by(|a, b| b.2.attempts.cmp(&a.2.attempts).then_with(|| a.0.cmp(&b.0)));
    labelled.truncate(top);
    Ok(labelled.into_iter().map(|(l, k, g)| (k, l, g)).collect())
}

/// An address's enrichment as the report shows it (none when the store has none).
struct Shown {
    hostname: Option<String>,
    country_code: Option<String>,
    asn: Option<String>,
    aso: Option<String>,
}

impl From<Option<IpInfo>> for Shown {
    fn from(info: Option<IpInfo>) -> Shown {
        let info = info.unwrap_or_default();
        Shown {
            hostname: info.hostname,
            country_code: info.country_code,
            asn: info.asn.map(|a| a.to_string()),
            aso: info.aso,
        }
    }
}

/// Builds the report for `period`; `top` rows per table, mechanism probes counted when
/// `probes_count` (the `[scan]` setting).
pub fn collect(store: &impl Source, period: &Period, top: usize, probes_count: bool) -> Result<Report> {
    let _snapshot = store.hold()?;
    let (start, end) = (period.start.as_second(), period.end.as_second());
    let enrichment = store.has_enrichment()?;
    let bucket = period.bucket();
    let bounds = period.bucket_bounds();
    let servers = store.servers()?;
    let ids = servers.as_ref().map(|list| list.iter().map(|s| s.id).collect());
    let p = pass::read(store, start, end, &bounds, probes_count, ids)?;

    // The period's addresses ranked by attempts, then address for a stable order.
    let mut ranked: Vec<(IpKey, pass::IpStats)> =
        p.ips.iter().filter(|(_, s)| s.attempts > 0).map(|(k, s)| (k, *s)).collect();
    ranked.sort_unstable_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(&b.0)));
    let keys: Vec<IpKey> = ranked.iter().map(|r| r.0).collect();
    let totals = Totals {
        failed_attempts: p.failed,
        unique_ips: ranked.len() as u64,
        previous_failed_attempts: p.previous_failed,
        previous_unique_ips: p.ips.iter().filter(|(_, s)| s.flags & pass::PREVIOUS != 0).count() as u64,
        successful_logins: p.successful,
        mechanism_probes: p.probes,
    };
    let first_seen = store.first_seen(&keys)?;
    let infos = if enrichment { store.ip_infos(&keys)? } else { vec![None; keys.len()] };
    // The rows shown (places in `ranked`): the top addresses, and the top of those new in the
    // period.
    let mut new_ips = NewIps::default();
    let mut new_top = Vec::new();
    for (i, (_, stats)) in ranked.iter().enumerate() {
        if first_seen[i].is_none_or(|t| t >= start) {
            new_ips.count += 1;
            new_ips.attempts += stats.attempts;
            if new_top.len() < top {
                new_top.push(i);
            }
        }
    }
    let shared = p.servers.as_ref().map(shared_attackers).unwrap_or_default();
    let shown_ips = (0..ranked.len().min(top))
        .chain(new_top.iter().copied())
        .map(|i| ranked[i].0)
        .chain(shared.iter().take(top).map(|s| s.0));

    let users = p.user_attempts.iter().enumerate().filter(|(_, n)| **n > 0);
    let top_users = top_groups(users.map(|(u, &n)| (u as u32, Group { attempts: n, ips: 0 })), top, |&u| {
        store.text(p.users.ids[u as usize])
    })?;
    let shown_users = top_users.iter().map(|u| p.users.ids[u.0 as usize]);
    let details = pass::details(store, (start, end), shown_ips, shown_users, &p.successes, probes_count)?;

    let ip_row = |i: usize| -> IpRow {
        let (ip, stats) = &ranked[i];
        let info = Shown::from(infos[i].clone());
        IpRow {
            ip: ip.addr().to_string(),
            attempts: stats.attempts,
            accounts: details.ip_users.get(ip).map_or(0, |u| u.len() as u64),
            hostname: info.hostname,
            country_code: info.country_code,
            asn: info.asn,
            aso: info.aso,
            first_seen: first_seen[i].map(|t| period.when(t)),
            last_seen: Some(period.when(stats.last)),
        }
    };
    let top_ips = (0..ranked.len().min(top)).map(ip_row).collect();
    new_ips.top = new_top.iter().map(|&i| ip_row(i)).collect();
    let top_users = top_users
        .into_iter()
        .map(|(n, username, g)| UserRow {
            username,
            attempts: g.attempts,
            ips: details.user_ips.get(&p.users.ids[n as usize]).map_or(0, |ips| ips.len() as u64),
        })
        .collect();

    // Groups of addresses: every address of the period counts once in its group.
    let mut networks: Map<IpKey, Group> = Map::default();
    let mut countries: Map<&str, Group> = Map::default();
    let mut asns: Map<(Option<u32>, &str), Group> = Map::default();
    let mut dns: Map<&str, Group> = Map::default();
    for (i, (ip, stats)) in ranked.iter().enumerate() {
        let agg = stats.attempts;
        networks.entry(ip.network()).or_default().add(agg);
        if enrichment {
            let info = infos[i].as_ref();
            let country = info.and_then(|i| i.country_code.as_deref()).unwrap_or("unknown");
            countries.entry(country).or_default().add(agg);
            let aso = info.and_then(|i| i.aso.as_deref()).unwrap_or_default();
            asns.entry((info.and_then(|i| i.asn), aso)).or_default().add(agg);
            let status = info.and_then(|i| i.rdns_status).map_or("unknown", |s| s.as_str());
            dns.entry(status).or_default().add(agg);
        }
    }
    let top_networks = top_groups(networks, top, |net| Ok(network_of(net.addr())))?
        .into_iter()
        .map(|(_, network, g)| NetworkRow { network, attempts: g.attempts, ips: g.ips })
        .collect();
    let top_countries = top_groups(countries, top, |c| Ok(c.to_string()))?
        .into_iter()
        .map(|(_, country_code, g)| CountryRow { country_code, attempts: g.attempts, ips: g.ips })
        .collect();
    let asn_label = |(asn, aso): &(Option<u32>, &str)| {
        Ok((asn.map_or_else(|| "unknown".to_string(), |a| a.to_string()), aso.to_string()))
    };
    let top_asns = top_groups(asns, top, asn_label)?
        .into_iter()
        .map(|(_, (asn, aso), g)| AsnRow { asn, aso, attempts: g.attempts, ips: g.ips })
        .collect();
    let reverse_dns = top_groups(dns, usize::MAX, |s| Ok(s.to_string()))?
        .into_iter()
        .map(|(_, status, g)| DnsRow { status, attempts: g.attempts, ips: g.ips })
        .collect();
    let mut classes = [Group::default(); SERVICE_CLASSES.len()];
    for (_, stats) in &ranked {
        let flags = stats.flags;
        for (c, group) in classes.iter_mut().enumerate() {
            group.ips += u64::from(flags >> c & 1);
        }
    }
    for (c, group) in classes.iter_mut().enumerate() {
        group.attempts = p.class_attempts[c];
    }
    // Only the protocols that had failures.
    let used = classes.iter().enumerate().filter(|(_, g)| g.ips > 0).map(|(c, g)| (c, *g));
    let services = top_groups(used, usize::MAX, |&c| Ok(SERVICE_CLASSES[c]))?
        .into_iter()
        .map(|(_, service, g)| ServiceRow { service: service.to_string(), attempts: g.attempts, ips: g.ips })
        .collect();

    let mut backend_services =
        p.backend_services.iter().map(|(id, &n)| Ok((store.text(*id)?, n))).collect::<Result<Vec<(String, u64)>>>()?;
    backend_services.sort();
    let backend_outages = BackendOutages {
        events: p.backend_events,
        first: p.backend_first,
        last: p.backend_last,
        first_seen: None,
        last_seen: None,
        services: backend_services,
    };

    let compromises = compromises(store, period, &p.successes, &details.look_back, enrichment)?;
    let fleet = match (&servers, &p.servers) {
        (Some(servers), Some(tally)) => Some(fleet_section(servers, tally, shared, top, &details, period)),
        _ => None,
    };
    let per_hour = p
        .per_bucket
        .iter()
        .zip(&bounds)
        .map(|(&attempts, &at)| BucketRow { start: period.when_bucket(at, bucket), attempts })
        .collect();
    Ok(Report {
        server: String::new(),
        version: String::new(),
        period: period.info(),
        enrichment,
        totals,
        compromises,
        top_ips,
        top_users,
        top_countries,
        top_asns,
        top_networks,
        bucket,
        per_hour,
        new_ips,
        reverse_dns,
        services,
        backend_outages,
        alerts: Vec::new(),
        last_scan: None,
        notes: Vec::new(),
        fleet,
    })
}

/// The addresses that failed on several servers with their attempts on all of them, the most
/// attempts first.
fn shared_attackers(tally: &pass::Servers) -> Vec<(IpKey, u64)> {
    let mut shared: Vec<(IpKey, u64)> = tally.shared().collect();
    shared.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    shared
}

/// A fleet's own section: every server's numbers over the period, and the `top` of the
/// addresses that failed on several servers.
fn fleet_section(
    servers: &[ServerInfo],
    tally: &pass::Servers,
    shared: Vec<(IpKey, u64)>,
    top: usize,
    details: &pass::Details,
    period: &Period,
) -> FleetSection {
    let unique = tally.unique_ips();
    let rows = servers
        .iter()
        .map(|s| {
            let [failed, logins, backend] = tally.sums_of(s.id);
            ServerRow {
                server: s.name.clone(),
                failed_attempts: failed,
                unique_ips: unique.iter().find(|u| u.0 == s.id).map_or(0, |u| u.1),
                successful_logins: logins,
                backend_errors: backend,
                last_shipment: s.last_shipment.map(|t| period.when(t)),
            }
        })
        .collect();
    let shared_count = shared.len() as u64;
    let shared = shared
        .into_iter()
        .take(top)
        .map(|(ip, attempts)| {
            let mut names: Vec<String> = tally
                .servers_of(ip)
                .into_iter()
                .filter_map(|id| servers.iter().find(|s| s.id == id).map(|s| s.name.clone()))
                .collect();
            names.sort();
            SharedAttacker {
                ip: ip.addr().to_string(),
                servers: names,
                attempts,
                accounts: details.ip_users.get(&ip).map_or(0, |u| u.len() as u64),
            }
        })
        .collect();
    FleetSection { servers: rows, shared_count, shared }
}

/// The addresses of the period's possible compromises (the logins the report lists first), each
/// once: for the blocklist, which never lists an address that logged in unless this rule flags it.
pub fn compromise_ips(store: &impl Source, period: &Period, probes_count: bool) -> Result<Vec<IpAddr>> {
    let _snapshot = store.hold()?;
    let (start, end) = (period.start.as_second(), period.end.as_second());
    let p = pass::read(store, start, end, &[], probes_count, None)?;
    let details = pass::details(store, (start, end), [], [], &p.successes, probes_count)?;
    let found = compromises(store, period, &p.successes, &details.look_back, store.has_enrichment()?)?;
    let ips: BTreeSet<IpAddr> = found.iter().filter_map(|c| c.ip.parse().ok()).collect();
    Ok(ips.into_iter().collect())
}

/// Successful logins that look like a guessed password: from an IP that failed (for any
/// account) in the 7 days before, or from a country the account never logged in from before.
fn compromises(
    store: &impl Source,
    period: &Period,
    successes: &Map<(Option<TextId>, IpKey), pass::SuccessGroup>,
    failures: &Map<IpKey, Vec<pass::LookBack>>,
    enrichment: bool,
) -> Result<Vec<Compromise>> {
    let info = |ip: IpAddr| -> Result<Option<IpInfo>> { if enrichment { store.ip_info(ip) } else { Ok(None) } };
    // By account, then address: the order of logins with the same time and address.
    let mut groups: Vec<_> = successes.iter().collect();
    groups.sort_unstable_by_key(|(k, _)| **k);
    let mut out = Vec::new();
    for (&(user, ip), g) in groups {
        let (lo, hi) = g.window();
        let (mut failed, mut accounts) = (0, Set::default());
        for &(ts, count, account) in failures.get(&ip).into_iter().flatten() {
            if (lo..=hi).contains(&ts) {
                failed += count;
                accounts.extend(account);
            }
        }
        let shown = Shown::from(info(ip.addr())?);
        let mut why = Vec::new();
        if failed > 0 {
            why.push(CompromiseWhy::FailedBefore);
        }
        let mut previous_countries = Vec::new();
        if let (Some(user), Some(country)) = (user, shown.country_code.as_ref()) {
            let mut seen = BTreeSet::new();
            for earlier in store.earlier_login_ips(user, g.first)? {
                if let Some(c) = info(earlier)?.and_then(|i| i.country_code) {
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
            username: user.map(|id| store.text(id)).transpose()?,
            ip: ip.addr().to_string(),
            first_login: period.when(g.first),
            logins: g.logins,
            service: store.text(g.service)?,
            why,
            failures_7d: failed,
            failed_accounts_7d: accounts.len() as u64,
            hostname: shown.hostname,
            country_code: shown.country_code,
            previous_countries,
            asn: shown.asn,
            aso: shown.aso,
        });
    }
    out.sort_by(|a, b| a.first_login.unix.cmp(&b.first_login.unix).then_with(|| a.ip.cmp(&b.ip)));
    Ok(out)
}
