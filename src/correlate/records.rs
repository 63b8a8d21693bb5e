//! The attempt records of each client address: adding, claiming, releasing and pruning them.
//!
//! It also decides when a held record is due and how the lines of one attempt merge into one
//! event, which the rules ([`super::rules`], [`super::session`]) build on.
//!
//! Each address's records are kept in a list ordered by time, so that the records near a line
//! are found by two binary searches; the lines of one attempt come seconds apart, so the span
//! searched is short.

use std::net::IpAddr;

use super::{
    BACKEND_PLAIN, BACKEND_SESSION, Correlator, LOGIN, MAX_RECORDS, MAX_SESSION_EVENTS, MAX_SESSIONS, PAM,
    RECORD_HORIZON_MS, Record, SESSION_HOLD_MS, SESSION_HORIZON_MS, SHORT_HORIZON_MS, SMTP, SPARE_LISTS,
};
use crate::model::event::{Event, EventKey, KeyedEvent, Kind, Layer, Reason};

impl Record {
    /// Attempts of the record that a front line (Postfix or a login process) has logged.
    pub(super) fn front(&self) -> u32 {
        self.has[SMTP].saturating_add(self.has[LOGIN])
    }

    /// Attempts of the record that a Backend line, with or without a session, has logged.
    pub(super) fn backend(&self) -> u32 {
        self.has[BACKEND_SESSION].saturating_add(self.has[BACKEND_PLAIN])
    }

    /// Attempts a front line (Postfix, login) may claim: those of a Backend-without-session or
    /// Pam record that no front line and no session Backend line has claimed.
    pub(super) fn free_for_front(&self) -> u32 {
        if self.origin == BACKEND_PLAIN || self.origin == PAM {
            self.free(self.front().saturating_add(self.has[BACKEND_SESSION]))
        } else {
            0
        }
    }

    /// Attempts still free for a line that must not meet `taken` attempts.
    pub(super) fn free(&self, taken: u32) -> u32 {
        self.count.saturating_sub(taken)
    }
}

/// Which candidate records a line prefers.
#[derive(Clone, Copy)]
pub(super) enum Prefer {
    /// The record nearest in time: the lines of one attempt are seconds apart.
    Nearest,
    /// The oldest record: a login line counts the attempts of a whole connection, from its start.
    Oldest,
}

impl Correlator {
    /// Outputs the pending records whose wait ends before `now`, in (end of wait, seq) order.
    pub(super) fn release_due(&mut self, now: i64, out: &mut Vec<KeyedEvent>) {
        self.release_due_at_most(now, usize::MAX, out);
    }

    /// [`Correlator::release_due`], but at most `max` records; returns whether it stopped
    /// there.
    pub(super) fn release_due_at_most(&mut self, now: i64, max: usize, out: &mut Vec<KeyedEvent>) -> bool {
        let mut released = 0;
        while let Some((&(due, seq), &(ip, time))) = self.pending.first_key_value() {
            if due >= now {
                break;
            }
            if released == max {
                return true;
            }
            self.pending.pop_first();
            let Some(records) = self.ips.get_mut(&ip) else {
                continue;
            };
            let Ok(i) = records.binary_search_by_key(&(time, seq), |r| (r.time, r.seq)) else {
                continue;
            };
            let r = &mut records[i];
            if let Some(mut event) = r.pending.take() {
                event.count = r.count;
                out.push(KeyedEvent { key: r.key, event: *event });
                self.dirty.insert(seq, (ip, time));
                self.session_events -= usize::from(r.origin == BACKEND_SESSION);
                released += 1;
            }
        }
        false
    }

