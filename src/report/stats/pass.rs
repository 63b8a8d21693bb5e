//! The reads of the events behind a report, aggregating as they decode.
//!
//! A year is millions of events, so the work per event is kept to a lookup or two in compact
//! tables keyed by the store's numbers, never by text: each address's numbers sit beside its key
//! in one hash table with a fast hash (foldhash; IPv4 addresses, nearly all of them, under 4-byte
//! keys), and accounts are counted in a table indexed by the store's dense text ids. The first
//! read ([`read`]) gives every total and ranking; what only the shown rows need (the distinct
//! accounts of the top addresses, the distinct addresses of the top accounts, the failures before
//! each login) is read by a second pass ([`details`]) filtered by small sets. Decoding twice is
//! cheaper than keeping the period's failures in memory for a second look: a year's list is
//! hundreds of megabytes, and writing it pushes the tables out of the CPU's caches.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use foldhash::fast::RandomState;

use super::Source;
use super::{COMPROMISE_LOOKBACK_SECS, SERVICE_CLASSES, class_of};
use crate::model::event::Kind;
use crate::store::{IpKey, Result, StoreError, TextId};

/// A hash map with the fast hash.
pub(super) type Map<K, V> = HashMap<K, V, RandomState>;
/// A hash set with the fast hash.
pub(super) type Set<K> = HashSet<K, RandomState>;

/// The period's addresses with their numbers.
///
/// A year has hundreds of thousands of addresses in random order, and a table that size is
/// mostly out of the CPU's caches (shared with whatever else the machine runs): a lookup per
/// event, each a trip to memory, was most of a year's report. So IPv4 addresses (nearly all of
/// them) are split by a hash into [`PARTS`] tables small enough to stay cached, and each event
/// is first queued for its table ([`Pending`]); a full queue is applied in one go, while that
/// table is in cache. IPv6 addresses go straight to their own table.
#[derive(Debug)]
pub(super) struct IpTable {
    parts: Vec<Map<u32, IpStats>>,
    pending: Vec<Vec<Pending>>,
    v6: Map<u128, IpStats>,
}

/// Tables of IPv4 addresses.
const PARTS: usize = 64;
/// Events queued per table before they are applied.
const QUEUE: usize = 256;

/// An event queued for an address's numbers.
#[derive(Clone, Copy, Debug)]
struct Pending {
    ts: i64,
    ip: u32,
    attempts: u32,
    flags: u8,
}

impl Default for IpTable {
    fn default() -> IpTable {
        IpTable {
            parts: (0..PARTS).map(|_| Map::default()).collect(),
            pending: (0..PARTS).map(|_| Vec::with_capacity(QUEUE)).collect(),
            v6: Map::default(),
        }
    }
}

impl IpStats {
    const NEW: IpStats = IpStats { attempts: 0, last: i64::MIN, flags: 0 };

    fn add(&mut self, ts: i64, attempts: u32, flags: u8) {
        self.attempts += u64::from(attempts);
        self.last = self.last.max(ts);
        self.flags |= flags;
    }
}

impl IpTable {
    /// Adds `attempts` at `ts` (`i64::MIN`: no time) and `flags` to the numbers of `ip`.
    fn add(&mut self, ip: IpKey, ts: i64, attempts: u32, flags: u8) {
        if !ip.is_ipv4() {
            self.v6.entry(ip.bits()).or_insert(IpStats::NEW).add(ts, attempts, flags);
            return;
        }
        let v4 = ip.bits() as u32;
        // The top bits of a multiplicative hash: consecutive addresses spread over the tables.
        let part = (v4.wrapping_mul(0x9e37_79b1) >> (32 - PARTS.trailing_zeros())) as usize;
        let (Some(queue), Some(table)) = (self.pending.get_mut(part), self.parts.get_mut(part)) else { return };
        queue.push(Pending { ts, ip: v4, attempts, flags });
        if queue.len() >= QUEUE {
            apply(table, queue);
        }
    }

