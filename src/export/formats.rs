//! A blocklist written for the tool that loads it.
//!
//! - `nft`: a script for `nft -f`, one transaction: it declares (creating when missing) the
//!   table `inet maillogsentinel` with the sets `maillogsentinel_v4` and `maillogsentinel_v6`
//!   (`flags interval, timeout`), flushes them and adds the elements, each with the timeout, so
//!   that the sets are replaced atomically and an address no longer exported expires.
//! - `ipset`: input for `ipset restore`: builds `maillogsentinel_v4_new` (and `_v6_new`), swaps
//!   it with the live set (created when missing) and destroys the old one.
//! - `plain`: one address or prefix per line, IPv4 first.
//! - `json`: the entries with their numbers.

use std::fmt::Write;

use ipnet::IpNet;
use serde::Serialize;

use super::blocklist::{Blocklist, Entry};
use crate::report::Period;

/// The nftables table holding the sets (family `inet`).
pub const NFT_TABLE: &str = "maillogsentinel";
/// The set of IPv4 entries (nftables and ipset).
pub const SET_V4: &str = "maillogsentinel_v4";
/// The set of IPv6 entries (nftables and ipset).
pub const SET_V6: &str = "maillogsentinel_v6";

/// How a prefix is written: an address alone for a single one.
fn shown(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() { net.addr().to_string() } else { net.to_string() }
}

/// The comment heading the nft and ipset files.
fn header(list: &Blocklist, period: &Period) -> String {
    format!(
        "# MailLogSentinel blocklist {}: {} IPv4 and {} IPv6 entries, period {} ({})\n",
        env!("CARGO_PKG_VERSION"),
        list.v4.len(),
        list.v6.len(),
        period.label(),
        period.tz.iana_name().unwrap_or("UTC"),
    )
}

/// The `nft -f` script; elements expire after `timeout_secs`.
pub fn nft(list: &Blocklist, period: &Period, timeout_secs: u64) -> String {
    let mut out = String::from("#!/usr/sbin/nft -f\n");
    out.push_str(&header(list, period));
    out.push_str(
        "# Loading it replaces the sets' elements in one transaction and adds no rule: the sets block\n\
         # nothing until a rule of this table uses them (README, \"Blocklist\"), e.g.\n\
         #   ip saddr @maillogsentinel_v4 drop; ip6 saddr @maillogsentinel_v6 drop\n",
    );
    let _ = write!(
        out,
        "table inet {NFT_TABLE} {{\n\
         \tset {SET_V4} {{\n\t\ttype ipv4_addr\n\t\tflags interval, timeout\n\t}}\n\
         \tset {SET_V6} {{\n\t\ttype ipv6_addr\n\t\tflags interval, timeout\n\t}}\n}}\n\
         flush set inet {NFT_TABLE} {SET_V4}\n\
         flush set inet {NFT_TABLE} {SET_V6}\n"
    );
    for (set, entries) in [(SET_V4, &list.v4), (SET_V6, &list.v6)] {
        // nft refuses an empty element list; the flush above already emptied the set.
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(out, "add element inet {NFT_TABLE} {set} {{");
        for (i, e) in entries.iter().enumerate() {
            let sep = if i + 1 == entries.len() { "" } else { "," };
            let _ = writeln!(out, "\t{} timeout {timeout_secs}s{sep}", shown(&e.net));
        }
        out.push_str("}\n");
    }
    out
}

/// The `ipset restore` input; entries expire after `timeout_secs`.
pub fn ipset(list: &Blocklist, period: &Period, timeout_secs: u64) -> String {
    let mut out = header(list, period);
    out.push_str("# Load with `ipset -exist restore -file FILE`: the new sets are swapped in whole.\n");
    for (set, family, entries) in [(SET_V4, "inet", &list.v4), (SET_V6, "inet6", &list.v6)] {
        let create = format!("hash:net family {family} timeout {timeout_secs}");
        let _ = writeln!(out, "create {set} {create}");
        let _ = writeln!(out, "create {set}_new {create}");
        let _ = writeln!(out, "flush {set}_new");
        for e in entries {
            let _ = writeln!(out, "add {set}_new {} timeout {timeout_secs}", shown(&e.net));
        }
        let _ = writeln!(out, "swap {set}_new {set}");
        let _ = writeln!(out, "destroy {set}_new");
    }
    out
}

/// One address or prefix per line, IPv4 first.
pub fn plain(list: &Blocklist) -> String {
    list.v4.iter().chain(&list.v6).map(|e| shown(&e.net) + "\n").collect()
}

/// One entry in JSON.
#[derive(Serialize)]
struct JsonEntry<'a> {
    address: String,
    attempts: u64,
    accounts: u64,
    first_seen: String,
    last_seen: String,
    country: Option<&'a str>,
    asn: Option<u32>,
    aso: Option<&'a str>,
}

/// The whole JSON document.
#[derive(Serialize)]
struct JsonList<'a> {
    version: &'static str,
    period: PeriodJson,
    min_attempts: u64,
    timeout_secs: u64,
    ipv4: Vec<JsonEntry<'a>>,
    ipv6: Vec<JsonEntry<'a>>,
}

#[derive(Serialize)]
struct PeriodJson {
    start: String,
    end: String,
}

/// The entries as JSON: address (or prefix), attempts, accounts, first and last seen (RFC 3339
/// in the period's zone), country, AS number and organisation (`null` when unknown).
pub fn json(list: &Blocklist, period: &Period, min_attempts: u64, timeout_secs: u64) -> String {
    fn entry<'a>(e: &'a Entry, period: &Period) -> JsonEntry<'a> {
        JsonEntry {
            address: shown(&e.net),
            attempts: e.attempts,
            accounts: e.accounts,
            first_seen: period.when(e.first).rfc3339,
            last_seen: period.when(e.last).rfc3339,
            country: e.country_code.as_deref(),
            asn: e.asn,
            aso: e.aso.as_deref(),
        }
    }
    let doc = JsonList {
        version: env!("CARGO_PKG_VERSION"),
        period: PeriodJson {
            start: period.when(period.start.as_second()).rfc3339,
            end: period.when(period.end.as_second()).rfc3339,
        },
        min_attempts,
        timeout_secs,
        ipv4: list.v4.iter().map(|e| entry(e, period)).collect(),
        ipv6: list.v6.iter().map(|e| entry(e, period)).collect(),
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
