//! Notes the program keeps about itself in the `meta` table: what it has already told the user,
//! so that a warning a timer would repeat every hour is said once.

use super::{Result, Store, meta_get, meta_set};

/// The scan found no geolocation database (set while none is found, cleared when one is).
pub const GEO_MISSING: &str = "note.geo_missing";

impl Store {
    /// Sets the note `key`; true when it was not set before (the news is worth saying).
    pub fn note_once(&self, key: &str) -> Result<bool> {
        let said: Option<i64> = meta_get(&self.conn, key)?;
        if said.is_some_and(|v| v != 0) {
            return Ok(false);
        }
        meta_set(&self.conn, key, 1i64)?;
        Ok(true)
    }

    /// Clears the note `key`: the situation it told of is over, and is said again if it returns.
    pub fn forget_note(&self, key: &str) -> Result<()> {
        meta_set(&self.conn, key, 0i64)
    }

    /// True when the note `key` is set.
    pub fn noted(&self, key: &str) -> Result<bool> {
        let said: Option<i64> = meta_get(&self.conn, key)?;
        Ok(said.is_some_and(|v| v != 0))
    }
}
