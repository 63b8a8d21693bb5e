//! One log line written to two configured logs counts once.
//!
//! rsyslog writes a message to every file whose selector matches it: Debian's `mail.warn`
//! repeats the warnings of `mail.log` (every Postfix SASL failure among them), and `syslog` may
//! hold all of it. An admin who lists both files would otherwise see those attempts twice.
//!
//! The rule: two events are *the same line* when everything the scan keeps of them but the time
//! and the attempt count is equal: server (the syslog host), service, client address, username,
//! mechanism, logged hostname, Dovecot session, kind, reason and layer. Per such identity, each
//! log stream's attempts are added up; an event counts only the attempts by which its stream
//! goes beyond every other stream so far. Lines of one log are never copies of each other, so a
//! bot that sends the same password twice in a second still counts twice, and rsyslog's
//! `message repeated N times` (which each file reduces on its own) is matched attempt by attempt.
//! Lines logged by different daemons or servers differ in service or server, so logs that
//! merely share a time span (Postfix in `mail.log`, Dovecot in its own file) are never touched:
//! joining the lines of one attempt logged by several daemons is the correlator's job.
//!
//! An identity is forgotten once the log has moved [`HORIZON_SECS`] past its last line, so
//! memory follows the number of distinct recent lines, not the size of the logs.
//!
//! Limit: nothing of this is saved between scans. A line whose copy is read by a later scan (a
//! scan that ran between rsyslog's two writes, or was killed between reading the one and the
//! other) is counted again.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use jiff::Timestamp;

use crate::model::event::Event;
use crate::model::symbols::Sym;

/// Seconds of log time an identity is remembered after its last line: rsyslog writes a message
/// to its files within moments of each other, and flushes a pending `message repeated` line
/// within its repeat interval.
const HORIZON_SECS: i64 = 120;

/// Attempts per stream of one identity, and when it was last seen.
struct Seen {
    attempts: Vec<u64>,
    last: i64,
}

/// Finds the events of one log stream that another stream already gave.
pub(super) struct Copies {
    seen: HashMap<Event, Seen, RandomState>,
    /// The latest event time seen (seconds), and when identities were last forgotten.
    latest: i64,
    pruned: i64,
    /// `dropped[s][o]`: attempts of stream `s` set aside as copies of stream `o`'s lines.
    dropped: Vec<Vec<u64>>,
}

impl Copies {
    /// Renumbers the texts of the identities remembered, when the scan starts a new table.
    pub(super) fn map_syms(&mut self, mut f: impl FnMut(Sym) -> Sym) {
        self.seen = std::mem::take(&mut self.seen)
            .into_iter()
            .map(|(mut event, seen)| {
                event.map_syms(&mut f);
                (event, seen)
            })
            .collect();
    }

    /// A filter for `streams` streams.
    pub(super) fn new(streams: usize) -> Copies {
        Copies {
            seen: HashMap::default(),
            latest: i64::MIN,
            pruned: i64::MIN,
            dropped: vec![vec![0; streams]; streams],
        }
    }

    /// Takes `event` from `stream`: returns it with the attempts no other stream has given yet,
    /// or `None` when all of them were copies.
    pub(super) fn take(&mut self, stream: usize, mut event: Event) -> Option<Event> {
        let now = event.time.as_second();
        self.forget_before(now);
        let count = u64::from(event.count.max(1));
        let mut identity = event;
        (identity.time, identity.count) = (Timestamp::UNIX_EPOCH, 0);
        let streams = self.dropped.len();
        let seen = self.seen.entry(identity).or_insert_with(|| Seen { attempts: vec![0; streams], last: now });
        seen.last = seen.last.max(now);
        let mine = seen.attempts[stream];
        let (other, others) = seen
            .attempts
            .iter()
            .enumerate()
            .filter(|&(s, _)| s != stream)
            .map(|(s, &n)| (s, n))
            .max_by_key(|&(_, n)| n)
            .unwrap_or((stream, 0));
        seen.attempts[stream] = mine + count;
        let copied = others.saturating_sub(mine).min(count);
        if copied > 0 {
            self.dropped[stream][other] += copied;
        }
        let left = count - copied;
        event.count = u32::try_from(left).unwrap_or(u32::MAX);
        (left > 0).then_some(event)
    }

    /// Forgets identities idle for the horizon, at most once per horizon of log time.
    fn forget_before(&mut self, now: i64) {
        self.latest = self.latest.max(now);
        if self.latest.saturating_sub(self.pruned) < HORIZON_SECS {
            return;
        }
        let cutoff = self.latest - HORIZON_SECS;
        self.seen.retain(|_, s| s.last >= cutoff);
        self.pruned = self.latest;
    }

    /// `(stream, other stream, attempts)`: for each pair of streams that held the same lines,
    /// how many attempts were set aside as copies (whichever of the two had them first).
    pub(super) fn dropped(&self) -> impl Iterator<Item = (usize, usize, u64)> + '_ {
        let d = &self.dropped;
        (0..d.len())
            .flat_map(move |a| (a + 1..d.len()).map(move |b| (a, b, d[a][b] + d[b][a])))
            .filter(|&(.., n)| n > 0)
    }
}

#[cfg(test)]
mod tests;
