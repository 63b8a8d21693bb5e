//! The alerts' outbox and the state of their rules.
//!
//! An alert is queued here in the transaction that stores the events that raised it, one row
//! per channel (`alert_outbox`), and delivered after the commit; its row then records whether
//! it was sent or given up, and when. A crash between the commit and the delivery leaves the
//! row pending, and the next run delivers it; a crash between a delivery and its record sends it
//! twice, which the idempotency key (the store's own prefix and the row's id) lets a receiver
//! see. `alert_rules` holds each rule's quiet period and the digest it is gathering,
//! `alert_subjects` when each subject last fired (for a compromise, the (account, address)
//! pairs already alerted, kept for good), so that a restart neither repeats nor forgets.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError, meta_get, meta_set};
use crate::model::alert::Alert;

/// The tables, created by [`Store::open`].
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alert_outbox (
    id INTEGER PRIMARY KEY,
    created INTEGER NOT NULL,
    rule TEXT NOT NULL,
    channel TEXT NOT NULL,
    alert TEXT NOT NULL,
    status TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    next_try INTEGER NOT NULL,
    error TEXT,
    done INTEGER
);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (status, next_try);
CREATE INDEX IF NOT EXISTS alert_outbox_created ON alert_outbox (created);
CREATE TABLE IF NOT EXISTS alert_rules (
    rule TEXT PRIMARY KEY,
    quiet_until INTEGER NOT NULL,
    digest TEXT
);
CREATE TABLE IF NOT EXISTS alert_subjects (
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    fired INTEGER NOT NULL,
    PRIMARY KEY (rule, subject)
) WITHOUT ROWID;
";

/// Where a queued message stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Not delivered yet; tried `tries` times, next at `next_try` (Unix seconds).
    Pending,
    /// Delivered at `done`.
    Sent,
    /// Given up at `done` (too old, or its channel is gone).
    Dropped,
}

impl Delivery {
    fn code(&self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Dropped => "dropped",
        }
    }

    fn from_code(code: &str) -> Option<Delivery> {
        Some(match code {
            "pending" => Delivery::Pending,
            "sent" => Delivery::Sent,
            "dropped" => Delivery::Dropped,
            _ => return None,
        })
    }

    /// Lower-case name for messages and listings.
    pub fn as_str(&self) -> &'static str {
        self.code()
    }
}

/// One message of the outbox: one alert for one channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Queued {
    /// Its row.
    pub id: i64,
    /// When it was queued (Unix seconds).
    pub created: i64,
    /// The channel's name.
    pub channel: String,
    /// The alert, its `key` set.
    pub alert: Alert,
    /// Where it stands.
    pub status: Delivery,
    /// Deliveries tried.
    pub tries: u32,
    /// When the next try is due (Unix seconds).
    pub next_try: i64,
    /// The last failure.
    pub error: Option<String>,
    /// When it was delivered or given up.
    pub done: Option<i64>,
}

/// The outbox's counts for one channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelCounts {
    /// The channel's name.
    pub channel: String,
    /// Messages delivered.
    pub sent: u64,
    /// Messages given up.
    pub dropped: u64,
    /// Messages waiting for a delivery.
    pub pending: u64,
    /// Deliveries tried that failed.
    pub failed_tries: u64,
}

/// A rule's saved state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleState {
    /// Until when (Unix seconds) a new alert waits for the digest.
    pub quiet_until: i64,
    /// The digest being gathered.
    pub digest: Option<Alert>,
}

/// Meta key of the store's random prefix of idempotency keys.
const KEY_PREFIX: &str = "alert_key_prefix";

