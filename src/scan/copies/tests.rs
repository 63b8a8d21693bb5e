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
