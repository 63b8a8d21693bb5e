//! Counting each authentication attempt once, however many daemons logged it.
//!
//! One password attempt can leave up to three lines: Postfix (`SASL ... authentication failed`,
//! [`Layer::SmtpFront`]) or a Dovecot login process (`auth failed, N attempts in S secs`,
//! [`Layer::LoginFront`], one line per connection), Dovecot's auth process (`passdb` line,
//! [`Layer::Backend`], one per attempt, with a session id when the client was a Dovecot login
//! process and without one when it was Postfix) and PAM (`pam_unix(dovecot:auth)`,
//! [`Layer::Pam`]). The lines of one attempt come from the same client IP within a few seconds of
//! each other, in no guaranteed order. The correlator joins them so that the store receives, for
//! every attempt, exactly one counted event.
//!
//! # State
//!
//! Per client IP, a time-ordered list of *attempt records*. A record is created by a line that
//! joined nothing; it stands for `count` attempts, remembers the layer that created it (its
//! *origin*), and how many of its attempts each other layer has since *claimed* (so a record can
//! be joined by at most `count` lines of each layer). A record is either *emitted* (its attempts
//! were already output) or *pending* (its event is held back, up to the window `W`, so that a
//! Postfix or Backend line arriving later can be merged into it). Per Dovecot session, two
//! counters: `backend` (attempts output from Backend lines of that session, not yet covered by
//! the session's login line) and `credit` (attempts counted by the session's login line that
//! no Backend line of that session has matched yet).
//!
//! Below, *near* means same IP and `|Δt| ≤ W` (default [`DEFAULT_WINDOW`], 10 s, see
//! [`Correlator::with_window`]); a line of count `c` is handled as `c` attempts, each claiming
//! at most one attempt of a record (preferring the record nearest in time, then the oldest).
//!
//! # Rules
//!
//! 0. Only [`Kind::Failure`] events are correlated. Successes and backend errors are output
//!    unchanged, as are failures with [`Reason::MechanismInvalid`] (the client never sent a
//!    password, so no other daemon logged an attempt to join). A count of 0 is read as 1. A
//!    Dovecot login line of a successful login first ends the wait of its session (rule 1).
//! 1. **Backend with session `s`**: attempts covered by `credit[s]` (the login line came first)
//!    are dropped. The others are added to `backend[s]`; each claims a near Pam record not yet
//!    claimed by a Backend or front line (if that record is pending, the Backend event replaces
//!    the Pam event in it; if it was emitted, the attempt is already counted). Attempts left
//!    become a **pending** record that waits for the session's login line, which Dovecot writes
//!    when the connection ends: up to `SESSION_HOLD_MS` (5 min) instead of `W` (less when
//!    more than [`MAX_SESSION_EVENTS`] wait, rule 9). The first login line of `s`, failed or
//!    successful, gives the session's pending events its service
//!    (the login process, `dovecot/imap-login` or `dovecot/pop3-login`, says which protocol was
//!    attacked; the auth process does not) and outputs them at once, each at its own time.
//! 2. **LoginFront** (`N` attempts, session `s`, duration `S`, default 300 s):
//!    `m = min(N, backend[s])` attempts are the session's Backend lines (already output):
//!    `backend[s] -= m`, `credit[s] += N - m`. Then `r = N - m` attempts claim records of the same
//!    IP from `[t - S - W, t + W]` whose origin is Pam or Backend-without-session and that no front
//!    line or session Backend line has claimed (those records are output on their own). The
//!    login event is output with the remaining count `r'` only if `r' > 0`, and remembered as an
//!    emitted record (so a late Pam line joins it).
//! 3. **SmtpFront** (Postfix): each attempt claims a near record whose origin is
//!    Backend-without-session or Pam and that no front line or session Backend line has claimed.
//!    A pending record is *merged*: its event becomes the Postfix event (service, server,
//!    logged hostname, mechanism, time), keeping the username from the pending event when
//!    Postfix has none and the pending reason when Postfix's is the generic
//!    `AuthenticationFailure`; it keeps the pending record's key and count. Once every attempt of
//!    the record has a Postfix line and a Backend line, it is output at once (released in place):
//!    only a PAM line could still join it, and rule 5 drops a PAM line that joins an emitted
//!    record. In Postfix + Dovecot setups Dovecot's auth process usually logs the attempt before
//!    Postfix does, so the attempt comes out with Postfix's line, not `W` later; a record still
//!    waiting for a Backend line (a Pam record) or for other front lines (a count above 1) is
//!    output when released (rule 6). An already emitted record means the attempt is already
//!    counted: dropped. Unmatched attempts are output under the Postfix line's key with the unmatched
//!    count and remembered as an emitted record, so that later Backend/Pam lines join it.
//! 4. **Backend without session**: each attempt claims a near record that is a Postfix record
//!    without a Backend attempt, or a Pam record without a Backend or login attempt (merged
//!    into it if pending: the Backend event replaces a Pam event, and only fills the username
//!    and reason of an already merged Postfix event, whose record is then output at once as in
//!    rule 3; dropped if emitted). Unmatched attempts become a new **pending** record.
//! 5. **Pam**: each attempt claims a near record of any other origin (Postfix, login, Backend)
//!    that has no Pam attempt yet: dropped (a pending event only borrows missing fields from it,
//!    such as the username or a more specific reason). Unmatched attempts become a new
//!    **pending** record.
//! 6. **Release and pruning**: a pending record not output earlier (rules 1, 3 and 4) is output
//!    (its own key, its own count, merged event) as soon as an event later than the end of its
//!    wait (its time + `W`, or the session hold of rule 1) is pushed, or by
//!    [`Correlator::flush_before`]; releases come out in (end of wait, arrival) order. Pending events are never dropped, only output. Emitted
//!    records that a login line may still claim (rule 2: a Backend-without-session or Pam
//!    record with attempts no front line claimed) are pruned once older than the latest time
//!    seen minus `max(W, 600 s)`; the others, which only a line within `W` can join, once older
//!    than `max(2 W, 20 s)`. Session counters untouched for `max(W, 3600 s)` are pruned (IMAP
//!    connections can last minutes before their login line). Pruning runs every quarter of the
//!    short horizon of log time (but only once a quarter as many lines as there are addresses
//!    and sessions held have come), and only against the *latest* time seen, so a scan moving
//!    to an older file (time going backwards) neither panics nor loses pending events; records
//!    of the older file are kept until the clock passes them.
//! 7. **Determinism**: all state is in ordered maps and time-ordered lists; the same events in
//!    the same order always give the same outputs.
//! 8. **Persistence**: [`Correlator::changes`] gives what changed since it was last called (the
//!    records of each address touched or pruned, with their pending events, the counters of each
//!    session touched or pruned, and the clocks and window), for the store to save with the
//!    checkpoints, and [`Correlator::restore`] brings back what was saved, so a scan stopped
//!    between two lines of one attempt still counts it once.
//! 9. **Limits**: at most [`MAX_RECORDS`] records and [`MAX_SESSIONS`] session counters are
//!    held, whatever the traffic. Beyond them the oldest emitted records go first, then the
//!    pending events waiting longest are output before their wait ends, and the session
//!    counters untouched longest are forgotten; [`Correlator::limits`] counts each. Each can
//!    make an attempt logged by several daemons count twice; none loses one.
//!
//! Limits: lines are joined only when they arrive within the retention horizon of each other,
//! so the files of one time span must be fed together, interleaved by time, rather than one whole
//! file after another: the scan's merge loop does so. Across a large time jump within one file,
//! joins are lost (attempts may be counted twice) but none is lost.
//!
//! # Layout
//!
//! This file holds the state and the entry points ([`Correlator::push`],
//! [`Correlator::flush_before`]); `records` keeps each address's attempt records (adding,
//! claiming, releasing, pruning), `session` is rule 1 and the session hold, `rules` rules 2 to 5
//! and how merged events are chosen, `state` rule 8 (what is saved between scans).

