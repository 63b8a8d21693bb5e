//! A coarse time index over `events`: which rowid ranges hold which times (like PostgreSQL's BRIN).
//!
//! Reports read events by time, but a B-tree index on `events (ts)` costs one extra index entry
//! per stored event: on the first scan of a big log, keeping it up to date was about 40% of the
//! insert time. The rowid does most of that work already: it is `source << 40 | line offset`
//! (see [`EventKey::rowid`](crate::event::EventKey::rowid)), and within one file offsets grow with
//! time, so the new events a batch stores from one file fill a compact rowid range that covers a
//! compact stretch of time. Each committed batch records, per file, that range and its times in
//! `spans`: one row per batch and file instead of one index entry per event.
//!
//! The invariant: every stored event (rowid `id`, time `ts`) lies in at least one span with
//! `lo <= id <= hi` and `min_ts <= ts <= max_ts`. A span's rowid range may also hold events of
//! other batches (an event the correlator held back, a line stored by an earlier scan) with times
//! outside the span's; those have spans of their own, and readers filter on `ts` anyway.

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::Result;
use crate::event::EventKey;

/// The table, created by [`super::Store::open`]. A plain rowid table: there are few spans (one
/// per committed batch and file, some ten thousand a year with hourly scans), and nothing asks
/// for one by its range. The index on `max_ts` costs one entry per batch and lets [`ranges`] for
/// a recent period (the usual report) read only the newest spans instead of all of them.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spans (
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL,
    min_ts INTEGER NOT NULL,
    max_ts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_max_ts ON spans (max_ts);
";

/// One file's new events within a batch.
#[derive(Clone, Copy, Debug)]
struct Acc {
    source: u32,
    lo: i64,
    hi: i64,
    min_ts: i64,
    max_ts: i64,
}

/// One batch's contribution to `spans`.
#[derive(Debug, Default)]
pub(super) struct SpanTally {
    /// Per file; a batch rarely holds more than one or two, so a linear search beats hashing.
    accs: Vec<Acc>,
}

impl SpanTally {
    /// Counts one newly stored event (runs for every one, so it must stay cheap).
    pub(super) fn event(&mut self, rowid: i64, ts: i64) {
        let source = EventKey::from_rowid(rowid).source;
        match self.accs.iter_mut().find(|a| a.source == source) {
            Some(a) => {
                a.lo = a.lo.min(rowid);
                a.hi = a.hi.max(rowid);
                a.min_ts = a.min_ts.min(ts);
                a.max_ts = a.max_ts.max(ts);
            }
            None => self.accs.push(Acc { source, lo: rowid, hi: rowid, min_ts: ts, max_ts: ts }),
        }
    }

    /// Writes one span per file inside the caller's transaction, so that spans and events are
    /// committed together.
    pub(super) fn save(&self, conn: &Connection) -> Result<()> {
        if self.accs.is_empty() {
            return Ok(());
        }
        let mut insert = conn.prepare_cached("INSERT INTO spans (lo, hi, min_ts, max_ts) VALUES (?1, ?2, ?3, ?4)")?;
        for a in &self.accs {
            insert.execute(params![a.lo, a.hi, a.min_ts, a.max_ts])?;
        }
        Ok(())
    }
}

/// Events per span when spans are rebuilt from existing events: about a scan batch, so that a
/// migrated store is as selective as one filled by scans.
const REBUILD_EVENTS_PER_SPAN: usize = 16_384;

/// Replaces `spans` with spans covering every stored event, read once in rowid order (no sort).
/// Used by the migration from the `events_ts` index and by stores filled with plain SQL; the
/// caller provides the transaction.
pub(super) fn rebuild(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM spans", [])?;
    let mut stmt = conn.prepare("SELECT id, ts FROM events ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut tally = SpanTally::default();
    let mut n = 0;
    while let Some(r) = rows.next()? {
        tally.event(r.get(0)?, r.get(1)?);
        n += 1;
        if n == REBUILD_EVENTS_PER_SPAN {
            std::mem::take(&mut tally).save(conn)?;
            n = 0;
        }
    }
    tally.save(conn)
}

impl super::Store {
    /// Recomputes `spans` from `events` (for stores filled by other means, such as the report
    /// benchmark).
    pub fn rebuild_spans(&self) -> Result<()> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        rebuild(&tx)?;
        Ok(tx.commit()?)
    }
}

