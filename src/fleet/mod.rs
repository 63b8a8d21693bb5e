//! The fleet: many servers, one PostgreSQL database.
//!
//! Each server's store stays its own truth and is the fleet's outbox: [`ship`] sends what it
//! holds and the database does not, shipment by shipment, and marks each one shipped only after
//! the database committed it. A database that cannot be reached stops nothing: `scan` says so
//! in one warning with the backlog, `watch` tries again after its next pass, and the events
//! wait in the store. [`Shipper`] is `watch`'s thread for it, so that a slow or unreachable
//! database never holds back the reading of the logs.

use std::path::Path;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::config::FleetConfig;
use crate::store::postgres::{FleetDb, FleetError};
use crate::store::{Store, StoreError};

/// What shipping did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shipped {
    /// Shipments (transactions) committed.
    pub shipments: u64,
    /// Events sent.
    pub sent: u64,
    /// Of those, events the database did not hold yet (fewer after a crash between a shipment
    /// and its mark).
    pub inserted: u64,
}

/// Why shipping stopped.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    /// The fleet database.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// The local store.
    #[error("the store: {0}")]
    Store(#[from] StoreError),
}

/// Ships everything `store` holds that is not shipped, as server `server`, `batch` events (in
/// whole blocks) per transaction. Shipments committed before an error stay shipped.
pub fn ship(store: &Store, db: &mut FleetDb, server: &str, batch: usize) -> Result<Shipped, ShipError> {
    db.check_version()?;
    let mut done = Shipped::default();
    while let Some(shipment) = store.unshipped(batch)? {
        let shipped = db.ship(server, &shipment)?;
        store.mark_shipped(shipment.last_block)?;
        done.shipments += 1;
        done.sent += shipped.sent;
        done.inserted += shipped.inserted;
    }
    Ok(done)
}

/// Connects and ships, for `scan` and `fleet ship`.
pub fn connect_and_ship(store: &Store, config: &FleetConfig, server: &str) -> Result<Shipped, ShipError> {
    let mut db = FleetDb::connect(config)?;
    ship(store, &mut db, server, config.batch)
}

/// The warning of shipping that failed: what went wrong, and what waits in the store.
pub fn warning(store: &Store, e: &ShipError) -> String {
    let waiting = match store.ship_backlog() {
        Ok((events, _)) => format!("{events} events wait in the local store and are shipped by the next run"),
        Err(_) => "the events wait in the local store".to_string(),
    };
    format!("not shipped to the fleet database: {e}; {waiting} (or by `maillogsentinel fleet ship`)")
}

/// `watch`'s shipping thread: woken after each pass, it ships on a connection of its own, and
/// connects again after a failure at its next wake-up.
pub struct Shipper {
    kick: Option<Sender<()>>,
    finished: Receiver<()>,
}

/// How long stopping waits for a shipment under way (`watch` must stop within 2 s of SIGTERM): a
/// shipment cut short is rolled back by the database and shipped again by the next run.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// How often a failing database is tried again without a pass to wake the thread.
const RETRY: Duration = Duration::from_secs(60);

impl Shipper {
    /// Starts shipping from the store at `path` as server `server`; `report` is told each failure
    /// (once until shipping works again) and each recovery.
    pub fn start(
        path: &Path,
        config: FleetConfig,
        server: String,
        report: impl Fn(&str) + Send + 'static,
    ) -> std::io::Result<Shipper> {
        let (kick, kicks): (Sender<()>, Receiver<()>) = crossbeam_channel::bounded(1);
        let (finish, finished) = crossbeam_channel::bounded::<()>(0);
        let path = path.to_path_buf();
        std::thread::Builder::new().name("fleet".into()).spawn(move || {
            let _finish = finish;
            let store = match Store::open(&path) {
                Ok(s) => s,
                Err(e) => return report(&format!("not shipped to the fleet database: cannot open the store: {e}")),
            };
            let mut db: Option<FleetDb> = None;
            let mut failing = false;
            loop {
                // While the database fails, it is tried again every minute even if no pass wakes
                // the thread (quiet logs).
                let woken = if failing {
                    kicks.recv_timeout(RETRY).map_err(|e| e.is_disconnected())
                } else {
                    kicks.recv().map_err(|_| true)
                };
                if woken == Err(true) {
                    break;
                }
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
        })?;
        Ok(Shipper { kick: Some(kick), finished })
    }

    /// Asks for a shipment (after a pass committed); one already asked for covers it.
    pub fn wake(&self) {
        if let Some(kick) = &self.kick {
            let _ = kick.try_send(());
        }
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        drop(self.kick.take());
        let _ = self.finished.recv_timeout(STOP_WAIT);
    }
}
