use super::*;
use crate::model::event::{Detail, OwnedEvent};
use crate::model::symbols::{Sym, Symbols};
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

/// Saves what changed in `c` into `saved`, as a commit does.
fn save(c: &mut Correlator, saved: &mut SavedState) {
    let changes = SYMBOLS.with(|s| c.changes(&s.borrow()));
    saved.apply(&changes);
}

/// The whole state of `c`, as a first commit saves it.
fn whole(c: &Correlator) -> SavedState {
    let mut c = c.clone();
    c.rewrite = true;
    let mut saved = SavedState::default();
    save(&mut c, &mut saved);
    saved
}

fn restore(saved: &SavedState) -> Result<Correlator, StateError> {
    SYMBOLS.with(|s| Correlator::restore(saved, &mut s.borrow_mut()))
}

fn restore_legacy(state: &[u8]) -> Result<Correlator, StateError> {
    SYMBOLS.with(|s| Correlator::restore_legacy(state, &mut s.borrow_mut()))
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
        Layer::LoginFront => {
            ("dovecot/imap-login", Some("carol"), Reason::AuthenticationFailure, Some("PLAIN".into()), None, Some(30))
        }
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

/// Pushes `events` one by one; returns how many outputs each push gave.
fn outputs_per_push(c: &mut Correlator, events: &[Event]) -> Vec<usize> {
    let mut out = Vec::new();
    keyed(events)
        .into_iter()
        .map(|(k, e)| {
            let before = out.len();
            c.push(k, e, &mut out);
            out.len() - before
        })
        .collect()
}

#[test]
fn backend_line_then_postfix_line_is_output_with_the_postfix_line() {
    let mut c = Correlator::new();
    let mut out = Vec::new();
    let ev = keyed(&[backend(0.0, IP1), smtp(2.0, IP1), pam(3.0, IP1), smtp(20.0, IP2)]);
    c.push(ev[0].0, ev[0].1, &mut out);
    assert!(out.is_empty());
    c.push(ev[1].0, ev[1].1, &mut out);
    // At once, not after a line `W` later.
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].key, ev[0].0);
    assert_eq!(out[0].event.count, 1);
    assert_eq!(text(out[0].event.service), "postfix/submission/smtpd");
    assert_eq!(opt_text(out[0].event.username).as_deref(), Some("bob"));
    assert_eq!(c.pending_len(), 0);
    // A late PAM line of the same attempt counts nothing more.
    c.push(ev[2].0, ev[2].1, &mut out);
    c.push(ev[3].0, ev[3].1, &mut out);
    c.flush_before(far_future(), &mut out);
    assert_eq!(total(&out), 2);
}

#[test]
fn an_attempt_with_its_postfix_and_backend_lines_is_output_at_once_in_any_order() {
    // PAM, Backend, Postfix (Dovecot's auth process asks PAM first): out with Postfix's line.
    let mut c = Correlator::new();
    assert_eq!(outputs_per_push(&mut c, &[pam(0.0, IP1), backend(0.1, IP1), smtp(1.0, IP1)]), [0, 0, 1]);
    // PAM, Postfix, Backend: out with the Backend line, which completes it.
    let mut c = Correlator::new();
    assert_eq!(outputs_per_push(&mut c, &[pam(0.0, IP1), smtp(1.0, IP1), backend(1.5, IP1)]), [0, 0, 1]);
    assert_eq!(c.pending_len(), 0);
}

