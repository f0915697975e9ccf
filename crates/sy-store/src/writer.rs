//! [`Writer`]: finished requests are queued here by the request path and
//! written by one background task, in batches, with retries while the
//! database is away.
//!
//! Invariants: `backlog()` counts every accepted record not yet committed
//! (queued and in flight); it never exceeds the capacity, so memory is
//! bounded while the database is down; a record leaves the backlog only
//! after its transaction committed; `submit` never waits.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::generation::Generation;
use crate::store::Store;

/// A capacity for [`Writer::start`] when the operator gave none: about
/// 100 s of a busy gateway's records (a few KiB each) while the database is down.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;
/// Records written per transaction at most.
pub const BATCH_MAX: usize = 256;
/// A batch smaller than `BATCH_MAX` waits this long for company before it is written: one
/// transaction of many records costs the database far less than many of few (the records are
/// already served from memory meanwhile, and shutdown writes at once).
pub const GATHER: Duration = Duration::from_millis(20);
/// First wait after a failed write; doubled after each failure ...
pub const BACKOFF_MIN: Duration = Duration::from_millis(200);
/// ... up to this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Handle to the background writer. Clones share one queue and one task.
#[derive(Clone)]
pub struct Writer {
    handle: Arc<Handle>,
}

/// Owned by the clones of a [`Writer`]: when the last goes without
/// `shutdown`, the task is told to stop once the queue is empty.
struct Handle {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    capacity: usize,
    wake: Notify,
    healthy: AtomicBool,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Generation>,
    /// Taken off the queue by the task, not yet committed.
    in_flight: usize,
    /// No more submissions; the task exits once everything is written.
    stopping: bool,
    last_error: Option<String>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // The lock guards plain data that every step leaves consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stop(&self) {
        self.state().stopping = true;
        self.wake.notify_one();
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

impl Writer {
    /// Starts the writer task on the current Tokio runtime (a plain
    /// `tokio::spawn`; [`Writer::shutdown`] awaits it, so it needs no
    /// tracker). `capacity` bounds the backlog; 0 is taken as 1.
    ///
    /// At shutdown, call [`Writer::shutdown`] before [`Store::close`]: a
    /// closed pool fails every write.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    #[must_use]
    pub fn start(store: Store, capacity: usize) -> Writer {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            capacity: capacity.max(1),
            wake: Notify::new(),
            healthy: AtomicBool::new(true),
        });
        let task = tokio::spawn(run(store, Arc::clone(&shared)));
        Writer {
            handle: Arc::new(Handle {
                shared,
                task: Mutex::new(Some(task)),
            }),
        }
    }

    /// Queues a finished request; never waits. False when it was not
    /// queued: the backlog is full, the writer is shutting down, or the
    /// record is invalid (see [`Generation::validate`]; logged here).
    pub fn submit(&self, rec: Generation) -> bool {
        if let Err(e) = rec.validate() {
            tracing::error!(error = %e, "generation record refused");
            return false;
        }
        let shared = &self.handle.shared;
        {
            let mut state = shared.state();
            if state.stopping || state.queue.len() + state.in_flight >= shared.capacity {
                return false;
            }
            state.queue.push_back(rec);
        }
        shared.wake.notify_one();
        true
    }

    /// False after a failed write, until a later write succeeds.
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.handle.shared.healthy.load(Ordering::Relaxed)
    }

    /// The last write error's text (no URL in it), while unhealthy.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        if self.healthy() {
            return None;
        }
        self.handle.shared.state().last_error.clone()
    }

    /// Records accepted and not yet written (queued and in flight).
    #[must_use]
    pub fn backlog(&self) -> usize {
        let state = self.handle.shared.state();
        state.queue.len() + state.in_flight
    }

    /// The bound given to [`Writer::start`].
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.handle.shared.capacity
    }

    /// Stops accepting records (on every clone), writes what is queued
    /// (retrying while the database is away) for at most `timeout`, then
    /// stops the task. Returns how many records it could not write.
    /// Only the first call waits; later ones return the backlog at once.
    pub async fn shutdown(self, timeout: Duration) -> usize {
        self.handle.shared.stop();
        let task = self
            .handle
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut task) = task {
            if tokio::time::timeout(timeout, &mut task).await.is_err() {
                task.abort();
                // Wait for the abort so the backlog count below is final.
                let _ = task.await;
            }
        }
        let left = self.backlog();
        if left > 0 {
            tracing::error!(records = left, "generation records not written at shutdown");
        }
        left
    }
}

/// What the writer does next.
enum Next {
    /// The queue is empty: sleep until a record arrives.
    Wait,
    /// A small batch: let more records join it first.
    Gather,
    Write(Vec<Generation>),
}

/// The writer task: take a batch, write it until it commits, repeat; exit
/// when stopping and empty.
async fn run(store: Store, shared: Arc<Shared>) {
    let mut backoff = BACKOFF_MIN;
    let mut gathered = false;
    loop {
        let next = {
            let mut state = shared.state();
            if state.queue.is_empty() {
                if state.stopping {
                    return;
                }
                Next::Wait
            } else if !gathered && !state.stopping && state.queue.len() < BATCH_MAX {
                Next::Gather
            } else {
                let n = state.queue.len().min(BATCH_MAX);
                state.in_flight = n;
                Next::Write(state.queue.drain(..n).collect::<Vec<_>>())
            }
        };
        let batch = match next {
            // A notify_one sent since the check above left a permit: no lost wake-up.
            Next::Wait => {
                shared.wake.notified().await;
                continue;
            }
            Next::Gather => {
                gathered = true;
                tokio::time::sleep(GATHER).await;
                continue;
            }
            Next::Write(batch) => {
                gathered = false;
                batch
            }
        };
        let mut failures = 0_u32;
        loop {
            match store.record_batch(&batch).await {
                Ok(_) => {
                    shared.state().in_flight = 0;
                    if !shared.healthy.swap(true, Ordering::Relaxed) {
                        tracing::info!(
                            backend = store.backend(),
                            "generation store reachable again; writing backlog"
                        );
                    }
                    backoff = BACKOFF_MIN;
                    break;
                }
                Err(e) => {
                    failures += 1;
                    let was_healthy = shared.healthy.swap(false, Ordering::Relaxed);
                    let backlog = {
                        let mut state = shared.state();
                        state.last_error = Some(e.to_string());
                        state.queue.len() + state.in_flight
                    };
                    if was_healthy || failures.is_power_of_two() {
                        tracing::warn!(
                            backend = store.backend(),
                            error.kind = e.label(),
                            error = %e,
                            backlog,
                            failures,
                            "generation records not written; retrying"
                        );
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = next_backoff(backoff);
                }
            }
        }
    }
}

/// The wait after the next failure: doubled, capped at [`BACKOFF_MAX`].
fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let waits = std::iter::successors(Some(BACKOFF_MIN), |&d| Some(next_backoff(d)))
            .take(8)
            .map(|d| d.as_millis())
            .collect::<Vec<_>>();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    }
}
