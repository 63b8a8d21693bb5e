//! The fleet database: a PostgreSQL database that many servers ship their events to, and that
//! `report --fleet` reads.
//!
//! Each server's SQLite store stays its local truth and outbox ([`super::Shipment`]); this
//! module only speaks to PostgreSQL:
//! - [`schema`]: the versioned migrations `fleet init` applies;
//! - `ship`: a shipment in one transaction: the events copied (binary `COPY`) into a temporary
//!   table, then inserted with `ON CONFLICT DO NOTHING`, so that a shipment repeated after a crash
//!   stores nothing twice;
//! - `read`: what reports ask, as the local store's read API answers it;
//! - `tls`: the connection's encryption, by the URL's `sslmode`.
//!
//! The client library is asynchronous; a [`FleetDb`] owns a small runtime of its own and offers
//! blocking calls, like the rest of the store.

mod read;
pub mod schema;
mod ship;
mod tls;

use std::cell::{Cell, RefCell};
use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

pub use read::{FleetSnapshot, ServerInfo, ServerStatus};
pub use ship::Shipped;

use crate::config::FleetConfig;

/// What can go wrong with the fleet database. Messages show the URL without its password.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// `[fleet]` is missing or cannot be used (no URL, an unreadable password or CA file).
    #[error("{0}")]
    Config(String),
    /// The database cannot be reached or refused the connection.
    #[error("cannot connect to the fleet database {url}: {message}")]
    Connect {
        /// The redacted URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The database's schema is missing, older or newer than this build's.
    #[error("fleet database {url}: {message}")]
    Schema {
        /// The redacted URL.
        url: String,
        /// What is wrong and what to run.
        message: String,
    },
    /// A statement failed.
    #[error("fleet database {url}: {what}: {message}")]
    Query {
        /// The redacted URL.
        url: String,
        /// What was being done.
        what: &'static str,
        /// The server's message (with its SQLSTATE) or the connection's error.
        message: String,
        /// The statement may succeed when tried again (a deadlock, a serialization failure).
        transient: bool,
    },
}

/// Fleet results.
pub type Result<T> = std::result::Result<T, FleetError>;

/// An open connection to the fleet database.
pub struct FleetDb {
    rt: tokio::runtime::Runtime,
    client: Client,
    url: String,
    /// Texts read by reports, numbered as [`super::TextId`]s.
    texts: RefCell<read::Texts>,
    /// A [`FleetSnapshot`] is held.
    in_snapshot: Cell<bool>,
}

/// How long a connection may take before the database counts as unreachable, unless the URL sets
/// `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl FleetDb {
    /// Connects to the database of `[fleet]`.
    pub fn connect(config: &FleetConfig) -> Result<FleetDb> {
        let Some(url) = &config.url else {
            return Err(FleetError::Config(
                "no fleet database: set [fleet] url = \"postgresql://USER@HOST:5432/DATABASE?sslmode=verify-full\" \
                 in the configuration"
                    .into(),
            ));
        };
        let mut pg = url.pg.clone();
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        pg.application_name("maillogsentinel");
        if let Some(file) = &config.password_file {
            pg.password(read_password(file)?);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| FleetError::Config(format!("cannot start the fleet database's client: {e}")))?;
        let client = rt.block_on(tls::connect(pg, url, config.ca_file.as_deref()))?;
        Ok(FleetDb {
            rt,
            client,
            url: url.redacted().to_string(),
            texts: RefCell::default(),
            in_snapshot: Cell::new(false),
        })
    }

    /// The URL as messages show it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A query error of `what`.
    fn error(&self, what: &'static str, e: &tokio_postgres::Error) -> FleetError {
        query_error(&self.url, what, e)
    }

    /// The rows of `sql` with `params`; a failure is an error of `what`.
    fn query(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        self.rt.block_on(self.client.query(sql, params)).map_err(|e| self.error(what, &e))
    }
}

/// The password in `file`: its first line.
fn read_password(file: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        FleetError::Config(format!(
            "[fleet] password_file {}: cannot read it: {e}; write the database password on its first line and \
             make it readable by the user running maillogsentinel",
            file.display()
        ))
    })?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// The error of a failed statement: the server's message and SQLSTATE when it sent one.
fn query_error(url: &str, what: &'static str, e: &tokio_postgres::Error) -> FleetError {
    let transient = matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
        || *c == SqlState::T_R_SERIALIZATION_FAILURE);
    let message = match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None if e.is_closed() => format!("connection lost: {e}"),
        None => e.to_string(),
    };
    FleetError::Query { url: url.to_string(), what, message, transient }
}