    /// Drops emitted records and session counters too old to be joined.
    pub(super) fn maybe_prune(&mut self) {
        let Some(latest) = self.latest else { return };
        let short = SHORT_HORIZON_MS.max(self.window_ms.saturating_mul(2));
        self.pushed_since_prune += 1;
        // A pruning visits every address and session: waiting for a quarter as many lines keeps
        // that at most four visits per line when thousands of addresses trickle in slowly.
        if let Some(last) = self.last_prune
            && (latest.saturating_sub(last) < short / 4
                || self.pushed_since_prune < (self.ips.len() + self.sessions.len()) / 4)
        {
            return;
        }
        self.last_prune = Some(latest);
        self.pushed_since_prune = 0;
        let long = latest.saturating_sub(RECORD_HORIZON_MS.max(self.window_ms));
        let short = latest.saturating_sub(short);
        // Only a login line claims records further back than `W`, and only those whose
        // attempts no front line has claimed: the others go after the short horizon, which
        // under a burst keeps a tenth as many records.
        self.drop_records(|r| r.time < if r.free_for_front() > 0 { long } else { short });
        let oldest = latest.saturating_sub(SESSION_HORIZON_MS.max(self.window_ms));
        let dirty = &mut self.dirty_sessions;
        self.sessions.retain(|id, s| {
            let keep = s.last >= oldest;
            if !keep {
                dirty.insert(*id);
            }
            keep
        });
    }

    /// Drops the emitted records for which `expired` holds; returns how many.
    fn drop_records(&mut self, expired: impl Fn(&Record) -> bool) -> usize {
        let spare = &mut self.spare;
        let (dirty, pruned, saved_seq) = (&mut self.dirty, &mut self.pruned, self.saved_seq);
        let mut dropped = 0;
        self.ips.retain(|_, records| {
            records.retain(|r| {
                let keep = r.pending.is_some() || !expired(r);
                if !keep {
                    dropped += 1;
                    dirty.remove(&r.seq);
                    if r.seq < saved_seq {
                        pruned.push(r.seq);
                    }
                }
                keep
            });
            if records.is_empty() && spare.len() < SPARE_LISTS {
                spare.push(std::mem::take(records));
            }
            !records.is_empty()
        });
        self.held -= dropped;
        dropped
    }

    /// Brings the records held back under [`MAX_RECORDS`] (to three quarters of it, so that
    /// this runs once per many lines): the oldest emitted records first, then, if pending
    /// events alone are too many, the events that wait longest are output before their wait
    /// ends. Both are counted in [`Correlator::limits`]; no event is lost.
    pub(super) fn shed_records(&mut self, out: &mut Vec<KeyedEvent>) {
        let mut excess = self.held.saturating_sub(MAX_RECORDS / 4 * 3);
        let mut times: Vec<i64> = self.ips.values().flatten().filter(|r| r.pending.is_none()).map(|r| r.time).collect();
        if !times.is_empty() && excess > 0 {
            let k = excess.min(times.len());
            let (_, &mut cutoff, _) = times.select_nth_unstable(k - 1);
            let dropped = self.drop_records(|r| r.time <= cutoff);
            self.limits.records_shed += dropped as u64;
            excess = excess.saturating_sub(dropped);
        }
        if excess > 0 {
            // Every emitted record is gone: release the pending events that wait longest, then
            // let their records go too.
            let Some(n) = excess.min(self.pending.len()).checked_sub(1) else { return };
            let Some((&(due, _), _)) = self.pending.iter().nth(n) else { return };
            let before = out.len();
            self.release_due(due.saturating_add(1), out);
            self.limits.released_early += (out.len() - before) as u64;
            self.drop_records(|_| true);
        }
    }

