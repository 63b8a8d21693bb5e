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
//!    when the connection ends: up to `SESSION_HOLD_MS` (5 min) instead of `W`. The first
//!    login line of `s`, failed or successful, gives the session's pending events its service
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
//!    `AuthenticationFailure`; it keeps the pending record's key and count and is output when
//!    the record is released. An already emitted record means the attempt is already counted:
//!    dropped. Unmatched attempts are output under the Postfix line's key with the unmatched
//!    count and remembered as an emitted record, so that later Backend/Pam lines join it.
//! 4. **Backend without session**: each attempt claims a near record that is a Postfix record
//!    without a Backend attempt, or a Pam record without a Backend or login attempt (merged
//!    into it if pending: the Backend event replaces a Pam event, and only fills the username
//!    and reason of an already merged Postfix event; dropped if emitted). Unmatched attempts
//!    become a new **pending** record.
//! 5. **Pam**: each attempt claims a near record of any other origin (Postfix, login, Backend)
//!    that has no Pam attempt yet: dropped (a pending event only borrows missing fields from it,
//!    such as the username or a more specific reason). Unmatched
//!    attempts become a new **pending** record.
//! 6. **Release and pruning**: a pending record is output (its own key, its own count, merged
//!    event) as soon as an event later than the end of its wait (its time + `W`, or the session
//!    hold of rule 1) is pushed, or by [`Correlator::flush_before`]; releases come out in
//!    (end of wait, arrival) order. Pending events are never dropped, only output. Emitted records older
//!    than the latest time seen minus `max(W, 600 s)` are pruned, as are session counters
//!    untouched for `max(W, 3600 s)` (IMAP connections can last minutes before their login
//!    line). Pruning runs every quarter of that horizon of log time (but only once a quarter as
//!    many lines as there are addresses and sessions held have come), and only against the
//!    *latest* time seen, so a scan moving to an older file (time going backwards) neither
//!    panics nor loses pending events; records of the older file are kept until the clock
//!    passes them.
//! 7. **Determinism**: all state is in ordered maps and time-ordered lists; the same events in
//!    the same order always give the same outputs.
//! 8. **Persistence**: [`Correlator::snapshot`] saves everything (records with their pending
//!    events, session counters, clocks, window) as JSON, and [`Correlator::restore`] brings it
//!    back, so a scan stopped between two lines of one attempt still counts it once.
//!
//! Limits: lines are joined only when they arrive within the retention horizon of each other,
//! so the files of one time span must be fed together, interleaved by time, rather than one whole
//! file after another: the scanner does so (`scan::Scanner::scan_streams`). Across a large time
//! jump within one file, joins are lost (attempts may be counted twice) but none is lost.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use foldhash::fast::RandomState;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::model::event::{Event, EventKey, KeyedEvent, Kind, Layer, Reason};
use crate::model::symbols::{Sym, Symbols};

/// The default join window `W`.
pub const DEFAULT_WINDOW: SignedDuration = SignedDuration::from_secs(10);

/// How long emitted records are kept (at least `W`).
const RECORD_HORIZON_MS: i64 = 600_000;
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
    /// The held-back event, `None` once output.
    pending: Option<Event>,
}

impl Record {
    fn front(&self) -> u32 {
        self.has[SMTP].saturating_add(self.has[LOGIN])
    }

    fn backend(&self) -> u32 {
        self.has[BACKEND_SESSION].saturating_add(self.has[BACKEND_PLAIN])
    }

    /// Attempts a front line (Postfix, login) may claim: those of a Backend-without-session or
    /// Pam record that no front line and no session Backend line has claimed.
    fn free_for_front(&self) -> u32 {
        if self.origin == BACKEND_PLAIN || self.origin == PAM {
            self.free(self.front().saturating_add(self.has[BACKEND_SESSION]))
        } else {
            0
        }
    }

    /// Attempts still free for a line that must not meet `taken` attempts.
    fn free(&self, taken: u32) -> u32 {
        self.count.saturating_sub(taken)
    }
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

/// Joins the lines of one attempt. Its state is small and is saved with the checkpoints.
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
}

/// How many emptied record lists [`Correlator`] keeps for reuse.
const SPARE_LISTS: usize = 4096;

/// What [`Correlator::snapshot`] saves: the state, with the symbols of its pending events
/// renumbered into `strings` (symbol numbers only mean something within one scan).
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct Saved {
    state: Correlator,
    strings: Vec<String>,
}

impl Default for Correlator {
    fn default() -> Self {
        Correlator::with_window(DEFAULT_WINDOW)
    }
}

/// Which candidate records a line prefers.
#[derive(Clone, Copy)]
enum Prefer {
    Nearest,
    Oldest,
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

