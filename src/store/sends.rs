//! Which report periods were sent by email (`report_sends`), so that a failed or missed day is
//! sent later instead of skipped.
//!
//! It lives in the store because it must share the store's fate: a data directory copied or
//! restored elsewhere keeps knowing what it has sent.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store};

/// The table, created when first used ([`Store::sent_log`]).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS report_sends (
    period TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    error TEXT,
    tries INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL
)";

/// Which report periods were sent.
pub struct SentLog<'a> {
    conn: &'a Connection,
}

/// A period's sending state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendState {
    /// Delivered to the transport.
    Sent,
    /// The last try failed, with this error.
    Failed(String),
}

impl Store {
    /// The log of report sends (its table created if needed).
    pub fn sent_log(&self) -> Result<SentLog<'_>> {
        self.conn.execute_batch(SCHEMA)?;
        Ok(SentLog { conn: &self.conn })
    }
}

impl SentLog<'_> {
    /// Records the outcome of sending `period` (its label, e.g. `2026-11-23`).
    pub fn record(&self, period: &str, state: &SendState) -> Result<()> {
        let (status, error) = match state {
            SendState::Sent => ("sent", None),
            SendState::Failed(e) => ("failed", Some(e.as_str())),
        };
        self.conn.execute(
            "INSERT INTO report_sends (period, status, error, tries, updated) VALUES (?1, ?2, ?3, 1, ?4)
             ON CONFLICT (period) DO UPDATE SET status = ?2, error = ?3, tries = tries + 1, updated = ?4",
            params![period, status, error, super::now()],
        )?;
        Ok(())
    }

    /// The state of `period`, `None` when never tried.
    pub fn state(&self, period: &str) -> Result<Option<SendState>> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row("SELECT status, error FROM report_sends WHERE period = ?1", [period], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(row.map(|(status, error)| match status.as_str() {
            "sent" => SendState::Sent,
            _ => SendState::Failed(error.unwrap_or_default()),
        }))
    }

    /// True when some period was ever recorded (before that, there is nothing to catch up).
    pub fn any(&self) -> Result<bool> {
        Ok(self.conn.query_row("SELECT EXISTS (SELECT 1 FROM report_sends)", [], |r| r.get(0))?)
    }

    /// The first day (`YYYY-MM-DD`) whose report was recorded, if any: days before it predate the
    /// installation.
    pub fn first_day(&self) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT min(period) FROM report_sends WHERE length(period) = 10", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_periods_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(super::super::STORE_FILE)).unwrap();
        let log = store.sent_log().unwrap();
        assert!(!log.any().unwrap());
        assert_eq!(log.first_day().unwrap(), None);
        log.record("2026-11-23", &SendState::Failed("451 try later".into())).unwrap();
        assert_eq!(log.state("2026-11-23").unwrap(), Some(SendState::Failed("451 try later".into())));
        log.record("2026-11-23", &SendState::Sent).unwrap();
        assert_eq!(log.state("2026-11-23").unwrap(), Some(SendState::Sent));
        assert_eq!(log.state("2026-11-24").unwrap(), None);
        log.record("2026-11-20 07:00 – 2026-11-21 07:00", &SendState::Sent).unwrap();
        log.record("2026-11-22", &SendState::Sent).unwrap();
        assert!(log.any().unwrap());
        assert_eq!(log.first_day().unwrap().as_deref(), Some("2026-11-22"), "days only");
    }
}