    /// Brings the events of Dovecot sessions waiting for their login line under
    /// [`MAX_SESSION_EVENTS`] (to three quarters of it): those waiting longest are output as if
    /// their wait had ended, and counted in [`Correlator::limits`]. Their records stay, emitted,
    /// for a PAM line of the same attempt to join.
    pub(super) fn shed_session_events(&mut self, out: &mut Vec<KeyedEvent>) {
        let excess = self.session_events.saturating_sub(MAX_SESSION_EVENTS / 4 * 3);
        // The index is in order of the end of the wait: the first session events in it are
        // those waiting longest. (Visiting every record instead made a session flood slower.)
        let ips = &self.ips;
        let is_session = |ip: &IpAddr, time: i64, seq: u64| {
            ips.get(ip).is_some_and(|records| {
                records
                    .binary_search_by_key(&(time, seq), |r| (r.time, r.seq))
                    .is_ok_and(|i| records[i].origin == BACKEND_SESSION)
            })
        };
        let waiting: Vec<(i64, u64, IpAddr, i64)> = self
            .pending
            .iter()
            .filter(|&(&(_, seq), &(ip, time))| is_session(&ip, time, seq))
            .take(excess)
            .map(|(&(due, seq), &(ip, time))| (due, seq, ip, time))
            .collect();
        for (due, seq, ip, time) in waiting {
            let Some(r) = self.ips.get_mut(&ip).and_then(|records| {
                let i = records.binary_search_by_key(&(time, seq), |r| (r.time, r.seq)).ok()?;
                records.get_mut(i)
            }) else {
                continue;
            };
            if let Some(mut event) = r.pending.take() {
                event.count = r.count;
                out.push(KeyedEvent { key: r.key, event: *event });
                self.pending.remove(&(due, seq));
                self.dirty.insert(seq, (ip, time));
                self.session_events -= 1;
                self.limits.session_events_early += 1;
            }
        }
    }

    /// Brings the session counters held back under [`MAX_SESSIONS`] (to three quarters of it):
    /// those untouched longest are forgotten, and counted in [`Correlator::limits`].
    pub(super) fn shed_sessions(&mut self) {
        let excess = self.sessions.len().saturating_sub(MAX_SESSIONS / 4 * 3);
        if excess == 0 {
            return;
        }
        let mut lasts: Vec<i64> = self.sessions.values().map(|s| s.last).collect();
        let (_, &mut cutoff, _) = lasts.select_nth_unstable(excess - 1);
        let (dirty, limits) = (&mut self.dirty_sessions, &mut self.limits);
        self.sessions.retain(|id, s| {
            let keep = s.last > cutoff;
            if !keep {
                dirty.insert(*id);
                limits.sessions_shed += 1;
            }
            keep
        });
    }

    /// Adds a record; returns nothing, the record is found again by time.
    pub(super) fn insert(
        &mut self,
        ip: IpAddr,
        time: i64,
        key: EventKey,
        origin: usize,
        count: u32,
        pending: Option<Event>,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.held += 1;
        let mut has = [0; 5];
        has[origin] = count;
        if pending.is_some() {
            self.pending.insert((due(origin, time, self.window_ms), seq), (ip, time));
            self.session_events += usize::from(origin == BACKEND_SESSION);
        }
        self.dirty.insert(seq, (ip, time));
        // Most addresses of a burst hold one record: a fresh list takes room for one, not four.
        let records = self.ips.entry(ip).or_insert_with(|| self.spare.pop().unwrap_or_else(|| Vec::with_capacity(1)));
        let at = records.partition_point(|r| (r.time, r.seq) <= (time, seq));
        records.insert(at, Record { seq, time, key, origin, count, has, pending: pending.map(Box::new) });
    }

    /// The `rest` attempts of a front line (rules 2 and 3) that joined nothing: output now, under
    /// the line's key, and remembered as an emitted record for later Backend and Pam lines to
    /// join.
    #[inline]
    pub(super) fn emit_unmatched(
        &mut self,
        key: EventKey,
        mut event: Event,
        t: i64,
        origin: usize,
        rest: u32,
        out: &mut Vec<KeyedEvent>,
    ) {
        if rest > 0 {
            event.count = rest;
            out.push(KeyedEvent { key, event });
            self.insert(event.client_ip, t, key, origin, rest, None);
        }
    }

    /// The `rest` attempts of a Backend or Pam line (rules 1, 4 and 5) that joined nothing: held
    /// back as a pending record, for a front line to merge into it.
    #[inline]
    pub(super) fn hold_unmatched(&mut self, key: EventKey, mut event: Event, t: i64, origin: usize, rest: u32) {
        if rest > 0 {
            event.count = rest;
            self.insert(event.client_ip, t, key, origin, rest, Some(event));
        }
    }