    /// Restores the state saved by [`Correlator::snapshot`], interning its texts in `symbols`.
    pub fn restore(state: &[u8], symbols: &mut Symbols) -> Result<Correlator, serde_json::Error> {
        let saved: Saved = serde_json::from_slice(state)?;
        let mut c = saved.state;
        let syms: Vec<Sym> = saved.strings.iter().map(|s| symbols.text(s)).collect();
        // A number outside the saved table (a corrupt state) reads as the first symbol rather
        // than failing the scan; the state is our own file.
        let remap = |s: Sym| syms.get(s as usize).copied().unwrap_or(0);
        for (ip, records) in &mut c.ips {
            for e in records.iter_mut().filter_map(|r| r.pending.as_mut()) {
                e.map_syms(remap);
            }
            records.sort_by_key(|r| (r.time, r.seq));
            for r in records.iter().filter(|r| r.pending.is_some()) {
                c.pending.insert((due(r.origin, r.time, c.window_ms), r.seq), (*ip, r.time));
            }
            if let Some(last) = records.last() {
                c.next_seq = c.next_seq.max(last.seq + 1);
            }
        }
        Ok(c)
    }

    /// The state to save with the checkpoints; `symbols` holds the texts of pending events.
    pub fn snapshot(&self, symbols: &Symbols) -> Vec<u8> {
        let mut state = self.clone();
        // Texts in sorted order, so that equal states give equal snapshots whatever the symbol
        // numbers and the map order.
        let mut texts = std::collections::BTreeMap::new();
        for e in state.ips.values().flatten().filter_map(|r| r.pending.as_ref()) {
            let mut e = *e;
            e.map_syms(|s| {
                texts.insert(symbols.get(s), 0);
                s
            });
        }
        for (i, n) in texts.values_mut().enumerate() {
            *n = i as Sym;
        }
        for e in state.ips.values_mut().flatten().filter_map(|r| r.pending.as_mut()) {
            e.map_syms(|s| texts.get(symbols.get(s)).copied().unwrap_or(0));
        }
        let strings = texts.into_keys().map(str::to_string).collect();
        serde_json::to_vec(&Saved { state, strings }).expect("correlator state serializes")
    }

    /// How many attempt records are held (pending or not): bounded by the traffic of the
    /// retention horizon.
    pub fn len(&self) -> usize {
        self.ips.values().map(Vec::len).sum()
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
            (Layer::Backend, None) => self.on_backend_plain(key, event, t),
            (Layer::Pam, _) => self.on_pam(key, event, t),
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

    /// Outputs the pending records whose wait ends before `now`, in (end of wait, seq) order.
    fn release_due(&mut self, now: i64, out: &mut Vec<KeyedEvent>) {
        while let Some((&(due, seq), &(ip, time))) = self.pending.first_key_value() {
            if due >= now {
                break;
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
                out.push(KeyedEvent { key: r.key, event });
            }
        }
    }

    /// A login line of `session` (failure or success, at `t`) ends the wait of the session's
    /// Backend events: they take the login process's service (`dovecot/imap-login`, not the
    /// auth process's) and are output now.
    fn end_session(&mut self, login: &Event, session: u64, out: &mut Vec<KeyedEvent>) {
        let window_ms = self.window_ms;
        let Some(records) = self.ips.get_mut(&login.client_ip) else {
            return;
        };
        // By session alone: the login line's `in S secs` may leave out the wait before the
        // first attempt. Records due before the login line have been released (`push` releases
        // what is due first).
        let t = login.time.as_millisecond();
        let start = records.partition_point(|r| due(BACKEND_SESSION, r.time, window_ms) < t);
        for r in records[start..].iter_mut().filter(|r| r.origin == BACKEND_SESSION) {
            let Some(event) = r.pending.as_mut().filter(|e| e.session == Some(session)) else {
                continue;
            };
            event.service = login.service;
            event.mechanism = event.mechanism.or(login.mechanism);
            event.count = r.count;
            out.push(KeyedEvent { key: r.key, event: *event });
            r.pending = None;
            self.pending.remove(&(due(BACKEND_SESSION, r.time, window_ms), r.seq));
        }
    }

    /// Drops emitted records and session counters too old to be joined.
    fn maybe_prune(&mut self) {
        let Some(latest) = self.latest else { return };
        let horizon = RECORD_HORIZON_MS.max(self.window_ms);
        self.pushed_since_prune += 1;
        // A pruning visits every address and session: waiting for a quarter as many lines keeps
        // that at most four visits per line when thousands of addresses trickle in slowly.
        if let Some(last) = self.last_prune
            && (latest.saturating_sub(last) < horizon / 4
                || self.pushed_since_prune < (self.ips.len() + self.sessions.len()) / 4)
        {
            return;
        }
        self.last_prune = Some(latest);
        self.pushed_since_prune = 0;
        let oldest = latest.saturating_sub(horizon);
        let spare = &mut self.spare;
        self.ips.retain(|_, records| {
            records.retain(|r| r.pending.is_some() || r.time >= oldest);
            if records.is_empty() && spare.len() < SPARE_LISTS {
                spare.push(std::mem::take(records));
            }
            !records.is_empty()
        });
        let oldest = latest.saturating_sub(SESSION_HORIZON_MS.max(self.window_ms));
        self.sessions.retain(|_, s| s.last >= oldest);
    }

    /// Adds a record; returns nothing, the record is found again by time.
    fn insert(&mut self, ip: IpAddr, time: i64, key: EventKey, origin: usize, count: u32, pending: Option<Event>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut has = [0; 5];
        has[origin] = count;
        if pending.is_some() {
            self.pending.insert((due(origin, time, self.window_ms), seq), (ip, time));
        }
        let records = self.ips.entry(ip).or_insert_with(|| self.spare.pop().unwrap_or_default());
        let at = records.partition_point(|r| (r.time, r.seq) <= (time, seq));
        records.insert(at, Record { seq, time, key, origin, count, has, pending });
    }

    /// Claims up to `need` attempts among the records of `ip` with time in `[lo, hi]`, as
    /// allowed by `free`; marks them with `layer` and merges `event`, if any, into pending ones. Returns
    /// how many attempts were claimed.
    #[allow(clippy::too_many_arguments)]
    fn claim(
        &mut self,
        ip: IpAddr,
        (lo, hi): (i64, i64),
        t: i64,
        need: u32,
        prefer: Prefer,
        layer: usize,
        event: Option<&Event>,
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
            if let (Some(pending), Some(event)) = (&mut r.pending, event) {
                merge(pending, event);
            }
        }
        claimed
    }

