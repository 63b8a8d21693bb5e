//! The correlator's state kept across scans (rule 8), saved in pieces: one per attempt record
//! (with the text of its pending event), one per Dovecot session (its counters), and the
//! clocks. [`Correlator::changes`] gives only the pieces changed since it was last called, so
//! that a commit writes what the lines since the last one touched, however many records the
//! state holds.
//!
//! A piece per record rather than per address: under a burst a commit touches half of the
//! addresses, and rewriting all the records of each, in the order of addresses, rewrote most of
//! the saved state at every commit. Records are numbered in arrival order, so those a commit
//! adds, claims or prunes are neighbours in that order (the store's key).
//!
//! Each piece is a small binary encoding (a format byte, then LEB128 numbers and length-prefixed
//! texts): JSON made encoding the state the scan's main cost. Texts are saved as text, since
//! symbol numbers only mean something within one scan. The JSON of earlier builds (the whole
//! state in one piece) is still read, once.

use std::net::IpAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::records::due;
use super::{BACKEND_SESSION, Correlator, Record, Session};
use crate::model::event::{Event, EventKey, Kind, Layer, Reason};
use crate::model::symbols::{Sym, Symbols};

/// The format byte every piece starts with.
const FORMAT: u8 = 1;

/// A record as saved: its client address and its encoding.
pub type SavedRecord = (IpAddr, Vec<u8>);

/// What changed in the state since the last [`Correlator::changes`]: what a commit saves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// The saved state is to be replaced whole by these pieces (a new correlator, or one read
    /// from the old format), rather than updated.
    pub replace: bool,
    /// The clocks and counters (a few bytes), always given.
    pub globals: Vec<u8>,
    /// Per record (by sequence number) added or changed, its address and encoding, or `None`
    /// when it was pruned. Sorted by sequence number.
    pub records: Vec<(u64, Option<SavedRecord>)>,
    /// Per session (id hash) whose counters changed, their encoding, or `None` when forgotten.
    /// Sorted by id.
    pub sessions: Vec<(u64, Option<Vec<u8>>)>,
}

/// The state as saved: the pieces of every [`StateChanges`] so far, applied in turn.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavedState {
    /// The whole state as JSON, as builds before the pieces saved it; read instead of the
    /// pieces when present.
    pub legacy: Option<Vec<u8>>,
    /// See [`StateChanges::globals`].
    pub globals: Option<Vec<u8>>,
    /// See [`StateChanges::records`].
    pub records: Vec<(u64, SavedRecord)>,
    /// See [`StateChanges::sessions`].
    pub sessions: Vec<(u64, Vec<u8>)>,
}

/// A saved state that cannot be read (a corrupt store, a format this build does not know).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StateError(String);

impl StateError {
    fn piece(what: &str) -> StateError {
        StateError(format!("the saved {what} is corrupt"))
    }
}

/// What builds before the pieces saved: the state, with the symbols of its pending events
/// renumbered into `strings`.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct Legacy {
    state: Correlator,
    strings: Vec<String>,
}

impl Correlator {
    /// Restores the state saved from [`Correlator::changes`], interning its texts in `symbols`.
    pub fn restore(saved: &SavedState, symbols: &mut Symbols) -> Result<Correlator, StateError> {
        if let Some(legacy) = &saved.legacy {
            return Correlator::restore_legacy(legacy, symbols);
        }
        let mut c = match &saved.globals {
            Some(g) => decode_globals(g).ok_or_else(|| StateError::piece("correlation clock"))?,
            None => Correlator::new(),
        };
        for (seq, (ip, bytes)) in &saved.records {
            let record =
                decode_record(*seq, bytes, symbols).ok_or_else(|| StateError::piece(&format!("record of {ip}")))?;
            c.ips.entry(*ip).or_default().push(record);
            c.held += 1;
        }
        for (id, bytes) in &saved.sessions {
            let session = decode_session(bytes).ok_or_else(|| StateError::piece("Dovecot session state"))?;
            c.sessions.insert(*id, session);
        }
        c.index();
        c.rewrite = false;
        c.saved_seq = c.next_seq;
        Ok(c)
    }

    /// Restores the whole state as earlier builds saved it (JSON, symbols numbered in a table of
    /// their own); the next [`Correlator::changes`] replaces it with pieces.
    pub fn restore_legacy(state: &[u8], symbols: &mut Symbols) -> Result<Correlator, StateError> {
        let saved: Legacy = serde_json::from_slice(state).map_err(|e| StateError(e.to_string()))?;
        let mut c = saved.state;
        let syms: Vec<Sym> = saved.strings.iter().map(|s| symbols.text(s)).collect();
        // A number outside the saved table (a corrupt state) reads as the first symbol rather
        // than failing the scan; the state is our own file.
        let remap = |s: Sym| syms.get(s as usize).copied().unwrap_or(0);
        for e in c.ips.values_mut().flatten().filter_map(|r| r.pending.as_mut()) {
            e.map_syms(remap);
        }
        c.ips.retain(|_, records| !records.is_empty());
        c.held = c.ips.values().map(Vec::len).sum();
        c.index();
        c.rewrite = true;
        Ok(c)
    }

