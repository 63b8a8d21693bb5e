//! Inserting a batch's new events with one statement.
//!
//! A first scan stores close to a million events per gigabyte of log. Run once per row, an
//! `INSERT` spends about a quarter of its time being bound, stepped and reset. Here the batch's
//! rows are shown to SQLite as an eponymous virtual table, `mls_new_events`, and one
//! `INSERT INTO events SELECT ... FROM mls_new_events` stores them all.
//!
//! The rows reach the table through a shared buffer ([`Rows`]): the store fills it, runs the
//! statement, and the table's cursor reads it; nothing else touches it. The table is registered
//! on the store's own connection only and lives in no file.

use std::borrow::Cow;
use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::vtab::{Context, Filters, IndexInfo, Module, VTab, VTabConnection, VTabCursor};
use rusqlite::{Connection, ffi};

/// One `events` row, as the virtual table yields it (same columns, same order).
#[derive(Clone, Copy, Debug)]
pub(super) struct Row {
    pub id: i64,
    pub ts: i64,
    pub kind: u8,
    pub reason: u8,
    pub count: u32,
    pub ip: [u8; 16],
    pub ip_len: u8,
    pub server: i64,
    pub service: i64,
    pub username: Option<i64>,
    pub mechanism: Option<i64>,
    pub logged_hostname: Option<i64>,
}

/// The buffer the store fills before running [`INSERT`].
pub(super) type Rows = Arc<Mutex<Vec<Row>>>;

/// The statement that stores the rows of the buffer.
pub(super) const INSERT: &str = "INSERT INTO events
    (id, ts, kind, reason, count, ip, server, service, username, mechanism, logged_hostname)
    SELECT id, ts, kind, reason, count, ip, server, service, username, mechanism, logged_hostname
    FROM mls_new_events";

/// Registers `mls_new_events` on `conn`, reading from `rows`.
pub(super) fn register(conn: &Connection, rows: Rows) -> rusqlite::Result<()> {
    const MODULE: Module<RowsTab> = Module::eponymous_only_module();
    conn.create_module(c"mls_new_events", &MODULE, Some(rows))
}

#[repr(C)]
struct RowsTab {
    /// SQLite's part; must come first.
    base: ffi::sqlite3_vtab,
    rows: Rows,
}

// SAFETY: `RowsTab` is `repr(C)` with `sqlite3_vtab` first, as the trait requires.
unsafe impl<'vtab> VTab<'vtab> for RowsTab {
    type Aux = Rows;
    type Cursor = RowsCursor<'vtab>;

    fn connect(
        _db: &mut VTabConnection,
        aux: Option<&Rows>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        let rows = aux.cloned().ok_or_else(|| rusqlite::Error::ModuleError("mls_new_events has no buffer".into()))?;
        let schema =
            c"CREATE TABLE x(id, ts, kind, reason, count, ip, server, service, username, mechanism, logged_hostname)";
        Ok((Cow::Borrowed(schema), RowsTab { base: ffi::sqlite3_vtab::default(), rows }))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        info.set_estimated_cost(1.0);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<RowsCursor<'vtab>> {
        Ok(RowsCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            shared: Arc::clone(&self.rows),
            rows: Vec::new(),
            at: 0,
            phantom: PhantomData,
        })
    }
}

#[repr(C)]
struct RowsCursor<'vtab> {
    /// SQLite's part; must come first.
    base: ffi::sqlite3_vtab_cursor,
    shared: Rows,
    /// The rows, taken from `shared` for the scan (no lock per row) and given back on drop.
    rows: Vec<Row>,
    at: usize,
    phantom: PhantomData<&'vtab RowsTab>,
}

impl Drop for RowsCursor<'_> {
    fn drop(&mut self) {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if shared.is_empty() {
            std::mem::swap(&mut *shared, &mut self.rows);
        }
    }
}

// SAFETY: `RowsCursor` is `repr(C)` with `sqlite3_vtab_cursor` first, as the trait requires.
unsafe impl VTabCursor for RowsCursor<'_> {
    fn filter(&mut self, _idx_num: c_int, _idx_str: Option<&str>, _args: &Filters<'_>) -> rusqlite::Result<()> {
        if self.rows.is_empty() {
            let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *shared, &mut self.rows);
        }
        self.at = 0;
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.at += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.at >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let Some(r) = self.rows.get(self.at) else { return ctx.set_result(rusqlite::types::Null) };
        match i {
            0 => ctx.set_result(r.id),
            1 => ctx.set_result(r.ts),
            2 => ctx.set_result(r.kind),
            3 => ctx.set_result(r.reason),
            4 => ctx.set_result(r.count),
            5 => ctx.set_result(&r.ip[..usize::from(r.ip_len).min(16)]),
            6 => ctx.set_result(r.server),
            7 => ctx.set_result(r.service),
            8 => ctx.set_result(r.username),
            9 => ctx.set_result(r.mechanism),
            _ => ctx.set_result(r.logged_hostname),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.at as i64)
    }
}