    fn near(&self, t: i64) -> (i64, i64) {
        (t.saturating_sub(self.window_ms), t.saturating_add(self.window_ms))
    }

    /// Rule 3.
    fn on_smtp(&mut self, key: EventKey, mut event: Event, t: i64, out: &mut Vec<KeyedEvent>) {
        let ip = event.client_ip;
        let count = event.count;
        let claimed =
            self.claim(ip, self.near(t), t, count, Prefer::Nearest, SMTP, Some(&event), Record::free_for_front);
        let rest = count - claimed;
        if rest > 0 {
            event.count = rest;
            out.push(KeyedEvent { key, event });
            self.insert(ip, t, key, SMTP, rest, None);
        }
    }

    /// Rule 2.
    fn on_login(&mut self, key: EventKey, mut event: Event, session: Option<u64>, t: i64, out: &mut Vec<KeyedEvent>) {
        let ip = event.client_ip;
        let n = event.count;
        if let Some(s) = session {
            self.end_session(&event, s, out);
        }
        let m = match session {
            Some(s) => {
                let sess = self.sessions.entry(s).or_default();
                let m = n.min(sess.backend);
                sess.backend -= m;
                sess.credit = sess.credit.saturating_add(n - m);
                sess.last = sess.last.max(t);
                m
            }
            None => 0,
        };
        let secs = event.duration_secs.map_or(DEFAULT_DURATION_SECS, i64::from);
        let lo = t.saturating_sub(secs * 1000).saturating_sub(self.window_ms);
        let hi = t.saturating_add(self.window_ms);
        let claimed = self.claim(ip, (lo, hi), t, n - m, Prefer::Oldest, LOGIN, None, Record::free_for_front);
        let rest = n - m - claimed;
        if rest > 0 {
            event.count = rest;
            out.push(KeyedEvent { key, event });
            self.insert(ip, t, key, LOGIN, rest, None);
        }
    }

    /// Rule 1.
    fn on_backend_session(&mut self, key: EventKey, mut event: Event, session: u64, t: i64) {
        let ip = event.client_ip;
        let sess = self.sessions.entry(session).or_default();
        let covered = event.count.min(sess.credit);
        sess.credit -= covered;
        let count = event.count - covered;
        sess.backend = sess.backend.saturating_add(count);
        sess.last = sess.last.max(t);
        let claimed = self.claim(ip, self.near(t), t, count, Prefer::Nearest, BACKEND_SESSION, Some(&event), |r| {
            if r.origin == PAM { r.free(r.backend().saturating_add(r.front())) } else { 0 }
        });
        let rest = count - claimed;
        if rest > 0 {
            event.count = rest;
            self.insert(ip, t, key, BACKEND_SESSION, rest, Some(event));
        }
    }

    /// Rule 4.
    fn on_backend_plain(&mut self, key: EventKey, mut event: Event, t: i64) {
        let ip = event.client_ip;
        let count = event.count;
        let claimed =
            self.claim(ip, self.near(t), t, count, Prefer::Nearest, BACKEND_PLAIN, Some(&event), |r| match r.origin {
                SMTP => r.free(r.backend()),
                PAM => r.free(r.backend().saturating_add(r.has[LOGIN])),
                _ => 0,
            });
        let rest = count - claimed;
        if rest > 0 {
            event.count = rest;
            self.insert(ip, t, key, BACKEND_PLAIN, rest, Some(event));
        }
    }

