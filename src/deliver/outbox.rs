//! Delivering the alerts' outbox: each pending message through its channel, until it is sent or
//! too old.
//!
//! A failure (connection refused, a timeout, HTTP 5xx, 429, an SMTP error) is tried again after
//! a backoff that doubles from 1 s to 15 min, or after the receiver's `Retry-After` when it gave
//! one; a refusal that retrying will not cure as is (HTTP 401, 404: a wrong token or URL) waits
//! at least 5 min, so that fixing the configuration is enough. A message older than
//! `[alerts] give_up_after` is given up and shows as dropped (`alerts`, the daily report).
//! Channels are served side by side, so that a receiver that hangs until the timeout does not
//! hold back the others.

use std::time::Duration;

use super::alert::{Outcome, send};
use crate::config::EmailConfig;
use crate::config::alerts::AlertsConfig;
use crate::store::alerts::Queued;
use crate::store::{Result, Store};

/// The longest wait between two tries.
const MAX_BACKOFF: i64 = 15 * 60;
/// The shortest wait after a refusal.
const REFUSED_BACKOFF: i64 = 5 * 60;

/// What a round of deliveries did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Messages delivered.
    pub sent: u64,
    /// Messages that failed and wait for another try.
    pub retrying: u64,
    /// Messages given up.
    pub dropped: u64,
    /// What went wrong, one line per failure (`channel NAME: ...`).
    pub errors: Vec<String>,
}

/// The settings a delivery needs.
#[derive(Clone, Debug)]
pub struct Channels {
    /// `[alerts]`: the channels and `give_up_after`.
    pub alerts: AlertsConfig,
    /// `[email]`, for email channels.
    pub email: EmailConfig,
    /// The zone messages show times in (`timezone`).
    pub timezone: jiff::tz::TimeZone,
}

