//! The store side of the pipeline, on its own thread so that storing runs beside parsing.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::alert::Engine;
use crate::enrich::Enricher;
use crate::model::event::KeyedEvent;
use crate::store::csv::{IntrusionCsv, RowFormatter};
use crate::store::{Added, Batch, CommitError, Store};

/// Batches waiting to be committed before the parser has to wait: enough to smooth out commits,
/// few enough to keep memory flat.
const QUEUE: usize = 2;

/// A commit of at least this many events asks for a checkpoint.
const CHECKPOINT_AFTER: usize = 4096;

/// What the writer writes to: the store, the CSV and the formatter of its rows. A scan hands it
/// to one writer; `watch` takes it back between its passes to plan the next one.
pub struct Sink {
    /// The store.
    pub store: Store,
    /// `reports/intrusions.csv`.
    pub csv: IntrusionCsv,
    /// Formats the CSV rows; it has learnt the texts of the batches sent so far.
    pub rows: RowFormatter,
    /// The alert rules, evaluated on each batch's new events before it is committed.
    pub alerts: Option<Engine>,
}

/// The writer thread's handle.
pub struct Writer {
    tx: Option<Sender<Batch>>,
    /// Committed batches' event buffers, emptied and handed back for reuse: a fresh buffer per
    /// batch would cost a growth copy and page faults for every megabyte of events.
    recycled: Receiver<Vec<KeyedEvent>>,
    handle: JoinHandle<Result<(Added, Sink), CommitError>>,
}

impl Writer {
    /// Starts committing batches to the sink's store (the database at `path`). With
    /// `checkpoint_thread`, checkpoints run on a thread of their own when one can be started;
    /// otherwise SQLite checkpoints in the commits, as it does by itself. A scan wants the thread
    /// (its commits are big); `watch` does not, since its small commits would seldom ask for one
    /// and the write-ahead log would grow between them.
    pub fn start(
        sink: Sink,
        path: &std::path::Path,
        checkpoint_thread: bool,
        probes_count: bool,
        enricher: Arc<Enricher>,
    ) -> std::io::Result<Writer> {
        let Sink { mut store, mut csv, mut rows, mut alerts } = sink;
        let (tx, rx): (Sender<Batch>, Receiver<Batch>) = bounded(QUEUE);
        let (give_back, recycled) = bounded(QUEUE + 1);
        let checkpoints =
            checkpoint_thread.then(|| store.checkpointer(path).ok().and_then(|c| Checkpoints::start(c).ok())).flatten();
        let handle = std::thread::Builder::new().name("store".into()).spawn(move || {
            let mut added = Added::default();
            let mut uncommitted = 0;
            let mut checkpoint_due = false;
            for batch in rx {
                // A small scan's few pages are copied by the checkpoint at close, with no extra
                // syncs; a large one's while it goes on, once the next batch shows that the
                // scan goes on (the checkpoint at close copies what the last commit wrote,
                // rather than waiting for a checkpoint thread to do it first).
                if std::mem::take(&mut checkpoint_due)
                    && let Some(c) = &checkpoints
                {
                    c.request();
                }
                let mut enrich = |ip| enricher.info(ip);
                match &mut alerts {
                    None => added += store.commit_batch(&batch, &mut csv, &mut rows, probes_count, &mut enrich)?,
                    Some(engine) => {
                        added += store.store_batch(&batch, &mut csv, &mut rows, probes_count, &mut enrich)?;
                        // The alerts are queued in the transaction of the events that raised them.
                        let now = jiff::Timestamp::now().as_second();
                        let evaluated = store
                            .stored_records()
                            .collect::<Result<Vec<_>, _>>()
                            .and_then(|events| engine.evaluate(&store, &events, &mut enrich, now));
                        if let Err(e) = evaluated {
                            store.rollback_open();
                            return Err(CommitError::Store(e));
                        }
                        if !batch.keep_open {
                            store.commit_open(&mut csv)?;
                        }
                    }
                }
                uncommitted += batch.outputs.len();
                if !batch.keep_open {
                    checkpoint_due = uncommitted >= CHECKPOINT_AFTER;
                    uncommitted = 0;
                }
                let mut outputs = batch.outputs;
                outputs.clear();
                let _ = give_back.try_send(outputs);
            }
            drop(checkpoints);
            Ok((added, Sink { store, csv, rows, alerts }))
        })?;
        Ok(Writer { tx: Some(tx), recycled, handle })
    }

    /// Queues a batch. Returns false when the writer has stopped (its error comes from
    /// [`Writer::finish`]).
    pub fn send(&self, batch: Batch) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(batch).is_ok())
    }

    /// An empty event buffer with room for `capacity` events, reused when one is back.
    pub fn buffer(&self, capacity: usize) -> Vec<KeyedEvent> {
        let mut buffer = self.recycled.try_recv().unwrap_or_else(|_| Vec::with_capacity(capacity));
        // A batch that grew (held-back events released at once after a burst) does not keep
        // its size for every batch after it.
        buffer.shrink_to(capacity);
        buffer
    }

    /// Waits for every queued batch to be committed; gives back the sink.
    pub fn finish(mut self) -> Result<(Added, Sink), CommitError> {
        drop(self.tx.take());
        match self.handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// The checkpoint thread: after a commit, copies the write-ahead log into the database while
/// the store goes on committing (requests that arrive during a checkpoint make one more).
struct Checkpoints {
    requests: Option<Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Checkpoints {
    fn start(checkpointer: crate::store::Checkpointer) -> std::io::Result<Checkpoints> {
        let (requests, rx) = bounded::<()>(1);
        let handle = std::thread::Builder::new().name("checkpoint".into()).spawn(move || {
            while rx.recv().is_ok() {
                // A failed checkpoint is not an error of the scan: the commits are in the log,
                // and the next checkpoint (at the latest when the store is closed) copies them.
                let _ = checkpointer.checkpoint();
            }
        })?;
        Ok(Checkpoints { requests: Some(requests), handle: Some(handle) })
    }

    /// Asks for a checkpoint, unless one is already asked for.
    fn request(&self) {
        if let Some(requests) = &self.requests {
            let _ = requests.try_send(());
        }
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