    /// Orders each address's records and rebuilds what is not saved: the index of pending
    /// records and the next sequence number.
    fn index(&mut self) {
        for (ip, records) in &mut self.ips {
            records.sort_by_key(|r| (r.time, r.seq));
            for r in records.iter().filter(|r| r.pending.is_some()) {
                self.pending.insert((due(r.origin, r.time, self.window_ms), r.seq), (*ip, r.time));
                self.session_events += usize::from(r.origin == BACKEND_SESSION);
            }
            if let Some(last) = records.iter().map(|r| r.seq).max() {
                self.next_seq = self.next_seq.max(last.saturating_add(1));
            }
        }
    }

    /// The pieces of the state changed since the last call (all of them the first time after
    /// [`Correlator::new`] or [`Correlator::restore_legacy`]), to be saved with the checkpoints;
    /// `symbols` holds the texts of pending events.
    pub fn changes(&mut self, symbols: &Symbols) -> StateChanges {
        let replace = std::mem::take(&mut self.rewrite);
        let mut records: Vec<(u64, Option<SavedRecord>)> = if replace {
            self.dirty.clear();
            self.pruned.clear();
            let all = self.ips.iter().flat_map(|(ip, records)| records.iter().map(move |r| (*ip, r)));
            all.map(|(ip, r)| (r.seq, Some((ip, encode_record(r, symbols))))).collect()
        } else {
            let ips = &self.ips;
            let changed = self.dirty.drain().map(|(seq, (ip, time))| {
                let records = ips.get(&ip).map_or(&[][..], Vec::as_slice);
                let found = records.binary_search_by_key(&(time, seq), |r| (r.time, r.seq)).ok();
                (seq, found.map(|i| (ip, encode_record(&records[i], symbols))))
            });
            let pruned = self.pruned.drain(..).map(|seq| (seq, None));
            changed.chain(pruned).collect()
        };
        self.saved_seq = self.next_seq;
        // In the order of the store's key: neighbouring rows are written together.
        records.sort_unstable_by_key(|(seq, _)| *seq);
        let mut sessions: Vec<(u64, Option<Vec<u8>>)> = if replace {
            self.dirty_sessions.clear();
            self.sessions.iter().map(|(id, s)| (*id, Some(encode_session(s)))).collect()
        } else {
            let all = &self.sessions;
            self.dirty_sessions.drain().map(|id| (id, all.get(&id).map(encode_session))).collect()
        };
        sessions.sort_unstable_by_key(|(id, _)| *id);
        StateChanges { replace, globals: self.encode_globals(), records, sessions }
    }

    fn encode_globals(&self) -> Vec<u8> {
        let mut b = vec![FORMAT];
        put_i(&mut b, self.window_ms);
        put_opt_i(&mut b, self.latest);
        put_opt_i(&mut b, self.last_prune);
        put_u(&mut b, self.next_seq);
        b
    }
}

impl SavedState {
    /// Applies `changes` to the saved state, as a store does (for tests and tools).
    pub fn apply(&mut self, changes: &StateChanges) {
        fn apply_to<K: Ord + Copy, V: Clone>(saved: &mut Vec<(K, V)>, changes: &[(K, Option<V>)], replace: bool) {
            let mut map: std::collections::BTreeMap<K, V> =
                if replace { Default::default() } else { std::mem::take(saved).into_iter().collect() };
            for (k, v) in changes {
                match v {
                    Some(v) => map.insert(*k, v.clone()),
                    None => map.remove(k),
                };
            }
            *saved = map.into_iter().collect();
        }
        if changes.replace {
            self.legacy = None;
        }
        self.globals = Some(changes.globals.clone());
        apply_to(&mut self.records, &changes.records, changes.replace);
        apply_to(&mut self.sessions, &changes.sessions, changes.replace);
    }
}

fn decode_globals(b: &[u8]) -> Option<Correlator> {
    let mut r = Reader::new(b)?;
    let mut c = Correlator::new();
    c.window_ms = r.i()?.max(0);
    c.latest = r.opt_i()?;
    c.last_prune = r.opt_i()?;
    c.next_seq = r.u()?;
    r.end()?;
    Some(c)
}

fn encode_session(s: &Session) -> Vec<u8> {
    let mut b = vec![FORMAT];
    put_i(&mut b, s.last);
    put_u(&mut b, u64::from(s.backend));
    put_u(&mut b, u64::from(s.credit));
    b
}

fn decode_session(b: &[u8]) -> Option<Session> {
    let mut r = Reader::new(b)?;
    let s = Session { last: r.i()?, backend: r.u32()?, credit: r.u32()? };
    r.end()?;
    Some(s)
}

fn encode_record(r: &Record, symbols: &Symbols) -> Vec<u8> {
    let mut b = Vec::with_capacity(24);
    b.push(FORMAT);
    put_i(&mut b, r.time);
    put_u(&mut b, u64::from(r.key.source));
    put_u(&mut b, r.key.offset);
    b.push(r.origin as u8);
    put_u(&mut b, u64::from(r.count));
    for n in r.has {
        put_u(&mut b, u64::from(n));
    }
    match &r.pending {
        None => b.push(0),
        Some(e) => {
            b.push(1);
            encode_event(&mut b, e, symbols);
        }
    }
    b
}

