//! The JSON report: the [`Report`] value, for scripts and dashboards. Texts from logs are given
//! as they were logged, escaped by JSON alone: the store keeps them made visible
//! ([`crate::text::visible`]), which is undone here ([`crate::text::unvisible`]; a byte that was
//! not UTF-8 becomes U+FFFD, as JSON text must be Unicode). Times are RFC 3339 with the
//! offset of the report's zone at that instant ([`When`]).
//!
//! Two things differ from the plain serialisation of [`Report`], so that a consumer reads every
//! part the same way: a country or AS the enrichment does not know is `null` everywhere (the
//! groups of countries and AS name it `unknown` for the text and HTML tables), and the backend
//! outages per service are objects (`{"service": ..., "events": ...}`) like every other list.

use std::borrow::Cow;

use serde::Serialize;

use super::{
    AlertRow, AsnRow, BackendOutages, Bucket, BucketRow, Compromise, CountryRow, DnsRow, IpRow, NetworkRow, NewIps,
    PeriodInfo, Report, ScanCoverage, ServiceRow, Totals, UserRow, When,
};
use crate::text::unvisible;

/// How the groups name a country or an AS the enrichment does not know.
const UNKNOWN: &str = "unknown";

/// The report as JSON has it, field for field in [`Report`]'s order.
#[derive(Serialize)]
struct Json<'a> {
    server: &'a str,
    version: &'a str,
    period: &'a PeriodInfo,
    enrichment: bool,
    totals: &'a Totals,
    compromises: &'a [Compromise],
    top_ips: &'a [IpRow],
    top_users: &'a [UserRow],
    top_countries: Vec<Country<'a>>,
    top_asns: Vec<Asn<'a>>,
    top_networks: &'a [NetworkRow],
    bucket: Bucket,
    per_hour: &'a [BucketRow],
    new_ips: &'a NewIps,
    reverse_dns: &'a [DnsRow],
    services: &'a [ServiceRow],
    backend_outages: Outages<'a>,
    alerts: &'a [AlertRow],
    last_scan: &'a Option<ScanCoverage>,
    notes: &'a [String],
    /// `report --fleet` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    servers: Option<Vec<Server<'a>>>,
    /// `report --fleet` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_attackers: Option<Shared<'a>>,
}

#[derive(Serialize)]
struct Server<'a> {
    server: &'a str,
    failed_attempts: u64,
    unique_ips: u64,
    successful_logins: u64,
    backend_errors: u64,
    last_shipment: Option<&'a str>,
}

#[derive(Serialize)]
struct Shared<'a> {
    count: u64,
    top: &'a [super::SharedAttacker],
}

#[derive(Serialize)]
struct Country<'a> {
    country_code: Option<&'a str>,
    attempts: u64,
    ips: u64,
}

#[derive(Serialize)]
struct Asn<'a> {
    asn: Option<&'a str>,
    aso: Option<Cow<'a, str>>,
    attempts: u64,
    ips: u64,
}

#[derive(Serialize)]
struct Outages<'a> {
    events: u64,
    first_seen: &'a Option<When>,
    last_seen: &'a Option<When>,
    services: Vec<OutageService<'a>>,
}

#[derive(Serialize)]
struct OutageService<'a> {
    service: Cow<'a, str>,
    events: u64,
}

/// `None` for the `unknown` of the groups (and for an empty name).
fn known(s: &str) -> Option<&str> {
    (s != UNKNOWN && !s.is_empty()).then_some(s)
}

/// Renders the report as pretty-printed JSON.
pub fn render(r: &Report) -> String {
    // Every field named, so that one added to the report cannot be left out here unnoticed.
    let Report {
        server,
        version,
        period,
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
        alerts,
        last_scan,
        notes,
        fleet,
    } = r;
    let BackendOutages { events, first: _, last: _, first_seen, last_seen, services: outage_services } =
        backend_outages;
    let json = Json {
        server,
        version,
        period,
        enrichment: *enrichment,
        totals,
        compromises,
        top_ips,
        top_users,
        top_countries: top_countries
            .iter()
            .map(|x: &CountryRow| Country { country_code: known(&x.country_code), attempts: x.attempts, ips: x.ips })
            .collect(),
        top_asns: top_asns
            .iter()
            .map(|x: &AsnRow| Asn {
                asn: known(&x.asn),
                aso: known(&x.aso).map(unvisible),
                attempts: x.attempts,
                ips: x.ips,
            })
            .collect(),
        top_networks,
        bucket: *bucket,
        per_hour,
        new_ips,
        reverse_dns,
        services,
        backend_outages: Outages {
            events: *events,
            first_seen,
            last_seen,
            services: outage_services
                .iter()
                .map(|(service, events)| OutageService { service: unvisible(service), events: *events })
                .collect(),
        },
        alerts,
        last_scan,
        notes,
        servers: fleet.as_ref().map(|f| {
            f.servers
                .iter()
                .map(|s| Server {
                    server: &s.server,
                    failed_attempts: s.failed_attempts,
                    unique_ips: s.unique_ips,
                    successful_logins: s.successful_logins,
                    backend_errors: s.backend_errors,
                    last_shipment: s.last_shipment.as_ref().map(|w| w.rfc3339.as_str()),
                })
                .collect()
        }),
        shared_attackers: fleet.as_ref().map(|f| Shared { count: f.shared_count, top: &f.shared }),
    };
    // Serialising plain structs of strings and numbers cannot fail; keep a message just in case.
    serde_json::to_string_pretty(&json).unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise report: {e}\"}}"))
}
