//! The embedded SQLite store: events, checkpoints, and the CSV's committed length.
//!
//! The store is the source of truth. One transaction holds the new events of one or more batches
//! (see [`Batch::keep_open`]), the checkpoint of every file read up to its last batch, the
//! correlator's state (what changed of it, `correlation`) and the CSV length after their rows; so a crash at any moment leaves
//! either all of a commit or none of it, and the next scan resumes exactly where the last commit
//! ended.
//!
//! Events are kept compact: strings (servers, services, users, ...) are interned in `strings`,
//! IPs are 4- or 16-byte blobs, and the events a batch stores from one file are packed into one
//! row of `event_blocks` with the range of their keys (file id and line offset, see
//! [`EventKey`](crate::model::event::EventKey)) and of their times (`blocks`). An event already
//! stored (same key) is never stored again.
//!
//! Nothing outside this module sees SQL or the stored encodings: scans hand it [`Batch`]es
//! (`commit`), reports and tools ask typed questions (`query`, [`sends`], and the attachment's
//! rows in `export`). The tables are created and upgraded by `schema`; the files' checkpoints
//! are kept by `sources`, the journals' cursors by [`journal`], the running totals of stored
//! attempts (for counters) by `totals`.

pub mod alerts;
mod blocks;
mod commit;
mod correlation;
pub mod csv;
mod export;
pub mod files;
pub mod history;
pub mod ipinfo;
pub mod journal;
pub mod lock;
pub mod meta;
pub mod postgres;
mod query;
mod schema;
pub mod sends;
mod shipping;
mod sources;
#[cfg(test)]
mod tests;
mod totals;

pub use commit::{Added, Batch, CommitError};
pub use query::{EventRecord, IpKey, Snapshot, StoredEvent, TextId};
pub use shipping::{ShipEvent, Shipment};
pub use sources::{Progress, SourceRecord};
pub use totals::Total;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use foldhash::fast::RandomState;
use rusqlite::{Connection, OptionalExtension, params};

/// The string-to-id cache of the `strings` table.
pub(crate) type StringIds = HashMap<String, i64, RandomState>;

/// File name of the store inside the data directory.
pub const STORE_FILE: &str = "maillogsentinel.sqlite3";

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
    /// The fleet database, read by `report --fleet` as a store.
    #[error(transparent)]
    Fleet(#[from] postgres::FleetError),
}

impl From<blocks::CorruptBlock> for StoreError {
    fn from(e: blocks::CorruptBlock) -> StoreError {
        StoreError::Corrupt(e.to_string())
    }
}

/// What lies behind a store error that the person running the program can fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The disk is full.
    DiskFull,
    /// A read or write failed; SQLite reports a failed write (a full disk included) as this.
    Io,
    /// The data directory or a file in it may not be written (or opened) by this user.
    NotWritable,
    /// The file is not an SQLite database: damaged, or another file put in its place.
    NotADatabase,
}

impl StoreError {
    /// The cause of this error, when it is one of those a mail admin can fix.
    pub fn cause(&self) -> Option<Cause> {
        use rusqlite::ErrorCode;
        let StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) = self else { return None };
        match e.code {
            ErrorCode::DiskFull => Some(Cause::DiskFull),
            ErrorCode::SystemIoFailure => Some(Cause::Io),
            ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen => Some(Cause::NotWritable),
            ErrorCode::NotADatabase => Some(Cause::NotADatabase),
            _ => None,
        }
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
    /// Whether `stored` is filled.
    collect_stored: bool,
    /// The rows the last batch stored, for the alerts (see [`Store::keep_stored`]).
    stored: Vec<blocks::Row>,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        // SQLite would create the file 0644 (less the umask) and gives its `-wal` and `-shm`
        // files the database's mode: an empty file of ours is a database it fills. When this
        // fails (it exists, the directory is read-only), SQLite's own open says why.
        let _ = files::options().write(true).create_new(true).open(path);
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // Before anything is written to it: the tables below are created `IF NOT EXISTS`, so
        // another application's database given as the store would silently become one.
        refuse_foreign(&conn, path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL: a crash of the process never loses a commit; a power cut may lose the
        // last one, which is then re-read (the CSV is cut back to match).
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A first scan of a big log inserts hundreds of thousands of rows: a larger page cache
        // keeps the B-tree pages being appended to in memory between commits. Those are the
        // tables' last pages: 16 MB scans into a store of millions of events as fast as 32 MB
        // did, and its peak memory is a scan's largest single item (bench/README.md).
        conn.pragma_update(None, "cache_size", -16384)?;
        // Each checkpoint syncs the WAL and the database: the default (every 1,000 pages) makes a
        // first scan of a big log wait on dozens of syncs. Much larger leaves all the copying to
        // the checkpoint at close, after the last line was parsed, where nothing runs beside it.
        conn.pragma_update(None, "wal_autocheckpoint", 4096)?;
        conn.execute_batch(schema::SCHEMA)?;
        conn.execute_batch(ipinfo::SCHEMA)?;
        conn.execute_batch(history::SCHEMA)?;
        conn.execute_batch(blocks::SCHEMA)?;
        conn.execute_batch(correlation::SCHEMA)?;
        conn.execute_batch(journal::SCHEMA)?;
        conn.execute_batch(alerts::SCHEMA)?;
        conn.execute_batch(shipping::SCHEMA)?;
        let version: Option<i64> = meta_get(&conn, "schema_version")?;
        match version {
            None => meta_set(&conn, "schema_version", schema::SCHEMA_VERSION)?,
            Some(v) if v > schema::SCHEMA_VERSION => {
                return Err(newer_schema(path, v));
            }
            Some(v) => schema::migrate(&mut conn, v)?,
        }
        schema::convert_correlator_blob(&conn)?;
        totals::fill_if_new(&conn)?;
        Ok(Store::on(conn))
    }