#[test]
fn a_merged_record_still_open_to_other_lines_waits_the_window() {
    // PAM and Postfix: Dovecot's Backend line may still come.
    let mut c = Correlator::new();
    assert_eq!(outputs_per_push(&mut c, &[pam(0.0, IP1), smtp(1.0, IP1), smtp(20.0, IP2)]), [0, 0, 2]);
    // Two attempts in one Backend line (rsyslog's `message repeated`), one Postfix line so far.
    let mut c = Correlator::new();
    let events = [ev(0.0, IP1, Layer::Backend, None, 2), smtp(1.0, IP1), smtp(1.5, IP1)];
    assert_eq!(outputs_per_push(&mut c, &events), [0, 0, 1]);
    let mut c = Correlator::new();
    assert_eq!(outputs_per_push(&mut c, &[events[0], events[1], smtp(20.0, IP2)]), [0, 0, 2]);
    // Released by the later line: nothing is left.
    let mut out = Vec::new();
    c.flush_before(far_future(), &mut out);
    assert!(out.is_empty());
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
fn saving_the_changes_at_every_line_keeps_the_whole_state() {
    for events in scenarios() {
        let mut c = Correlator::new();
        let mut saved = SavedState::default();
        let mut out = Vec::new();
        for (k, e) in keyed(&events) {
            c.push(k, e, &mut out);
            save(&mut c, &mut saved);
            assert_eq!(saved, whole(&c), "{events:#?}");
        }
        c.flush_before(far_future(), &mut out);
        save(&mut c, &mut saved);
        assert_eq!(saved, whole(&c), "{events:#?}");
    }
}

#[test]
fn restore_at_every_split_gives_the_same_outputs() {
    for events in scenarios() {
        let whole_run = run(&events);
        let keys = keyed(&events);
        for split in 0..=keys.len() {
            let mut c = Correlator::new();
            let mut saved = SavedState::default();
            let mut out = Vec::new();
            for (i, (k, e)) in keys[..split].iter().enumerate() {
                c.push(*k, *e, &mut out);
                // Commits now and then, as a scan does.
                if i % 2 == 0 {
                    save(&mut c, &mut saved);
                }
            }
            save(&mut c, &mut saved);
            let mut c = restore(&saved).unwrap();
            assert_eq!(whole(&c), saved, "round trip");
            for (k, e) in &keys[split..] {
                c.push(*k, *e, &mut out);
            }
            c.flush_before(far_future(), &mut out);
            assert_eq!(total(&out), total(&whole_run), "split {split} of {events:#?}");
            assert_eq!(out, whole_run, "split {split}");
        }
    }
}

#[test]
fn a_restored_state_saves_only_what_changes_next() {
    let mut c = Correlator::new();
    let mut out = Vec::new();
    for i in 0..100u8 {
        c.push(
            EventKey { source: 1, offset: u64::from(i) },
            backend(f64::from(i) * 0.01, &format!("10.0.0.{i}")),
            &mut out,
        );
    }
    let mut saved = SavedState::default();
    save(&mut c, &mut saved);
    let mut c = restore(&saved).unwrap();
    c.push(EventKey { source: 1, offset: 1000 }, smtp(2.0, "10.0.0.7"), &mut out);
    let changes = SYMBOLS.with(|s| c.changes(&s.borrow()));
    assert!(!changes.replace);
    // The Postfix line claimed the pending record of its address: that record alone changed.
    let changed: Vec<_> =
        changes.records.iter().map(|(seq, r)| (*seq, r.as_ref().map(|(ip, _)| ip.to_string()))).collect();
    assert_eq!(changed, [(7, Some("10.0.0.7".to_string()))]);
    assert!(changes.sessions.is_empty());
    // Nothing happened since: nothing to save but the clocks.
    let changes = SYMBOLS.with(|s| c.changes(&s.borrow()));
    assert!(changes.records.is_empty() && !changes.globals.is_empty());
}

#[test]
fn restore_keeps_texts_and_refuses_corrupt_pieces() {
    let mut c = Correlator::with_window(SignedDuration::from_secs(3));
    let mut out = Vec::new();
    c.push(EventKey { source: 1, offset: 0 }, backend_s(0.0, IP1, "s1"), &mut out);
    c.push(EventKey { source: 1, offset: 1 }, pam(0.5, IP2), &mut out);
    let saved = whole(&c);
    // Texts are saved as text: a scan with another symbol table reads them.
    let mut symbols = Symbols::new();
    symbols.text("something else");
    let mut back = Correlator::restore(&saved, &mut symbols).unwrap();
    assert_eq!(back.window(), SignedDuration::from_secs(3));
    assert_eq!((back.pending_len(), back.sessions_len()), (2, 1));
    back.flush_before(far_future(), &mut out);
    let mut users: Vec<_> = out.iter().map(|o| symbols.get(o.event.username.unwrap()).to_string()).collect();
    users.sort();
    assert_eq!(users, ["bob", "bob"]);
    assert_eq!(out.iter().map(|o| symbols.get(o.event.service)).filter(|s| *s == "dovecot/auth").count(), 1);
    // Every cut or changed byte of a piece gives an error, never a panic.
    let (seq, (ip, piece)) = saved.records[0].clone();
    for cut in 0..piece.len() {
        let mut bad = saved.clone();
        bad.records[0] = (seq, (ip, piece[..cut].to_vec()));
        assert!(restore(&bad).is_err(), "cut at {cut}");
    }
    for at in 0..piece.len() {
        let mut bad = saved.clone();
        let mut p = piece.clone();
        p[at] ^= 0xff;
        bad.records[0] = (seq, (ip, p));
        let _ = restore(&bad);
    }
    let mut bad = saved.clone();
    bad.globals = Some(b"{}".to_vec());
    assert!(restore(&bad).is_err());
    let mut bad = saved;
    bad.sessions[0].1.push(0);
    assert!(restore(&bad).is_err());
}

#[test]
fn restore_legacy_accepts_the_placeholder_state_and_keeps_the_window() {
    let c = restore_legacy(b"{}").unwrap();
    assert_eq!(c.window(), DEFAULT_WINDOW);
    assert!(c.is_empty());
    assert!(restore_legacy(b"not json").is_err());
    let saved = SavedState { legacy: Some(b"not json".to_vec()), ..whole(&Correlator::new()) };
    assert!(restore(&saved).is_err(), "the old state is read first, when there is one");
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
    let mut saved = SavedState::default();
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
        // What is saved commit by commit stays the whole state, pruning included.
        if i % 4999 == 0 {
            save(&mut c, &mut saved);
            assert_eq!(saved, whole(&c), "line {i}");
        }
    }
    c.flush_before(far_future(), &mut out);
    check(&out);
    let counted = total(&out);
    assert!(counted > 0 && counted <= n * 6 / 5, "{counted}");
    // 600 s of horizon plus a quarter between prunings, two lines a second.
    assert!(max_len <= 2000, "{max_len}");
    assert!(c.sessions_len() <= 3 * 3600, "{}", c.sessions_len());
    let saved = whole(&c);
    assert!(saved.records.iter().map(|(_, (_, p))| p.len()).sum::<usize>() < 1_000_000);
}

