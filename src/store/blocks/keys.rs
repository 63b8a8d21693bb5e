//! Which events the store holds ([`KeyIndex`]) and the new ones of a batch ([`NewEvents`]): a
//! scan stores each line's event once, however often the line is read.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;
use rusqlite::{Connection, OptionalExtension};

use super::{Header, Row, decode, insert};
use crate::model::event::EventKey;

/// Which event keys the store holds, per file. Loaded per file on first use (the file's block
/// directory: a few rows per scan that read it), kept up to date by [`KeyIndex::committed`].
#[derive(Debug, Default)]
pub(in crate::store) struct KeyIndex {
    sources: HashMap<u32, SourceKeys, RandomState>,
}

#[derive(Debug)]
struct SourceKeys {
    /// The highest key stored (`i64::MIN` when none).
    max: i64,
    /// Every block of the file.
    blocks: Vec<BlockKeys>,
}

#[derive(Debug)]
struct BlockKeys {
    id: i64,
    lo: i64,
    hi: i64,
    /// The block's keys, sorted, once a lookup needed them.
    keys: Option<Vec<i64>>,
}

/// The smallest and largest key of file `source`.
fn key_range(source: u32) -> (i64, i64) {
    (EventKey { source, offset: 0 }.rowid(), EventKey { source, offset: u64::MAX }.rowid())
}

impl KeyIndex {
    fn source(&mut self, conn: &Connection, source: u32) -> rusqlite::Result<&mut SourceKeys> {
        match self.sources.entry(source) {
            Entry::Occupied(known) => Ok(known.into_mut()),
            Entry::Vacant(slot) => {
                let (first, last) = key_range(source);
                // A block holds the events of one file, so its `hi` says whose it is.
                let mut stmt = conn.prepare_cached("SELECT id, lo, hi FROM event_blocks WHERE hi BETWEEN ?1 AND ?2")?;
                let blocks = stmt
                    .query_map([first, last], |r| {
                        Ok(BlockKeys { id: r.get(0)?, lo: r.get(1)?, hi: r.get(2)?, keys: None })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let max = blocks.iter().map(|b| b.hi).max().unwrap_or(i64::MIN);
                Ok(slot.insert(SourceKeys { max, blocks }))
            }
        }
    }

    /// The highest key stored for `source` (`i64::MIN` when none).
    pub(in crate::store) fn max(&mut self, conn: &Connection, source: u32) -> rusqlite::Result<i64> {
        Ok(self.source(conn, source)?.max)
    }

    /// Whether the event with `key` is stored.
    pub(in crate::store) fn contains(&mut self, conn: &Connection, key: i64) -> rusqlite::Result<bool> {
        let keys = self.source(conn, EventKey::from_rowid(key).source)?;
        if key > keys.max {
            return Ok(false);
        }
        for block in keys.blocks.iter_mut().filter(|b| b.lo <= key && key <= b.hi) {
            if block.keys.is_none() {
                block.keys = Some(block_keys(conn, block.id)?);
            }
            if block.keys.as_ref().is_some_and(|k| k.binary_search(&key).is_ok()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Records a block written in the store's transaction. (A transaction that fails to commit
    /// ends the scan, and this index with it.)
    pub(in crate::store) fn written(&mut self, id: i64, h: &Header) {
        let source = EventKey::from_rowid(h.lo).source;
        // Files not looked at yet are loaded from the store, block included, when first needed.
        if let Some(keys) = self.sources.get_mut(&source) {
            keys.max = keys.max.max(h.hi);
            keys.blocks.push(BlockKeys { id, lo: h.lo, hi: h.hi, keys: None });
        }
    }
}

/// The new events of a batch (or of an import), per file, ready to be written as blocks.
#[derive(Debug, Default)]
pub(in crate::store) struct NewEvents {
    groups: Vec<Group>,
    /// Emptied row and key lists of earlier batches: a first scan of a gigabyte stores some
    /// fifty batches of 16 k rows, and growing fresh lists each time cost 2% of its CPU.
    spare: Vec<(Vec<Row>, Vec<i64>)>,
}

#[derive(Debug)]
struct Group {
    source: u32,
    /// The highest key stored or added so far: events above it are new.
    max: i64,
    rows: Vec<Row>,
    /// The keys of the rows added above `max` (so in ascending order)...
    ascending: Vec<i64>,
    /// ...and of the few added below it (events the correlator held back).
    others: HashSet<i64, RandomState>,
}

impl NewEvents {
    /// Adds `row` unless its key is stored already or was added before; returns whether it was.
    pub(in crate::store) fn add(
        &mut self,
        conn: &Connection,
        index: &mut KeyIndex,
        row: Row,
    ) -> rusqlite::Result<bool> {
        let source = row.source();
        let g = match self.groups.iter().position(|g| g.source == source) {
            Some(i) => &mut self.groups[i],
            None => {
                let max = index.max(conn, source)?;
                let (rows, ascending) = self.spare.pop().unwrap_or_default();
                let others = HashSet::default();
                self.groups.push(Group { source, max, rows, ascending, others });
                let last = self.groups.len() - 1;
                &mut self.groups[last]
            }
        };
        if row.key > g.max {
            g.max = row.key;
            g.ascending.push(row.key);
        } else if index.contains(conn, row.key)?
            || g.ascending.binary_search(&row.key).is_ok()
            || !g.others.insert(row.key)
        {
            return Ok(false);
        }
        g.rows.push(row);
        Ok(true)
    }

    /// Forgets the events added, keeping the lists' room for the next batch.
    pub(in crate::store) fn clear(&mut self) {
        for Group { mut rows, mut ascending, .. } in self.groups.drain(..) {
            rows.clear();
            ascending.clear();
            self.spare.push((rows, ascending));
        }
    }

    /// How many events were added.
    pub(in crate::store) fn len(&self) -> usize {
        self.groups.iter().map(|g| g.rows.len()).sum()
    }

    /// Writes one block per file inside the caller's transaction; returns what to give
    /// [`KeyIndex::written`].
    pub(in crate::store) fn write(&self, conn: &Connection, buf: &mut Vec<u8>) -> rusqlite::Result<Vec<(i64, Header)>> {
        self.groups.iter().filter(|g| !g.rows.is_empty()).map(|g| insert(conn, &g.rows, buf)).collect()
    }
}

/// The sorted keys of block `id`.
fn block_keys(conn: &Connection, id: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT lo, min_ts, events, data FROM event_blocks WHERE id = ?1")?;
    let mut keys = Vec::new();
    let found = stmt
        .query_row([id], |b| {
            decode(id, (b.get(0)?, b.get(1)?, b.get(2)?), b.get_ref(3)?.as_blob()?, |r| keys.push(r.key))?;
            Ok(())
        })
        .optional()?;
    if found.is_some() {
        keys.sort_unstable();
    }
    Ok(keys)
}
