//! The reads of the events behind a report, each aggregating as it decodes.
//!
//! A year is millions of events, so the work per event is a few lookups in maps keyed by numbers
//! ([`IpKey`], [`TextId`]) with a fast hash (foldhash), and nothing else: no text, no set of
//! accounts per address. What only the shown rows need (the distinct accounts of the top
//! addresses, the distinct addresses of the top accounts) and the logins' look-back are read by
//! a second pass ([`details`]) once those rows are known, filtered by small sets.

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;

use super::{COMPROMISE_LOOKBACK_SECS, SERVICE_CLASSES, class_of};
use crate::model::event::Kind;
use crate::store::{IpKey, Result, Store, StoreError, TextId};

/// A hash map with the fast hash.
pub(super) type Map<K, V> = HashMap<K, V, RandomState>;
/// A hash set with the fast hash.
pub(super) type Set<K> = HashSet<K, RandomState>;

/// One address's counted failures in the period.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct IpAgg {
    pub attempts: u64,
    /// Last failure in the period.
    pub last: i64,
    /// Bit `i` is set when a failure was on service class `i` ([`SERVICE_CLASSES`]).
    pub classes: u8,
}

/// The successful logins of one account from one address in the period.
#[derive(Clone, Copy, Debug)]
pub(super) struct SuccessGroup {
    pub first: i64,
    pub last: i64,
    pub logins: u64,
    /// The service of the first login read.
    pub service: TextId,
}

impl SuccessGroup {
    /// The failures that make a login suspicious: from 7 days before the first to the last.
    pub fn window(&self) -> (i64, i64) {
        (self.first - COMPROMISE_LOOKBACK_SECS, self.last)
    }
}

/// What one pass over the period gathers.
#[derive(Debug, Default)]
pub(super) struct Period {
    pub failed: u64,
    pub probes: u64,
    pub successful: u64,
    pub by_ip: Map<IpKey, IpAgg>,
    /// Counted failures per account.
    pub by_user: Map<TextId, u64>,
    /// Counted failures per service class.
    pub class_attempts: [u64; SERVICE_CLASSES.len()],
    pub successes: Map<(Option<TextId>, IpKey), SuccessGroup>,
    pub per_hour: Vec<u64>,
    pub backend_events: u64,
    pub backend_first: Option<i64>,
    pub backend_last: Option<i64>,
    pub backend_services: Map<TextId, u64>,
}

/// Aggregates the events of `[start, end)`.
pub(super) fn period(store: &Store, start: i64, end: i64, probes_count: bool) -> Result<Period> {
    let hours = ((end - start).max(0) as u64).div_ceil(3600) as usize;
    let mut p = Period { per_hour: vec![0; hours], ..Period::default() };
    // Few services: each is classified once, by its text.
    let mut classes: Map<TextId, u8> = Map::default();
    let mut failed: Option<StoreError> = None;
    store.events_in(start, end, |e| {
        let count = u64::from(e.count);
        match e.kind {
            Kind::Failure if !e.is_counted_failure(probes_count) => p.probes += count,
            Kind::Failure => {
                p.failed += count;
                let class = *classes.entry(e.service).or_insert_with(|| match store.text(e.service) {
                    Ok(text) => class_of(&text),
                    Err(err) => {
                        failed.get_or_insert(err);
                        0
                    }
                });
                p.class_attempts[usize::from(class)] += count;
                let agg = p.by_ip.entry(e.ip).or_default();
                agg.attempts += count;
                agg.last = agg.last.max(e.ts);
                agg.classes |= 1 << class;
                if let Some(user) = e.username {
                    *p.by_user.entry(user).or_default() += count;
                }
                if let Some(slot) = p.per_hour.get_mut(((e.ts - start) / 3600) as usize) {
                    *slot += count;
                }
            }
            Kind::Success => {
                p.successful += count;
                let g = p.successes.entry((e.username, e.ip)).or_insert(SuccessGroup {
                    first: e.ts,
                    last: e.ts,
                    logins: 0,
                    service: e.service,
                });
                g.first = g.first.min(e.ts);
                g.last = g.last.max(e.ts);
                g.logins += count;
            }
            Kind::BackendError => {
                p.backend_events += count;
                p.backend_first = Some(p.backend_first.map_or(e.ts, |f| f.min(e.ts)));
                p.backend_last = Some(p.backend_last.map_or(e.ts, |l| l.max(e.ts)));
                *p.backend_services.entry(e.service).or_default() += count;
            }
        }
    })?;
    match failed {
        Some(err) => Err(err),
        None => Ok(p),
    }
}

/// Counted failures and distinct addresses of `[start, end)` (the previous period).
pub(super) fn previous(store: &Store, start: i64, end: i64, probes_count: bool) -> Result<(u64, u64)> {
    let (mut failed, mut ips) = (0, Set::default());
    store.events_in(start, end, |e| {
        if e.is_counted_failure(probes_count) {
            failed += u64::from(e.count);
            ips.insert(e.ip);
        }
    })?;
    Ok((failed, ips.len() as u64))
}

/// One counted failure in a login's look-back: (time, attempts, account).
pub(super) type Failure = (i64, u64, Option<TextId>);

/// What the shown rows need beyond [`Period`].
#[derive(Debug, Default)]
pub(super) struct Details {
    /// Distinct accounts tried in the period, per address asked for.
    pub ip_users: Map<IpKey, Set<TextId>>,
    /// Distinct addresses in the period, per account asked for.
    pub user_ips: Map<TextId, Set<IpKey>>,
    /// The counted failures of the logins' addresses in the union of their look-backs.
    pub failures: Map<IpKey, Vec<Failure>>,
}

/// Reads, in one pass, the distinct accounts of `ips` and addresses of `users` in `[start, end)`,
/// and the counted failures of the addresses of `logins` in their windows: a pass per login
/// would read the same week again for each of thousands of logins.
pub(super) fn details(
    store: &Store,
    (start, end): (i64, i64),
    ips: impl IntoIterator<Item = IpKey>,
    users: impl IntoIterator<Item = TextId>,
    logins: &Map<(Option<TextId>, IpKey), SuccessGroup>,
    probes_count: bool,
) -> Result<Details> {
    let mut d = Details {
        ip_users: ips.into_iter().map(|ip| (ip, Set::default())).collect(),
        user_ips: users.into_iter().map(|u| (u, Set::default())).collect(),
        failures: Map::default(),
    };
    // The union of the windows, inclusive of the last login.
    let mut union: Option<(i64, i64)> = None;
    for (&(_, ip), g) in logins {
        let (lo, hi) = g.window();
        d.failures.entry(ip).or_default();
        union = Some(union.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    let (lo, hi) = union.map_or((start, end), |(lo, hi)| (lo.min(start), hi.saturating_add(1).max(end)));
    store.events_in(lo, hi, |e| {
        if !e.is_counted_failure(probes_count) {
            return;
        }
        if (start..end).contains(&e.ts) {
            if let (Some(users), Some(user)) = (d.ip_users.get_mut(&e.ip), e.username) {
                users.insert(user);
            }
            if let Some(ips) = e.username.and_then(|u| d.user_ips.get_mut(&u)) {
                ips.insert(e.ip);
            }
        }
        if let (Some((lo, hi)), Some(list)) = (union, d.failures.get_mut(&e.ip))
            && (lo..=hi).contains(&e.ts)
        {
            list.push((e.ts, u64::from(e.count), e.username));
        }
    })?;
    Ok(d)
}
