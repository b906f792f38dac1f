//! A fixed pool of evaluation threads with a bounded queue. Policy evaluation is
//! CPU-bound and synchronous: it runs here, off the async runtime, on threads
//! with stacks large enough for deeply nested (but bounded) Rego evaluation.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::AdmissionError;

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Debug)]
pub(crate) struct Pool {
    tx: SyncSender<Job>,
}

/// The queue is full: every worker is busy and `queue` requests wait.
#[derive(Debug)]
pub(crate) struct Busy;

impl Pool {
    pub(crate) fn new(
        workers: usize,
        queue: usize,
        stack_bytes: usize,
    ) -> Result<Pool, AdmissionError> {
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for index in 0..workers.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("caisson-admission-{index}"))
                .stack_size(stack_bytes)
                .spawn(move || worker(&rx))
                .map_err(|source| AdmissionError::SpawnWorker { index, source })?;
        }
        Ok(Pool { tx })
    }

    /// Queues `f`; the receiver yields its result (or an error when `f` panicked).
    pub(crate) fn submit<T, F>(&self, f: F) -> Result<oneshot::Receiver<T>, Busy>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // A panicking evaluation drops `done`: the handler sees a closed
            // channel and answers with an error instead of hanging.
            let _ = done.send(f());
        });
        match self.tx.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let guard = match rx.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            match guard.recv() {
                Ok(job) => job,
                // Every sender is gone: the state was dropped.
                Err(_) => return,
            }
        };
        // Keep the worker alive across a panicking job.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}