mod records;
mod rules;
mod session;
mod state;
#[cfg(test)]
mod tests;

pub use state::{SavedRecord, SavedState, StateChanges, StateError};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use foldhash::fast::RandomState;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::model::event::{Event, EventKey, KeyedEvent, Kind, Layer, Reason};
use crate::model::symbols::Sym;

/// The default join window `W`.
pub const DEFAULT_WINDOW: SignedDuration = SignedDuration::from_secs(10);

/// How long emitted records that a login line may still claim (rule 2: attempts of a
/// Backend-without-session or Pam record that no front line has claimed) are kept (at least `W`):
/// a login line claims records up to its connection's duration back.
const RECORD_HORIZON_MS: i64 = 600_000;
/// How long other emitted records are kept (at least `2 W`): only a line within `W` of them can
/// still join them, and the scan feeds lines in time order, so this only covers lines a file
/// holds out of order. Short enough that under a burst most records come and go between two
/// commits, and so are never saved.
const SHORT_HORIZON_MS: i64 = 20_000;
/// At most this many attempt records are held (with their indexes, about 300 bytes each, 600
/// with a pending event): beyond it, [`Correlator::push`] lets the oldest emitted records go,
/// then releases the pending events that wait longest, and counts both
/// ([`Correlator::limits`]). A burst of 1,000 failures a second holds about 25,000.
pub const MAX_RECORDS: usize = 50_000;
/// At most this many Dovecot session counters are held (about 100 bytes each): beyond it,
/// those untouched longest are forgotten, and counted.
pub const MAX_SESSIONS: usize = 50_000;
/// At most this many events of Dovecot sessions wait for their session's login line (rule 1),
/// within [`MAX_RECORDS`]: beyond it, [`Correlator::push`] outputs those waiting longest at once,
/// and counts them ([`Correlator::limits`]). Such an event keeps the auth process's service
/// rather than the login process's, and no mechanism; the session's counters are kept, so its
/// login line counts none of its attempts again. Lower than the records' limit: each costs
/// about twice an emitted record, and its texts keep the scan's table of texts from starting
/// again, while a server's attackers rarely keep thousands of connections open at once.
pub const MAX_SESSION_EVENTS: usize = 10_000;
/// How long session counters are kept after their last line (at least `W`).
const SESSION_HORIZON_MS: i64 = 3_600_000;
/// The connection duration a login line without `in S secs` is assumed to cover.
const DEFAULT_DURATION_SECS: i64 = 300;
/// How long the event of a session's Backend line waits for the session's login line (at least
/// `W`); see rule 1.
const SESSION_HOLD_MS: i64 = DEFAULT_DURATION_SECS * 1000;