/// The rowid ranges that may hold events with `start <= ts < end`: inclusive `(lo, hi)` pairs,
/// sorted and merged so that no two overlap or touch (each event is read at most once).
///
/// The ranges also hold events outside the times asked for, so callers must still filter on
/// `ts`. Finding them reads the spans that end at or after `start` (through the `spans_max_ts`
/// index); each range is then a rowid range scan of `events` (`e.id BETWEEN ?lo AND ?hi`).
pub fn ranges(conn: &Connection, start: i64, end: i64) -> rusqlite::Result<Vec<(i64, i64)>> {
    if start >= end {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached("SELECT lo, hi FROM spans WHERE max_ts >= ?1 AND min_ts < ?2 ORDER BY lo")?;
    let mut out: Vec<(i64, i64)> = Vec::new();
    let mut rows = stmt.query(params![start, end])?;
    while let Some(r) = rows.next()? {
        let (lo, hi): (i64, i64) = (r.get(0)?, r.get(1)?);
        match out.last_mut() {
            // Sorted by `lo`, so a span overlaps or touches only the last merged range.
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(source: u32, offset: u64) -> i64 {
        EventKey { source, offset }.rowid()
    }

    fn conn_with(spans: &[(i64, i64, i64, i64)]) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        for s in spans {
            conn.execute("INSERT INTO spans VALUES (?1, ?2, ?3, ?4)", params![s.0, s.1, s.2, s.3]).unwrap();
        }
        conn
    }

    fn all_spans(conn: &Connection) -> Vec<(i64, i64, i64, i64)> {
        let mut stmt = conn.prepare("SELECT lo, hi, min_ts, max_ts FROM spans ORDER BY lo").unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    }

    fn saved(tally: &SpanTally) -> Vec<(i64, i64, i64, i64)> {
        let conn = conn_with(&[]);
        tally.save(&conn).unwrap();
        all_spans(&conn)
    }

    #[test]
    fn ranges_merge_overlapping_and_touching_spans_but_not_disjoint_ones() {
        let conn = conn_with(&[
            (100, 199, 10, 20),
            (150, 250, 10, 20), // overlaps the first
            (251, 300, 10, 20), // touches the second
            (302, 400, 10, 20), // one rowid apart: disjoint
            (50, 60, 10, 20),   // inserted out of order, disjoint
            (120, 130, 10, 20), // inside the first
        ]);
        assert_eq!(ranges(&conn, 0, 100).unwrap(), vec![(50, 60), (100, 300), (302, 400)]);
    }

    #[test]
    fn ranges_keep_spans_whose_times_meet_the_half_open_period() {
        let conn = conn_with(&[
            (1, 9, 0, 99),      // ends just before the period
            (11, 19, 0, 100),   // max_ts == start: included
            (21, 29, 150, 160), // inside
            (31, 39, 199, 300), // starts at the last second: included
            (41, 49, 200, 300), // min_ts == end: excluded
            (51, 59, 0, 1000),  // covers the whole period
        ]);
        assert_eq!(ranges(&conn, 100, 200).unwrap(), vec![(11, 19), (21, 29), (31, 39), (51, 59)]);
        assert_eq!(ranges(&conn, 100, 100).unwrap(), vec![], "an empty period has no events");
        assert_eq!(ranges(&conn, 2000, 3000).unwrap(), vec![]);
    }

    #[test]
    fn a_batch_from_two_sources_makes_two_spans() {
        let mut tally = SpanTally::default();
        let (a, b) = (key(3, 0), key(5, 0));
        // Interleaved, and not in offset order within a source (held-back events).
        tally.event(a + 500, 1_000);
        tally.event(b + 10, 900);
        tally.event(a + 100, 990);
        tally.event(b + 20, 1_100);
        tally.event(a + 800, 1_050);
        assert_eq!(saved(&tally), vec![(a + 100, a + 800, 990, 1_050), (b + 10, b + 20, 900, 1_100)]);
        assert_eq!(saved(&SpanTally::default()), vec![], "a batch with no new event adds no span");
    }

    #[test]
    fn rebuilt_spans_cover_every_event_in_blocks() {
        let conn = conn_with(&[(0, 1, 2, 3)]);
        conn.execute_batch("CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL)").unwrap();
        let n = REBUILD_EVENTS_PER_SPAN as i64 + 10;
        let mut insert = conn.prepare("INSERT INTO events VALUES (?1, ?2)").unwrap();
        for i in 0..n {
            insert.execute(params![key(1, i as u64 * 100), 1_000 + i]).unwrap();
        }
        insert.execute(params![key(2, 7), 500]).unwrap();
        rebuild(&conn).unwrap();
        let spans = all_spans(&conn);
        let s1 = key(1, 0);
        let block = REBUILD_EVENTS_PER_SPAN as i64;
        assert_eq!(
            spans,
            vec![
                (s1, s1 + (block - 1) * 100, 1_000, 1_000 + block - 1),
                (s1 + block * 100, s1 + (n - 1) * 100, 1_000 + block, 1_000 + n - 1),
                (key(2, 7), key(2, 7), 500, 500),
            ],
            "the old span is replaced, each block and each source gets its own"
        );
    }
}
