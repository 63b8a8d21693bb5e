//! The fleet: many servers, one PostgreSQL database.
//!
//! Each server's store stays its own truth and is the fleet's outbox: [`ship`] sends what it
//! holds and the database does not, shipment by shipment, and marks each one shipped only after
//! the database committed it. A database that cannot be reached stops nothing: `scan` says so
//! in one warning with the backlog, `watch` tries again after its next pass, and the events
//! wait in the store. `watch` ships on a thread of its own (`watch::worker`), so that a slow or
//! unreachable database never holds back the reading of the logs.

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
    // What a monitor needs to tell a database that is down from a server that stored nothing
    // new: the backlog alone is above zero between a pass and its shipment.
    store.mark_synced(jiff::Timestamp::now().as_second())?;
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