    /// Rule 5.
    fn on_pam(&mut self, key: EventKey, mut event: Event, t: i64) {
        let ip = event.client_ip;
        let count = event.count;
        let claimed = self.claim(ip, self.near(t), t, count, Prefer::Nearest, PAM, Some(&event), |r| {
            if r.origin == PAM { 0 } else { r.free(r.has[PAM]) }
        });
        let rest = count - claimed;
        if rest > 0 {
            event.count = rest;
            self.insert(ip, t, key, PAM, rest, Some(event));
        }
    }
}

/// When a pending record of layer `origin` and time `time` stops waiting for its partner lines:
/// its key in [`Correlator::pending`].
fn due(origin: usize, time: i64, window_ms: i64) -> i64 {
    let hold = if origin == BACKEND_SESSION { SESSION_HOLD_MS.max(window_ms) } else { window_ms };
    time.saturating_add(hold)
}

fn window_ms(window: SignedDuration) -> i64 {
    window.as_millis().clamp(0, i64::MAX as i128) as i64
}

/// How much a layer's line says about the attempt, to choose the event a merge keeps.
fn rank(layer: Layer) -> u8 {
    match layer {
        Layer::SmtpFront | Layer::LoginFront => 3,
        Layer::Backend => 2,
        Layer::Pam => 1,
    }
}