impl Store {
    /// Queues `alert` for each of `channels`, in the transaction open on the store (or in one of
    /// its own).
    pub fn queue_alert(&self, alert: &Alert, channels: &[String], now: i64) -> Result<()> {
        self.alert_key_prefix()?;
        let json = serde_json::to_string(alert).map_err(|e| StoreError::Unusable(e.to_string()))?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO alert_outbox (created, rule, channel, alert, status, next_try) VALUES (?1, ?2, ?3, ?4, \
             'pending', ?1)",
        )?;
        for channel in channels {
            insert.execute(params![now, alert.rule, channel, json])?;
        }
        Ok(())
    }

    /// The pending messages due by `now`, oldest first.
    pub fn due_alerts(&self, now: i64) -> Result<Vec<Queued>> {
        self.outbox_rows("WHERE status = 'pending' AND next_try <= ?1 ORDER BY id", now)
    }

    /// When the next pending message is due, if any is pending.
    pub fn next_alert_due(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT min(next_try) FROM alert_outbox WHERE status = 'pending'")?
            .query_row([], |r| r.get(0))?)
    }

    /// The messages queued since `since` (Unix seconds), oldest first.
    pub fn alerts_since(&self, since: i64) -> Result<Vec<Queued>> {
        if !super::schema::has_table(&self.conn, "alert_outbox")? {
            return Ok(Vec::new());
        }
        self.outbox_rows("WHERE created >= ?1 ORDER BY id", since)
    }

    /// Records that message `id` was delivered.
    pub fn alert_sent(&self, id: i64, now: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE alert_outbox SET status = 'sent', tries = tries + 1, done = ?2, error = NULL WHERE id = ?1",
            )?
            .execute(params![id, now])?;
        Ok(())
    }

    /// Records a failed delivery of message `id`, to be tried again at `next_try`.
    pub fn alert_failed(&self, id: i64, next_try: i64, error: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE alert_outbox SET tries = tries + 1, next_try = ?2, error = ?3 WHERE id = ?1")?
            .execute(params![id, next_try, error])?;
        Ok(())
    }

    /// Gives message `id` up, with why.
    pub fn alert_dropped(&self, id: i64, now: i64, error: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE alert_outbox SET status = 'dropped', done = ?2, error = ?3 WHERE id = ?1")?
            .execute(params![id, now, error])?;
        Ok(())
    }

    /// Per channel, the outbox's counts (for the metrics): messages delivered, given up, and
    /// pending, and failed tries.
    pub fn alert_counts(&self) -> Result<Vec<ChannelCounts>> {
        if !super::schema::has_table(&self.conn, "alert_outbox")? {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT channel, sum(status = 'sent'), sum(status = 'dropped'), sum(status = 'pending'),
                    sum(tries) - sum(status = 'sent')
             FROM alert_outbox GROUP BY channel ORDER BY channel",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ChannelCounts {
                channel: r.get(0)?,
                sent: r.get::<_, i64>(1)?.max(0) as u64,
                dropped: r.get::<_, i64>(2)?.max(0) as u64,
                pending: r.get::<_, i64>(3)?.max(0) as u64,
                failed_tries: r.get::<_, i64>(4)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets the messages delivered or given up before `before` (Unix seconds): the outbox
    /// would otherwise grow for good.
    pub fn prune_alerts(&self, before: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM alert_outbox WHERE status != 'pending' AND created < ?1")?
            .execute([before])?;
        Ok(())
    }

    /// Every rule's saved state, by name.
    pub fn alert_rule_states(&self) -> Result<Vec<(String, RuleState)>> {
        let mut stmt = self.conn.prepare_cached("SELECT rule, quiet_until, digest FROM alert_rules")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let digest: Option<String> = r.get(2)?;
            // A digest this build cannot read is lost, not the rule's quiet period.
            let digest = digest.and_then(|d| serde_json::from_str(&d).ok());
            out.push((r.get(0)?, RuleState { quiet_until: r.get(1)?, digest }));
        }
        Ok(out)
    }

    /// Saves rule `rule`'s state.
    pub fn save_alert_rule(&self, rule: &str, state: &RuleState) -> Result<()> {
        let digest = state
            .digest
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Unusable(e.to_string()))?;
        self.conn
            .prepare_cached(
                "INSERT INTO alert_rules (rule, quiet_until, digest) VALUES (?1, ?2, ?3)
                 ON CONFLICT (rule) DO UPDATE SET quiet_until = ?2, digest = ?3",
            )?
            .execute(params![rule, state.quiet_until, digest])?;
        Ok(())
    }

    /// The subjects of `rule` that fired at or after `since`, with when.
    pub fn alert_subjects(&self, rule: &str, since: i64) -> Result<Vec<(String, i64)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT subject, fired FROM alert_subjects WHERE rule = ?1 AND fired >= ?2")?;
        let rows = stmt.query_map(params![rule, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// When subject `subject` of `rule` last fired.
    pub fn alert_subject_fired(&self, rule: &str, subject: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT fired FROM alert_subjects WHERE rule = ?1 AND subject = ?2")?
            .query_row(params![rule, subject], |r| r.get(0))
            .optional()?)
    }

    /// Records that subject `subject` of `rule` fired at `fired`.
    pub fn set_alert_subject(&self, rule: &str, subject: &str, fired: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO alert_subjects (rule, subject, fired) VALUES (?1, ?2, ?3)
                 ON CONFLICT (rule, subject) DO UPDATE SET fired = ?3",
            )?
            .execute(params![rule, subject, fired])?;
        Ok(())
    }

    /// Forgets the subjects of `rule` that last fired before `before`: their quiet period is
    /// over, and the table would otherwise keep every address that ever fired.
    pub fn forget_alert_subjects(&self, rule: &str, before: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM alert_subjects WHERE rule = ?1 AND fired < ?2")?
            .execute(params![rule, before])?;
        Ok(())
    }

    /// Runs `f` in a transaction of its own, unless one is open on the store (a commit's), which
    /// `f` then joins.
    pub fn in_transaction<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// The random prefix of this store's idempotency keys, made once: two servers posting to one
    /// receiver never share a key, and a store restored from a backup keeps its own.
    fn alert_key_prefix(&self) -> Result<String> {
        if let Some(prefix) = meta_get::<String>(&self.conn, KEY_PREFIX)? {
            return Ok(prefix);
        }
        let prefix: String = self.conn.query_row("SELECT lower(hex(randomblob(8)))", [], |r| r.get(0))?;
        meta_set(&self.conn, KEY_PREFIX, &prefix)?;
        Ok(prefix)
    }

    fn outbox_rows(&self, filter: &str, arg: i64) -> Result<Vec<Queued>> {
        // Made with the first message queued: a store that has one has it.
        let prefix = meta_get::<String>(&self.conn, KEY_PREFIX)?.unwrap_or_default();
        let sql = format!(
            "SELECT id, created, channel, alert, status, tries, next_try, error, done FROM alert_outbox {filter}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([arg])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let json: String = r.get(3)?;
            let status: String = r.get(4)?;
            let mut alert: Alert = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("queued alert {id} cannot be read: {e}")))?;
            alert.key = format!("mls-{prefix}-{id}");
            out.push(Queued {
                id,
                created: r.get(1)?,
                channel: r.get(2)?,
                alert,
                status: Delivery::from_code(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("queued alert {id} has status {status:?}")))?,
                tries: r.get(5)?,
                next_try: r.get(6)?,
                error: r.get(7)?,
                done: r.get(8)?,
            });
        }
        Ok(out)
    }
}
