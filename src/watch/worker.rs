//! The threads `watch` runs beside its passes: alert delivery and shipping to the fleet. A pass
//! wakes them; each works on a connection of its own to the store, so that a receiver or a
//! database that hangs never holds back the reading of the logs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::config::FleetConfig;
use crate::deliver::outbox::{Channels, Round, deliver_due};
use crate::fleet::{ShipError, ship, warning};
use crate::store::Store;
use crate::store::postgres::FleetDb;

/// A thread woken by [`Worker::wake`], stopped when dropped.
pub struct Worker {
    wake: Option<Sender<()>>,
    /// Disconnected when the thread ends.
    finished: Receiver<()>,
}

/// How long stopping waits for work under way: `watch` must stop within 2 s of SIGTERM, and a
/// receiver may hang until the channel's timeout. Work cut short is left to end with the
/// process and done again by the next run: an alert stays pending and is sent again with its
/// idempotency key; a shipment is rolled back by the database.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// How often a failing fleet database is tried again without a pass to wake the thread.
const SHIP_RETRY: Duration = Duration::from_secs(60);

/// The wake-ups a worker's thread waits for.
struct Wakes(Receiver<()>);

impl Wakes {
    /// Waits for a wake-up, or for `timeout` when there is one; `false` once the worker is
    /// stopped.
    fn wait(&self, timeout: Option<Duration>) -> bool {
        match timeout {
            Some(timeout) => !matches!(self.0.recv_timeout(timeout), Err(RecvTimeoutError::Disconnected)),
            None => self.0.recv().is_ok(),
        }
    }
}

impl Worker {
    /// Runs `work` on a thread named `name`.
    fn spawn(name: &str, work: impl FnOnce(Wakes) + Send + 'static) -> std::io::Result<Worker> {
        let (wake, wakes) = crossbeam_channel::bounded(1);
        let (finish, finished) = crossbeam_channel::bounded::<()>(0);
        std::thread::Builder::new().name(name.into()).spawn(move || {
            let _finish = finish;
            work(Wakes(wakes));
        })?;
        Ok(Worker { wake: Some(wake), finished })
    }

    /// Delivers the alerts' outbox of the store at `path` whenever a pass queued something or a
    /// retry falls due; each round that did something, and each failure, is told through
    /// `report`. Its first round delivers what an earlier run left queued.
    pub fn alerts(
        path: &Path,
        channels: Arc<Channels>,
        report: impl Fn(&Round) + Send + 'static,
    ) -> std::io::Result<Worker> {
        let path = path.to_path_buf();
        Worker::spawn("alerts", move |wakes| {
            let store = match Store::open(&path) {
                Ok(s) => s,
                Err(e) => {
                    let errors = vec![format!("alerts not delivered: cannot open the store: {e}")];
                    return report(&Round { errors, ..Round::default() });
                }
            };
            loop {
                let now = jiff::Timestamp::now().as_second();
                match deliver_due(&store, &channels, now) {
                    Ok(round) if round == Round::default() => {}
                    Ok(round) => report(&round),
                    Err(e) => report(&Round {
                        errors: vec![format!("alerts: the outbox cannot be read: {e}")],
                        ..Round::default()
                    }),
                }
                let wait = match store.next_alert_due() {
                    Ok(Some(next)) => Duration::from_secs(u64::try_from(next - now).unwrap_or(0).clamp(1, 60)),
                    _ => Duration::from_secs(60),
                };
                if !wakes.wait(Some(wait)) {
                    return;
                }
            }
        })
    }

    /// Ships the store at `path` to the fleet database as server `server` at each wake-up, on a
    /// connection of its own, connecting again after a failure; while the database fails, it is
    /// tried again every minute even if no pass wakes the thread (quiet logs). `report` is told
    /// each failure (once until shipping works again) and each recovery.
    pub fn shipping(
        path: &Path,
        config: FleetConfig,
        server: String,
        report: impl Fn(&str) + Send + 'static,
    ) -> std::io::Result<Worker> {
        let path = path.to_path_buf();
        Worker::spawn("fleet", move |wakes| {
            let store = match Store::open(&path) {
                Ok(s) => s,
                Err(e) => return report(&format!("not shipped to the fleet database: cannot open the store: {e}")),
            };
            let mut db: Option<FleetDb> = None;
            let mut failing = false;
            while wakes.wait(failing.then_some(SHIP_RETRY)) {
                let result = match db.as_mut() {
                    Some(db) => ship(&store, db, &server, config.batch),
                    None => FleetDb::connect(&config).map_err(ShipError::from).and_then(|mut d| {
                        let r = ship(&store, &mut d, &server, config.batch);
                        db = Some(d);
                        r
                    }),
                };
                match result {
                    Ok(_) if failing => {
                        failing = false;
                        report("shipping to the fleet database works again");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        // A new connection next time: this one may be broken.
                        db = None;
                        if !failing {
                            report(&warning(&store, &e));
                        }
                        failing = true;
                    }
                }
            }
        })
    }

    /// Asks for a round of work; one already asked for covers it.
    pub fn wake(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Worker {
    /// Stops the thread: at once when it waits, after [`STOP_WAIT`] at most when it works (it is
    /// then left to end with the process).
    fn drop(&mut self) {
        drop(self.wake.take());
        let _ = self.finished.recv_timeout(STOP_WAIT);
    }
}
