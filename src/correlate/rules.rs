//! Rules 2 to 5 of the [module documentation](super): how a front line (Postfix, a Dovecot
//! login process), a Backend line without a session and a PAM line join the records of the
//! same address, and which event a merged record keeps.

use super::records::Prefer;
use super::{BACKEND_PLAIN, Correlator, DEFAULT_DURATION_SECS, LOGIN, PAM, Record, SMTP};
use crate::model::event::{Event, EventKey, KeyedEvent};

impl Correlator {
    /// Rule 3.
    pub(super) fn on_smtp(&mut self, key: EventKey, event: Event, t: i64, out: &mut Vec<KeyedEvent>) {
        let ip = event.client_ip;
        let count = event.count;
        let near = self.near(t);
        let claimed = self.claim(
            ip,
            near,
            t,
            count,
            Prefer::Nearest,
            SMTP,
            Some(&event),
            Some(&mut *out),
            Record::free_for_front,
        );
        self.emit_unmatched(key, event, t, SMTP, count - claimed, out);
    }

    /// Rule 2.
    pub(super) fn on_login(
        &mut self,
        key: EventKey,
        event: Event,
        session: Option<u64>,
        t: i64,
        out: &mut Vec<KeyedEvent>,
    ) {
        let ip = event.client_ip;
        let n = event.count;
        if let Some(s) = session {
            self.end_session(&event, s, out);
        }
        let m = match session {
            Some(s) => {
                self.dirty_sessions.insert(s);
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
        let claimed = self.claim(ip, (lo, hi), t, n - m, Prefer::Oldest, LOGIN, None, None, Record::free_for_front);
        self.emit_unmatched(key, event, t, LOGIN, n - m - claimed, out);
    }

    /// Rule 4.
    pub(super) fn on_backend_plain(&mut self, key: EventKey, event: Event, t: i64, out: &mut Vec<KeyedEvent>) {
        let ip = event.client_ip;
        let count = event.count;
        let near = self.near(t);
        let claimed =
            self.claim(ip, near, t, count, Prefer::Nearest, BACKEND_PLAIN, Some(&event), Some(&mut *out), |r| match r
                .origin
            {
                SMTP => r.free(r.backend()),
                PAM => r.free(r.backend().saturating_add(r.has[LOGIN])),
                _ => 0,
            });
        self.hold_unmatched(key, event, t, BACKEND_PLAIN, count - claimed);
    }

    /// Rule 5.
    pub(super) fn on_pam(&mut self, key: EventKey, event: Event, t: i64) {
        let ip = event.client_ip;
        let count = event.count;
        let claimed = self.claim(ip, self.near(t), t, count, Prefer::Nearest, PAM, Some(&event), None, |r| {
            if r.origin == PAM { 0 } else { r.free(r.has[PAM]) }
        });
        self.hold_unmatched(key, event, t, PAM, count - claimed);
    }
}