/// Layer indexes of [`Record::has`].
const SMTP: usize = 0;
const LOGIN: usize = 1;
const BACKEND_SESSION: usize = 2;
const BACKEND_PLAIN: usize = 3;
const PAM: usize = 4;

/// Attempts from one line that joined nothing when it arrived.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    /// Arrival order, to break time ties.
    seq: u64,
    /// Milliseconds since the Unix epoch.
    time: i64,
    /// The line that created the record.
    key: EventKey,
    /// The layer index of that line.
    origin: usize,
    /// How many attempts the record stands for.
    count: u32,
    /// Per layer index, how many of the attempts that layer has logged (`has[origin] = count`).
    has: [u32; 5],
    /// The held-back event, `None` once output. Boxed: most records held are emitted ones,
    /// which then take a third of the memory.
    pending: Option<Box<Event>>,
}

/// Counters of one Dovecot session.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Session {
    /// Latest line time (ms).
    last: i64,
    /// Attempts output from Backend lines, not yet covered by a login line.
    backend: u32,
    /// Attempts counted by a login line, not yet matched by Backend lines.
    credit: u32,
}

/// Joins the lines of one attempt. Its state is saved with the checkpoints, what changed of it at
/// each commit.
///
/// See the [module documentation](self) for the rules.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Correlator {
    /// The join window `W`, in milliseconds.
    window_ms: i64,
    /// Latest event time seen (ms).
    latest: Option<i64>,
    /// `latest` at the last pruning.
    last_prune: Option<i64>,
    /// Lines pushed since the last pruning.
    #[serde(skip)]
    pushed_since_prune: usize,
    /// Next record sequence number.
    next_seq: u64,
    /// Records per client IP, each list ordered by (time, seq).
    ips: HashMap<IpAddr, Vec<Record>, RandomState>,
    /// Session counters, by session id hash.
    sessions: HashMap<u64, Session, RandomState>,
    /// Index of pending records: (release time, seq) → (IP, record time). Rebuilt on restore.
    #[serde(skip)]
    pending: BTreeMap<(i64, u64), (IpAddr, i64)>,
    /// Reused candidate list of [`Correlator::claim`].
    #[serde(skip)]
    scratch: Vec<(u64, usize)>,
    /// Emptied record lists of pruned addresses, for new ones: most attackers' lists are
    /// emptied and started again every few minutes, and growing a fresh list each time cost 2%
    /// of a first scan's CPU. At most [`SPARE_LISTS`].
    #[serde(skip)]
    spare: Vec<Vec<Record>>,
    /// Records changed (or gone) since the last [`Correlator::changes`], by sequence number, with
    /// their address and time to find them: a commit saves only those, so that its cost
    /// follows the traffic since the last one rather than the size of the state.
    #[serde(skip)]
    dirty: HashMap<u64, (IpAddr, i64), RandomState>,
    /// Records pruned since the last [`Correlator::changes`] that it had given (numbered below
    /// `saved_seq`): those a commit deletes. A record added and pruned between two commits
    /// is never written.
    #[serde(skip)]
    pruned: Vec<u64>,
    /// `next_seq` at the last [`Correlator::changes`].
    #[serde(skip)]
    saved_seq: u64,
    /// Sessions whose counters changed (or went) since the last [`Correlator::changes`].
    #[serde(skip)]
    dirty_sessions: HashSet<u64, RandomState>,
    /// What was saved is not this state (a fresh correlator, or one read from the old format):
    /// the next [`Correlator::changes`] replaces it whole.
    #[serde(skip)]
    rewrite: bool,
    /// How many records `ips` holds.
    #[serde(skip)]
    held: usize,
    /// How many of them are pending events of a Dovecot session, waiting for its login line.
    #[serde(skip)]
    session_events: usize,
    /// What the limits cost since this correlator was made or restored.
    #[serde(skip)]
    limits: Limits,
}

