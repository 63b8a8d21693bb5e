//! Rule 1 of the [module documentation](super) and the session hold: the Backend lines of a
//! Dovecot session wait for the session's login line, which Dovecot writes only when the
//! connection ends, and which alone tells the protocol that was attacked.

use super::records::{Prefer, due};
use super::{BACKEND_SESSION, Correlator, PAM};
use crate::model::event::{Event, EventKey, KeyedEvent};

impl Correlator {
    /// A login line of `session` (failure or success, at `t`) ends the wait of the session's
    /// Backend events: they take the login process's service (`dovecot/imap-login`, not the
    /// auth process's) and are output now.
    pub(super) fn end_session(&mut self, login: &Event, session: u64, out: &mut Vec<KeyedEvent>) {
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
            out.push(KeyedEvent { key: r.key, event: **event });
            r.pending = None;
            self.session_events -= 1;
            self.pending.remove(&(due(BACKEND_SESSION, r.time, window_ms), r.seq));
            self.dirty.insert(r.seq, (login.client_ip, r.time));
        }
    }

    /// Rule 1.
    pub(super) fn on_backend_session(&mut self, key: EventKey, event: Event, session: u64, t: i64) {
        let ip = event.client_ip;
        self.dirty_sessions.insert(session);
        let sess = self.sessions.entry(session).or_default();
        let covered = event.count.min(sess.credit);
        sess.credit -= covered;
        let count = event.count - covered;
        sess.backend = sess.backend.saturating_add(count);
        sess.last = sess.last.max(t);
        let claimed =
            self.claim(ip, self.near(t), t, count, Prefer::Nearest, BACKEND_SESSION, Some(&event), None, |r| {
                if r.origin == PAM { r.free(r.backend().saturating_add(r.front())) } else { 0 }
            });
        self.hold_unmatched(key, event, t, BACKEND_SESSION, count - claimed);
    }
}
