//! Which report periods were sent by email (`report_sends`), so that a failed or missed day is
//! sent later instead of skipped, and a day already sent is not sent twice.
//!
//! It lives in the store because it must share the store's fate: a data directory copied or
//! restored elsewhere keeps knowing what it has sent.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store};

/// The table, created when first used ([`Store::sent_log`]). `scheduled` is 1 once a scheduled
/// run (`report --send` without --day/--since) tried the period: the first such day is where
/// catch-up starts. `recipients` is to whom the last successful send went; `updated` is when.
/// A table of a store written before those columns existed gets them added
/// ([`schema::add_send_columns`](super::schema::add_send_columns)).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS report_sends (
    period TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    error TEXT,
    tries INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL,
    scheduled INTEGER NOT NULL DEFAULT 0,
    recipients TEXT
)";

/// Which report periods were sent, of the local reports or of the fleet's.
pub struct SentLog<'a> {
    conn: &'a Connection,
    /// Put before each period's label: the fleet's reports (`report --fleet --send`) share the
    /// table with the local ones, and a day sent of one is not sent of the other.
    prefix: &'static str,
}

/// The prefix of the fleet's periods in `report_sends`; a local label starts with a date.
const FLEET_PREFIX: &str = "fleet ";

/// Rows of the log's own reports: `?1` is its prefix.
const OWN_ROWS: &str =
    "(CASE WHEN ?1 = '' THEN substr(period, 1, 6) <> 'fleet ' ELSE substr(period, 1, length(?1)) = ?1 END)";

/// Why a period is being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// It is the day of the scheduled run (`report --send` without --day/--since).
    Scheduled,
    /// The scheduled run catches it up (failed or missed before): whether it was scheduled
    /// is left as recorded.
    CatchUp,
    /// A person asked for it: `report --send --day D` or `--since`.
    Manual,
}

/// A period's sending state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendState {
    /// Delivered to the transport.
    Sent,
    /// The last try failed, with this error.
    Failed(String),
}

/// A period's last successful send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// When (Unix seconds).
    pub at: i64,
    /// To whom (the addresses joined by `, `); `None` for a send recorded by a build that did
    /// not keep them.
    pub to: Option<String>,
}

impl Store {
    /// The log of report sends (its table created if needed).
    pub fn sent_log(&self) -> Result<SentLog<'_>> {
        self.log_of("")
    }

    /// The log of the fleet's report sends (`report --fleet --send`) kept by this machine.
    pub fn fleet_sent_log(&self) -> Result<SentLog<'_>> {
        self.log_of(FLEET_PREFIX)
    }

    fn log_of(&self, prefix: &'static str) -> Result<SentLog<'_>> {
        self.conn.execute_batch(SCHEMA)?;
        super::schema::add_send_columns(&self.conn)?;
        Ok(SentLog { conn: &self.conn, prefix })
    }
}

