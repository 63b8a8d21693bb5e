//! Which addresses a blocklist holds.
//!
//! An address is listed when, in the period, it made at least `min_attempts` counted failed
//! attempts, and it is in no allowed network, not loopback, private, link-local or unspecified
//! (unless asked), and never logged in successfully (the `logins` history, up to the period's
//! end) unless one of those logins is a possible compromise of the period (the report's rule,
//! [`crate::report::stats::compromise_ips`]). With `aggregate`, neighbours merge into the
//! largest prefixes all of whose addresses are listed.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::ipinfo::IpInfo;
use crate::report::Period;
use crate::store::{IpKey, Result, Store, TextId};

/// What to list.
#[derive(Clone, Debug)]
pub struct Options {
    /// The period whose failures count.
    pub period: Period,
    /// Fewest counted failed attempts in the period for an address to be listed.
    pub min_attempts: u64,
    /// Networks never listed.
    pub allow: Vec<IpNet>,
    /// List loopback, private, link-local and unspecified addresses too.
    pub include_private: bool,
    /// Merge neighbours into prefixes.
    pub aggregate: bool,
    /// Count mechanism probes as attempts (the `[scan]` setting).
    pub probes_count: bool,
}

/// One listed address or prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The address (as a /32 or /128) or the merged prefix.
    pub net: IpNet,
    /// Counted failed attempts in the period (summed over a prefix).
    pub attempts: u64,
    /// Distinct accounts tried.
    pub accounts: u64,
    /// First failure in the period (Unix seconds).
    pub first: i64,
    /// Last failure in the period.
    pub last: i64,
    /// Country (for a prefix: when all its addresses share it).
    pub country_code: Option<String>,
    /// AS number (for a prefix: when shared).
    pub asn: Option<u32>,
    /// AS organisation (for a prefix: when shared).
    pub aso: Option<String>,
}

/// Why addresses with enough failures were left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// In `--allow`, `--allow-file` or `[blocklist] allow`.
    pub allowed: u64,
    /// Loopback, private, link-local or unspecified.
    pub private: u64,
    /// Logged in successfully, and no login flagged as a possible compromise.
    pub logged_in: u64,
}

/// The listed addresses of a period, IPv4 and IPv6 apart, each in address order.
#[derive(Clone, Debug, Default)]
pub struct Blocklist {
    /// IPv4 entries.
    pub v4: Vec<Entry>,
    /// IPv6 entries.
    pub v6: Vec<Entry>,
    /// What was left out.
    pub skipped: Skipped,
}

/// Whether `ip` is loopback, private (RFC 1918, shared 100.64/10, IPv6 unique local),
/// link-local or unspecified: addresses of one's own networks, never an attacker's to block.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || v6.is_unspecified() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
    }
}

/// One address's numbers while the period is read.
#[derive(Debug)]
struct Acc {
    attempts: u64,
    accounts: HashSet<TextId>,
    first: i64,
    last: i64,
}

/// Builds the blocklist of `opts.period`.
pub fn build(store: &Store, opts: &Options) -> Result<Blocklist> {
    let _snapshot = store.snapshot()?;
    let (start, end) = (opts.period.start.as_second(), opts.period.end.as_second());
    let mut per_ip: BTreeMap<IpKey, Acc> = BTreeMap::new();
    store.events_in(start, end, |e| {
        if !e.is_counted_failure(opts.probes_count) {
            return;
        }
        let acc = per_ip.entry(e.ip).or_insert_with(|| Acc {
            attempts: 0,
            accounts: HashSet::new(),
            first: e.ts,
            last: e.ts,
        });
        acc.attempts += u64::from(e.count);
        acc.accounts.extend(e.username);
        acc.first = acc.first.min(e.ts);
        acc.last = acc.last.max(e.ts);
    })?;
    per_ip.retain(|_, a| a.attempts >= opts.min_attempts.max(1));
    let logged_in = store.login_ips_before(end)?;
    let compromised: HashSet<IpAddr> = if per_ip.keys().any(|k| logged_in.contains(k)) {
        crate::report::stats::compromise_ips(store, &opts.period, opts.probes_count)?.into_iter().collect()
    } else {
        HashSet::new()
    };
    let mut out = Blocklist::default();
    let mut listed: Vec<(IpKey, Acc)> = Vec::new();
    for (key, acc) in per_ip {
        let ip = key.addr();
        if opts.allow.iter().any(|net| net.contains(&ip)) {
            out.skipped.allowed += 1;
        } else if !opts.include_private && is_private(ip) {
            out.skipped.private += 1;
        } else if logged_in.contains(&key) && !compromised.contains(&ip) {
            out.skipped.logged_in += 1;
        } else {
            listed.push((key, acc));
        }
    }
    let keys: Vec<IpKey> = listed.iter().map(|(k, _)| *k).collect();
    let infos = if store.has_enrichment()? { store.ip_infos(&keys)? } else { vec![None; keys.len()] };
    let singles: Vec<(Entry, HashSet<TextId>)> = listed
        .into_iter()
        .zip(infos)
        .map(|((key, acc), info)| {
            let info = info.unwrap_or_else(IpInfo::default);
            let entry = Entry {
                net: IpNet::from(key.addr()),
                attempts: acc.attempts,
                accounts: acc.accounts.len() as u64,
                first: acc.first,
                last: acc.last,
                country_code: info.country_code,
                asn: info.asn,
                aso: info.aso,
            };
            (entry, acc.accounts)
        })
        .collect();
    let entries = if opts.aggregate { aggregate(singles) } else { singles.into_iter().map(|(e, _)| e).collect() };
    for e in entries {
        if matches!(e.net, IpNet::V4(_)) { out.v4.push(e) } else { out.v6.push(e) }
    }
    Ok(out)
}

/// Merges neighbouring addresses into the largest prefixes all of whose addresses are listed
/// (`IpNet::aggregate`), each with the sums of its addresses' numbers.
fn aggregate(singles: Vec<(Entry, HashSet<TextId>)>) -> Vec<Entry> {
    let nets: Vec<IpNet> = singles.iter().map(|(e, _)| e.net).collect();
    let merged = IpNet::aggregate(&nets);
    // Both lists are in address order: each prefix takes the run of addresses it contains.
    let mut rest = singles.into_iter().peekable();
    let mut out = Vec::with_capacity(merged.len());
    for net in merged {
        let mut members: Vec<(Entry, HashSet<TextId>)> = Vec::new();
        while let Some((e, _)) = rest.peek() {
            if !net.contains(&e.net) {
                break;
            }
            members.extend(rest.next());
        }
        let Some((first, _)) = members.first() else { continue };
        let shared = |f: &dyn Fn(&Entry) -> Option<String>| {
            let v = f(first);
            members.iter().all(|(e, _)| f(e) == v).then_some(v).flatten()
        };
        let country_code = shared(&|e| e.country_code.clone());
        let aso = shared(&|e| e.aso.clone());
        let asn = members.iter().all(|(e, _)| e.asn == first.asn).then_some(first.asn).flatten();
        let accounts: HashSet<TextId> = members.iter().flat_map(|(_, a)| a.iter().copied()).collect();
        out.push(Entry {
            net,
            attempts: members.iter().map(|(e, _)| e.attempts).sum(),
            accounts: accounts.len() as u64,
            first: members.iter().map(|(e, _)| e.first).min().unwrap_or(first.first),
            last: members.iter().map(|(e, _)| e.last).max().unwrap_or(first.last),
            country_code,
            asn,
            aso,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["198.51.100.7", "8.8.8.8", "2001:db8::1", "100.128.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
