//! The one read of the events behind a report, aggregating as it decodes.
//!
//! A year is millions of events, so the work per event is kept to a few lookups in small,
//! dense tables: addresses and accounts get numbers from 0 on first sight ([`IpIndex`],
//! [`UserIndex`]), found through maps with a fast hash (foldhash) keyed by the store's numeric
//! ids, never by text. What only the shown rows need (the distinct accounts of the top
//! addresses, the distinct addresses of the top accounts, the failures before each login) is
//! answered afterwards from a compact list of the counted failures ([`Failures`]), so the
//! events are decoded once: the period, and before it whatever the previous period and the
//! logins' look-back need.

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;

use super::{COMPROMISE_LOOKBACK_SECS, SERVICE_CLASSES, class_of};
use crate::model::event::Kind;
use crate::store::{IpKey, Result, Store, StoreError, TextId};

/// A hash map with the fast hash.
pub(super) type Map<K, V> = HashMap<K, V, RandomState>;
/// A hash set with the fast hash.
pub(super) type Set<K> = HashSet<K, RandomState>;

/// Numbers for addresses, from 0 in order of first sight. IPv4 addresses (nearly all of them)
/// are kept under 4-byte keys: the map then fits the CPU's caches better.
#[derive(Debug, Default)]
pub(super) struct IpIndex {
    v4: Map<u32, u32>,
    v6: Map<u128, u32>,
    /// The address of each number.
    pub keys: Vec<IpKey>,
}

impl IpIndex {
    fn intern(&mut self, ip: IpKey) -> u32 {
        let next = self.keys.len() as u32;
        let n = if ip.is_ipv4() {
            *self.v4.entry(ip.bits() as u32).or_insert(next)
        } else {
            *self.v6.entry(ip.bits()).or_insert(next)
        };
        if n == next {
            self.keys.push(ip);
        }
        n
    }

    /// The number of `ip`, if it was seen.
    pub fn get(&self, ip: IpKey) -> Option<u32> {
        if ip.is_ipv4() { self.v4.get(&(ip.bits() as u32)).copied() } else { self.v6.get(&ip.bits()).copied() }
    }
}

/// No account (an event without a username).
pub(super) const NO_USER: u32 = u32::MAX;

/// Numbers for accounts, from 0 in order of first sight. Store ids are small and dense, so
/// most are found by indexing a table rather than hashing.
#[derive(Debug, Default)]
pub(super) struct UserIndex {
    by_id: Vec<u32>,
    far: Map<i64, u32>,
    /// The account of each number.
    pub ids: Vec<TextId>,
}

/// Ids below this are looked up in a table (4 bytes each) rather than a map.
const DENSE_IDS: i64 = 1 << 22;