fn decode_record(seq: u64, b: &[u8], symbols: &mut Symbols) -> Option<Record> {
    let mut r = Reader::new(b)?;
    let time = r.i()?;
    let key = EventKey { source: r.u32()?, offset: r.u()? };
    let origin = usize::from(r.byte()?);
    if origin >= 5 {
        return None;
    }
    let count = r.u32()?;
    let mut has = [0; 5];
    for n in &mut has {
        *n = r.u32()?;
    }
    let pending = match r.byte()? {
        0 => None,
        1 => Some(Box::new(decode_event(&mut r, symbols)?)),
        _ => return None,
    };
    r.end()?;
    Some(Record { seq, time, key, origin, count, has, pending })
}

fn encode_event(b: &mut Vec<u8>, e: &Event, symbols: &Symbols) {
    put_i(b, e.time.as_second());
    put_i(b, i64::from(e.time.subsec_nanosecond()));
    match e.client_ip {
        IpAddr::V4(v4) => {
            b.push(4);
            b.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            b.push(6);
            b.extend_from_slice(&v6.octets());
        }
    }
    put_str(b, symbols.get(e.server));
    put_str(b, symbols.get(e.service));
    for text in [e.username, e.mechanism, e.logged_hostname] {
        match text {
            None => b.push(0),
            Some(s) => {
                b.push(1);
                put_str(b, symbols.get(s));
            }
        }
    }
    match e.session {
        None => b.push(0),
        Some(s) => {
            b.push(1);
            b.extend_from_slice(&s.to_le_bytes());
        }
    }
    put_u(b, u64::from(e.count));
    match e.duration_secs {
        None => b.push(0),
        Some(d) => {
            b.push(1);
            put_u(b, u64::from(d));
        }
    }
    b.push(e.kind.code());
    b.push(e.reason.code());
    b.push(layer_code(e.layer));
}

fn decode_event(r: &mut Reader, symbols: &mut Symbols) -> Option<Event> {
    let time = Timestamp::new(r.i()?, i32::try_from(r.i()?).ok()?).ok()?;
    let client_ip = match r.byte()? {
        4 => IpAddr::from(<[u8; 4]>::try_from(r.take(4)?).ok()?),
        6 => IpAddr::from(<[u8; 16]>::try_from(r.take(16)?).ok()?),
        _ => return None,
    };
    let server = symbols.text(r.str()?);
    let service = symbols.text(r.str()?);
    let mut texts = [None; 3];
    for t in &mut texts {
        *t = match r.byte()? {
            0 => None,
            1 => Some(symbols.text(r.str()?)),
            _ => return None,
        };
    }
    let [username, mechanism, logged_hostname] = texts;
    let session = match r.byte()? {
        0 => None,
        1 => Some(u64::from_le_bytes(r.take(8)?.try_into().ok()?)),
        _ => return None,
    };
    let count = r.u32()?;
    let duration_secs = match r.byte()? {
        0 => None,
        1 => Some(r.u32()?),
        _ => return None,
    };
    let kind = Kind::from_code(r.byte()?)?;
    let reason = Reason::from_code(r.byte()?)?;
    let layer = layer_from_code(r.byte()?)?;
    Some(Event {
        time,
        client_ip,
        server,
        service,
        username,
        mechanism,
        logged_hostname,
        session,
        count,
        duration_secs,
        kind,
        reason,
        layer,
    })
}

fn layer_code(layer: Layer) -> u8 {
    match layer {
        Layer::SmtpFront => 0,
        Layer::LoginFront => 1,
        Layer::Backend => 2,
        Layer::Pam => 3,
    }
}

fn layer_from_code(code: u8) -> Option<Layer> {
    Some(match code {
        0 => Layer::SmtpFront,
        1 => Layer::LoginFront,
        2 => Layer::Backend,
        3 => Layer::Pam,
        _ => return None,
    })
}

/// LEB128: seven bits a byte, low bits first.
fn put_u(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push(v as u8 | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

/// Zigzag, so that small negative numbers stay short.
fn put_i(b: &mut Vec<u8>, v: i64) {
    put_u(b, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_opt_i(b: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => b.push(0),
        Some(v) => {
            b.push(1);
            put_i(b, v);
        }
    }
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

/// Reads a piece; every method gives `None` on bytes that are not what it expects.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader of `b` past its format byte, if it is this build's.
    fn new(b: &'a [u8]) -> Option<Reader<'a>> {
        match b.split_first() {
            Some((&FORMAT, rest)) => Some(Reader { b: rest }),
            _ => None,
        }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            v |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u()?).ok()
    }

    fn i(&mut self) -> Option<i64> {
        let v = self.u()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn opt_i(&mut self) -> Option<Option<i64>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.i()?)),
            _ => None,
        }
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = usize::try_from(self.u()?).ok()?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    /// Nothing may follow the last field.
    fn end(&self) -> Option<()> {
        self.b.is_empty().then_some(())
    }
}