/// What [`MAX_RECORDS`], [`MAX_SESSIONS`] and [`MAX_SESSION_EVENTS`] cost: the first two may
/// make an attempt logged by several daemons count more than once, never less.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Emitted records let go before their horizon: a later line of the same attempt counts
    /// again.
    pub records_shed: u64,
    /// Pending events output before their wait ended: a later line of the same attempt counts
    /// again, and a session's event keeps the auth process's service.
    pub released_early: u64,
    /// Session counters forgotten: the session's login line counts attempts its Backend lines
    /// counted already.
    pub sessions_shed: u64,
    /// Events of Dovecot sessions output before their login line came ([`MAX_SESSION_EVENTS`]):
    /// each keeps the auth process's service, and no attempt counts twice.
    pub session_events_early: u64,
}

/// How many emptied record lists [`Correlator`] keeps for reuse.
const SPARE_LISTS: usize = 4096;

impl Default for Correlator {
    fn default() -> Self {
        Correlator::with_window(DEFAULT_WINDOW)
    }
}

impl Correlator {
    /// A correlator with nothing pending.
    pub fn new() -> Correlator {
        Correlator::default()
    }

    /// A correlator with nothing pending and join window `window` (negative reads as 0).
    pub fn with_window(window: SignedDuration) -> Correlator {
        Correlator {
            window_ms: window_ms(window),
            latest: None,
            last_prune: None,
            pushed_since_prune: 0,
            next_seq: 0,
            ips: HashMap::default(),
            sessions: HashMap::default(),
            pending: BTreeMap::new(),
            scratch: Vec::new(),
            spare: Vec::new(),
            dirty: HashMap::default(),
            pruned: Vec::new(),
            saved_seq: 0,
            dirty_sessions: HashSet::default(),
            rewrite: true,
            held: 0,
            session_events: 0,
            limits: Limits::default(),
        }
    }

