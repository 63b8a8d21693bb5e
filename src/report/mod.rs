//! `maillogsentinel report`: what happened in a period, built from the store.
//!
//! [`stats::collect`] turns the store into a [`Report`] (plain data); [`text`], [`html`] and
//! [`json`] render that same value, so the three formats always carry the same facts; [`text`]
//! and [`html`] draw it through one [`sections`] model, so they also agree on what is shown in
//! which order.
//! Values that came from a log (usernames, host names) are held as the store keeps them, made
//! visible ([`crate::text::visible`]), and each renderer escapes them for its own medium: HTML
//! escaping in [`html`], visible control characters in [`text`], and in [`json`] the text as
//! logged ([`crate::text::unvisible`]) escaped by JSON alone. Times are [`When`]s: local time as
//! text and HTML show it, RFC 3339 with the zone's offset in JSON.

pub mod format;
pub mod html;
pub mod json;
pub mod sections;
pub mod stats;
pub mod text;

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, ZonedDateTime};
use serde::Serialize;

use crate::store::postgres::FleetDb;
use crate::store::{STORE_FILE, Store, StoreError};

/// The tool's version, shown in every report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A half-open time range `[start, end)` and how to show it.
#[derive(Clone, Debug)]
pub struct Period {
    /// First second included.
    pub start: Timestamp,
    /// First second not included.
    pub end: Timestamp,
    /// Zone the report is written in.
    pub tz: TimeZone,
    /// The calendar day, when the period is exactly one (`--day`, or the default).
    pub day: Option<jiff::civil::Date>,
}

/// Why a period could not be understood.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PeriodError(String);

impl Period {
    /// The calendar day `day` in `tz` (23 or 25 hours long on DST changes).
    pub fn day(day: jiff::civil::Date, tz: &TimeZone) -> Result<Period, PeriodError> {
        let err = |e: jiff::Error| PeriodError(format!("day {day}: {e}"));
        let start = day.to_zoned_datetime(tz.clone()).map_err(err)?;
        let next = day.checked_add(1.day()).map_err(err)?.to_zoned_datetime(tz.clone()).map_err(err)?;
        Ok(Period { start: start.timestamp(), end: next.timestamp(), tz: tz.clone(), day: Some(day) })
    }

    /// The calendar day before the one `now` is in: the default report period.
    pub fn previous_day(now: &ZonedDateTime) -> Result<Period, PeriodError> {
        let yesterday = now.date().checked_sub(1.day()).map_err(|e| PeriodError(e.to_string()))?;
        Period::day(yesterday, now.time_zone())
    }

    /// The `since` seconds before `now`.
    pub fn since(secs: i64, now: Timestamp, tz: &TimeZone) -> Result<Period, PeriodError> {
        let start = now
            .checked_sub(jiff::SignedDuration::from_secs(secs))
            .map_err(|e| PeriodError(format!("--since reaches too far back: {e}")))?;
        Ok(Period { start, end: now, tz: tz.clone(), day: None })
    }

    /// Length in seconds.
    pub fn secs(&self) -> i64 {
        self.end.as_second() - self.start.as_second()
    }

    /// `2026-11-23` for a day, else `2026-11-23 07:00 – 2026-11-24 07:00`.
    pub fn label(&self) -> String {
        match self.day {
            Some(d) => d.to_string(),
            None => format!(
                "{} – {}",
                self.start.to_zoned_datetime(self.tz.clone()).strftime("%Y-%m-%d %H:%M"),
                self.end.to_zoned_datetime(self.tz.clone()).strftime("%Y-%m-%d %H:%M")
            ),
        }
    }

    /// Unix seconds as local `YYYY-MM-DD HH:MM:SS`.
    pub fn format_ts(&self, ts: i64) -> String {
        self.when(ts).shown
    }

    /// Unix seconds as a [`When`] shown `YYYY-MM-DD HH:MM:SS` in the period's zone.
    pub fn when(&self, ts: i64) -> When {
        When::new(ts, &self.tz, "%Y-%m-%d %H:%M:%S")
    }

    /// The bucket of the chart of attempts over this period: a few dozen bars at most.
    pub fn bucket(&self) -> Bucket {
        Bucket::for_secs(self.secs())
    }