/// `base` from the `i`-th address of 10.0.0.0/8, at `T0 + i / per_sec` seconds, and in session
/// `s<i>` when it has one: a line of a burst, made without interning anything.
fn burst_line(base: &Event, i: u32, per_sec: u32) -> Event {
    let mut e = *base;
    e.client_ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
    e.time = Timestamp::from_millisecond(T0 * 1000 + i64::from(i) * 1000 / i64::from(per_sec)).unwrap();
    e.session = e.session.map(|_| u64::from(i));
    e
}

#[test]
fn records_beyond_the_limit_are_let_go_and_counted_never_lost() {
    // Dovecot auth lines with no front line: each record stays claimable by a login line for
    // the long horizon, so 1,000 a second for 300 s would hold 300,000.
    let (mut c, mut out) = (Correlator::new(), Vec::new());
    let base = backend(0.0, IP1);
    let n = 300_000;
    let mut saved = SavedState::default();
    for i in 0..n {
        c.push(EventKey { source: 1, offset: u64::from(i) }, burst_line(&base, i, 1000), &mut out);
        assert!(c.len() <= MAX_RECORDS, "line {i}: {}", c.len());
        if i % 40_000 == 0 {
            save(&mut c, &mut saved);
        }
    }
    // What the commits saved, records let go included, is still the whole state.
    save(&mut c, &mut saved);
    assert_eq!(saved, whole(&c));
    let limits = c.limits();
    assert!(limits.records_shed >= u64::from(n) - MAX_RECORDS as u64, "{limits:?}");
    assert_eq!(limits.released_early, 0, "emitted records go first");
    c.flush_before(far_future(), &mut out);
    check(&out);
    assert_eq!(total(&out), n);
}

#[test]
fn a_million_dovecot_sessions_that_never_end_stay_within_the_limits() {
    // Each session's auth line waits up to 5 minutes for a login line that never comes.
    let (mut c, mut out) = (Correlator::new(), Vec::new());
    let base = backend_s(0.0, IP1, "s");
    let n = 1_000_000;
    for i in 0..n {
        c.push(EventKey { source: 1, offset: u64::from(i) }, burst_line(&base, i, 2000), &mut out);
        if i % 1000 == 0 {
            assert!(c.len() <= MAX_RECORDS && c.sessions_len() <= MAX_SESSIONS, "line {i}");
            assert!(c.session_events <= MAX_SESSION_EVENTS, "line {i}");
        }
    }
    let limits = c.limits();
    assert!(limits.session_events_early > 0 && limits.sessions_shed > 0, "{limits:?}");
    c.flush_before(far_future(), &mut out);
    check(&out);
    assert_eq!(total(&out), n, "every attempt once, however early it was released");
    // Released early or not, each event is the auth process's line.
    assert!(out.iter().all(|o| text(o.event.service) == "dovecot/auth"));
}

