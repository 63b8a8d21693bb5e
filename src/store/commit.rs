//! Storing a scan's batches: events packed into blocks, the CSV rows of new failures, the history
//! tables, checkpoints and enrichment, all in one transaction per commit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use foldhash::fast::RandomState;
use rusqlite::{Connection, params};

use super::{
    EventRecord, Progress, Result, Store, StoreError, blocks, correlation, csv, history, intern, ipinfo, meta_set, now,
    totals,
};
use crate::correlate::StateChanges;
use crate::model::event::{EventKey, KeyedEvent, Kind, OwnedEvent, Reason};
use crate::model::ipinfo::IpInfo;
use crate::model::symbols::Symbols;

/// Events from the scanner, committed with what came before them since the last commit.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events to store.
    pub outputs: Vec<KeyedEvent>,
    /// The texts of symbols `symbols_start..` of the scan's table, first used by this batch (the
    /// store learns each text once). A start below what the store knows begins a new table.
    pub symbols: Vec<Arc<str>>,
    /// See `symbols`.
    pub symbols_start: usize,
    /// Checkpoints to save.
    pub progress: Vec<Progress>,
    /// Where the journals read stand (their cursors), saved with the events read up to there.
    pub journal: Vec<super::journal::JournalCheckpoint>,
    /// What changed in the correlator's state from the last batch that had one to the end of
    /// this batch.
    pub correlator: Option<StateChanges>,
    /// The batch is stored in a transaction left open for the batches that follow, and not
    /// committed: a commit waits for the disk, and a first scan of a big log sends hundreds of
    /// batches.
    pub keep_open: bool,
}

impl Batch {
    /// A batch of owned events (for tests and tools), with a table of its own.
    pub fn of(events: impl IntoIterator<Item = (EventKey, OwnedEvent)>) -> Batch {
        let mut symbols = Symbols::new();
        let outputs = events.into_iter().map(|(key, e)| KeyedEvent { key, event: e.intern(&mut symbols) }).collect();
        Batch { outputs, symbols: symbols.since(0).to_vec(), ..Batch::default() }
    }
}

/// What a commit added (events already stored are not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Added {
    /// Failed attempts counted as intrusions (CSV rows).
    pub failures: u64,
    /// Failed attempts stored but not counted (mechanism probes, unless configured otherwise).
    pub uncounted: u64,
    /// Successful logins.
    pub successes: u64,
    /// Backend errors.
    pub backend_errors: u64,
}

impl Added {
    /// Nothing was added.
    pub fn is_empty(&self) -> bool {
        *self == Added::default()
    }
}

impl std::ops::AddAssign for Added {
    fn add_assign(&mut self, o: Added) {
        self.failures += o.failures;
        self.uncounted += o.uncounted;
        self.successes += o.successes;
        self.backend_errors += o.backend_errors;
    }
}

impl Store {
    /// Stores a batch; rows for newly stored failures are appended to `csv` (formatted by `rows`,
    /// with each address's enrichment from `enrich`). Unless the batch keeps the transaction
    /// open, commits it with the CSV's new length, once the rows are on disk: so a commit holds
    /// all of its batches or none. The enrichment used is saved in `ip_info` in the same
    /// transaction. After an error, what was not committed is rolled back, and the store takes no
    /// more batches (its caches of ids may name rows rolled back): the scan stops, and the next
    /// one opens the store again.
    pub fn commit_batch(
        &mut self,
        batch: &Batch,
        csv: &mut csv::IntrusionCsv,
        rows: &mut csv::RowFormatter,
        mechanism_probes_count: bool,
        enrich: &mut dyn FnMut(IpAddr) -> IpInfo,
    ) -> std::result::Result<Added, CommitError> {
        let added = self.store_batch(batch, csv, rows, mechanism_probes_count, enrich)?;
        if !batch.keep_open {
            self.commit_open(csv)?;
        }
        Ok(added)
    }