    /// The starts (unix seconds) of the buckets covering the period, aligned to the clock of its
    /// zone (a local hour's `:00`, midnight, Monday, the first of a month or year), followed by
    /// the end of the last one: the first bucket starts at or before the period, the last ends at
    /// or after it. Days are 23 or 25 hours long across a DST change.
    pub fn bucket_bounds(&self) -> Vec<i64> {
        let (start, end) = (self.start.as_second(), self.end.as_second());
        let bucket = self.bucket();
        let mut bounds = Vec::new();
        let mut at = bucket.floor(start, &self.tz);
        loop {
            bounds.push(at);
            if at >= end {
                break;
            }
            match bucket.next(at, &self.tz) {
                Some(next) if next > at => at = next,
                // Beyond the calendar's range: one last bucket to the end.
                _ => {
                    bounds.push(end);
                    break;
                }
            }
        }
        if bounds.len() == 1 {
            // An empty period still has one (empty) bucket.
            bounds.push(end.max(start + 1));
        }
        bounds
    }

    /// Unix seconds as the label of a bucket starting then: `2026-11-24 03:00` for an hour,
    /// `2026-11-24` for a day or a week (its Monday), `2026-11` for a month, `2026` for a year.
    pub fn format_bucket(&self, ts: i64, bucket: Bucket) -> String {
        self.when_bucket(ts, bucket).shown
    }

    /// The start of a bucket as a [`When`], shown as [`Period::format_bucket`] writes it.
    pub fn when_bucket(&self, ts: i64, bucket: Bucket) -> When {
        let format = match bucket {
            Bucket::Hour => "%Y-%m-%d %H:%M",
            Bucket::Day | Bucket::Week => "%Y-%m-%d",
            Bucket::Month => "%Y-%m",
            Bucket::Year => "%Y",
        };
        When::new(ts, &self.tz, format)
    }

    fn info(&self) -> PeriodInfo {
        let rfc = |t: Timestamp| t.to_zoned_datetime(self.tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        PeriodInfo {
            label: self.label(),
            start: rfc(self.start),
            end: rfc(self.end),
            timezone: self.tz.iana_name().unwrap_or("system").to_string(),
        }
    }
}

/// An instant as a report gives it: local time as people read it ([`When::shown`], which text
/// and HTML show and `Display` writes), and RFC 3339 with the zone's offset at that instant,
/// which JSON writes (`2026-10-25T02:30:00+01:00`: unambiguous on a DST change too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct When {
    /// Unix seconds.
    pub unix: i64,
    /// Local time as shown, e.g. `2026-11-24 09:12:04`.
    pub shown: String,
    /// RFC 3339 with the offset, e.g. `2026-11-24T09:12:04+01:00`.
    pub rfc3339: String,
}

impl When {
    /// `unix` in `tz`, shown with the `strftime` format `shown`.
    pub fn new(unix: i64, tz: &TimeZone, shown: &str) -> When {
        match Timestamp::from_second(unix) {
            Ok(t) => {
                let z = t.to_zoned_datetime(tz.clone());
                When {
                    unix,
                    shown: z.strftime(shown).to_string(),
                    rfc3339: z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                }
            }
            Err(_) => When { unix, shown: unix.to_string(), rfc3339: unix.to_string() },
        }
    }

    /// The local time as shown.
    pub fn as_str(&self) -> &str {
        &self.shown
    }
}

impl std::ops::Deref for When {
    type Target = str;
    fn deref(&self) -> &str {
        &self.shown
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl PartialEq<&str> for When {
    fn eq(&self, other: &&str) -> bool {
        self.shown == *other
    }
}

impl Serialize for When {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339)
    }
}

/// Serialises a text as stored (made visible by [`crate::text::visible`]) as the text that was
/// logged: JSON escapes it, nothing else.
fn logged<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::text::unvisible(text))
}

/// [`logged`] of an optional text.
fn logged_opt<S: serde::Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match text {
        Some(t) => logged(t, s),
        None => s.serialize_none(),
    }
}

/// How long each bar of the chart of attempts over a period is: chosen from the period's
/// length so that the chart has at most about a hundred of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Periods up to 2 days (49 hours, for a DST day).
    #[default]
    Hour,
    /// Up to 92 days.
    Day,
    /// Up to 700 days (100 weeks), starting on Mondays.
    Week,
    /// Up to 3,100 days (about 100 months).
    Month,
    /// Longer.
    Year,
}

impl Bucket {
    /// The bucket of a period `secs` long.
    pub fn for_secs(secs: i64) -> Bucket {
        const DAY: i64 = 86_400;
        match secs {
            s if s <= 49 * 3600 => Bucket::Hour,
            s if s <= 92 * DAY => Bucket::Day,
            s if s <= 700 * DAY => Bucket::Week,
            s if s <= 3_100 * DAY => Bucket::Month,
            _ => Bucket::Year,
        }
    }