#[test]
fn records_only_a_near_line_can_join_go_after_the_short_horizon() {
    let (mut c, mut out) = (Correlator::new(), Vec::new());
    let ip3 = "203.0.113.9";
    // A Postfix record (only a Backend or PAM line within W can join it) and a Dovecot auth
    // record no front line claimed (a login line up to its connection's length later can).
    c.push(EventKey { source: 1, offset: 0 }, smtp(0.0, ip3), &mut out);
    c.push(EventKey { source: 1, offset: 1 }, backend(0.0, IP1), &mut out);
    for i in 0..2000u32 {
        let t = 1.0 + f64::from(i) * 0.1;
        c.push(EventKey { source: 1, offset: 2 + u64::from(i) }, smtp(t, IP2), &mut out);
    }
    assert!(!c.ips.contains_key(&ip3.parse().unwrap()), "the Postfix record went after the short horizon");
    assert!(c.ips.contains_key(&IP1.parse().unwrap()), "the auth record is kept for a login line");
    // A login line 250 s later, of a connection that lasted 280 s, claims it: counted once.
    let mut l = login(250.0, IP1, "late", 1);
    l.duration_secs = Some(280);
    c.push(EventKey { source: 1, offset: 5000 }, l, &mut out);
    c.flush_before(far_future(), &mut out);
    check(&out);
    let ip1: IpAddr = IP1.parse().unwrap();
    assert_eq!(out.iter().filter(|o| o.event.client_ip == ip1).map(|o| o.event.count).sum::<u32>(), 1);
    assert_eq!(c.limits(), Limits::default());
}

/// How many pending records wait for their session's login line, counted afresh.
fn session_events(c: &Correlator) -> usize {
    c.ips.values().flatten().filter(|r| r.origin == BACKEND_SESSION && r.pending.is_some()).count()
}

#[test]
fn session_events_beyond_their_limit_are_stored_early_and_counted_never_twice() {
    // Sessions that stay open: their auth lines wait for login lines, 1,000 a second, each from
    // an address and a session of its own; within the records' and the sessions' limits.
    let (mut c, mut out) = (Correlator::new(), Vec::new());
    let base = backend_s(0.0, IP1, "s");
    let n = MAX_SESSION_EVENTS as u32 + 2000;
    let mut saved = SavedState::default();
    let at = |e: Event, i: u32| Event { time: burst_line(&base, i, 1000).time, ..e };
    let mut extra = 0;
    for i in 0..n {
        c.push(EventKey { source: 1, offset: u64::from(i) }, burst_line(&base, i, 1000), &mut out);
        assert!(session_events(&c) <= MAX_SESSION_EVENTS, "line {i}");
        if i == MAX_SESSION_EVENTS as u32 + 100 {
            // Line 2,000 went early, 8 s ago: a PAM line of its attempt still joins it...
            let ip = burst_line(&base, 2000, 1000).client_ip.to_string();
            let lines = [
                at(pam(0.0, &ip), i),
                // ...its session's login line counts nothing again...
                at(burst_line(&login(0.0, IP1, "s", 1), 2000, 1000), i),
                // ...and a session still waiting gets the login process's service.
                at(burst_line(&login(0.0, IP1, "s", 1), 9000, 1000), i),
            ];
            for e in lines {
                extra += 1;
                c.push(EventKey { source: 2, offset: extra }, e, &mut out);
            }
            save(&mut c, &mut saved);
        }
    }
    assert_eq!(c.session_events, session_events(&c));
    save(&mut c, &mut saved);
    assert_eq!(saved, whole(&c));
    assert_eq!(restore(&saved).unwrap().session_events, c.session_events, "counted again on restore");
    let limits = c.limits();
    assert!(limits.session_events_early > 2000, "{limits:?}");
    assert_eq!(Limits { session_events_early: 0, ..limits }, Limits::default(), "no other limit reached");
    c.flush_before(far_future(), &mut out);
    assert_eq!(c.session_events, 0);
    check(&out);
    assert_eq!(total(&out), n, "every attempt once");
    let service =
        |i: u64| out.iter().find(|o| o.key == EventKey { source: 1, offset: i }).map(|o| text(o.event.service));
    assert_eq!(service(2000).as_deref(), Some("dovecot/auth"), "stored early");
    assert_eq!(service(9000).as_deref(), Some("dovecot/imap-login"));
}