impl UserIndex {
    fn intern(&mut self, user: Option<TextId>) -> u32 {
        let Some(user) = user else { return NO_USER };
        let next = self.ids.len() as u32;
        let id = user.number();
        let n = if (0..DENSE_IDS).contains(&id) {
            let i = id as usize;
            if i >= self.by_id.len() {
                self.by_id.resize(i + 1, NO_USER);
            }
            if self.by_id[i] == NO_USER {
                self.by_id[i] = next;
            }
            self.by_id[i]
        } else {
            *self.far.entry(id).or_insert(next)
        };
        if n == next {
            self.ids.push(user);
        }
        n
    }
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

/// One counted failure, in 16 bytes; attempts other than 1 are kept aside ([`Failures::counts`]).
#[derive(Clone, Copy, Debug)]
struct Failure {
    ts: i64,
    ip: u32,
    user: u32,
}

/// The counted failures from the logins' earliest look-back to the end of the period.
#[derive(Debug, Default)]
pub(super) struct Failures {
    list: Vec<Failure>,
    /// Attempts of the failures (by place in `list`) that stand for more than one.
    counts: Map<usize, u32>,
}

/// One address's numbers.
#[derive(Clone, Copy, Debug)]
pub(super) struct IpStats {
    /// Counted failures in the period (0: an address seen only before it).
    pub attempts: u64,
    /// The last one.
    pub last: i64,
    /// Bit `i` set: a counted failure on service class `i` ([`SERVICE_CLASSES`]) in the period;
    /// bit 7 ([`PREVIOUS`]): one in the previous period.
    pub flags: u8,
}

/// What the read gathers. Per address and account, tables indexed by their numbers.
#[derive(Debug, Default)]
pub(super) struct Period {
    pub failed: u64,
    pub probes: u64,
    pub successful: u64,
    pub previous_failed: u64,
    pub ips: IpIndex,
    /// Per address number, side by side so that an event touches one cache line.
    pub ip_stats: Vec<IpStats>,
    pub users: UserIndex,
    /// Counted failures in the period, per account.
    pub user_attempts: Vec<u64>,
    /// Counted failures per service class.
    pub class_attempts: [u64; SERVICE_CLASSES.len()],
    pub successes: Map<(Option<TextId>, IpKey), SuccessGroup>,
    pub per_hour: Vec<u64>,
    pub backend_events: u64,
    pub backend_first: Option<i64>,
    pub backend_last: Option<i64>,
    pub backend_services: Map<TextId, u64>,
    failures: Failures,
}

/// Bit of [`Period::ip_flags`]: a counted failure in the previous period.
pub(super) const PREVIOUS: u8 = 0x80;

/// Reads `[start, end)`, and before it the previous period of the same length and the week of
/// look-back of the period's logins.
pub(super) fn read(store: &Store, start: i64, end: i64, probes_count: bool) -> Result<Period> {
    let previous = start - (end - start);
    let look_back = start - COMPROMISE_LOOKBACK_SECS;
    let hours = ((end - start).max(0) as u64).div_ceil(3600) as usize;
    let mut p = Period { per_hour: vec![0; hours], ..Period::default() };
    // Few services: each is classified once, by its text.
    let mut classes: Vec<(TextId, u8)> = Vec::new();
    let mut failed: Option<StoreError> = None;
    store.events_in(previous.min(look_back), end, |e| {
        let count = u64::from(e.count);
        let in_period = e.ts >= start;
        match e.kind {
            Kind::Failure if !e.is_counted_failure(probes_count) => {
                if in_period {
                    p.probes += count;
                }
            }
            Kind::Failure => {
                let ip = p.ips.intern(e.ip) as usize;
                if ip == p.ip_stats.len() {
                    p.ip_stats.push(IpStats { attempts: 0, last: i64::MIN, flags: 0 });
                }
                let user = p.users.intern(e.username);
                if e.ts >= look_back {
                    let f = &mut p.failures;
                    if count != 1 {
                        f.counts.insert(f.list.len(), e.count);
                    }
                    f.list.push(Failure { ts: e.ts, ip: ip as u32, user });
                }
                if !in_period {
                    if e.ts >= previous {
                        p.previous_failed += count;
                        p.ip_stats[ip].flags |= PREVIOUS;
                    }
                    return;
                }
                p.failed += count;
                let class = match classes.iter().find(|c| c.0 == e.service) {
                    Some(c) => c.1,
                    None => {
                        let class = match store.text(e.service) {
                            Ok(text) => class_of(&text),
                            Err(err) => {
                                failed.get_or_insert(err);
                                0
                            }
                        };
                        classes.push((e.service, class));
                        class
                    }
                };
                p.class_attempts[usize::from(class)] += count;
                let stats = &mut p.ip_stats[ip];
                stats.attempts += count;
                stats.last = stats.last.max(e.ts);
                stats.flags |= 1 << class;
                if user != NO_USER {
                    let user = user as usize;
                    if user >= p.user_attempts.len() {
                        p.user_attempts.resize(user + 1, 0);
                    }
                    p.user_attempts[user] += count;
                }
                if let Some(slot) = p.per_hour.get_mut(((e.ts - start) / 3600) as usize) {
                    *slot += count;
                }
            }
            _ if !in_period => {}
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

/// One counted failure in a login's look-back: (time, attempts, account).
pub(super) type LookBack = (i64, u64, Option<TextId>);

/// What the shown rows need beyond the totals.
#[derive(Debug, Default)]
pub(super) struct Details {
    /// Distinct accounts tried in the period, per address number asked for.
    pub ip_users: Map<u32, Set<u32>>,
    /// Distinct addresses in the period, per account number asked for.
    pub user_ips: Map<u32, Set<u32>>,
    /// The counted failures of the logins' addresses in the union of their look-backs.
    pub look_back: Map<IpKey, Vec<LookBack>>,
}

impl Period {
    /// The distinct accounts of addresses `ips` and addresses of accounts `users` in the period
    /// `[start, ..)`, and the failures of the logins' addresses in their windows.
    pub fn details(&self, start: i64, ips: &[u32], users: &[u32]) -> Details {
        let mut d = Details {
            ip_users: ips.iter().map(|&ip| (ip, Set::default())).collect(),
            user_ips: users.iter().map(|&u| (u, Set::default())).collect(),
            look_back: Map::default(),
        };
        let mut login_ips: Map<u32, IpKey> = Map::default();
        let mut union: Option<(i64, i64)> = None;
        for (&(_, ip), g) in &self.successes {
            let (lo, hi) = g.window();
            union = Some(union.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            d.look_back.entry(ip).or_default();
            if let Some(n) = self.ips.get(ip) {
                login_ips.insert(n, ip);
            }
        }
        let (lo, hi) = union.unwrap_or((i64::MAX, i64::MIN));
        let user_id = |u: u32| (u != NO_USER).then(|| self.users.ids.get(u as usize).copied()).flatten();
        for (i, f) in self.failures.list.iter().enumerate() {
            if f.ts >= start {
                if let Some(users) = d.ip_users.get_mut(&f.ip).filter(|_| f.user != NO_USER) {
                    users.insert(f.user);
                }
                if let Some(ips) = d.user_ips.get_mut(&f.user) {
                    ips.insert(f.ip);
                }
            }
            if (lo..=hi).contains(&f.ts)
                && let Some(ip) = login_ips.get(&f.ip)
                && let Some(list) = d.look_back.get_mut(ip)
            {
                let count = self.failures.counts.get(&i).copied().unwrap_or(1);
                list.push((f.ts, u64::from(count), user_id(f.user)));
            }
        }
        d
    }
}
