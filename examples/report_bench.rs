//! Fills a store with synthetic events and times `report`'s queries on it.
//!
//! ```text
//! cargo run --release --example report_bench -- /tmp/bench 10000000 365
//! ```
//!
//! Arguments: data directory (created; an existing store there is reused, not refilled),
//! number of events, and the number of days they are spread over (ending yesterday, UTC).
//! The events are stored with `Store::import_events` (a scan's commits would also write every
//! failure to intrusions.csv, gigabytes at this size); what a scan keeps alongside the events
//! (address and login history) is then rebuilt from them.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

use std::time::Instant;

use maillogsentinel::model::event::{EventKey, Kind, Reason};
use maillogsentinel::report::{self, Period, ReportOptions};
use maillogsentinel::store::{EventRecord, IpKey, STORE_FILE, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: report_bench DIR [EVENTS] [DAYS]")?);
    let events: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10_000_000);
    let days: i64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(365);
    std::fs::create_dir_all(&dir)?;
    let tz = jiff::tz::TimeZone::UTC;
    let today = jiff::Timestamp::now().to_zoned_datetime(tz.clone()).date();
    let end = today.to_zoned_datetime(tz.clone())?.timestamp().as_second();
    let start = end - days * 86_400;
    let mut store = Store::open(&dir.join(STORE_FILE))?;
    let have = store.event_count()?;
    if have == 0 {
        let t = Instant::now();
        fill(&mut store, events, start, end)?;
        println!("filled {events} events over {days} days in {:.1} s", t.elapsed().as_secs_f64());
    } else {
        println!("reusing {have} events");
    }
    let t = Instant::now();
    let store = report::open_store(&dir)?;
    println!("open: {:.2} s", t.elapsed().as_secs_f64());
    let period = Period::previous_day(&jiff::Timestamp::now().to_zoned_datetime(tz))?;
    let opts = ReportOptions { period, top: 10, server: "bench".into(), probes_count: false };
    for run in 1..=3 {
        let t = Instant::now();
        let r = report::build(&store, &opts)?;
        let text = report::text::render(&r);
        let html = report::html::render(&r);
        println!(
            "report run {run}: {:.3} s ({} failed attempts, {} IPs, {} compromises; {} + {} bytes)",
            t.elapsed().as_secs_f64(),
            r.totals.failed_attempts,
            r.totals.unique_ips,
            r.compromises.len(),
            text.len(),
            html.len()
        );
    }
    // The email's attachment: every counted failure of the period, in time order.
    let t = Instant::now();
    let (from, to) = (opts.period.start.as_second(), opts.period.end.as_second());
    let csv = store.intrusion_rows(from, to, &opts.period.tz, opts.probes_count)?;
    println!("intrusions.csv: {:.3} s ({} bytes)", t.elapsed().as_secs_f64(), csv.len());
    Ok(())
}

/// Inserts `n` events between `start` and `end`: 97% failures from a pool of attacker IPs
/// against a pool of usernames, 3% successes of regular users from their own IPs (and a few from
/// attacker IPs), a trickle of backend errors.
fn fill(store: &mut Store, n: u64, start: i64, end: i64) -> Result<(), Box<dyn std::error::Error>> {
    let services = ["postfix/submission/smtpd", "postfix/smtpd", "dovecot/imap-login", "dovecot/pop3-login"];
    let service_ids = store.intern_texts(&services)?;
    let server = store.intern_texts(&["mx1"])?[0];
    let users: Vec<String> = (0..5_000).map(|u| format!("user{u}@example.org")).collect();
    let user_ids = store.intern_texts(&users.iter().map(String::as_str).collect::<Vec<_>>())?;
    let mut rng = fastrand::Rng::with_seed(7);
    let span = (end - start).max(1) as u64;
    let events = (0..n).map(|i| {
        let ts = start + (i * span / n.max(1)) as i64;
        let roll = rng.u32(0..1000);
        let (kind, reason, ip, user) = if roll < 10 {
            // Users mistyping their password: failures from addresses that also log in, which
            // send the report to the events of the week before those logins.
            let u = rng.usize(0..user_ids.len());
            (Kind::Failure, Reason::PasswordMismatch, [10, (u >> 8) as u8, u as u8, 1], user_ids[u])
        } else if roll < 970 {
            // 200k attacker IPs, skewed so that some are much busier than others.
            let a = rng.u32(0..200_000).min(rng.u32(0..200_000));
            let ip = [45, (a >> 16) as u8, (a >> 8) as u8, a as u8];
            let user = user_ids[rng.usize(0..user_ids.len()).min(rng.usize(0..user_ids.len()))];
            (Kind::Failure, Reason::PasswordMismatch, ip, user)
        } else if roll < 999 {
            let u = rng.usize(0..user_ids.len());
            let ip = if rng.u32(0..500) == 0 { [45, 0, 0, rng.u8(..)] } else { [10, (u >> 8) as u8, u as u8, 1] };
            (Kind::Success, Reason::LoginOk, ip, user_ids[u])
        } else {
            (Kind::BackendError, Reason::BackendOutage, [127, 0, 0, 1], user_ids[0])
        };
        EventRecord {
            key: EventKey::from_rowid(i as i64 + 1),
            ts,
            kind,
            reason,
            count: 1,
            ip: IpKey::of(std::net::IpAddr::from(ip)),
            server,
            service: service_ids[rng.usize(0..service_ids.len())],
            username: Some(user),
            mechanism: None,
            logged_hostname: None,
        }
    });
    store.import_events(events)?;
    // What a scan keeps up to date as it stores events.
    store.rebuild_history()?;
    Ok(())
}