    /// `hour`, `day`, ...: as in "attempts per hour".
    pub fn noun(self) -> &'static str {
        match self {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
            Bucket::Year => "year",
        }
    }

    /// The start of the bucket `ts` is in.
    fn floor(self, ts: i64, tz: &TimeZone) -> i64 {
        let Ok(t) = Timestamp::from_second(ts) else { return ts };
        if self == Bucket::Hour {
            // The local hour's :00, also in zones whose offset is not whole hours.
            let offset = i64::from(tz.to_offset(t).seconds());
            return ts - (ts + offset).rem_euclid(3600);
        }
        let date = t.to_zoned_datetime(tz.clone()).date();
        let first = match self {
            Bucket::Week => date.checked_sub(i64::from(date.weekday().to_monday_zero_offset()).days()).ok(),
            Bucket::Month => Some(date.first_of_month()),
            Bucket::Year => Some(date.first_of_year()),
            _ => Some(date),
        };
        first.and_then(|d| local_midnight(d, tz)).unwrap_or(ts)
    }

    /// The start of the bucket after the one starting at `start`.
    fn next(self, start: i64, tz: &TimeZone) -> Option<i64> {
        if self == Bucket::Hour {
            return Some(self.floor(start + 3600, tz));
        }
        let date = Timestamp::from_second(start).ok()?.to_zoned_datetime(tz.clone()).date();
        let step = match self {
            Bucket::Week => 7.days(),
            Bucket::Month => 1.month(),
            Bucket::Year => 1.year(),
            _ => 1.day(),
        };
        local_midnight(date.checked_add(step).ok()?, tz)
    }
}

/// The first instant of `date` in `tz` (its midnight, or the end of a DST gap at midnight).
fn local_midnight(date: jiff::civil::Date, tz: &TimeZone) -> Option<i64> {
    date.to_zoned_datetime(tz.clone()).ok().map(|z| z.timestamp().as_second())
}

/// The period as written in reports.
#[derive(Clone, Debug, Serialize)]
pub struct PeriodInfo {
    /// `2026-11-23`, or a range.
    pub label: String,
    /// RFC 3339 with the zone's offset.
    pub start: String,
    /// RFC 3339, exclusive.
    pub end: String,
    /// IANA name of the zone.
    pub timezone: String,
}

/// Everything a report says. Every renderer shows all of it.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `server_name` from the configuration.
    pub server: String,
    /// The tool's version.
    pub version: String,
    /// The period covered.
    pub period: PeriodInfo,
    /// The enrichment table exists (host names, countries, AS); without it those columns are empty.
    pub enrichment: bool,
    /// Headline numbers.
    pub totals: Totals,
    /// Successful logins that look like a guessed password: shown first.
    pub compromises: Vec<Compromise>,
    /// Attacker IPs by attempts.
    pub top_ips: Vec<IpRow>,
    /// Accounts tried, by attempts.
    pub top_users: Vec<UserRow>,
    /// Countries of attacker IPs (needs enrichment).
    pub top_countries: Vec<CountryRow>,
    /// Autonomous systems of attacker IPs (needs enrichment).
    pub top_asns: Vec<AsnRow>,
    /// /24 and /64 networks.
    pub top_networks: Vec<NetworkRow>,
    /// How long each entry of `per_hour` is (the name stayed from when it was always an hour).
    pub bucket: Bucket,
    /// Failed attempts in each bucket (hour, day, ...) of the period, in order, aligned to the
    /// clock of the report's zone.
    pub per_hour: Vec<BucketRow>,
    /// Attacker IPs never seen before the period.
    pub new_ips: NewIps,
    /// Attacker IPs by reverse DNS outcome (needs enrichment).
    pub reverse_dns: Vec<DnsRow>,
    /// Failed attempts per protocol.
    pub services: Vec<ServiceRow>,
    /// Authentication backend failures: an operational problem, not an attack.
    pub backend_outages: BackendOutages,
    /// Alerts queued during the period, by rule and channel, and how their delivery went.
    pub alerts: Vec<AlertRow>,
    /// How far the logs had been read when the report was made; `None` in a store no scan of
    /// this version has finished in.
    pub last_scan: Option<ScanCoverage>,
    /// What the reader should know about how the numbers were made, one sentence each (e.g. no
    /// geolocation database: countries and AS are unknown).
    pub notes: Vec<String>,
    /// `report --fleet`: each server's numbers and the attackers several servers saw.
    pub fleet: Option<FleetSection>,
}