    /// [`Store::commit_batch`] without the commit: the transaction stays open, with the batch's
    /// new events readable in it ([`Store::stored_records`]), for what must be committed with
    /// them (the alerts they raise). [`Store::commit_open`] commits it, [`Store::rollback_open`]
    /// drops it.
    pub fn store_batch(
        &mut self,
        batch: &Batch,
        csv: &mut csv::IntrusionCsv,
        rows: &mut csv::RowFormatter,
        mechanism_probes_count: bool,
        enrich: &mut dyn FnMut(IpAddr) -> IpInfo,
    ) -> std::result::Result<Added, CommitError> {
        self.stored.clear();
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN")?;
        }
        let mut rollback = Rollback { conn: &self.conn, armed: true };
        let tx = rollback.conn;
        let mut added = Added::default();
        let mut infos: HashMap<IpAddr, IpInfo, RandomState> = HashMap::default();
        let mut tally = history::Tally::default();
        let mut totals = totals::Tally::default();
        let new = &mut self.new_events;
        new.clear();
        self.sym_ids.truncate(batch.symbols_start);
        for text in &batch.symbols {
            self.sym_ids.push(intern(tx, &mut self.strings, text)?);
        }
        rows.learn(batch.symbols_start, &batch.symbols);
        rows.clear();
        let ids = &self.sym_ids;
        let id = |s: crate::model::symbols::Sym| ids.get(s as usize).copied().unwrap_or(0);
        for out in &batch.outputs {
            let e = &out.event;
            let (ip, ip_len) = blocks::Row::ip_parts(&e.client_ip);
            let row = blocks::Row {
                key: out.key.rowid(),
                ts: e.time.as_second(),
                kind: e.kind.code(),
                reason: e.reason.code(),
                count: e.count.max(1),
                ip,
                ip_len,
                server: id(e.server),
                service: id(e.service),
                username: e.username.map(id),
                mechanism: e.mechanism.map(id),
                logged_hostname: e.logged_hostname.map(id),
            };
            if !new.add(tx, &mut self.keys, row)? {
                continue;
            }
            if self.collect_stored {
                self.stored.push(row);
            }
            let n = u64::from(row.count);
            totals.add(&row);
            tally.event(row.ip_bytes(), row.ts);
            if let (Kind::Success, Some(user)) = (e.kind, row.username) {
                tally.login(user, row.ip_bytes(), row.ts);
            }
            match (e.kind, e.reason) {
                (Kind::Success, _) => {
                    added.successes += n;
                    // Reports compare a login's country with the account's earlier ones.
                    let canonical = e.client_ip.to_canonical();
                    infos.entry(canonical).or_insert_with(|| enrich(canonical));
                }
                (Kind::BackendError, _) => added.backend_errors += n,
                (Kind::Failure, Reason::MechanismInvalid) if !mechanism_probes_count => added.uncounted += n,
                (Kind::Failure, _) => {
                    added.failures += n;
                    rows.push(e, |ip| {
                        let canonical = ip.to_canonical();
                        infos.entry(canonical).or_insert_with(|| enrich(canonical))
                    });
                    if rows.rows().len() >= csv::WRITE_BYTES {
                        csv.write(rows.rows()).map_err(|e| csv_error(csv, e))?;
                        rows.take_rows();
                    }
                }
            }
        }
        {
            tally.save(tx, &mut self.history)?;
            totals.save(tx)?;
            let mut update = tx.prepare_cached(
                "UPDATE sources SET fp_len = ?2, fp_hash = ?3, dev = ?4, ino = ?5, path = ?6, size = ?7,
                 offset = ?8, lines = ?9, complete = ?10, year = ?11, month = ?12, last_seen = ?13 WHERE id = ?1",
            )?;
            for p in &batch.progress {
                let s = &p.source;
                update.execute(params![
                    s.id,
                    s.fingerprint.len,
                    s.fingerprint.hash_i64(),
                    s.dev as i64,
                    s.ino as i64,
                    p.path,
                    s.size as i64,
                    s.offset as i64,
                    s.lines as i64,
                    s.complete,
                    s.year.map(|y| y.year),
                    s.year.map(|y| y.month),
                    now(),
                ])?;
            }
            super::journal::save(tx, &batch.journal)?;
            if let Some(changes) = &batch.correlator {
                correlation::save(tx, changes)?;
            }
            ipinfo::save(tx, &mut self.strings, &infos)?;
        }
        // The next batches of the transaction look up the keys of this one's blocks.
        for (id, header) in new.write(tx, &mut self.block_buf)? {
            self.keys.written(id, &header);
        }
        csv.write(rows.rows()).map_err(|e| csv_error(csv, e))?;
        rollback.armed = false;
        Ok(added)
    }

    /// Commits the transaction [`Store::store_batch`] left open, once the CSV's rows are on disk.
    /// On an error, the transaction is rolled back.
    pub fn commit_open(&mut self, csv: &mut csv::IntrusionCsv) -> std::result::Result<(), CommitError> {
        let mut rollback = Rollback { conn: &self.conn, armed: true };
        if !self.conn.is_autocommit() {
            csv.sync().map_err(|e| csv_error(csv, e))?;
            meta_set(rollback.conn, "csv_len", csv.len() as i64)?;
            rollback.conn.execute_batch("COMMIT")?;
        }
        rollback.armed = false;
        Ok(())
    }

    /// Drops what the open transaction holds (after a failure of what was to be committed with
    /// it). The store takes no more batches, as after a failed commit.
    pub fn rollback_open(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    /// Whether [`Store::store_batch`] keeps the events it stores for [`Store::stored_records`]
    /// (off by default: a scan without alerts has no use for them).
    pub fn keep_stored(&mut self, on: bool) {
        self.collect_stored = on;
        self.stored.clear();
    }

    /// The events the last [`Store::store_batch`] stored (not those it found already stored),
    /// in the batch's order, when [`Store::keep_stored`] is on.
    pub fn stored_records(&self) -> impl Iterator<Item = Result<EventRecord>> + '_ {
        self.stored.iter().map(EventRecord::from_row)
    }

    /// Stores events whose texts are already stored (their ids from [`Store::intern_texts`]), as
    /// a scan would but without the CSV and the history tables: for tools and benchmarks that fill
    /// a store (follow with [`Store::rebuild_history`]). Events already stored are skipped;
    /// returns how many were stored.
    pub fn import_events(&mut self, events: impl IntoIterator<Item = EventRecord>) -> Result<u64> {
        self.import_rows(events.into_iter().map(|e| {
            let (ip, ip_len) = blocks::Row::ip_parts(&e.ip.addr());
            blocks::Row {
                key: e.key.rowid(),
                ts: e.ts,
                kind: e.kind.code(),
                reason: e.reason.code(),
                count: e.count.max(1),
                ip,
                ip_len,
                server: e.server.0,
                service: e.service.0,
                username: e.username.map(|t| t.0),
                mechanism: e.mechanism.map(|t| t.0),
                logged_hostname: e.logged_hostname.map(|t| t.0),
            }
        }))
    }

    /// [`Store::import_events`] of rows as the blocks hold them.
    pub(super) fn import_rows(&mut self, rows: impl IntoIterator<Item = blocks::Row>) -> Result<u64> {
        let mut stored = 0;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let tx = self.conn.transaction()?;
            let new = &mut self.new_events;
            new.clear();
            let mut totals = totals::Tally::default();
            for row in rows.by_ref().take(blocks::MAX_EVENTS) {
                if new.add(&tx, &mut self.keys, row)? {
                    totals.add(&row);
                }
            }
            totals.save(&tx)?;
            let written = new.write(&tx, &mut self.block_buf)?;
            tx.commit()?;
            for (id, header) in &written {
                self.keys.written(*id, header);
            }
            stored += new.len() as u64;
        }
        Ok(stored)
    }
}

/// Why a batch could not be committed. Nothing of the batch is kept.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The database refused.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The CSV could not be written (disk full, permissions).
    #[error("cannot write {path}: {source}", path = path.display())]
    Csv {
        /// The CSV file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for CommitError {
    fn from(e: rusqlite::Error) -> CommitError {
        CommitError::Store(StoreError::Sqlite(e))
    }
}

/// Rolls back the store's open transaction when dropped armed: a batch that fails leaves nothing
/// of the batches stored since the last commit.
struct Rollback<'c> {
    conn: &'c Connection,
    armed: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if self.armed && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// A failed write or sync of the CSV.
fn csv_error(csv: &csv::IntrusionCsv, source: std::io::Error) -> CommitError {
    CommitError::Csv { path: csv.path().into(), source }
}
