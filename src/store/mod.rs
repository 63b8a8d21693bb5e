//! The embedded SQLite store: events, checkpoints, and the CSV's committed length.
//!
//! The store is the source of truth. One transaction holds the new events of one or more batches
//! (see [`Batch::keep_open`]), the checkpoint of every file read up to its last batch, the
//! correlator's state and the CSV length after their rows; so a crash at any moment leaves
//! either all of a commit or none of it, and the next scan resumes exactly where the last commit
//! ended.
//!
//! Events are kept compact: strings (servers, services, users, ...) are interned in `strings`,
//! IPs are 4- or 16-byte blobs, and the events a batch stores from one file are packed into one
//! row of `event_blocks` with the range of their keys (file id and line offset, see [`EventKey`])
//! and of their times ([`blocks`]). An event already stored (same key) is never stored again.

mod blocks;
pub mod csv;
mod export;
pub mod history;
pub mod ipinfo;
pub mod lock;
mod query;
pub mod sends;

pub use query::{EventRecord, IpKey, Snapshot, TextId};

use std::collections::HashMap;

use foldhash::fast::RandomState;

/// The string-to-id cache of the `strings` table.
pub(crate) type StringIds = HashMap<String, i64, RandomState>;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::model::event::KeyedEvent;
use crate::model::event::{EventKey, Kind, OwnedEvent, Reason};
use crate::model::ipinfo::IpInfo;
use crate::model::symbols::Symbols;
use crate::parse::time::YearState;
use crate::source::fingerprint::Fingerprint;

/// File name of the store inside the data directory.
pub const STORE_FILE: &str = "maillogsentinel.sqlite3";
/// Schema version this build writes.
///
/// 2: the `events_ts` index was replaced by `spans`, a table of which rowid ranges of `events`
/// hold which times.
/// 3: `events` (one row per event) and `spans` were replaced by `event_blocks` ([`blocks`]);
/// `ips` keeps only each address's first time ([`history`]).
const SCHEMA_VERSION: i64 = 3;

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The store is not one this build can use.
    #[error("{0}")]
    Unusable(String),
    /// What the store holds cannot be read: a corrupt block, an event of a kind this build does
    /// not know.
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
}

impl From<blocks::CorruptBlock> for StoreError {
    fn from(e: blocks::CorruptBlock) -> StoreError {
        StoreError::Corrupt(e.to_string())
    }
}

/// Store results.
pub type Result<T> = std::result::Result<T, StoreError>;

/// When the last scan finished (Unix seconds), and how many problems it reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastScan {
    /// Unix seconds.
    pub at: i64,
    /// Files or lines it could not read or date.
    pub problems: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS strings (id INTEGER PRIMARY KEY, s TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY,
    fp_len INTEGER NOT NULL,
    fp_hash INTEGER NOT NULL,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    offset INTEGER NOT NULL DEFAULT 0,
    lines INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0,
    year INTEGER,
    month INTEGER,
    last_seen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_fp ON sources (fp_len, fp_hash);
";

/// What the store remembers about one file's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRecord {
    /// Id used in event keys.
    pub id: u32,
    /// The content's identity.
    pub fingerprint: Fingerprint,
    /// Device and inode where it was last seen.
    pub dev: u64,
    /// See `dev`.
    pub ino: u64,
    /// Bytes of content consumed (complete lines only).
    pub offset: u64,
    /// Lines consumed, for line numbers in messages.
    pub lines: u64,
    /// The whole content was read from an archive (which cannot grow).
    pub complete: bool,
    /// Stored size of the file when last read, to notice a replaced archive.
    pub size: u64,
    /// Year inference state after the last consumed line.
    pub year: Option<YearState>,
}

/// A file's progress, saved with the batch that made it.
#[derive(Clone, Debug)]
pub struct Progress {
    /// The file's record with its new offset, lines, year state and completeness.
    pub source: SourceRecord,
    /// Where the file is now.
    pub path: String,
}

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
    /// The correlator's state at the end of the batch.
    pub correlator: Option<Vec<u8>>,
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

impl std::ops::AddAssign for Added {
    fn add_assign(&mut self, o: Added) {
        self.failures += o.failures;
        self.uncounted += o.uncounted;
        self.successes += o.successes;
        self.backend_errors += o.backend_errors;
    }
}