/// One server of a fleet, over the period.
#[derive(Clone, Debug, Serialize)]
pub struct ServerRow {
    /// Its `server_name`.
    pub server: String,
    /// Counted failed attempts.
    pub failed_attempts: u64,
    /// Distinct addresses with counted failures.
    pub unique_ips: u64,
    /// Successful logins.
    pub successful_logins: u64,
    /// Authentication backend errors.
    pub backend_errors: u64,
    /// Its last shipment, whatever the period.
    pub last_shipment: Option<When>,
}

/// What only a fleet's report has.
#[derive(Clone, Debug, Serialize)]
pub struct FleetSection {
    /// Every server that ever shipped, by name, with its numbers over the period.
    pub servers: Vec<ServerRow>,
    /// How many addresses failed on two servers or more.
    pub shared_count: u64,
    /// The busiest of them.
    pub shared: Vec<SharedAttacker>,
}

/// An address with counted failures on several servers of a fleet in the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharedAttacker {
    /// The address.
    pub ip: String,
    /// The servers, by name.
    pub servers: Vec<String>,
    /// Counted failed attempts on all of them.
    pub attempts: u64,
    /// Distinct accounts tried.
    pub accounts: u64,
}

/// The note of a report made while the scans find no geolocation database.
pub const GEO_MISSING_NOTE: &str =
    "no geolocation database: countries and AS are unknown; run `maillogsentinel geo update`";

/// The last scan before a report: whether the report's numbers can be complete.
#[derive(Clone, Debug, Serialize)]
pub struct ScanCoverage {
    /// When it finished.
    pub finished: When,
    /// Files or lines it could not read or date (each named on its standard error).
    pub problems: u64,
    /// It finished over [`STALE_AFTER_SECS`] before the end of the period (or before the report
    /// was made, for a period not over yet): attempts logged after it are not in the report.
    pub stale: bool,
}

/// A scan this long before a period's end leaves a gap worth a warning (a report of the last
/// hours made right after a scan does not).
pub const STALE_AFTER_SECS: i64 = 300;

impl ScanCoverage {
    /// What the reader must know before trusting the numbers, one sentence each.
    pub fn warnings(&self) -> Vec<String> {
        let mut said = Vec::new();
        if self.stale {
            said.push(format!(
                "The logs were last read at {}, before the end of this period: attempts logged after that are \
                 not counted here. Check that the scan timer runs (systemctl list-timers 'maillogsentinel*').",
                self.finished
            ));
        }
        if self.problems > 0 {
            said.push(format!(
                "The last scan could not read or date everything ({} {}): attempts may be missing. Run \
                 `maillogsentinel scan` to see what and why.",
                self.problems,
                if self.problems == 1 { "problem" } else { "problems" }
            ));
        }
        said
    }
}

/// Headline numbers, with the previous period of the same length.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Failed attempts counted as intrusions.
    pub failed_attempts: u64,
    /// Distinct IPs behind them.
    pub unique_ips: u64,
    /// The same, in the previous period.
    pub previous_failed_attempts: u64,
    /// The same, in the previous period.
    pub previous_unique_ips: u64,
    /// Successful logins in the period.
    pub successful_logins: u64,
    /// Mechanism probes, stored but not counted (unless configured).
    pub mechanism_probes: u64,
}

/// Why a successful login is listed as a possible compromise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompromiseWhy {
    /// The IP failed to log in (any account) in the 7 days before.
    FailedBefore,
    /// The account never logged in from this country before.
    NewCountry,
}

/// A successful login worth checking, per account and IP.
#[derive(Clone, Debug, Serialize)]
pub struct Compromise {
    /// The account.
    #[serde(serialize_with = "logged_opt")]
    pub username: Option<String>,
    /// From where.
    pub ip: String,
    /// First successful login in the period from this IP for this account.
    pub first_login: When,
    /// Successful logins in the period.
    pub logins: u64,
    /// Syslog name of the service of the first one.
    #[serde(serialize_with = "logged")]
    pub service: String,
    /// The rules that matched.
    pub why: Vec<CompromiseWhy>,
    /// Failed attempts from this IP from 7 days before the first login to the last.
    pub failures_7d: u64,
    /// Distinct accounts those failures tried.
    pub failed_accounts_7d: u64,
    /// Reverse DNS name.
    #[serde(serialize_with = "logged_opt")]
    pub hostname: Option<String>,
    /// Country of the IP.
    pub country_code: Option<String>,
    /// Countries of the account's earlier logins.
    pub previous_countries: Vec<String>,
    /// AS number.
    pub asn: Option<String>,
    /// AS organisation.
    #[serde(serialize_with = "logged_opt")]
    pub aso: Option<String>,
}