impl SentLog<'_> {
    /// Records the outcome of sending `period` (its label, e.g. `2026-11-23`) at the request
    /// of `trigger`. A period once tried as a scheduled run's day stays marked so.
    pub fn record(&self, period: &str, state: &SendState, trigger: Trigger) -> Result<()> {
        self.record_to(period, state, trigger, None)
    }

    /// [`SentLog::record`], with the recipients (`a@example.org, b@example.org`) of a send.
    pub fn record_to(&self, period: &str, state: &SendState, trigger: Trigger, to: Option<&str>) -> Result<()> {
        let (status, error) = match state {
            SendState::Sent => ("sent", None),
            SendState::Failed(e) => ("failed", Some(e.as_str())),
        };
        let scheduled = i64::from(trigger == Trigger::Scheduled);
        self.conn.execute(
            "INSERT INTO report_sends (period, status, error, tries, updated, scheduled, recipients)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)
             ON CONFLICT (period) DO UPDATE SET status = ?2, error = ?3, tries = tries + 1, updated = ?4,
                 scheduled = max(scheduled, ?5), recipients = ?6",
            params![self.key(period), status, error, super::now(), scheduled, to],
        )?;
        Ok(())
    }

    /// When and to whom `period` was sent, `None` unless its last try succeeded.
    pub fn sent(&self, period: &str) -> Result<Option<Sent>> {
        Ok(self
            .conn
            .query_row(
                "SELECT updated, recipients FROM report_sends WHERE period = ?1 AND status = 'sent'",
                [self.key(period)],
                |r| Ok(Sent { at: r.get(0)?, to: r.get(1)? }),
            )
            .optional()?)
    }

    /// Marks `period` as tried by a scheduled run without sending it (it was already sent), so
    /// that catch-up knows the schedule was running that day.
    pub fn mark_scheduled(&self, period: &str) -> Result<()> {
        self.conn.execute("UPDATE report_sends SET scheduled = 1 WHERE period = ?1", [self.key(period)])?;
        Ok(())
    }

    /// The state of `period`, `None` when never tried.
    pub fn state(&self, period: &str) -> Result<Option<SendState>> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row("SELECT status, error FROM report_sends WHERE period = ?1", [self.key(period)], |r| {
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
        let sql = format!("SELECT EXISTS (SELECT 1 FROM report_sends WHERE {OWN_ROWS})");
        Ok(self.conn.query_row(&sql, [self.prefix], |r| r.get(0))?)
    }

    /// The first day (`YYYY-MM-DD`) a scheduled run tried to send, if any: days before it
    /// predate the schedule, and a day sent by hand does not make the days after it due.
    pub fn first_scheduled_day(&self) -> Result<Option<String>> {
        let sql = format!(
            "SELECT min(substr(period, length(?1) + 1)) FROM report_sends
             WHERE {OWN_ROWS} AND length(period) = length(?1) + 10 AND scheduled = 1"
        );
        Ok(self.conn.query_row(&sql, [self.prefix], |r| r.get(0))?)
    }

    /// The row's key of `period`'s label.
    fn key(&self, period: &str) -> String {
        format!("{}{period}", self.prefix)
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
        assert_eq!(log.first_scheduled_day().unwrap(), None);
        log.record("2026-11-23", &SendState::Failed("451 try later".into()), Trigger::Scheduled).unwrap();
        assert_eq!(log.state("2026-11-23").unwrap(), Some(SendState::Failed("451 try later".into())));
        log.record("2026-11-23", &SendState::Sent, Trigger::Manual).unwrap();
        assert_eq!(log.state("2026-11-23").unwrap(), Some(SendState::Sent));
        assert_eq!(log.state("2026-11-24").unwrap(), None);
        log.record("2026-11-20 07:00 – 2026-11-21 07:00", &SendState::Sent, Trigger::Scheduled).unwrap();
        log.record("2026-11-22", &SendState::Sent, Trigger::Scheduled).unwrap();
        log.record("2026-11-10", &SendState::Sent, Trigger::Manual).unwrap();
        assert!(log.any().unwrap());
        assert_eq!(
            log.first_scheduled_day().unwrap().as_deref(),
            Some("2026-11-22"),
            "days only, and only those a scheduled run tried"
        );
    }

    #[test]
    fn the_fleets_sends_and_the_local_ones_are_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(super::super::STORE_FILE)).unwrap();
        let (local, fleet) = (store.sent_log().unwrap(), store.fleet_sent_log().unwrap());
        fleet.record("2026-11-22", &SendState::Failed("451".into()), Trigger::Scheduled).unwrap();
        assert!(fleet.any().unwrap());
        assert!(!local.any().unwrap(), "the fleet's row is not a local one");
        assert_eq!(local.state("2026-11-22").unwrap(), None);
        assert_eq!(local.first_scheduled_day().unwrap(), None);
        assert_eq!(fleet.first_scheduled_day().unwrap().as_deref(), Some("2026-11-22"));
        local.record("2026-11-21", &SendState::Sent, Trigger::Scheduled).unwrap();
        assert_eq!(fleet.sent("2026-11-21").unwrap(), None, "a day sent locally is not sent of the fleet");
        assert_eq!(local.first_scheduled_day().unwrap().as_deref(), Some("2026-11-21"));
        assert_eq!(fleet.first_scheduled_day().unwrap().as_deref(), Some("2026-11-22"));
        fleet.record("2026-11-22", &SendState::Sent, Trigger::CatchUp).unwrap();
        assert_eq!(fleet.state("2026-11-22").unwrap(), Some(SendState::Sent));
        assert_eq!(local.state("2026-11-22").unwrap(), None);
    }

    #[test]
    fn a_log_of_an_older_build_gets_the_new_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::super::STORE_FILE);
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE report_sends (period TEXT PRIMARY KEY, status TEXT NOT NULL, error TEXT,
                 tries INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL);
             INSERT INTO report_sends VALUES ('2026-11-20', 'sent', NULL, 1, 0);",
        )
        .unwrap();
        drop(conn);
        let store = Store::open(&path).unwrap();
        let log = store.sent_log().unwrap();
        assert_eq!(log.state("2026-11-20").unwrap(), Some(SendState::Sent));
        assert_eq!(log.first_scheduled_day().unwrap(), None, "old rows are not known to be scheduled");
        log.record("2026-11-21", &SendState::Sent, Trigger::Scheduled).unwrap();
        assert_eq!(log.first_scheduled_day().unwrap().as_deref(), Some("2026-11-21"));
        // Opening it again does not add the column twice.
        store.sent_log().unwrap();
        assert_eq!(log.sent("2026-11-20").unwrap().map(|s| s.to), Some(None), "sent, to whom not known");
    }

    #[test]
    fn a_send_keeps_when_and_to_whom() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(super::super::STORE_FILE)).unwrap();
        let log = store.sent_log().unwrap();
        assert_eq!(log.sent("2026-11-23").unwrap(), None);
        log.record("2026-11-23", &SendState::Failed("451".into()), Trigger::Manual).unwrap();
        assert_eq!(log.sent("2026-11-23").unwrap(), None, "a failed send is not a send");
        let before = super::super::now();
        log.record_to("2026-11-23", &SendState::Sent, Trigger::Manual, Some("a@example.org, b@example.org")).unwrap();
        let sent = log.sent("2026-11-23").unwrap().unwrap();
        assert_eq!(sent.to.as_deref(), Some("a@example.org, b@example.org"));
        assert!((before..=super::super::now()).contains(&sent.at), "{} not in {before}..", sent.at);
        assert_eq!(log.first_scheduled_day().unwrap(), None);
        log.mark_scheduled("2026-11-23").unwrap();
        assert_eq!(log.first_scheduled_day().unwrap().as_deref(), Some("2026-11-23"));
        assert_eq!(log.sent("2026-11-23").unwrap(), Some(sent), "marking changes nothing else");
    }
}