    /// Applies what is queued: before the numbers are read.
    fn finish(&mut self) {
        for (table, queue) in self.parts.iter_mut().zip(&mut self.pending) {
            apply(table, queue);
        }
    }

    /// Every address with its numbers (after [`IpTable::finish`]).
    pub fn iter(&self) -> impl Iterator<Item = (IpKey, &IpStats)> {
        let v4 = self.parts.iter().flatten().map(|(&k, s)| (IpKey::of(IpAddr::V4(Ipv4Addr::from(k))), s));
        v4.chain(self.v6.iter().map(|(&k, s)| (IpKey::of(IpAddr::V6(Ipv6Addr::from(k))), s)))
    }
}

/// Applies and empties `queue`.
fn apply(table: &mut Map<u32, IpStats>, queue: &mut Vec<Pending>) {
    for q in queue.drain(..) {
        table.entry(q.ip).or_insert(IpStats::NEW).add(q.ts, q.attempts, q.flags);
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

/// One address's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    pub ips: IpTable,
    pub users: UserIndex,
    /// Counted failures in the period, per account.
    pub user_attempts: Vec<u64>,
    /// Counted failures per service class.
    pub class_attempts: [u64; SERVICE_CLASSES.len()],
    pub successes: Map<(Option<TextId>, IpKey), SuccessGroup>,
    /// Counted failures per bucket of the chart (see [`super::super::Period::bucket_bounds`]).
    pub per_bucket: Vec<u64>,
    pub backend_events: u64,
    pub backend_first: Option<i64>,
    pub backend_last: Option<i64>,
    pub backend_services: Map<TextId, u64>,
    /// Per server, when the source has several ([`Source::servers`]).
    pub servers: Option<Servers>,
}

/// The period's numbers of each server of a fleet.
///
/// The servers an address failed on are a row of bits, one per server, beside its attempts: a
/// botnet of a million addresses on a hundred servers is a hundred million (server, address)
/// pairs, but 24 bytes of bits and attempts per address here.
#[derive(Debug)]
pub(super) struct Servers {
    /// The servers' numbers as their events carry them, in the order of the bits.
    ids: Vec<u32>,
    /// The place in `ids` of each number (a database's identity column: small and dense).
    places: Map<u32, usize>,
    /// Counted failures, successful logins and backend errors, per server in the order of `ids`.
    sums: Vec<[u64; 3]>,
    /// Each address's row in `cells`.
    rows: Map<IpKey, u32>,
    /// Per address: its counted attempts, then its servers' bits.
    cells: Vec<u64>,
}

impl Servers {
    /// Numbers for the servers whose events carry `ids`.
    pub fn new(ids: Vec<u32>) -> Servers {
        let places = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        Servers { sums: vec![[0; 3]; ids.len()], ids, places, rows: Map::default(), cells: Vec::new() }
    }

    /// The bits of a row: one per server, in words.
    fn words(&self) -> usize {
        self.ids.len().div_ceil(64)
    }

    /// Row `row` of `cells`: its attempts, then its bits.
    fn row(&self, row: u32) -> Option<&[u64]> {
        let width = 1 + self.words();
        self.cells.get(row as usize * width..(row as usize + 1) * width)
    }

    /// The place of server `id` in `ids`.
    fn index(&self, id: u32) -> Option<usize> {
        self.places.get(&id).copied()
    }

    /// Adds `count` to column `what` (0: counted failures, 1: logins, 2: backend errors) of
    /// server `id`, and for failures, to address `ip` on that server.
    fn add(&mut self, id: u32, what: usize, count: u64, ip: IpKey) {
        // Events of a server unknown to the list read with them cannot be: both come from one
        // transaction's view of the database.
        let Some(server) = self.index(id) else { return };
        self.sums[server][what] += count;
        if what != 0 {
            return;
        }
        let width = 1 + self.words();
        let next = (self.cells.len() / width) as u32;
        let row = *self.rows.entry(ip).or_insert(next) as usize * width;
        if row == self.cells.len() {
            self.cells.resize(row + width, 0);
        }
        self.cells[row] += count;
        self.cells[row + 1 + server / 64] |= 1 << (server % 64);
    }

    /// The servers' numbers (in `ids`) and, for each, how many addresses failed on it.
    pub fn unique_ips(&self) -> Vec<(u32, u64)> {
        let mut unique = vec![0u64; self.ids.len()];
        for row in self.cells.chunks(1 + self.words()) {
            for (w, &bits) in row[1..].iter().enumerate() {
                let mut bits = bits;
                while bits != 0 {
                    if let Some(n) = unique.get_mut(w * 64 + bits.trailing_zeros() as usize) {
                        *n += 1;
                    }
                    bits &= bits - 1;
                }
            }
        }
        self.ids.iter().copied().zip(unique).collect()
    }

    /// The addresses that failed on several servers, each with its attempts on all of them.
    pub fn shared(&self) -> impl Iterator<Item = (IpKey, u64)> + '_ {
        self.rows.iter().filter_map(|(&ip, &row)| {
            let row = self.row(row)?;
            let servers: u32 = row[1..].iter().map(|w| w.count_ones()).sum();
            (servers > 1).then_some((ip, row[0]))
        })
    }

    /// The servers' numbers (as in `ids`) that `ip` failed on.
    pub fn servers_of(&self, ip: IpKey) -> Vec<u32> {
        let Some(row) = self.rows.get(&ip).and_then(|&r| self.row(r)) else { return Vec::new() };
        self.ids.iter().enumerate().filter(|(i, _)| row[1 + i / 64] >> (i % 64) & 1 == 1).map(|(_, &id)| id).collect()
    }

    /// The numbers of server `id`: counted failures, logins, backend errors.
    pub fn sums_of(&self, id: u32) -> [u64; 3] {
        self.index(id).map_or([0; 3], |i| self.sums[i])
    }
}