/// One attacker IP.
#[derive(Clone, Debug, Serialize)]
pub struct IpRow {
    /// The address.
    pub ip: String,
    /// Failed attempts in the period.
    pub attempts: u64,
    /// Distinct accounts tried in the period.
    pub accounts: u64,
    /// Reverse DNS name.
    #[serde(serialize_with = "logged_opt")]
    pub hostname: Option<String>,
    /// Country code.
    pub country_code: Option<String>,
    /// AS number.
    pub asn: Option<String>,
    /// AS organisation.
    #[serde(serialize_with = "logged_opt")]
    pub aso: Option<String>,
    /// First event ever from it.
    pub first_seen: Option<When>,
    /// Its last failed attempt in the period.
    pub last_seen: Option<When>,
}

/// One account tried.
#[derive(Clone, Debug, Serialize)]
pub struct UserRow {
    /// The account name as logged.
    #[serde(serialize_with = "logged")]
    pub username: String,
    /// Failed attempts.
    pub attempts: u64,
    /// Distinct IPs.
    pub ips: u64,
}

/// One country.
#[derive(Clone, Debug, Serialize)]
pub struct CountryRow {
    /// ISO code, or `unknown`.
    pub country_code: String,
    /// Failed attempts.
    pub attempts: u64,
    /// Distinct IPs.
    pub ips: u64,
}

/// One autonomous system.
#[derive(Clone, Debug, Serialize)]
pub struct AsnRow {
    /// AS number, or `unknown`.
    pub asn: String,
    /// Its organisation.
    pub aso: String,
    /// Failed attempts.
    pub attempts: u64,
    /// Distinct IPs.
    pub ips: u64,
}

/// One /24 or /64.
#[derive(Clone, Debug, Serialize)]
pub struct NetworkRow {
    /// `203.0.113.0/24`, `2001:db8::/64`.
    pub network: String,
    /// Failed attempts.
    pub attempts: u64,
    /// Distinct IPs.
    pub ips: u64,
}

/// One bucket (hour, day, ...) of the period.
#[derive(Clone, Debug, Serialize)]
pub struct BucketRow {
    /// Start, shown as [`Period::format_bucket`] writes it.
    pub start: When,
    /// Failed attempts.
    pub attempts: u64,
}

/// Attacker IPs never seen before the period.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NewIps {
    /// How many.
    pub count: u64,
    /// Their failed attempts.
    pub attempts: u64,
    /// The busiest of them.
    pub top: Vec<IpRow>,
}

/// Attacker IPs by reverse DNS status.
#[derive(Clone, Debug, Serialize)]
pub struct DnsRow {
    /// The enrichment's status (`ok`, `nxdomain`, ...), or `unknown`.
    pub status: String,
    /// Failed attempts.
    pub attempts: u64,
    /// Distinct IPs.
    pub ips: u64,
}

/// One protocol.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceRow {
    /// `SMTP submission (587)`, `IMAP`, ...
    pub service: String,
    /// Failed attempts.
    pub attempts: u64,
    /// Distinct IPs.
    pub ips: u64,
}

/// `Connection lost to authentication server` and the like.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BackendOutages {
    /// How many such events.
    pub events: u64,
    /// First one (unix seconds).
    #[serde(skip)]
    pub first: Option<i64>,
    /// Last one (unix seconds).
    #[serde(skip)]
    pub last: Option<i64>,
    /// First one.
    pub first_seen: Option<When>,
    /// Last one.
    pub last_seen: Option<When>,
    /// Events per syslog service.
    pub services: Vec<(String, u64)>,
}