/// An open store.
pub struct Store {
    conn: Connection,
    strings: StringIds,
    /// The `strings` id of each symbol of the current scan's table.
    sym_ids: Vec<i64>,
    /// Which events are stored.
    keys: blocks::KeyIndex,
    /// Reused for encoding blocks.
    block_buf: Vec<u8>,
    /// Reused for each batch's new events.
    new_events: blocks::NewEvents,
    /// What this store has written to the history tables.
    history: history::Written,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL: a crash of the process never loses a commit; a power cut may lose the
        // last one, which is then re-read (the CSV is cut back to match).
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A first scan of a big log inserts hundreds of thousands of rows: a larger page cache
        // keeps the B-tree pages being appended to in memory between commits.
        conn.pragma_update(None, "cache_size", -32768)?;
        // Each checkpoint syncs the WAL and the database: the default (every 1,000 pages) makes a
        // first scan of a big log wait on dozens of syncs. Much larger leaves all the copying to
        // the checkpoint at close, after the last line was parsed, where nothing runs beside it.
        conn.pragma_update(None, "wal_autocheckpoint", 4096)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(ipinfo::SCHEMA)?;
        conn.execute_batch(history::SCHEMA)?;
        conn.execute_batch(blocks::SCHEMA)?;
        let version: Option<i64> = meta_get(&conn, "schema_version")?;
        match version {
            None => meta_set(&conn, "schema_version", SCHEMA_VERSION)?,
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::Unusable(format!(
                    "{} was written by a newer maillogsentinel (schema {v}, this one knows {SCHEMA_VERSION}); \
                     upgrade maillogsentinel",
                    path.display()
                )));
            }
            Some(v) => migrate(&mut conn, v)?,
        }
        Ok(Store {
            conn,
            strings: HashMap::default(),
            sym_ids: Vec::new(),
            keys: blocks::KeyIndex::default(),
            block_buf: Vec::new(),
            new_events: blocks::NewEvents::default(),
            history: history::Written::default(),
        })
    }

    /// Hands this store's checkpoints (copying the write-ahead log into the database, with two
    /// syncs) to a [`Checkpointer`] on another thread: a commit that runs one waits for the
    /// disk, and a checkpoint due near the end of a first scan was most of the time left after
    /// the last line was parsed. The store's own automatic checkpoints are turned off; the
    /// checkpoint when the store is closed still copies what is left.
    pub fn checkpointer(&self, path: &Path) -> Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Checkpointer { conn })
    }

    /// The CSV length recorded at the last commit, if any.
    pub fn csv_len(&self) -> Result<Option<u64>> {
        Ok(meta_get::<i64>(&self.conn, "csv_len")?.map(|v| v as u64))
    }

    /// Records the CSV length outside a batch (after creating or repairing the file).
    pub fn set_csv_len(&self, len: u64) -> Result<()> {
        meta_set(&self.conn, "csv_len", len as i64)
    }

    /// Records that a scan has just finished, and how many files or lines it could not read or
    /// date: reports say how far their numbers can be trusted.
    pub fn record_scan(&self, problems: u64) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        meta_set(&tx, "last_scan_at", now())?;
        meta_set(&tx, "last_scan_problems", problems as i64)?;
        Ok(tx.commit()?)
    }

    /// The last scan recorded by [`Store::record_scan`], if any.
    pub fn last_scan(&self) -> rusqlite::Result<Option<LastScan>> {
        let at = meta_get::<i64>(&self.conn, "last_scan_at")?;
        let problems = meta_get::<i64>(&self.conn, "last_scan_problems")?.unwrap_or(0);
        Ok(at.map(|at| LastScan { at, problems: problems.max(0) as u64 }))
    }

    /// The correlator state saved by the last commit.
    pub fn correlator_state(&self) -> Result<Option<Vec<u8>>> {
        Ok(meta_get(&self.conn, "correlator")?)
    }

    /// Forgets every checkpoint (for `scan --full`): files are read again from the start. Events
    /// are kept, and re-reading a line already stored adds nothing.
    pub fn forget_checkpoints(&self) -> Result<()> {
        Ok(self.conn.execute_batch(
            "BEGIN; UPDATE sources SET offset = 0, lines = 0, complete = 0, year = NULL, month = NULL;
             DELETE FROM meta WHERE key = 'correlator'; COMMIT;",
        )?)
    }

    /// The known file whose content starts like `prefix`, preferring the one last seen at
    /// `dev`/`ino`, then the one read furthest.
    pub fn find_source(&self, prefix: &[u8], dev: u64, ino: u64) -> Result<Option<SourceRecord>> {
        let mut lens = self.conn.prepare_cached("SELECT DISTINCT fp_len FROM sources")?;
        let lens: Vec<i64> = lens.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        let mut best: Option<SourceRecord> = None;
        for len in lens {
            let len = len as usize;
            if len > prefix.len() || len == 0 {
                continue;
            }
            let fp = Fingerprint::of(&prefix[..len]);
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, fp_len, fp_hash, dev, ino, offset, lines, complete, size, year, month
                 FROM sources WHERE fp_len = ?1 AND fp_hash = ?2",
            )?;
            let rows = stmt.query_map(params![fp.len, fp.hash_i64()], source_from_row)?;
            for row in rows {
                let candidate = row?;
                let same_inode = |s: &SourceRecord| s.dev == dev && s.ino == ino;
                let better = match &best {
                    None => true,
                    Some(b) => (same_inode(&candidate), candidate.offset) > (same_inode(b), b.offset),
                };
                if better {
                    best = Some(candidate);
                }
            }
        }
        Ok(best)
    }

    /// The checkpoint of the file last seen at `path`, if any.
    pub fn source_at(&self, path: &str) -> Result<Option<SourceRecord>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, fp_len, fp_hash, dev, ino, offset, lines, complete, size, year, month
                 FROM sources WHERE path = ?1 ORDER BY last_seen DESC, id DESC LIMIT 1",
            )?
            .query_row([path], source_from_row)
            .optional()?)
    }

    /// Registers a file not seen before.
    pub fn new_source(&self, fingerprint: Fingerprint, dev: u64, ino: u64, path: &str) -> Result<SourceRecord> {
        self.conn.execute(
            "INSERT INTO sources (fp_len, fp_hash, dev, ino, path, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![fingerprint.len, fingerprint.hash_i64(), dev as i64, ino as i64, path, now()],
        )?;
        let id = self.conn.last_insert_rowid();
        let id = u32::try_from(id).ok().filter(|&id| id < (1 << 23)).ok_or_else(|| {
            StoreError::Unusable(format!("too many log files recorded ({id}); start a new data directory"))
        })?;
        Ok(SourceRecord { id, fingerprint, dev, ino, offset: 0, lines: 0, complete: false, size: 0, year: None })
    }

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
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN")?;
        }
        let mut rollback = Rollback { conn: &self.conn, armed: true };
        let tx = rollback.conn;
        let mut added = Added::default();
        let mut infos: HashMap<IpAddr, IpInfo, RandomState> = HashMap::default();
        let mut tally = history::Tally::default();
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
            let n = u64::from(row.count);
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
            if let Some(state) = &batch.correlator {
                meta_set(tx, "correlator", state.as_slice())?;
            }
            ipinfo::save(tx, &mut self.strings, &infos)?;
        }
        // The next batches of the transaction look up the keys of this one's blocks.
        for (id, header) in new.write(tx, &mut self.block_buf)? {
            self.keys.written(id, &header);
        }
        csv.write(rows.rows()).map_err(|e| csv_error(csv, e))?;
        if !batch.keep_open {
            csv.sync().map_err(|e| csv_error(csv, e))?;
            meta_set(tx, "csv_len", csv.len() as i64)?;
            tx.execute_batch("COMMIT")?;
        }
        rollback.armed = false;
        Ok(added)
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
            for row in rows.by_ref().take(blocks::MAX_EVENTS) {
                new.add(&tx, &mut self.keys, row)?;
            }
            let written = new.write(&tx, &mut self.block_buf)?;
            tx.commit()?;
            for (id, header) in &written {
                self.keys.written(*id, header);
            }
            stored += new.len() as u64;
        }
        Ok(stored)
    }

    /// Reads stored events back, oldest key first (used by tests and exports).
    pub fn events(&self) -> Result<Vec<StoredEvent>> {
        let mut rows = Vec::new();
        blocks::for_each(&self.conn, |r| {
            rows.push(*r);
            Ok::<(), StoreError>(())
        })?;
        rows.sort_by_key(|r| r.key);
        let mut names = Names::default();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut text = |id: Option<i64>| id.map(|id| names.get(&self.conn, id).map(str::to_string)).transpose();
            out.push(StoredEvent {
                rowid: r.key,
                ts: r.ts,
                kind: Kind::from_code(r.kind),
                reason: Reason::from_code(r.reason),
                count: r.count,
                ip: r.ip(),
                server: text(Some(r.server))?.unwrap_or_default(),
                service: text(Some(r.service))?.unwrap_or_default(),
                username: text(r.username)?,
                mechanism: text(r.mechanism)?,
                logged_hostname: text(r.logged_hostname)?,
            });
        }
        Ok(out)
    }
}