/// Bit of [`IpStats::flags`]: a counted failure in the previous period.
pub(super) const PREVIOUS: u8 = 0x80;

/// Finds the bucket of an event among sorted bounds, from the last one found: events come mostly
/// in time order, so most need one comparison, not a search.
struct Buckets<'b> {
    bounds: &'b [i64],
    last: usize,
}

impl Buckets<'_> {
    /// The index of the bucket `[bounds[i], bounds[i + 1])` holding `ts`, if any.
    fn find(&mut self, ts: i64) -> Option<usize> {
        let b = self.bounds;
        if self.last + 1 < b.len() && b[self.last] <= ts && ts < b[self.last + 1] {
            return Some(self.last);
        }
        let i = b.partition_point(|&x| x <= ts).checked_sub(1)?;
        (i + 1 < b.len()).then(|| {
            self.last = i;
            i
        })
    }
}

/// Reads `[start, end)`, and the counted failures of the previous period of the same length;
/// failures are counted per bucket of `bounds` (sorted starts, then the end of the last).
pub(super) fn read(
    store: &impl Source,
    start: i64,
    end: i64,
    bounds: &[i64],
    probes_count: bool,
    servers: Option<Vec<u32>>,
) -> Result<Period> {
    let mut buckets = Buckets { bounds, last: 0 };
    let mut p = Period {
        per_bucket: vec![0; bounds.len().saturating_sub(1)],
        servers: servers.map(Servers::new),
        ..Period::default()
    };
    store.previous_failures(start - (end - start), start, probes_count, |ip, count| {
        p.previous_failed += count;
        p.ips.add(ip, i64::MIN, 0, PREVIOUS);
    })?;
    // Few services: each is classified once, by its text.
    let mut classes: Vec<(TextId, u8)> = Vec::new();
    let mut failed: Option<StoreError> = None;
    store.events_in(start, end, |e| {
        let count = u64::from(e.count);
        let server = e.key.source;
        match e.kind {
            Kind::Failure if !e.is_counted_failure(probes_count) => p.probes += count,
            Kind::Failure => {
                let user = p.users.intern(e.username);
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
                p.ips.add(e.ip, e.ts, e.count, 1 << class);
                if user != NO_USER {
                    let user = user as usize;
                    if user >= p.user_attempts.len() {
                        p.user_attempts.resize(user + 1, 0);
                    }
                    p.user_attempts[user] += count;
                }
                if let Some(slot) = buckets.find(e.ts).and_then(|i| p.per_bucket.get_mut(i)) {
                    *slot += count;
                }
                if let Some(s) = &mut p.servers {
                    s.add(server, 0, count, e.ip);
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
                if let Some(s) = &mut p.servers {
                    s.add(server, 1, count, e.ip);
                }
            }
            Kind::BackendError => {
                p.backend_events += count;
                p.backend_first = Some(p.backend_first.map_or(e.ts, |f| f.min(e.ts)));
                p.backend_last = Some(p.backend_last.map_or(e.ts, |l| l.max(e.ts)));
                *p.backend_services.entry(e.service).or_default() += count;
                if let Some(s) = &mut p.servers {
                    s.add(server, 2, count, e.ip);
                }
            }
        }
    })?;
    p.ips.finish();
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
    /// Distinct accounts tried in the period, per address asked for.
    pub ip_users: Map<IpKey, Set<TextId>>,
    /// Distinct addresses in the period, per account asked for.
    pub user_ips: Map<TextId, Set<IpKey>>,
    /// The counted failures of the logins' addresses in the union of their look-backs.
    pub look_back: Map<IpKey, Vec<LookBack>>,
}

/// Reads, in one pass, the distinct accounts of `ips` and addresses of `users` in
/// `[start, end)`, and the counted failures of the addresses of `logins` in their windows: a
/// pass per login would read the same week again for each of thousands of logins.
pub(super) fn details(
    store: &impl Source,
    (start, end): (i64, i64),
    ips: impl IntoIterator<Item = IpKey>,
    users: impl IntoIterator<Item = TextId>,
    logins: &Map<(Option<TextId>, IpKey), SuccessGroup>,
    probes_count: bool,
) -> Result<Details> {
    let mut d = Details {
        ip_users: ips.into_iter().map(|ip| (ip, Set::default())).collect(),
        user_ips: users.into_iter().map(|u| (u, Set::default())).collect(),
        look_back: Map::default(),
    };
    // The union of the windows, inclusive of the last login.
    let mut union: Option<(i64, i64)> = None;
    for (&(_, ip), g) in logins {
        let (lo, hi) = g.window();
        d.look_back.entry(ip).or_default();
        union = Some(union.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    let (lo, hi) = union.map_or((start, end), |(lo, hi)| (lo.min(start), hi.saturating_add(1).max(end)));
    // Most events are from an address and for an account nobody asked about: one lookup each
    // says so (accounts by their dense ids).
    let wanted_ips: Set<IpKey> = d.ip_users.keys().chain(d.look_back.keys()).copied().collect();
    // ...and before that lookup, a bit per slice of the addresses, which rules out most events
    // for the price of one shift: thousands of logins' addresses set a few percent of the bits.
    let slot = |ip: IpKey| {
        let bits = ip.bits();
        ((bits as u32 ^ (bits >> 64) as u32).wrapping_mul(0x9e37_79b1) >> 16) as usize
    };
    let mut maybe = vec![0u64; 1 << 10];
    for &ip in &wanted_ips {
        maybe[slot(ip) >> 6] |= 1 << (slot(ip) & 63);
    }
    let ip_wanted = |ip: IpKey| maybe[slot(ip) >> 6] >> (slot(ip) & 63) & 1 == 1 && wanted_ips.contains(&ip);
    let mut wanted_users = vec![false; 0];
    let mut far_users: Set<TextId> = Set::default();
    for &u in d.user_ips.keys() {
        match usize::try_from(u.number()).ok().filter(|&n| n < DENSE_IDS as usize) {
            Some(n) => {
                if n >= wanted_users.len() {
                    wanted_users.resize(n + 1, false);
                }
                wanted_users[n] = true;
            }
            None => {
                far_users.insert(u);
            }
        }
    }
    let user_wanted = |u: TextId| match usize::try_from(u.number()) {
        Ok(n) if n < DENSE_IDS as usize => wanted_users.get(n).copied().unwrap_or(false),
        _ => far_users.contains(&u),
    };
    let users: Vec<TextId> = d.user_ips.keys().copied().collect();
    let ips: Vec<IpKey> = wanted_ips.iter().copied().collect();
    store.failures_of(lo, hi, &ips, &users, |e| {
        if !e.is_counted_failure(probes_count) || !(e.username.is_some_and(user_wanted) || ip_wanted(e.ip)) {
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
        if let (Some((lo, hi)), Some(list)) = (union, d.look_back.get_mut(&e.ip))
            && (lo..=hi).contains(&e.ts)
        {
            list.push((e.ts, u64::from(e.count), e.username));
        }
    })?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_addresses_add_up_as_if_applied_at_once() {
        let mut table = IpTable::default();
        let mut want: std::collections::BTreeMap<IpKey, IpStats> = Default::default();
        // Enough events to fill every queue several times, IPv4 and IPv6, repeated addresses.
        for i in 0..(PARTS * QUEUE * 3) as u32 {
            let ip = if i % 7 == 0 {
                IpKey::of(IpAddr::V6(Ipv6Addr::from(u128::from(i % 300))))
            } else {
                IpKey::of(IpAddr::V4(Ipv4Addr::from(0xc000_0000 + i % 5_000)))
            };
            let (ts, attempts, flags) =
                if i % 11 == 0 { (i64::MIN, 0, PREVIOUS) } else { (i64::from(i), 1 + i % 3, 1 << (i % 7)) };
            table.add(ip, ts, attempts, flags);
            want.entry(ip).or_insert(IpStats::NEW).add(ts, attempts, flags);
        }
        table.finish();
        let got: std::collections::BTreeMap<IpKey, IpStats> = table.iter().map(|(k, s)| (k, *s)).collect();
        assert_eq!(got.len(), 5_000 + 300);
        assert_eq!(got, want);
    }

    #[test]
    fn servers_count_each_address_once_per_server_past_a_word_of_bits() {
        // 70 servers (two words of bits), numbered with gaps as a database's identity may be.
        let ids: Vec<u32> = (0..70).map(|i| 3 + 2 * i).collect();
        let mut s = Servers::new(ids.clone());
        let ip = |n: u32| IpKey::of(IpAddr::V4(Ipv4Addr::from(0xc000_0200 + n)));
        // Address 1 on the first and the last server (bits in both words), twice on the last;
        // address 2 on one server only; address 3 only logged in.
        s.add(ids[0], 0, 1, ip(1));
        s.add(ids[69], 0, 2, ip(1));
        s.add(ids[69], 0, 5, ip(1));
        s.add(ids[5], 0, 4, ip(2));
        s.add(ids[5], 1, 1, ip(3));
        s.add(ids[5], 2, 3, ip(3));
        // A number no server has: ignored.
        s.add(1_000, 0, 9, ip(4));
        assert_eq!(s.shared().collect::<Vec<_>>(), [(ip(1), 8)]);
        assert_eq!(s.servers_of(ip(1)), [ids[0], ids[69]]);
        assert_eq!(s.servers_of(ip(2)), [ids[5]]);
        assert!(s.servers_of(ip(4)).is_empty());
        let unique: std::collections::BTreeMap<u32, u64> = s.unique_ips().into_iter().collect();
        assert_eq!((unique[&ids[0]], unique[&ids[5]], unique[&ids[69]], unique[&ids[1]]), (1, 1, 1, 0));
        assert_eq!(s.sums_of(ids[69]), [7, 0, 0]);
        assert_eq!(s.sums_of(ids[5]), [4, 1, 3]);
        assert_eq!(s.sums_of(1_000), [0; 3]);
    }
}