    /// Changes the join window (e.g. after [`Correlator::restore`], which keeps the saved one).
    pub fn set_window(&mut self, window: SignedDuration) {
        self.window_ms = window_ms(window);
    }

    /// The join window.
    pub fn window(&self) -> SignedDuration {
        SignedDuration::from_millis(self.window_ms)
    }

    /// How many attempt records are held (pending or not): bounded by the traffic of the
    /// retention horizon, and by [`MAX_RECORDS`].
    pub fn len(&self) -> usize {
        self.held
    }

    /// Renumbers the texts of the held-back events (the scan starts a new table of texts).
    pub fn map_pending_syms(&mut self, mut f: impl FnMut(Sym) -> Sym) {
        for event in self.ips.values_mut().flatten().filter_map(|r| r.pending.as_mut()) {
            event.map_syms(&mut f);
        }
    }

    /// How many pieces of the state changed since the last [`Correlator::changes`]: what the
    /// next commit writes.
    pub fn unsaved(&self) -> usize {
        self.dirty.len() + self.pruned.len() + self.dirty_sessions.len()
    }

    /// What the limits on records and sessions cost so far.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// How many events are held back waiting for a partner line.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// How many session counters are held.
    pub fn sessions_len(&self) -> usize {
        self.sessions.len()
    }

    /// Takes the next event in log order; appends to `out` what can be stored now.
    pub fn push(&mut self, key: EventKey, mut event: Event, out: &mut Vec<KeyedEvent>) {
        let t = event.time.as_millisecond();
        event.count = event.count.max(1);
        self.release_due(t, out);
        self.latest = Some(self.latest.map_or(t, |l| l.max(t)));
        self.maybe_prune();

        let d = &event;
        if d.kind != Kind::Failure || d.reason == Reason::MechanismInvalid {
            if let (Kind::Success, Layer::LoginFront, Some(session)) = (d.kind, d.layer, d.session) {
                self.end_session(&event, session, out);
            }
            out.push(KeyedEvent { key, event });
            return;
        }
        match (d.layer, d.session) {
            (Layer::SmtpFront, _) => self.on_smtp(key, event, t, out),
            (Layer::LoginFront, session) => self.on_login(key, event, session, t, out),
            (Layer::Backend, Some(session)) => self.on_backend_session(key, event, session, t),
            (Layer::Backend, None) => self.on_backend_plain(key, event, t, out),
            (Layer::Pam, _) => self.on_pam(key, event, t),
        }
        if self.session_events > MAX_SESSION_EVENTS {
            self.shed_session_events(out);
        }
        if self.held > MAX_RECORDS {
            self.shed_records(out);
        }
        if self.sessions.len() > MAX_SESSIONS {
            self.shed_sessions();
        }
    }

    /// Releases events held back to find their partner line, for those whose partner can no
    /// longer arrive: older than `cutoff`.
    ///
    /// A partner line comes within `W` of its attempt, so a record waiting for one is released
    /// when older than `cutoff`; a session's Backend line waits for its login line, which comes
    /// when the connection ends, up to `SESSION_HOLD_MS` later.
    pub fn flush_before(&mut self, cutoff: Timestamp, out: &mut Vec<KeyedEvent>) {
        self.release_due(cutoff.as_millisecond().saturating_add(self.window_ms), out);
    }

    /// [`Correlator::flush_before`], but at most `max` events, so that the caller can store
    /// them in batches of a bounded size; returns whether some were left.
    pub fn flush_some_before(&mut self, cutoff: Timestamp, max: usize, out: &mut Vec<KeyedEvent>) -> bool {
        self.release_due_at_most(cutoff.as_millisecond().saturating_add(self.window_ms), max, out)
    }
}

/// `window` in milliseconds; a negative window reads as 0, a window too long for `i64` as the
/// longest.
fn window_ms(window: SignedDuration) -> i64 {
    window.as_millis().clamp(0, i64::MAX as i128) as i64
}