/// Copies a store's write-ahead log into its database on request; see [`Store::checkpointer`].
pub struct Checkpointer {
    conn: Connection,
}

impl Checkpointer {
    /// Copies what the log holds without holding up the store's commits (SQLite's `PASSIVE`
    /// checkpoint: frames a commit is still writing are left for the next one).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// The texts of `strings` ids, each read once.
#[derive(Debug, Default)]
struct Names {
    cache: HashMap<i64, String, RandomState>,
}

impl Names {
    /// The text of `id` (empty for an id the table does not hold).
    fn get(&mut self, conn: &Connection, id: i64) -> rusqlite::Result<&str> {
        match self.cache.entry(id) {
            std::collections::hash_map::Entry::Occupied(known) => Ok(known.into_mut()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let text: Option<String> = conn
                    .prepare_cached("SELECT s FROM strings WHERE id = ?1")?
                    .query_row([id], |r| r.get(0))
                    .optional()?;
                Ok(slot.insert(text.unwrap_or_default()))
            }
        }
    }
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// The packed [`EventKey`].
    pub rowid: i64,
    /// Unix seconds.
    pub ts: i64,
    /// Decoded kind (None for a code this build does not know).
    pub kind: Option<Kind>,
    /// Decoded reason.
    pub reason: Option<Reason>,
    /// Attempts.
    pub count: u32,
    /// Client address.
    pub ip: Option<IpAddr>,
    /// Server name.
    pub server: String,
    /// Syslog name.
    pub service: String,
    /// Account tried.
    pub username: Option<String>,
    /// SASL mechanism.
    pub mechanism: Option<String>,
    /// Name Postfix logged.
    pub logged_hostname: Option<String>,
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

/// Brings a store written by an older build (schema `version`) up to [`SCHEMA_VERSION`]. From
/// schemas 1 and 2: the events of the `events` table are packed into blocks, and the table and
/// its time index (`events_ts` in 1, `spans` in 2) are dropped, as are the failure columns of
/// `ips`.
fn migrate(conn: &mut Connection, version: i64) -> Result<()> {
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    // Immediate, and the version read again inside: a scan and a report opening an old store at
    // the same moment must not both migrate it.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if meta_get::<i64>(&tx, "schema_version")?.unwrap_or(SCHEMA_VERSION) >= SCHEMA_VERSION {
        return Ok(());
    }
    if has_table(&tx, "events")? {
        let mut keys = blocks::KeyIndex::default();
        let mut buf = Vec::new();
        let mut stmt = tx.prepare(
            "SELECT id, ts, kind, reason, count, ip, server, service, username, mechanism, logged_hostname
             FROM events ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut new = blocks::NewEvents::default();
        while let Some(r) = rows.next()? {
            let Some(ip) = ip_from_blob(r.get_ref(5)?.as_blob().map_err(rusqlite::Error::from)?) else { continue };
            let (ip, ip_len) = blocks::Row::ip_parts(&ip);
            let row = blocks::Row {
                key: r.get(0)?,
                ts: r.get(1)?,
                kind: r.get(2)?,
                reason: r.get(3)?,
                count: r.get::<_, u32>(4)?.max(1),
                ip,
                ip_len,
                server: r.get(6)?,
                service: r.get(7)?,
                username: r.get(8)?,
                mechanism: r.get(9)?,
                logged_hostname: r.get(10)?,
            };
            new.add(&tx, &mut keys, row)?;
            if new.len() >= blocks::MAX_EVENTS {
                new.write(&tx, &mut buf)?;
                new.clear();
            }
        }
        new.write(&tx, &mut buf)?;
        drop(rows);
        drop(stmt);
        tx.execute_batch("DROP TABLE events; DROP TABLE IF EXISTS spans;")?;
    }
    let failure_columns: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM pragma_table_info('ips') WHERE name = 'last_failure')", [], |r| {
            r.get(0)
        })?;
    if failure_columns {
        tx.execute_batch(
            "CREATE TABLE ips_3 (ip BLOB PRIMARY KEY, first_seen INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO ips_3 SELECT ip, first_seen FROM ips;
             DROP TABLE ips;
             ALTER TABLE ips_3 RENAME TO ips;",
        )?;
    }
    meta_set(&tx, "schema_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
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

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)", [name], |r| {
        r.get(0)
    })
}

