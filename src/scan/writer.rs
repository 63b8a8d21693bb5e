//! The store side of the pipeline, on its own thread so that storing runs beside parsing.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::enrich::Enricher;
use crate::store::csv::{IntrusionCsv, RowFormatter};
use crate::store::{Added, Batch, CommitError, Store};

/// Batches waiting to be committed before the parser has to wait: enough to smooth out commits,
/// few enough to keep memory flat.
const QUEUE: usize = 2;

/// The writer thread's handle.
pub struct Writer {
    tx: Option<Sender<Batch>>,
    handle: JoinHandle<Result<Added, CommitError>>,
}

impl Writer {
    /// Starts committing batches to `store`.
    pub fn start(
        mut store: Store,
        mut csv: IntrusionCsv,
        mut rows: RowFormatter,
        probes_count: bool,
        enricher: Arc<Enricher>,
    ) -> std::io::Result<Writer> {
        let (tx, rx): (Sender<Batch>, Receiver<Batch>) = bounded(QUEUE);
        let handle = std::thread::Builder::new().name("store".into()).spawn(move || {
            let mut added = Added::default();
            for batch in rx {
                let mut enrich = |ip| enricher.info(ip);
                added += store.commit_batch(&batch, &mut csv, &mut rows, probes_count, &mut enrich)?;
            }
            Ok(added)
        })?;
        Ok(Writer { tx: Some(tx), handle })
    }

    /// Queues a batch. Returns false when the writer has stopped (its error comes from
    /// [`Writer::finish`]).
    pub fn send(&self, batch: Batch) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(batch).is_ok())
    }

    /// Waits for every queued batch to be committed.
    pub fn finish(mut self) -> Result<Added, CommitError> {
        drop(self.tx.take());
        match self.handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}