/// Sends every pending message due by `now` (Unix seconds) and records how it went.
pub fn deliver_due(store: &Store, channels: &Channels, now: i64) -> Result<Round> {
    let mut round = Round::default();
    let give_up = now - channels.alerts.give_up_after.as_secs_i64();
    let mut by_channel: Vec<(String, Vec<Queued>)> = Vec::new();
    for q in store.due_alerts(now)? {
        if q.created < give_up {
            let why = format!(
                "not delivered within give_up_after ({}){}",
                channels.alerts.give_up_after,
                q.error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default()
            );
            store.alert_dropped(q.id, now, &why)?;
            round.dropped += 1;
            round.errors.push(format!("channel {}: alert {} dropped: {why}", q.channel, q.alert.rule));
            continue;
        }
        if channels.alerts.channel(&q.channel).is_none() {
            let why = "its channel is no longer configured";
            store.alert_dropped(q.id, now, why)?;
            round.dropped += 1;
            round.errors.push(format!("channel {}: alert {} dropped: {why}", q.channel, q.alert.rule));
            continue;
        }
        match by_channel.iter_mut().find(|(c, _)| *c == q.channel) {
            Some((_, list)) => list.push(q),
            None => by_channel.push((q.channel.clone(), vec![q])),
        }
    }
    if by_channel.is_empty() {
        return Ok(round);
    }
    let (tx, rx) = crossbeam_channel::unbounded::<(Queued, Outcome)>();
    std::thread::scope(|scope| -> Result<()> {
        for (name, list) in by_channel {
            let tx = tx.clone();
            let Some(channel) = channels.alerts.channel(&name) else { continue };
            let (email, tz) = (&channels.email, &channels.timezone);
            scope.spawn(move || {
                for q in list {
                    let outcome = send(channel, email, &q.alert, tz);
                    let failed = !matches!(outcome, Outcome::Delivered);
                    if tx.send((q, outcome)).is_err() {
                        return;
                    }
                    // A receiver that refuses one message will refuse the next: leave them for
                    // the next round, after the backoff.
                    if failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Recorded as they come, so that a crash loses the record of one delivery at most.
        for (q, outcome) in rx {
            let done = jiff::Timestamp::now().as_second().max(now);
            match outcome {
                Outcome::Delivered => {
                    store.alert_sent(q.id, done)?;
                    round.sent += 1;
                }
                Outcome::Retry { after, error } => {
                    let wait =
                        after.map_or_else(|| backoff(q.tries), |a| i64::try_from(a.as_secs()).unwrap_or(MAX_BACKOFF));
                    store.alert_failed(q.id, done + wait.max(1), &error)?;
                    round.retrying += 1;
                    round.errors.push(format!("channel {}: {error} (tried again in {wait} s)", q.channel));
                }
                Outcome::Failed { error } => {
                    let wait = backoff(q.tries).max(REFUSED_BACKOFF);
                    store.alert_failed(q.id, done + wait, &error)?;
                    round.retrying += 1;
                    round.errors.push(format!("channel {}: {error} (tried again in {wait} s)", q.channel));
                }
            }
        }
        Ok(())
    })?;
    Ok(round)
}

/// Seconds to wait after the `tries`-th failed try: 1, 2, 4, … up to 15 min.
fn backoff(tries: u32) -> i64 {
    1i64.checked_shl(tries.min(20)).unwrap_or(MAX_BACKOFF).min(MAX_BACKOFF)
}

/// Delivers for a `scan`: rounds until nothing is due, waiting for a retry only when it is due
/// within a few seconds, and for `budget` in all; what is left waits for the next run.
pub fn deliver_for_scan(store: &Store, channels: &Channels, budget: Duration) -> Result<Round> {
    let started = std::time::Instant::now();
    let mut total = Round::default();
    loop {
        let now = jiff::Timestamp::now().as_second();
        let round = deliver_due(store, channels, now)?;
        total.sent += round.sent;
        total.dropped += round.dropped;
        total.errors.extend(round.errors);
        let Some(next) = store.next_alert_due()? else { break };
        let wait = Duration::from_secs(u64::try_from(next - now).unwrap_or(0));
        if wait > Duration::from_secs(10) || started.elapsed() + wait > budget {
            break;
        }
        std::thread::sleep(wait.max(Duration::from_millis(200)));
    }
    // Counted, not read: every pending message's JSON would be decoded only to be counted.
    total.retrying = store.alert_counts()?.iter().map(|c| c.pending).sum();
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::alert::Alert;

    fn channels(give_up: &str) -> Channels {
        // A port nothing listens on: bound, then closed.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let text = format!(
            "[alerts]\ngive_up_after = \"{give_up}\"\n[[alerts.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \
             \"http://{closed}/\"\ntimeout = \"1s\"\n"
        );
        let config = crate::config::Config::parse(&text, std::path::Path::new("t.toml")).unwrap();
        Channels { alerts: config.alerts, email: config.email, timezone: jiff::tz::TimeZone::UTC }
    }

    #[test]
    fn backoff_doubles_up_to_a_quarter_of_an_hour() {
        let waits: Vec<i64> = (0..12).map(backoff).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
        assert_eq!(backoff(u32::MAX), 900);
    }

    #[test]
    fn failures_wait_and_old_or_orphaned_messages_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        let alert = Alert { rule: "r".into(), ..Alert::default() };
        let now = 1_800_000_000;
        store.queue_alert(&alert, &["hook".into()], now - 10).unwrap();
        store.queue_alert(&alert, &["gone".into()], now - 10).unwrap();
        store.queue_alert(&alert, &["hook".into()], now - 2 * 86_400).unwrap();
        let round = deliver_due(&store, &channels("1d"), now).unwrap();
        assert_eq!((round.sent, round.retrying, round.dropped), (0, 1, 2), "{round:?}");
        let all = store.alerts_since(0).unwrap();
        let states: Vec<(&str, u32)> = all.iter().map(|q| (q.status.as_str(), q.tries)).collect();
        assert_eq!(states, [("pending", 1), ("dropped", 0), ("dropped", 0)]);
        assert!(all[0].next_try > now, "waits before the next try");
        assert!(all[1].error.as_deref().unwrap().contains("no longer configured"));
        assert!(all[2].error.as_deref().unwrap().contains("give_up_after"));
        // Not due yet: nothing is tried.
        let round = deliver_due(&store, &channels("1d"), now).unwrap();
        assert_eq!(round, Round::default());
        assert_eq!(store.next_alert_due().unwrap(), Some(all[0].next_try));
    }
}