fn source_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceRecord> {
    let year: Option<i16> = r.get(9)?;
    let month: Option<i8> = r.get(10)?;
    Ok(SourceRecord {
        id: r.get(0)?,
        fingerprint: Fingerprint { len: r.get(1)?, hash: r.get::<_, i64>(2)? as u64 },
        dev: r.get::<_, i64>(3)? as u64,
        ino: r.get::<_, i64>(4)? as u64,
        offset: r.get::<_, i64>(5)? as u64,
        lines: r.get::<_, i64>(6)? as u64,
        complete: r.get(7)?,
        size: r.get::<_, i64>(8)? as u64,
        year: year.zip(month).map(|(year, month)| YearState { year, month }),
    })
}

fn intern(conn: &Connection, cache: &mut StringIds, s: &str) -> Result<i64> {
    if let Some(&id) = cache.get(s) {
        return Ok(id);
    }
    let found: Option<i64> =
        conn.prepare_cached("SELECT id FROM strings WHERE s = ?1")?.query_row([s], |r| r.get(0)).optional()?;
    let id = match found {
        Some(id) => id,
        None => {
            conn.prepare_cached("INSERT INTO strings (s) VALUES (?1)")?.execute([s])?;
            conn.last_insert_rowid()
        }
    };
    cache.insert(s.to_string(), id);
    Ok(id)
}

