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
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::model::event::{Kind, Layer, Reason};
    use crate::model::symbols::Symbols;

    fn failure(symbols: &mut Symbols, second: i64, user: &str, count: u32) -> Event {
        Event {
            time: Timestamp::from_second(1_773_100_800 + second).unwrap(),
            client_ip: "192.0.2.7".parse::<IpAddr>().unwrap(),
            server: symbols.visible(b"mx1"),
            service: symbols.visible(b"postfix/submission/smtpd"),
            username: Some(symbols.visible(user.as_bytes())),
            mechanism: Some(symbols.visible(b"LOGIN")),
            logged_hostname: Some(symbols.visible(b"unknown")),
            session: None,
            count,
            duration_secs: None,
            kind: Kind::Failure,
            reason: Reason::AuthenticationFailure,
            layer: Layer::SmtpFront,
        }
    }

    /// The attempts kept, event by event.
    fn kept(copies: &mut Copies, events: &[(usize, Event)]) -> Vec<u32> {
        events.iter().map(|&(s, e)| copies.take(s, e).map_or(0, |e| e.count)).collect()
    }

    #[test]
    fn a_line_in_two_logs_counts_once_whichever_comes_first() {
        let mut s = Symbols::new();
        let a = failure(&mut s, 0, "admin", 1);
        let b = failure(&mut s, 0, "info", 1);
        let mut copies = Copies::new(2);
        assert_eq!(kept(&mut copies, &[(0, a), (1, a), (1, b), (0, b)]), [1, 0, 1, 0]);
        assert_eq!(copies.dropped().collect::<Vec<_>>(), [(0, 1, 2)]);
    }

    #[test]
    fn repeats_within_one_log_all_count() {
        let mut s = Symbols::new();
        let a = failure(&mut s, 0, "admin", 1);
        let mut copies = Copies::new(2);
        // Twice in mail.log, once in mail.warn (which missed one): two attempts.
        assert_eq!(kept(&mut copies, &[(0, a), (0, a), (1, a)]), [1, 1, 0]);
        // A third log adds nothing while it stays behind the longest one.
        let mut copies = Copies::new(3);
        assert_eq!(kept(&mut copies, &[(0, a), (1, a), (2, a), (2, a), (2, a)]), [1, 0, 0, 1, 1]);
    }

    #[test]
    fn a_repeat_line_matches_the_single_lines_of_the_other_log() {
        let mut s = Symbols::new();
        let one = failure(&mut s, 0, "admin", 1);
        let later = failure(&mut s, 2, "admin", 1);
        let repeated = failure(&mut s, 3, "admin", 3);
        let mut copies = Copies::new(2);
        // mail.log: three lines; mail.warn: `message repeated 3 times` after a first line, with
        // one attempt more than mail.log has.
        let events = [(0, one), (1, one), (0, later), (0, later), (1, repeated)];
        assert_eq!(kept(&mut copies, &events), [1, 0, 1, 1, 1]);
    }

    #[test]
    fn different_lines_are_never_copies() {
        let mut s = Symbols::new();
        let a = failure(&mut s, 0, "admin", 1);
        let mut other_server = a;
        other_server.server = s.visible(b"mx2");
        let mut other_service = a;
        other_service.service = s.visible(b"dovecot");
        let mut other_ip = a;
        other_ip.client_ip = "2001:db8::7".parse().unwrap();
        let mut other_reason = a;
        other_reason.reason = Reason::PasswordMismatch;
        let mut copies = Copies::new(2);
        let events = [(0, a), (1, other_server), (1, other_service), (1, other_ip), (1, other_reason)];
        assert_eq!(kept(&mut copies, &events), [1, 1, 1, 1, 1]);
        assert_eq!(copies.dropped().count(), 0);
    }

    #[test]
    fn identities_are_forgotten_after_the_horizon() {
        let mut s = Symbols::new();
        let early = failure(&mut s, 0, "admin", 1);
        let much_later = failure(&mut s, HORIZON_SECS + 1, "admin", 1);
        let mut copies = Copies::new(2);
        assert_eq!(kept(&mut copies, &[(0, early), (1, much_later)]), [1, 1]);
        assert!(copies.seen.len() <= 1, "the early identity was forgotten");
        // Within the horizon it is still a copy.
        let mut copies = Copies::new(2);
        let later = failure(&mut s, HORIZON_SECS - 1, "admin", 1);
        assert_eq!(kept(&mut copies, &[(0, early), (1, later)]), [1, 0]);
    }
}
