//! What a rule counts by, and what it remembers of each subject between two messages.

use std::collections::VecDeque;
use std::net::IpAddr;

use crate::store::{IpKey, TextId};

/// Accounts and addresses remembered per subject for its message: enough to show and to say
/// "20+", few enough that a subject tried on a million accounts costs no more than one tried on
/// twenty.
pub(super) const KEEP: usize = crate::model::alert::Subject::ACCOUNTS_COUNTED as usize;

/// What a threshold (or honeypot, or outage) rule counts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum SubjectKey {
    /// One address.
    Ip(IpKey),
    /// A /24 or /64 (the key of its first address).
    Net(IpKey),
    /// An autonomous system.
    Asn(u32),
    /// An account, from any address.
    Account(TextId),
    /// A server (backend errors).
    Server(TextId),
}

impl SubjectKey {
    /// The subject as the store keeps it (`alert_subjects.subject`).
    pub(super) fn stored(self) -> String {
        match self {
            SubjectKey::Ip(ip) => format!("ip:{}", ip.addr()),
            SubjectKey::Net(net) => format!("net:{}", net.addr()),
            SubjectKey::Asn(asn) => format!("as:{asn}"),
            SubjectKey::Account(id) => format!("account:{}", id.number()),
            SubjectKey::Server(id) => format!("server:{}", id.number()),
        }
    }

    /// The inverse of [`SubjectKey::stored`], for the subjects of the kinds in `kinds` (a text id
    /// is only known for the store that wrote it, which is this one).
    pub(super) fn from_stored(s: &str, text: impl Fn(i64) -> TextId) -> Option<SubjectKey> {
        let (kind, value) = s.split_once(':')?;
        Some(match kind {
            "ip" => SubjectKey::Ip(IpKey::of(value.parse::<IpAddr>().ok()?)),
            "net" => SubjectKey::Net(IpKey::of(value.parse::<IpAddr>().ok()?)),
            "as" => SubjectKey::Asn(value.parse().ok()?),
            "account" => SubjectKey::Account(text(value.parse().ok()?)),
            "server" => SubjectKey::Server(text(value.parse().ok()?)),
            _ => return None,
        })
    }
}

/// One subject of a rule: the attempts in its window, when it last fired, and what it did since
/// it was last told.
#[derive(Debug, Default)]
pub(super) struct SubjectState {
    /// (event time, attempts) in the window, oldest first; never more than needed to reach the
    /// rule's count.
    window: VecDeque<(i64, u64)>,
    /// Attempts in `window`.
    in_window: u64,
    /// When it last fired (wall clock, Unix seconds).
    pub(super) fired: Option<i64>,
    /// What it did since it was last told.
    pub(super) pending: Pending,
}

/// What a subject did since it was last in a message.
#[derive(Clone, Debug, Default)]
pub(super) struct Pending {
    /// Attempts.
    pub(super) attempts: u64,
    /// First and last event time.
    pub(super) first: i64,
    /// See `first`.
    pub(super) last: i64,
    /// Distinct accounts, at most [`KEEP`].
    pub(super) accounts: Vec<TextId>,
    /// Distinct addresses, at most [`KEEP`].
    pub(super) ips: Vec<IpKey>,
    /// The service of the last event.
    pub(super) service: Option<TextId>,
}

impl Pending {
    /// Counts one event; `ip` is kept when the subject is not the address itself.
    fn add(&mut self, ts: i64, attempts: u64, account: Option<TextId>, ip: Option<IpKey>, service: TextId) {
        if self.attempts == 0 {
            self.first = ts;
            self.last = ts;
        }
        self.attempts += attempts;
        self.first = self.first.min(ts);
        self.last = self.last.max(ts);
        if let Some(a) = account
            && self.accounts.len() < KEEP
            && !self.accounts.contains(&a)
        {
            self.accounts.push(a);
        }
        if let Some(ip) = ip
            && self.ips.len() < KEEP
            && !self.ips.contains(&ip)
        {
            self.ips.push(ip);
        }
        self.service = Some(service);
    }
}

/// One event as a rule counts it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hit {
    pub(super) ts: i64,
    pub(super) attempts: u64,
    pub(super) account: Option<TextId>,
    pub(super) ip: IpKey,
    pub(super) service: TextId,
}

impl SubjectState {
    /// Counts `hit` in the window of `window` seconds. Returns whether the subject reaches
    /// `count` in it.
    pub(super) fn count(&mut self, key: SubjectKey, hit: Hit, window: i64, count: u64) -> bool {
        if self.window.iter().all(|&(ts, _)| ts <= hit.ts - window) {
            // A new run of attempts: what a subject that never fired did before is not part
            // of it (what one that fired did was told, or is in the digest).
            self.window.clear();
            self.in_window = 0;
            if self.fired.is_none() {
                self.pending = Pending::default();
            }
        }
        self.window.push_back((hit.ts, hit.attempts));
        self.in_window += hit.attempts;
        let newest = self.window.iter().map(|w| w.0).max().unwrap_or(hit.ts);
        while let Some(&(ts, n)) = self.window.front() {
            // Old attempts leave the window; and once it holds the count, the oldest are not
            // needed to know that it does.
            if ts <= newest - window || self.in_window - n >= count {
                self.window.pop_front();
                self.in_window -= n;
            } else {
                break;
            }
        }
        let ip = (!matches!(key, SubjectKey::Ip(_))).then_some(hit.ip);
        self.pending.add(hit.ts, hit.attempts, hit.account, ip, hit.service);
        self.in_window >= count
    }

    /// Starts over after the subject fired: the next alert needs the count again.
    pub(super) fn fire(&mut self, now: i64) {
        self.fired = Some(now);
        self.window.clear();
        self.in_window = 0;
    }

    /// Whether the subject holds nothing worth keeping at `now` (its window empty or stale, not
    /// quiet, nothing pending).
    pub(super) fn idle(&self, now: i64, quiet: i64, window: i64) -> bool {
        self.fired.is_none_or(|f| now >= f + quiet)
            && self.pending.attempts == 0
            && self.window.back().is_none_or(|&(ts, _)| ts <= now - window)
    }

    /// Whether the subject fired less than `quiet` seconds before `now`.
    pub(super) fn quiet(&self, now: i64, quiet: i64) -> bool {
        self.fired.is_some_and(|f| now < f + quiet)
    }
}
