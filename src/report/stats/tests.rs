use super::*;
use crate::model::event::{Detail, EventKey, Kind, Layer, OwnedEvent, Reason};
use crate::store::csv::{IntrusionCsv, RowFormatter};
use crate::store::{Batch, STORE_FILE, Store};

/// One line: (source, offset, time, kind, ip, user, count).
type Line = (u32, u64, &'static str, Kind, &'static str, &'static str, u32);

fn output(&(source, offset, time, kind, ip, user, count): &Line) -> (EventKey, OwnedEvent) {
    (
        EventKey { source, offset },
        OwnedEvent {
            time: time.parse().unwrap(),
            server: "mx1".into(),
            detail: Detail {
                kind,
                reason: if kind == Kind::Success { Reason::LoginOk } else { Reason::PasswordMismatch },
                service: "dovecot/imap-login".into(),
                client_ip: ip.parse().unwrap(),
                username: Some(user.into()),
                mechanism: None,
                logged_hostname: None,
                count,
                layer: Layer::LoginFront,
                session: None,
                duration_secs: None,
            },
        },
    )
}

/// A store holding `batches`, each committed the way a scan commits it.
fn store_with(dir: &std::path::Path, batches: &[&[Line]]) -> Store {
    let mut store = Store::open(&dir.join(STORE_FILE)).unwrap();
    let (mut csv, _) = IntrusionCsv::open(&dir.join("intrusions.csv"), None).unwrap();
    let mut rows = RowFormatter::new(jiff::tz::TimeZone::UTC);
    for lines in batches {
        let batch = Batch::of(lines.iter().map(output));
        store.commit_batch(&batch, &mut csv, &mut rows, false, &mut |_| Default::default()).unwrap();
    }
    store
}

fn day(date: &str) -> Period {
    Period::day(date.parse().unwrap(), &jiff::tz::TimeZone::UTC).unwrap()
}

#[test]
fn reports_read_every_block_once_and_only_the_period() {
    use Kind::{Failure, Success};
    let dir = tempfile::tempdir().unwrap();
    // Two log files covering the same hours, committed in several batches, so that the
    // period's events lie in several blocks whose times interleave, and some blocks also
    // hold events of the days around it.
    let store = store_with(
        dir.path(),
        &[
            &[
                (1, 0, "2026-03-09T23:00:00Z", Failure, "198.51.100.1", "a", 2),
                (1, 100, "2026-03-10T01:00:00Z", Failure, "198.51.100.1", "b", 1),
                (2, 0, "2026-03-09T22:00:00Z", Failure, "198.51.100.2", "a", 1),
                (2, 100, "2026-03-10T00:30:00Z", Failure, "198.51.100.1", "c", 1),
            ],
            &[
                (1, 200, "2026-03-10T03:00:00Z", Failure, "198.51.100.3", "a", 1),
                (2, 200, "2026-03-10T02:00:00Z", Failure, "198.51.100.3", "a", 1),
                (2, 300, "2026-03-10T04:00:00Z", Success, "198.51.100.1", "c", 1),
                (1, 300, "2026-03-11T00:00:00Z", Failure, "198.51.100.9", "a", 7),
            ],
        ],
    );
    let period = day("2026-03-10");
    let r = collect(&store, &period, 10, false).unwrap();
    assert_eq!((r.totals.failed_attempts, r.totals.unique_ips), (4, 2));
    assert_eq!((r.totals.previous_failed_attempts, r.totals.previous_unique_ips), (3, 2));
    assert_eq!(r.totals.successful_logins, 1);
    // 198.51.100.1 failed 4 times for 3 accounts in the 7 days before its login, in both files.
    assert_eq!(r.compromises.len(), 1);
    assert_eq!((r.compromises[0].failures_7d, r.compromises[0].failed_accounts_7d), (4, 3));

    let (start, end) = (period.start.as_second(), period.end.as_second());
    let csv = String::from_utf8(store.intrusion_rows(start, end, &period.tz, false).unwrap()).unwrap();
    let times: Vec<&str> = csv.lines().skip(1).map(|l| &l[11..19]).collect();
    assert_eq!(times, ["00:30:00", "01:00:00", "02:00:00", "03:00:00"], "in time order across the files");
}

#[test]
fn each_login_counts_the_failures_of_its_own_week() {
    use Kind::{Failure, Success};
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(
        dir.path(),
        &[&[
            // Too old for both logins (more than 7 days before the first).
            (1, 0, "2026-03-01T23:00:00Z", Failure, "198.51.100.1", "x", 5),
            // Within the week of both.
            (1, 100, "2026-03-09T08:00:00Z", Failure, "198.51.100.1", "a", 2),
            (1, 300, "2026-03-10T10:00:00Z", Success, "198.51.100.1", "c", 1),
            (1, 400, "2026-03-10T12:00:00Z", Success, "198.51.100.1", "d", 1),
            // Another address's failures count for nobody here.
            (1, 500, "2026-03-10T11:00:00Z", Failure, "198.51.100.2", "c", 4),
            // After the first login, before the second: counts for the second only.
            (1, 550, "2026-03-10T11:30:00Z", Failure, "198.51.100.1", "b", 3),
            (1, 600, "2026-03-10T13:00:00Z", Success, "198.51.100.3", "e", 1),
        ]],
    );
    let r = collect(&store, &day("2026-03-10"), 10, false).unwrap();
    let got: Vec<(String, Option<String>, u64, u64)> =
        r.compromises.iter().map(|c| (c.ip.clone(), c.username.clone(), c.failures_7d, c.failed_accounts_7d)).collect();
    assert_eq!(
        got,
        [
            ("198.51.100.1".to_string(), Some("c".to_string()), 2, 1),
            ("198.51.100.1".to_string(), Some("d".to_string()), 5, 2),
        ]
    );
}

#[test]
fn networks_are_slash_24_and_slash_64() {
    assert_eq!(network_of("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
    assert_eq!(network_of("2001:db8:1:2:3:4:5:6".parse().unwrap()), "2001:db8:1:2::/64");
}

#[test]
fn services_are_classified_by_syslog_name() {
    assert_eq!(service_class("postfix/submission/smtpd"), "SMTP submission (587)");
    assert_eq!(service_class("postfix/smtps/smtpd"), "SMTPS (465)");
    assert_eq!(service_class("postfix/smtpd"), "SMTP (25)");
    assert_eq!(service_class("dovecot/imap-login"), "IMAP");
    assert_eq!(service_class("dovecot/pop3-login"), "POP3");
    assert_eq!(service_class("dovecot/auth"), "other");
}

#[test]
fn top_tables_rank_by_attempts_then_label_and_count_distinct_accounts_and_addresses() {
    use Kind::Failure;
    let dir = tempfile::tempdir().unwrap();
    let t = "2026-03-10T01:00:00Z";
    let store = store_with(
        dir.path(),
        &[&[
            // .2 and .3 tie on attempts: the lower address first. .1 tried two accounts.
            (1, 0, t, Failure, "198.51.100.1", "b", 3),
            (1, 100, t, Failure, "198.51.100.1", "a", 1),
            (1, 200, t, Failure, "198.51.100.3", "a", 2),
            (1, 300, t, Failure, "198.51.100.2", "c", 2),
            (1, 400, t, Failure, "2001:db8::1", "c", 1),
            (1, 500, t, Failure, "203.0.113.1", "z", 1),
        ]],
    );
    let r = collect(&store, &day("2026-03-10"), 3, false).unwrap();
    let ips: Vec<(&str, u64, u64)> = r.top_ips.iter().map(|i| (i.ip.as_str(), i.attempts, i.accounts)).collect();
    assert_eq!(ips, [("198.51.100.1", 4, 2), ("198.51.100.2", 2, 1), ("198.51.100.3", 2, 1)]);
    // a and c tie at 3 attempts: by name; b has 3 too; z (1) is cut.
    let users: Vec<(&str, u64, u64)> = r.top_users.iter().map(|u| (u.username.as_str(), u.attempts, u.ips)).collect();
    assert_eq!(users, [("a", 3, 2), ("b", 3, 1), ("c", 3, 2)]);
    let nets: Vec<(&str, u64, u64)> = r.top_networks.iter().map(|n| (n.network.as_str(), n.attempts, n.ips)).collect();
    assert_eq!(nets, [("198.51.100.0/24", 8, 3), ("2001:db8::/64", 1, 1), ("203.0.113.0/24", 1, 1)]);
    assert_eq!((r.new_ips.count, r.new_ips.attempts, r.new_ips.top.len()), (5, 10, 3), "all new");
    let services: Vec<(&str, u64, u64)> = r.services.iter().map(|s| (s.service.as_str(), s.attempts, s.ips)).collect();
    assert_eq!(services, [("IMAP", 10, 5)]);
}

#[test]
fn failures_are_counted_in_the_bucket_of_their_local_day() {
    use Kind::Failure;
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(
        dir.path(),
        &[&[
            (1, 0, "2026-10-24T21:59:59Z", Failure, "198.51.100.1", "a", 1),
            // Local 2026-10-25 00:00 (+02:00) and 23:59:59 (+01:00): the 25-hour day.
            (1, 100, "2026-10-24T22:00:00Z", Failure, "198.51.100.1", "a", 2),
            (1, 200, "2026-10-25T22:59:59Z", Failure, "198.51.100.1", "a", 3),
            (1, 300, "2026-10-25T23:00:00Z", Failure, "198.51.100.1", "a", 4),
        ]],
    );
    let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    let period = Period::since(20 * 86_400, "2026-11-05T05:54:17Z".parse().unwrap(), &tz).unwrap();
    let r = collect(&store, &period, 10, false).unwrap();
    assert_eq!(r.bucket, super::super::Bucket::Day);
    let day = |d: &str| r.per_hour.iter().find(|b| b.start == d).map(|b| b.attempts);
    assert_eq!((day("2026-10-24"), day("2026-10-25"), day("2026-10-26")), (Some(1), Some(5), Some(4)));
    assert_eq!(r.per_hour.iter().map(|b| b.attempts).sum::<u64>(), 10);
}

#[test]
fn json_times_carry_the_offset_so_the_two_2_am_hours_of_a_dst_day_differ() {
    use Kind::Failure;
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(
        dir.path(),
        &[&[
            // 02:30 local, twice: before (+02:00) and after (+01:00) the clocks go back.
            (1, 0, "2026-10-25T00:30:00Z", Failure, "198.51.100.1", "a", 1),
            (1, 100, "2026-10-25T01:30:00Z", Failure, "198.51.100.1", "a", 2),
        ]],
    );
    let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    let period = Period::day("2026-10-25".parse().unwrap(), &tz).unwrap();
    let r = collect(&store, &period, 10, false).unwrap();
    let json: serde_json::Value = serde_json::from_str(&super::super::json::render(&r)).unwrap();
    let hours = json["per_hour"].as_array().unwrap();
    assert_eq!(hours.len(), 25);
    assert_eq!(hours[2]["start"], "2026-10-25T02:00:00+02:00");
    assert_eq!(hours[3]["start"], "2026-10-25T02:00:00+01:00");
    assert_eq!((hours[2]["attempts"].as_u64(), hours[3]["attempts"].as_u64()), (Some(1), Some(2)));
    assert_eq!(json["top_ips"][0]["last_seen"], "2026-10-25T02:30:00+01:00");
    // Text shows local time as before.
    assert_eq!(r.top_ips[0].last_seen.as_ref().map(|w| w.as_str()), Some("2026-10-25 02:30:00"));
}