/// Merges `other` (a line of the same attempt) into the pending event, keeping its count.
fn merge(pending: &mut Event, other: &Event) {
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
fn fill(b: &mut Event, o: &Event) {
    b.username = b.username.or(o.username);
    b.mechanism = b.mechanism.or(o.mechanism);
    b.logged_hostname = b.logged_hostname.or(o.logged_hostname);
    b.session = b.session.or(o.session);
    if b.reason == Reason::AuthenticationFailure && o.kind == Kind::Failure {
        b.reason = o.reason;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::{Detail, OwnedEvent};
    use std::cell::RefCell;

    thread_local! {
        /// The texts of the test events.
        static SYMBOLS: RefCell<Symbols> = RefCell::new(Symbols::new());
    }

    /// The text of a symbol of a test event.
    fn text(sym: Sym) -> String {
        SYMBOLS.with(|s| s.borrow().get(sym).to_string())
    }

    fn opt_text(sym: Option<Sym>) -> Option<String> {
        sym.map(text)
    }

    fn snapshot(c: &Correlator) -> Vec<u8> {
        SYMBOLS.with(|s| c.snapshot(&s.borrow()))
    }

    fn restore(state: &[u8]) -> Result<Correlator, serde_json::Error> {
        SYMBOLS.with(|s| Correlator::restore(state, &mut s.borrow_mut()))
    }

    /// The JSON value of a state: objects compare without regard to key order.
    fn json(state: &[u8]) -> serde_json::Value {
        serde_json::from_slice(state).unwrap()
    }

    const T0: i64 = 1_700_000_000;
    const IP1: &str = "192.0.2.1";
    const IP2: &str = "198.51.100.7";

    /// A failure at `T0 + secs` (seconds, fractional allowed) from `ip`, as `layer` logs it.
    fn ev(secs: f64, ip: &str, layer: Layer, session: Option<&str>, count: u32) -> Event {
        let (service, username, reason, mechanism, logged_hostname, duration_secs) = match layer {
            Layer::SmtpFront => (
                "postfix/submission/smtpd",
                None,
                Reason::AuthenticationFailure,
                Some("LOGIN".to_string()),
                Some("unknown".to_string()),
                None,
            ),
            Layer::LoginFront => (
                "dovecot/imap-login",
                Some("carol"),
                Reason::AuthenticationFailure,
                Some("PLAIN".into()),
                None,
                Some(30),
            ),
            Layer::Backend => ("dovecot/auth", Some("bob"), Reason::PasswordMismatch, None, None, None),
            Layer::Pam => ("auth", Some("bob"), Reason::AuthenticationFailure, None, None, None),
        };
        let owned = OwnedEvent {
            time: Timestamp::from_millisecond(T0 * 1000 + (secs * 1000.0) as i64).unwrap(),
            server: "mx".to_string(),
            detail: Detail {
                kind: Kind::Failure,
                reason,
                service: service.to_string(),
                client_ip: ip.parse().unwrap(),
                username: username.map(str::to_string),
                mechanism,
                logged_hostname,
                count,
                layer,
                session: session.map(str::to_string),
                duration_secs,
            },
        };
        SYMBOLS.with(|s| owned.intern(&mut s.borrow_mut()))
    }

    fn smtp(secs: f64, ip: &str) -> Event {
        ev(secs, ip, Layer::SmtpFront, None, 1)
    }
    fn backend(secs: f64, ip: &str) -> Event {
        ev(secs, ip, Layer::Backend, None, 1)
    }
    fn backend_s(secs: f64, ip: &str, s: &str) -> Event {
        ev(secs, ip, Layer::Backend, Some(s), 1)
    }
    fn login(secs: f64, ip: &str, s: &str, n: u32) -> Event {
        ev(secs, ip, Layer::LoginFront, Some(s), n)
    }
    fn pam(secs: f64, ip: &str) -> Event {
        ev(secs, ip, Layer::Pam, None, 1)
    }

    /// Keys by position: line `i` of the sequence is at offset `100 * i`.
    fn keyed(events: &[Event]) -> Vec<(EventKey, Event)> {
        events.iter().enumerate().map(|(i, e)| (EventKey { source: 1, offset: 100 * i as u64 }, *e)).collect()
    }

    fn far_future() -> Timestamp {
        Timestamp::from_second(T0 + 100_000_000).unwrap()
    }

    /// Pushes everything, then flushes; checks every output counts at least 1.
    fn run(events: &[Event]) -> Vec<KeyedEvent> {
        let mut c = Correlator::new();
        let mut out = Vec::new();
        for (k, e) in keyed(events) {
            c.push(k, e, &mut out);
        }
        c.flush_before(far_future(), &mut out);
        assert_eq!(c.pending_len(), 0);
        check(&out);
        out
    }

    fn check(out: &[KeyedEvent]) {
        assert!(out.iter().all(|o| o.event.count >= 1), "{out:#?}");
        let mut keys: Vec<_> = out.iter().map(|o| o.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), out.len(), "one output per line key: {out:#?}");
    }

    fn total(out: &[KeyedEvent]) -> u32 {
        out.iter().map(|o| o.event.count).sum()
    }

    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut all = Vec::new();
        for p in permutations(n - 1) {
            for i in 0..=p.len() {
                let mut q = p.clone();
                q.insert(i, n - 1);
                all.push(q);
            }
        }
        all
    }

    /// Feeds the events in every order (times unchanged) and checks the total each time.
    fn every_order(events: &[Event], expected: u32) {
        for p in permutations(events.len()) {
            let ordered: Vec<Event> = p.iter().map(|&i| events[i]).collect();
            assert_eq!(total(&run(&ordered)), expected, "order {p:?}");
        }
    }

    #[test]
    fn smtp_via_dovecot_backend_first_merges() {
        let out = run(&[backend(0.0, IP1), smtp(2.0, IP1)]);
        assert_eq!(out.len(), 1);
        let o = &out[0];
        assert_eq!(o.key, EventKey { source: 1, offset: 0 });
        let d = &o.event;
        assert_eq!(d.count, 1);
        assert_eq!(text(d.service), "postfix/submission/smtpd");
        assert_eq!(opt_text(d.logged_hostname).as_deref(), Some("unknown"));
        assert_eq!(opt_text(d.mechanism).as_deref(), Some("LOGIN"));
        assert_eq!(opt_text(d.username).as_deref(), Some("bob"));
        assert_eq!(d.reason, Reason::PasswordMismatch);
        assert_eq!(d.layer, Layer::SmtpFront);
    }

    #[test]
    fn merged_event_is_output_once_the_window_passes() {
        let mut c = Correlator::new();
        let mut out = Vec::new();
        let ev = keyed(&[backend(0.0, IP1), smtp(2.0, IP1), smtp(20.0, IP2)]);
        c.push(ev[0].0, ev[0].1, &mut out);
        c.push(ev[1].0, ev[1].1, &mut out);
        assert!(out.is_empty());
        assert_eq!(c.pending_len(), 1);
        c.push(ev[2].0, ev[2].1, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].key, ev[0].0);
        assert_eq!(text(out[0].event.service), "postfix/submission/smtpd");
        assert_eq!(c.pending_len(), 0);
    }

    #[test]
    fn smtp_first_then_backend_counts_once() {
        let out = run(&[smtp(0.0, IP1), backend(2.0, IP1)]);
        assert_eq!(total(&out), 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].event.layer, Layer::SmtpFront);
        every_order(&[backend(0.0, IP1), smtp(2.0, IP1)], 1);
    }

    #[test]
    fn imap_backend_lines_and_login_line() {
        let s = "AbCdEf";
        let full = [backend_s(0.0, IP1, s), backend_s(3.0, IP1, s), backend_s(6.0, IP1, s), login(8.0, IP1, s, 3)];
        let out = run(&full);
        assert_eq!(total(&out), 3);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|o| o.event.layer == Layer::Backend));
        // Login line minutes later still joins by session.
        let late = [backend_s(0.0, IP1, s), backend_s(3.0, IP1, s), backend_s(6.0, IP1, s), login(400.0, IP1, s, 3)];
        assert_eq!(total(&run(&late)), 3);
        // Close together, any order.
        every_order(&[backend_s(0.0, IP1, s), backend_s(1.0, IP1, s), login(2.0, IP1, s, 2)], 2);
    }

    #[test]
    fn session_backend_lines_wait_for_their_login_line_and_take_its_service() {
        let s = "AbCdEf";
        let mut c = Correlator::new();
        let mut out = Vec::new();
        // Dovecot's auth penalty spaces the attempts of one connection by seconds, more than W.
        let lines = keyed(&[backend_s(0.0, IP1, s), backend_s(12.0, IP1, s), backend_s(30.0, IP1, s), smtp(45.0, IP2)]);
        for &(key, event) in &lines {
            c.push(key, event, &mut out);
        }
        assert_eq!(out.len(), 1, "only the unrelated Postfix line: {out:?}");
        assert_eq!(c.pending_len(), 3);
        let pop3 = |mut e: Event| {
            e.service = SYMBOLS.with(|t| t.borrow_mut().text("dovecot/pop3-login"));
            e
        };
        c.push(EventKey { source: 1, offset: 900 }, pop3(login(50.0, IP1, s, 3)), &mut out);
        assert_eq!(c.pending_len(), 0);
        let attempts: Vec<_> = out[1..].iter().map(|o| (o.key, o.event.time, text(o.event.service))).collect();
        let want: Vec<_> = lines[..3].iter().map(|&(key, e)| (key, e.time, "dovecot/pop3-login".to_string())).collect();
        assert_eq!(attempts, want, "each attempt at its own time, under the login process's service");
        assert!(out[1..].iter().all(|o| o.event.count == 1 && o.event.mechanism.is_some()));
        // Also when the connection ends in a successful login.
        let mut ok = login(8.0, IP1, s, 1);
        ok.kind = Kind::Success;
        ok.reason = Reason::LoginOk;
        let out = run(&[backend_s(0.0, IP1, s), backend_s(4.0, IP1, s), ok]);
        assert_eq!(out.len(), 3);
        assert_eq!(total(&out[..2]), 2);
        assert!(out[..2].iter().all(|o| text(o.event.service) == "dovecot/imap-login"));
        assert_eq!(out[2].event.kind, Kind::Success);
    }

    #[test]
    fn session_backend_lines_without_a_login_line_are_output_after_the_session_hold() {
        let s = "AbCdEf";
        let mut c = Correlator::new();
        let mut out = Vec::new();
        c.push(EventKey { source: 1, offset: 0 }, backend_s(0.0, IP1, s), &mut out);
        c.push(EventKey { source: 1, offset: 100 }, smtp(SESSION_HOLD_MS as f64 / 1000.0 - 1.0, IP2), &mut out);
        assert_eq!(out.len(), 1, "still waiting for the login line");
        // The end of a scan keeps it while its connection may still be open...
        let at = |secs: i64| Timestamp::from_second(T0 + secs).unwrap();
        c.flush_before(at(SESSION_HOLD_MS / 1000 - 11), &mut out);
        assert_eq!(c.pending_len(), 1);
        // ...and outputs it, under the auth process's service, once it cannot be.
        c.flush_before(at(SESSION_HOLD_MS / 1000 - 9), &mut out);
        assert_eq!(c.pending_len(), 0);
        assert_eq!(out.len(), 2);
        assert_eq!(text(out[1].event.service), "dovecot/auth");
        // The same when a later line shows that the hold is over.
        let mut c = Correlator::new();
        let mut out = Vec::new();
        for (key, event) in keyed(&[backend_s(0.0, IP1, s), smtp(SESSION_HOLD_MS as f64 / 1000.0 + 1.0, IP2)]) {
            c.push(key, event, &mut out);
        }
        assert_eq!(out.len(), 2);
        assert_eq!(text(out[0].event.service), "dovecot/auth");
    }

    #[test]
    fn login_line_counts_attempts_without_backend_lines() {
        let s = "sess1";
        let out = run(&[backend_s(0.0, IP1, s), login(5.0, IP1, s, 3)]);
        assert_eq!(total(&out), 3);
        let login_out = out.iter().find(|o| o.event.layer == Layer::LoginFront).unwrap();
        assert_eq!(login_out.event.count, 2);

        let out = run(&[login(5.0, IP1, s, 2)]);
        assert_eq!(total(&out), 2);
        assert_eq!(out.len(), 1);

        // Another session of the same IP is not covered.
        let out = run(&[backend_s(0.0, IP1, "other"), login(5.0, IP1, s, 2)]);
        assert_eq!(total(&out), 3);
    }

    #[test]
    fn pam_backend_and_postfix_count_once() {
        every_order(&[pam(0.0, IP1), backend(0.5, IP1), smtp(2.5, IP1)], 1);
        let out = run(&[pam(0.0, IP1), backend(0.5, IP1), smtp(2.5, IP1)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key, EventKey { source: 1, offset: 0 });
        assert_eq!(text(out[0].event.service), "postfix/submission/smtpd");
        assert_eq!(out[0].event.reason, Reason::PasswordMismatch);
        assert_eq!(opt_text(out[0].event.username).as_deref(), Some("bob"));
    }

    #[test]
    fn pam_backend_session_and_login_count_once() {
        let s = "pamsess";
        every_order(&[pam(0.0, IP1), backend_s(0.5, IP1, s), login(3.0, IP1, s, 1)], 1);
        every_order(&[pam(0.0, IP1), login(3.0, IP1, s, 1)], 1);
        every_order(&[pam(0.0, IP1), backend(0.5, IP1)], 1);
        every_order(&[pam(0.0, IP1), smtp(2.0, IP1)], 1);
    }

    #[test]
    fn pam_alone_counts_once() {
        let out = run(&[pam(0.0, IP1)]);
        assert_eq!(total(&out), 1);
        assert_eq!(out[0].event.layer, Layer::Pam);
        assert_eq!(total(&run(&[ev(0.0, IP1, Layer::Pam, None, 4)])), 4);
    }

    #[test]
    fn different_ips_never_join() {
        let out = run(&[backend(0.0, IP1), backend(0.1, IP2), smtp(2.0, IP1), smtp(2.1, IP2)]);
        assert_eq!(total(&out), 2);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|o| o.event.layer == Layer::SmtpFront));
        assert_eq!(total(&run(&[backend(0.0, IP1), smtp(2.0, IP2)])), 2);
        assert_eq!(total(&run(&[pam(0.0, IP1), backend(0.0, IP2)])), 2);
        assert_eq!(total(&run(&[backend_s(0.0, IP1, "s"), login(1.0, IP2, "t", 1)])), 2);
    }

    #[test]
    fn same_ip_far_apart_never_joins() {
        assert_eq!(total(&run(&[backend(0.0, IP1), smtp(60.0, IP1)])), 2);
        assert_eq!(total(&run(&[smtp(0.0, IP1), backend(60.0, IP1)])), 2);
        assert_eq!(total(&run(&[pam(0.0, IP1), backend(60.0, IP1)])), 2);
        assert_eq!(total(&run(&[smtp(0.0, IP1), pam(60.0, IP1)])), 2);
        // A smaller window splits closer lines.
        let mut c = Correlator::with_window(SignedDuration::from_secs(1));
        assert_eq!(c.window(), SignedDuration::from_secs(1));
        let mut out = Vec::new();
        for (k, e) in keyed(&[backend(0.0, IP1), smtp(2.0, IP1)]) {
            c.push(k, e, &mut out);
        }
        c.flush_before(far_future(), &mut out);
        assert_eq!(total(&out), 2);
    }

    #[test]
    fn repeated_postfix_line_and_backend_lines() {
        let rep = ev(2.0, IP1, Layer::SmtpFront, None, 3);
        every_order(&[rep, backend(0.5, IP1), backend(1.5, IP1)], 3);
        let out = run(&[backend(0.5, IP1), backend(1.5, IP1), rep]);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|o| o.event.layer == Layer::SmtpFront));
        // Repeated backend line, single Postfix line: three attempts.
        every_order(&[ev(0.0, IP1, Layer::Backend, None, 3), smtp(2.0, IP1)], 3);
    }

    #[test]
    fn success_and_backend_error_pass_through() {
        let mut ok = backend_s(0.0, IP1, "s");
        ok.kind = Kind::Success;
        ok.reason = Reason::LoginOk;
        let mut err = backend(1.0, IP1);
        err.kind = Kind::BackendError;
        err.reason = Reason::BackendOutage;
        let mut invalid = smtp(1.5, IP1);
        invalid.reason = Reason::MechanismInvalid;
        let events = [ok, err, invalid, backend(1.8, IP1), smtp(2.0, IP1)];
        let keys = keyed(&events);
        let out = run(&events);
        assert_eq!(out[0], KeyedEvent { key: keys[0].0, event: ok });
        assert_eq!(out[1], KeyedEvent { key: keys[1].0, event: err });
        assert_eq!(out[2], KeyedEvent { key: keys[2].0, event: invalid });
        assert_eq!(out.len(), 4);
        assert_eq!(out[3].key, keys[3].0);
        assert_eq!(out[3].event.count, 1);
    }

    #[test]
    fn flush_before_releases_only_older_pending_events() {
        let mut c = Correlator::new();
        let mut out = Vec::new();
        let keys = keyed(&[backend(0.0, IP1), pam(5.0, IP2)]);
        for (k, e) in &keys {
            c.push(*k, *e, &mut out);
        }
        assert!(out.is_empty());
        assert_eq!((c.len(), c.pending_len()), (2, 2));
        c.flush_before(Timestamp::from_second(T0 + 3).unwrap(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key, keys[0].0);
        assert_eq!(c.pending_len(), 1);
        // A late partner still joins the released record instead of counting again.
        c.push(EventKey { source: 1, offset: 900 }, smtp(2.0, IP1), &mut out);
        c.flush_before(far_future(), &mut out);
        assert_eq!(total(&out), 2);
    }

    fn scenarios() -> Vec<Vec<Event>> {
        let s = "sessX";
        vec![
            vec![backend(0.0, IP1), smtp(2.0, IP1)],
            vec![smtp(0.0, IP1), backend(2.0, IP1)],
            vec![backend_s(0.0, IP1, s), backend_s(3.0, IP1, s), backend_s(6.0, IP1, s), login(200.0, IP1, s, 3)],
            vec![backend_s(0.0, IP1, s), login(5.0, IP1, s, 3)],
            vec![login(5.0, IP1, s, 2), backend_s(6.0, IP1, s)],
            vec![pam(0.0, IP1), backend(0.5, IP1), smtp(2.5, IP1)],
            vec![pam(0.0, IP1), backend_s(0.5, IP1, s), login(3.0, IP1, s, 1)],
            vec![backend(0.0, IP1), backend(0.1, IP2), pam(0.2, IP2), smtp(2.0, IP1), smtp(2.1, IP2)],
            vec![backend(0.0, IP1), smtp(60.0, IP1), backend(61.0, IP1), smtp(62.0, IP1), pam(200.0, IP1)],
            vec![ev(2.0, IP1, Layer::SmtpFront, None, 3), backend(0.5, IP1), backend(1.5, IP1)],
            vec![backend(0.5, IP1), backend(1.5, IP1), ev(2.0, IP1, Layer::SmtpFront, None, 3)],
        ]
    }

    #[test]
    fn snapshot_restore_at_every_split_gives_the_same_outputs() {
        for events in scenarios() {
            let whole = run(&events);
            let keys = keyed(&events);
            for split in 0..=keys.len() {
                let mut c = Correlator::new();
                let mut out = Vec::new();
                for (k, e) in &keys[..split] {
                    c.push(*k, *e, &mut out);
                }
                let state = snapshot(&c);
                let mut c = restore(&state).unwrap();
                assert_eq!(json(&snapshot(&c)), json(&state), "round trip");
                for (k, e) in &keys[split..] {
                    c.push(*k, *e, &mut out);
                }
                c.flush_before(far_future(), &mut out);
                assert_eq!(total(&out), total(&whole), "split {split} of {events:#?}");
                assert_eq!(out, whole, "split {split}");
            }
        }
    }

    #[test]
    fn restore_accepts_the_placeholder_state_and_keeps_the_window() {
        let c = restore(b"{}").unwrap();
        assert_eq!(c.window(), DEFAULT_WINDOW);
        assert!(c.is_empty());
        let c = Correlator::with_window(SignedDuration::from_secs(3));
        let c = restore(&snapshot(&c)).unwrap();
        assert_eq!(c.window(), SignedDuration::from_secs(3));
        assert!(restore(b"not json").is_err());
    }

    #[test]
    fn time_going_backwards_loses_nothing() {
        // File 1 ends with a pending Backend line; file 2 starts a day earlier.
        let events = [backend(86_400.0, IP1), backend(0.0, IP2), smtp(2.0, IP2), pam(5.0, IP1), smtp(86_402.0, IP1)];
        let out = run(&events);
        assert_eq!(total(&out), 3);
        // The pending line of file 1 survives pruning while file 2 is read.
        let mut c = Correlator::new();
        let mut out = Vec::new();
        c.push(EventKey { source: 1, offset: 0 }, backend(86_400.0, IP1), &mut out);
        for i in 0..2000 {
            c.push(EventKey { source: 2, offset: i }, smtp(i as f64 * 30.0, IP2), &mut out);
        }
        assert_eq!(c.pending_len(), 1);
        c.flush_before(far_future(), &mut out);
        assert_eq!(total(&out), 2001);
        check(&out);
    }

    #[test]
    fn memory_stays_bounded() {
        let mut c = Correlator::new();
        let mut out = Vec::new();
        let mut max_len = 0;
        let n: u32 = 200_000;
        for i in 0..n {
            let ip = format!("10.0.{}.{}", (i / 7) % 200, i % 7);
            let secs = f64::from(i) * 0.5;
            let e = match i % 5 {
                0 => smtp(secs, &ip),
                1 => backend(secs, &ip),
                2 => pam(secs, &ip),
                3 => backend_s(secs, &ip, &format!("s{i}")),
                // From the address of its session's Backend line, as Dovecot logs it.
                _ => login(secs, &format!("10.0.{}.{}", ((i - 1) / 7) % 200, (i - 1) % 7), &format!("s{}", i - 1), 2),
            };
            c.push(EventKey { source: 1, offset: u64::from(i) }, e, &mut out);
            max_len = max_len.max(c.len());
            assert!(c.pending_len() <= 100);
        }
        c.flush_before(far_future(), &mut out);
        check(&out);
        let counted = total(&out);
        assert!(counted > 0 && counted <= n * 6 / 5, "{counted}");
        // 600 s of horizon plus a quarter between prunings, two lines a second.
        assert!(max_len <= 2000, "{max_len}");
        assert!(c.sessions_len() <= 3 * 3600, "{}", c.sessions_len());
        assert!(snapshot(&c).len() < 2_000_000);
    }
}