    /// A store on `conn`, with empty caches.
    fn on(conn: Connection) -> Store {
        Store {
            conn,
            strings: HashMap::default(),
            sym_ids: Vec::new(),
            keys: blocks::KeyIndex::default(),
            block_buf: Vec::new(),
            new_events: blocks::NewEvents::default(),
            history: history::Written::default(),
            collect_stored: false,
            stored: Vec::new(),
        }
    }

    /// Opens the existing store at `path` for reading only (`report` without `--send`): a user
    /// who may read the data directory but not write it can view reports. Nothing is created
    /// or upgraded: a store of an older schema is refused, to be upgraded by a scan first.
    ///
    /// A store in WAL mode is read through its `-shm` and `-wal` files; when they are missing
    /// (the last writer closed the store) and cannot be created (the directory is not writable),
    /// SQLite cannot open it for reading like that, and it is opened as immutable: nothing
    /// writes it at that moment, since a writer would have created them.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let check = |conn: &Connection| -> rusqlite::Result<Option<i64>> { meta_get(conn, "schema_version") };
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let (conn, version) = match check(&conn) {
            Ok(v) => (conn, v),
            Err(e) if cannot_open(&e) && !wal_files_exist(path) => {
                drop(conn);
                let uri = format!("file:{}?immutable=1", uri_path(path));
                let conn = Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?;
                let version = check(&conn)?;
                (conn, version)
            }
            Err(e) => {
                // Another application's database has no `meta`: say so rather than SQLite's
                // "no such table".
                refuse_foreign(&conn, path)?;
                return Err(e.into());
            }
        };
        match version {
            Some(v) if v == schema::SCHEMA_VERSION => {}
            Some(v) if v > schema::SCHEMA_VERSION => {
                return Err(newer_schema(path, v));
            }
            v => {
                return Err(StoreError::Unusable(format!(
                    "{} is of an older format (schema {}, this build reads {}): run `maillogsentinel scan` \
                     once as the user that owns it to upgrade it, then view the report again",
                    path.display(),
                    v.map_or_else(|| "unknown".to_string(), |v| v.to_string()),
                    schema::SCHEMA_VERSION
                )));
            }
        }
        Ok(Store::on(conn))
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

    /// The correlator state saved by the commits so far, `None` when none saved one. An
    /// address that is not one is [`StoreError::Corrupt`].
    pub fn correlator_state(&self) -> Result<Option<crate::correlate::SavedState>> {
        correlation::load(&self.conn)
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

/// SQLite could not open a file it needs (here: the `-shm` of a WAL store in a read-only
/// directory).
fn cannot_open(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly))
}

/// True when the store at `path` has a `-wal` or `-shm` file beside it (a writer has it open,
/// or did not close it).
fn wal_files_exist(path: &Path) -> bool {
    ["-wal", "-shm"].iter().any(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        Path::new(&name).exists()
    })
}

/// `path` for a `file:` URI: `%`, `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
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
    if cache.len() >= MAX_CACHED_STRINGS {
        // User names are the attacker's: a new one with every attempt would grow the cache for
        // the whole scan. Starting again costs a lookup per text.
        cache.clear();
    }
    cache.insert(s.to_string(), id);
    Ok(id)
}

/// Texts whose ids [`intern`] remembers.
const MAX_CACHED_STRINGS: usize = 1 << 16;

/// The address as stored: 4 bytes for IPv4, 16 for IPv6 (first `ip_len` bytes used).
fn ip_blob(ip: &IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    b
}

/// How many bytes of [`ip_blob`] the address uses: 4 for IPv4, 16 for IPv6.
fn ip_len(ip: &IpAddr) -> usize {
    if ip.is_ipv4() { 4 } else { 16 }
}

/// Inverse of [`ip_blob`].
fn ip_from_blob(b: &[u8]) -> Option<IpAddr> {
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

/// Refuses a database that holds tables but not maillogsentinel's `meta` (with its `key` and
/// `value` columns): an SQLite file of another application. An empty database is a new store;
/// every store, of every schema, has had `meta` since it was first opened, which creates it first.
fn refuse_foreign(conn: &Connection, path: &Path) -> Result<()> {
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))?;
    if tables == 0 {
        return Ok(());
    }
    let meta_columns: i64 =
        conn.query_row("SELECT count(*) FROM pragma_table_info('meta') WHERE name IN ('key', 'value')", [], |r| {
            r.get(0)
        })?;
    if meta_columns == 2 {
        return Ok(());
    }
    Err(StoreError::Unusable(format!(
        "{} is an SQLite database of another application, not a maillogsentinel store; it was left unchanged: \
         give maillogsentinel a data directory of its own (--data-dir, or `data_dir` in the config)",
        path.display()
    )))
}

/// The error for a store written by a newer build, with schema `version`.
fn newer_schema(path: &Path, version: i64) -> StoreError {
    StoreError::Unusable(format!(
        "{} was written by a newer maillogsentinel (schema {version}, this one knows {}); upgrade maillogsentinel",
        path.display(),
        schema::SCHEMA_VERSION
    ))
}