/// The alerts of one rule on one channel in a period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AlertRow {
    /// The rule's name.
    pub rule: String,
    /// Its kind (`threshold`, `compromise`, ...).
    pub kind: String,
    /// The channel's name.
    pub channel: String,
    /// Messages delivered.
    pub sent: u64,
    /// Messages given up (not delivered within `give_up_after`, or their channel removed).
    pub dropped: u64,
    /// Messages still waiting for a delivery.
    pub pending: u64,
    /// Why the last dropped message was given up, or the last error of a pending one.
    pub error: Option<String>,
}

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No store yet.
    #[error("no store at {0}: run `maillogsentinel scan` first (or pass --data-dir)")]
    NoStore(PathBuf),
    /// No data directory to keep the record of the fleet's reports sent.
    #[error(
        "the data directory {0} does not exist: it keeps which fleet reports this machine sent; \
         create it, owned by the user that sends (or set data_dir / pass --data-dir)"
    )]
    NoDataDir(PathBuf),
    /// The store cannot be opened.
    #[error("store {path}: {source}")]
    Store {
        /// The store file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
    /// A query failed.
    #[error("store {path}: {source}")]
    Query {
        /// The store file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
}

/// What to put in a report.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The period.
    pub period: Period,
    /// Rows per top table.
    pub top: usize,
    /// Server name for the header.
    pub server: String,
    /// Count mechanism probes as attempts (the `[scan]` setting).
    pub probes_count: bool,
}

/// Opens the store in `data_dir` for reading reports.
pub fn open_store(data_dir: &Path) -> Result<Store, ReportError> {
    let path = data_dir.join(STORE_FILE);
    if !path.exists() {
        return Err(ReportError::NoStore(path));
    }
    Store::open(&path).map_err(|source| ReportError::Store { path, source })
}

/// Builds the report from an open store.
pub fn build(store: &Store, opts: &ReportOptions) -> Result<Report, StoreError> {
    let mut report = collect(store, opts)?;
    report.last_scan = store.last_scan()?.map(|scan| ScanCoverage {
        finished: opts.period.when(scan.at),
        problems: scan.problems,
        stale: scan.at < opts.period.end.as_second().min(Timestamp::now().as_second()) - STALE_AFTER_SECS,
    });
    if store.noted(crate::store::meta::GEO_MISSING)? {
        report.notes.push(GEO_MISSING_NOTE.to_string());
    }
    report.alerts = alert_rows(store, &opts.period)?;
    Ok(report)
}

/// The statistics of `source` over the options' period, with the header's facts.
fn collect(source: &impl stats::Source, opts: &ReportOptions) -> Result<Report, StoreError> {
    let mut report = stats::collect(source, &opts.period, opts.top, opts.probes_count)?;
    report.server = opts.server.clone();
    report.version = VERSION.to_string();
    let outages = &mut report.backend_outages;
    outages.first_seen = outages.first.map(|t| opts.period.when(t));
    outages.last_seen = outages.last.map(|t| opts.period.when(t));
    Ok(report)
}

/// Builds the report of the whole fleet from its database (`report --fleet`): every section over
/// all servers, each server's numbers, and the attackers several servers saw. Compromises are
/// found across servers: a login on one after failures on another.
pub fn build_fleet(db: &FleetDb, opts: &ReportOptions) -> Result<Report, StoreError> {
    db.check_version()?;
    let mut report = collect(db, opts)?;
    let servers = report.fleet.as_ref().map_or(0, |f| f.servers.len());
    report.server = format!("fleet of {servers} server{}", if servers == 1 { "" } else { "s" });
    Ok(report)
}

/// The period's alerts, by rule and channel in the order they were first queued.
fn alert_rows(store: &Store, period: &Period) -> Result<Vec<AlertRow>, StoreError> {
    use crate::store::alerts::Delivery;
    let end = period.end.as_second();
    let mut rows: Vec<AlertRow> = Vec::new();
    for q in store.alerts_since(period.start.as_second())? {
        if q.created >= end {
            break;
        }
        let kind = q.alert.kind.map_or("-", |k| k.as_str());
        let i = match rows.iter().position(|r| r.rule == q.alert.rule && r.channel == q.channel) {
            Some(i) => i,
            None => {
                rows.push(AlertRow {
                    rule: q.alert.rule.clone(),
                    kind: kind.to_string(),
                    channel: q.channel.clone(),
                    ..AlertRow::default()
                });
                rows.len() - 1
            }
        };
        let row = &mut rows[i];
        match q.status {
            Delivery::Sent => row.sent += 1,
            Delivery::Dropped => {
                row.dropped += 1;
                row.error = q.error.clone();
            }
            Delivery::Pending => {
                row.pending += 1;
                if row.dropped == 0 {
                    row.error = q.error.clone();
                }
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests;