    /// Claims up to `need` attempts among the records of `ip` with time in `[lo, hi]`, as
    /// allowed by `free`; marks them with `layer` and merges `event`, if any, into pending ones.
    /// With `out`, a pending record that only a PAM line could still join is output there at
    /// once (rules 3 and 4). Returns how many attempts were claimed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn claim(
        &mut self,
        ip: IpAddr,
        (lo, hi): (i64, i64),
        t: i64,
        need: u32,
        prefer: Prefer,
        layer: usize,
        event: Option<&Event>,
        mut out: Option<&mut Vec<KeyedEvent>>,
        free: impl Fn(&Record) -> u32,
    ) -> u32 {
        let Some(records) = self.ips.get_mut(&ip) else {
            return 0;
        };
        if need == 0 {
            return 0;
        }
        let start = records.partition_point(|r| r.time < lo);
        let end = records.partition_point(|r| r.time <= hi);
        if start == end {
            return 0;
        }
        let candidates = &mut self.scratch;
        candidates.clear();
        candidates.extend((start..end).filter(|&i| free(&records[i]) > 0).map(|i| match prefer {
            Prefer::Nearest => (records[i].time.abs_diff(t), i),
            Prefer::Oldest => (0, i),
        }));
        candidates.sort_unstable();
        let mut claimed = 0;
        for &(_, i) in candidates.iter() {
            if claimed == need {
                break;
            }
            let r = &mut records[i];
            let n = free(r).min(need - claimed);
            r.has[layer] += n;
            claimed += n;
            self.dirty.insert(r.seq, (ip, r.time));
            if let (Some(pending), Some(event)) = (&mut r.pending, event) {
                merge(pending, event);
            }
            if let Some(out) = out.as_deref_mut()
                && r.has[SMTP] > 0
                && r.front() >= r.count
                && r.backend() >= r.count
                && let Some(mut event) = r.pending.take()
            {
                // Every attempt has its Postfix and its Backend line: only a PAM line could
                // still join, and rule 5 drops one that meets an emitted record. Waiting `W`
                // would only delay the attempt.
                event.count = r.count;
                out.push(KeyedEvent { key: r.key, event: *event });
                self.pending.remove(&(due(r.origin, r.time, self.window_ms), r.seq));
                self.session_events -= usize::from(r.origin == BACKEND_SESSION);
            }
        }
        claimed
    }

    /// The record times *near* a line at `t`: within `W` either side.
    pub(super) fn near(&self, t: i64) -> (i64, i64) {
        (t.saturating_sub(self.window_ms), t.saturating_add(self.window_ms))
    }
}

/// When a pending record of layer `origin` and time `time` stops waiting for its partner lines:
/// its key in [`Correlator::pending`].
pub(super) fn due(origin: usize, time: i64, window_ms: i64) -> i64 {
    let hold = if origin == BACKEND_SESSION { SESSION_HOLD_MS.max(window_ms) } else { window_ms };
    time.saturating_add(hold)
}

/// How much a layer's line says about the attempt, to choose the event a merge keeps.
pub(super) fn rank(layer: Layer) -> u8 {
    match layer {
        Layer::SmtpFront | Layer::LoginFront => 3,
        Layer::Backend => 2,
        Layer::Pam => 1,
    }
}

/// Merges `other` (a line of the same attempt) into the pending event, keeping its count.
pub(super) fn merge(pending: &mut Event, other: &Event) {
    let count = pending.count;
    if rank(other.layer) > rank(pending.layer) {
        let old = std::mem::replace(pending, *other);
        fill(pending, &old);
    } else {
        fill(pending, other);
    }
    pending.count = count;
}

/// Completes `base` with what `other` knows and it does not.
pub(super) fn fill(b: &mut Event, o: &Event) {
    b.username = b.username.or(o.username);
    b.mechanism = b.mechanism.or(o.mechanism);
    b.logged_hostname = b.logged_hostname.or(o.logged_hostname);
    b.session = b.session.or(o.session);
    if b.reason == Reason::AuthenticationFailure && o.kind == Kind::Failure {
        b.reason = o.reason;
    }
}