/// The address as stored: 4 bytes for IPv4, 16 for IPv6 (first `ip_len` bytes used).
pub fn ip_blob(ip: &IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    b
}

/// How many bytes of [`ip_blob`] the address uses: 4 for IPv4, 16 for IPv6.
pub fn ip_len(ip: &IpAddr) -> usize {
    if ip.is_ipv4() { 4 } else { 16 }
}

/// Inverse of [`ip_blob`].
pub fn ip_from_blob(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

fn meta_get<T: rusqlite::types::FromSql>(conn: &Connection, key: &str) -> rusqlite::Result<Option<T>> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()
}

fn meta_set<T: rusqlite::ToSql>(conn: &Connection, key: &str, value: T) -> Result<()> {
    conn.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2")?
        .execute(params![key, value])?;
    Ok(())
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::{Detail, Layer};

    /// A failure of `user` from 192.0.2.1 logged at byte `offset` of file 1.
    fn failure(offset: u64, user: &str) -> (EventKey, OwnedEvent) {
        let detail = Detail {
            kind: Kind::Failure,
            reason: Reason::PasswordMismatch,
            service: "dovecot/imap-login".into(),
            client_ip: "192.0.2.1".parse().unwrap(),
            username: Some(user.into()),
            mechanism: None,
            logged_hostname: None,
            count: 1,
            layer: Layer::LoginFront,
            session: None,
            duration_secs: None,
        };
        let time = jiff::Timestamp::from_second(1_773_100_800 + offset as i64).unwrap();
        (EventKey { source: 1, offset }, OwnedEvent { time, server: "mx1".into(), detail })
    }

    /// A data directory's store, CSV and row formatter, open as a scan holds them.
    struct Opened {
        store: Store,
        csv: csv::IntrusionCsv,
        rows: csv::RowFormatter,
    }

    impl Opened {
        fn new(dir: &Path) -> Opened {
            let store = Store::open(&dir.join(STORE_FILE)).unwrap();
            let (csv, _) = csv::IntrusionCsv::open(&dir.join("intrusions.csv"), store.csv_len().unwrap()).unwrap();
            Opened { store, csv, rows: csv::RowFormatter::new(jiff::tz::TimeZone::UTC) }
        }

        /// Stores `events` as one batch, committed unless `keep_open`.
        fn put(
            &mut self,
            events: Vec<(EventKey, OwnedEvent)>,
            keep_open: bool,
        ) -> std::result::Result<Added, CommitError> {
            let batch = Batch { keep_open, ..Batch::of(events) };
            self.store.commit_batch(&batch, &mut self.csv, &mut self.rows, false, &mut |_| IpInfo::default())
        }
    }

    /// Commits `events` as one batch; returns what was added and the CSV's data rows.
    fn commit(dir: &Path, events: Vec<(EventKey, OwnedEvent)>) -> (Added, usize) {
        let added = Opened::new(dir).put(events, false).unwrap();
        (added, std::fs::read_to_string(dir.join("intrusions.csv")).unwrap().lines().count() - 1)
    }

    #[test]
    fn events_below_the_highest_stored_key_are_looked_up_not_assumed_stored() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(commit(dir.path(), vec![failure(100, "a"), failure(300, "b")]).0.failures, 2);
        // 200 was held back by the correlator (below the highest key, never stored), 300 is a
        // replay after a crash, 400 is new.
        let (added, rows) = commit(dir.path(), vec![failure(200, "c"), failure(300, "b"), failure(400, "d")]);
        assert_eq!((added.failures, rows), (2, 4));
        let store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
        let users: Vec<_> = store.events().unwrap().into_iter().filter_map(|e| e.username).collect();
        assert_eq!(users, ["a", "c", "b", "d"]);
    }

    #[test]
    fn a_key_twice_in_one_batch_is_stored_and_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let (added, rows) = commit(dir.path(), vec![failure(100, "a"), failure(200, "b"), failure(100, "a")]);
        assert_eq!((added.failures, rows), (2, 2));
        let store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
        assert_eq!(store.events().unwrap().len(), 2);
        assert_eq!(commit(dir.path(), vec![failure(200, "b")]).0, Added::default());
    }

    /// Stores `batches` of events (all but the last keeping the transaction open) with one
    /// store, CSV and formatter, and drops them without committing when `commit` is false (as a
    /// killed scan would); returns the CSV's length and its data rows' usernames after reopening.
    fn store_batches(dir: &Path, batches: Vec<Vec<(EventKey, OwnedEvent)>>, commit: bool) -> (u64, Vec<String>) {
        let mut opened = Opened::new(dir);
        let last = batches.len() - 1;
        for (i, events) in batches.into_iter().enumerate() {
            opened.put(events, i < last || !commit).unwrap();
        }
        drop(opened);
        let Opened { store, csv, .. } = Opened::new(dir);
        let text = std::fs::read_to_string(dir.join("intrusions.csv")).unwrap();
        assert_eq!(csv.len(), text.len() as u64);
        let mut users: Vec<String> = store.events().unwrap().into_iter().filter_map(|e| e.username).collect();
        let csv_users: Vec<String> = text.lines().skip(1).map(|l| l.split(',').nth(4).unwrap().to_string()).collect();
        users.sort();
        let mut sorted = csv_users.clone();
        sorted.sort();
        assert_eq!(users, sorted, "the CSV holds the stored failures");
        (csv.len(), csv_users)
    }

    #[test]
    fn batches_sent_in_one_transaction_are_stored_together_and_a_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let batches = vec![
            vec![failure(100, "a"), failure(200, "b")],
            // 200 again (a line read twice), and 150 below the highest key written in this
            // transaction: both looked up in the uncommitted block.
            vec![failure(200, "b"), failure(150, "c"), failure(300, "d")],
            vec![failure(150, "c"), failure(400, "e")],
        ];
        let (_, users) = store_batches(dir.path(), batches, true);
        assert_eq!(users, ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn batches_of_a_transaction_never_committed_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let (committed_len, users) = store_batches(dir.path(), vec![vec![failure(100, "a")]], true);
        assert_eq!(users, ["a"]);
        let batches = vec![vec![failure(200, "b")], vec![failure(300, "c")]];
        let (len, users) = store_batches(dir.path(), batches, false);
        assert_eq!((len, users), (committed_len, vec!["a".to_string()]), "the rows of b and c were cut back");
        let (_, users) = store_batches(dir.path(), vec![vec![failure(200, "b")], vec![failure(300, "c")]], true);
        assert_eq!(users, ["a", "b", "c"], "read again, they are stored once");
    }

    #[test]
    fn a_batch_that_fails_rolls_back_the_batches_stored_before_it_since_the_last_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (committed_len, _) = store_batches(dir.path(), vec![vec![failure(100, "a")]], true);
        let mut opened = Opened::new(dir.path());
        opened.put(vec![failure(200, "b")], true).unwrap();
        opened.store.conn.execute_batch("CREATE TEMP TRIGGER no_blocks BEFORE INSERT ON event_blocks BEGIN SELECT RAISE(ABORT, 'disk on fire'); END").unwrap();
        let failed = opened.put(vec![failure(300, "c")], false).unwrap_err();
        assert!(failed.to_string().contains("disk on fire"), "{failed}");
        assert!(opened.store.conn.is_autocommit(), "no transaction is left open");
        drop(opened);
        let (len, users) = store_batches(dir.path(), vec![vec![failure(400, "d")]], true);
        assert_eq!(users, ["a", "d"], "b, stored before the failure, was rolled back with c");
        assert!(len > committed_len);
    }

    #[test]
    fn a_batch_whose_rows_are_written_in_pieces_leaves_them_all_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let user = |i: u64| format!("{i:05}{}", "u".repeat(95));
        let n = 3 * csv::WRITE_BYTES as u64 / 150;
        let (added, rows) = commit(dir.path(), (0..n).map(|i| failure(100 * (i + 1), &user(i))).collect());
        assert_eq!((added.failures, rows as u64), (n, n));
        let text = std::fs::read_to_string(dir.path().join("intrusions.csv")).unwrap();
        assert!(text.len() > 2 * csv::WRITE_BYTES, "the rows took more than one piece: {} bytes", text.len());
        let users: Vec<&str> = text.lines().skip(1).map(|l| l.split(',').nth(4).unwrap()).collect();
        assert_eq!(users, (0..n).map(user).collect::<Vec<_>>());
        let store = Store::open(&dir.path().join(STORE_FILE)).unwrap();
        assert_eq!(store.csv_len().unwrap(), Some(text.len() as u64), "the store records the whole file");
    }
    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Writes a store as version `version` (1 or 2) left it: one row per event in `events`, with
    /// the `events_ts` index (1) or the `spans` table (2).
    fn old_store(path: &Path, version: i64) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(ipinfo::SCHEMA).unwrap();
        conn.execute_batch(
            "CREATE TABLE ips (ip BLOB PRIMARY KEY, first_seen INTEGER NOT NULL, first_failure INTEGER,
                 last_failure INTEGER) WITHOUT ROWID;
             INSERT INTO ips VALUES (X'C6336401', 42, 42, 43);
             CREATE TABLE logins (username INTEGER NOT NULL, ip BLOB NOT NULL, first_seen INTEGER NOT NULL,
                 PRIMARY KEY (username, ip)) WITHOUT ROWID;
             CREATE TABLE events (
                 id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind INTEGER NOT NULL,
                 reason INTEGER NOT NULL, count INTEGER NOT NULL, ip BLOB NOT NULL,
                 server INTEGER NOT NULL, service INTEGER NOT NULL, username INTEGER,
                 mechanism INTEGER, logged_hostname INTEGER);
             INSERT INTO strings VALUES (1, 'mx1'), (2, 'dovecot/imap-login'), (3, 'admin');",
        )
        .unwrap();
        let time_index = match version {
            1 => "CREATE INDEX events_ts ON events (ts)",
            _ => {
                "CREATE TABLE spans (lo INTEGER NOT NULL, hi INTEGER NOT NULL, min_ts INTEGER NOT NULL,
                      max_ts INTEGER NOT NULL)"
            }
        };
        conn.execute_batch(time_index).unwrap();
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?1)", [version]).unwrap();
        let day = 1_773_100_800; // 2026-03-10T00:00:00Z
        // (source, offset, ts, kind, count): failures from two files on the day, one on the day
        // before, a login; and an IPv6 address.
        let events = [
            (1_i64, 0_i64, day - 3_600, 1, 1, "198.51.100.1"),
            (1, 100, day + 3_600, 1, 1, "198.51.100.1"),
            (1, 200, day + 7_200, 2, 1, "198.51.100.1"),
            (2, 0, day + 1_800, 1, 3, "2001:db8::7"),
            (2, 100, day + 86_399, 1, 1, "198.51.100.1"),
        ];
        for (source, offset, ts, kind, n, ip) in events {
            let ip: IpAddr = ip.parse().unwrap();
            conn.execute(
                "INSERT INTO events (id, ts, kind, reason, count, ip, server, service, username)
                 VALUES (?1, ?2, ?3, 2, ?4, ?5, 1, 2, 3)",
                params![source << 40 | offset, ts, kind, n, &ip_blob(&ip)[..ip_len(&ip)]],
            )
            .unwrap();
        }
    }

    #[test]
    fn stores_of_schemas_1_and_2_have_their_events_packed_into_blocks() {
        for version in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(STORE_FILE);
            old_store(&path, version);
            let store = Store::open(&path).unwrap();
            let conn = &store.conn;
            assert_eq!(meta_get::<i64>(conn, "schema_version").unwrap(), Some(SCHEMA_VERSION));
            for table in ["events", "spans"] {
                assert!(!has_table(conn, table).unwrap(), "v{version}: {table} dropped");
            }
            let ips: (i64, i64) =
                conn.query_row("SELECT count(*), first_seen FROM ips", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            assert_eq!(ips, (1, 42), "addresses keep their first time");
            let columns = count(conn, "SELECT count(*) FROM pragma_table_info('ips')");
            assert_eq!(columns, 2, "without the failure columns");
            let events = store.events().unwrap();
            let got: Vec<_> = events.iter().map(|e| (e.rowid, e.count, e.ip.unwrap().to_string())).collect();
            assert_eq!(
                got,
                [
                    (1 << 40, 1, "198.51.100.1".to_string()),
                    ((1 << 40) + 100, 1, "198.51.100.1".into()),
                    ((1 << 40) + 200, 1, "198.51.100.1".into()),
                    (2 << 40, 3, "2001:db8::7".into()),
                    ((2 << 40) + 100, 1, "198.51.100.1".into()),
                ]
            );
            assert!(events.iter().all(|e| e.service == "dovecot/imap-login" && e.username.as_deref() == Some("admin")));

            // Read back by time: the day of 2026-03-10, and the day before.
            let day = 1_773_100_800;
            let (mut failed, mut logins, mut before) = (0, 0, 0);
            store
                .events_in(day, day + 86_400, |e| match e.kind {
                    Kind::Failure => failed += e.count,
                    Kind::Success => logins += e.count,
                    Kind::BackendError => {}
                })
                .unwrap();
            store.events_in(day - 86_400, day, |e| before += e.count).unwrap();
            assert_eq!((failed, logins, before), (5, 1, 1));

            // One block per file; opening again changes nothing.
            let blocks = count(conn, "SELECT count(*) FROM event_blocks");
            assert_eq!(blocks, 2);
            drop(store);
            let again = Store::open(&path).unwrap();
            assert_eq!(count(&again.conn, "SELECT count(*) FROM event_blocks"), blocks);
            assert_eq!(again.events().unwrap(), events);
        }
    }

    #[test]
    fn a_store_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        drop(Store::open(&path).unwrap());
        let newer = SCHEMA_VERSION + 1;
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE meta SET value = ?1 WHERE key = 'schema_version'", [newer])
            .unwrap();
        assert!(matches!(Store::open(&path), Err(StoreError::Unusable(_))));
    }
}
