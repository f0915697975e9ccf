//! The writer task: take a batch, write it until it commits, repeat; between batches, read
//! records back from the journal when the queue has room, and every [`REFRESH_EVERY`] read the
//! store's figure of the keys this instance follows. Exits when stopping and the queue is
//! empty (what is on disk stays there for the next start).
//!
//! Reading key figures here, between this instance's own commits, is what keeps the ledger
//! exact: no commit of this writer can land between the read and its bookkeeping.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{OnDisk, Shared, Spilled, BACKOFF_MAX, BACKOFF_MIN, BATCH_MAX, GATHER, REFRESH_EVERY};
use crate::generation::Generation;
use crate::journal::{self, JournalError};
use crate::store::Store;

/// A refresh may not hold up the writing of records for longer than this.
const REFRESH_TIMEOUT: Duration = Duration::from_millis(500);

/// What the writer does next.
enum Next {
    /// The queue is empty: sleep until a record arrives (or a refresh is due).
    Wait,
    /// A small batch: let more records join it first.
    Gather,
    Write(Vec<Arc<Generation>>),
}

pub(super) async fn run(store: Store, shared: Arc<Shared>) {
    let mut backoff = BACKOFF_MIN;
    let mut gathered = false;
    let mut refreshed: Option<Instant> = None;
    loop {
        if refreshed.is_none_or(|at| at.elapsed() >= REFRESH_EVERY) {
            refresh(&store, &shared).await;
            refreshed = Some(Instant::now());
        }
        refill(&shared).await;
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
                let taken: Vec<_> = state.queue.drain(..n).collect();
                let batch = taken.iter().map(|e| Arc::clone(&e.rec)).collect();
                state.in_flight = taken;
                Next::Write(batch)
            }
        };
        let batch = match next {
            Next::Wait => {
                let until_refresh = refreshed.map_or(Duration::ZERO, |at| {
                    REFRESH_EVERY.saturating_sub(at.elapsed())
                });
                // a notify_one sent since the check above left a permit: no lost wake-up
                let _ = tokio::time::timeout(until_refresh, shared.wake.notified()).await;
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
        write(&store, &shared, &batch, &mut backoff).await;
    }
}

/// Writes one batch, retrying until it commits, then settles its records.
async fn write(store: &Store, shared: &Shared, batch: &[Arc<Generation>], backoff: &mut Duration) {
    let mut failures = 0_u32;
    loop {
        match store.write_batch(batch).await {
            Ok(recorded) => {
                {
                    let mut state = shared.state();
                    let state = &mut *state;
                    let done = std::mem::take(&mut state.in_flight);
                    for e in &done {
                        if let OnDisk::In(seg) = e.disk {
                            if let Some(n) = state.live.get_mut(&seg) {
                                *n = n.saturating_sub(1);
                            }
                        }
                        let r = &e.rec;
                        state.ledger.settled(
                            &r.id,
                            r.key_id.as_deref(),
                            r.cost,
                            recorded.stored_ms,
                        );
                    }
                    for (key, usage) in &recorded.usage {
                        state.ledger.stored_usage(key, *usage);
                    }
                    shared
                        .counters
                        .written
                        .fetch_add(done.len() as u64, Ordering::Relaxed);
                }
                if !shared.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        backend = store.backend(),
                        "generation store reachable again; writing the backlog"
                    );
                }
                *backoff = BACKOFF_MIN;
                return;
            }
            Err(e) => {
                failures += 1;
                let was_healthy = shared.healthy.swap(false, Ordering::Relaxed);
                let backlog = {
                    let mut state = shared.state();
                    state.last_error = Some(e.to_string());
                    state.in_memory() + state.spilled.len()
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
                tokio::time::sleep(*backoff).await;
                *backoff = next_backoff(*backoff);
            }
        }
    }
}

/// Moves records that are on disk only into the queue, as far as it has room (not while
/// stopping: they are safe where they are until the next start).
async fn refill(shared: &Arc<Shared>) {
    let Some(dir) = shared.journal_dir.clone() else {
        return;
    };
    let taken: Vec<Spilled> = {
        let mut state = shared.state();
        if state.stopping || state.spilled.is_empty() {
            return;
        }
        let used = state.queue.len() + state.in_flight.len();
        let n = shared
            .capacity
            .saturating_sub(used)
            .min(BATCH_MAX)
            .min(state.spilled.len());
        state.spilled.drain(..n).collect()
    };
    if taken.is_empty() {
        return;
    }
    let locs: Vec<_> = taken.iter().map(|s| s.loc).collect();
    let read = tokio::task::spawn_blocking(move || journal::read(&dir, &locs))
        .await
        .unwrap_or_default();
    let now = Instant::now();
    let mut state = shared.state();
    let state = &mut *state;
    let mut results = read.into_iter();
    let mut back = Vec::new();
    for s in taken {
        match results.next() {
            Some(Ok(rec)) => state.queue.push_back(super::Entry {
                rec: Arc::new(rec),
                at: now,
                disk: OnDisk::In(s.loc.seg),
            }),
            Some(Err(e @ JournalError::Damaged { .. })) => {
                // the bytes on disk changed since they were written and synced: nothing can
                // bring the record back; say so loudly and stop owing it
                tracing::error!(error = %e, "journal: a record could not be read back; it is lost");
                state
                    .ledger
                    .settled(&s.id, s.key_id.as_deref(), s.cost, crate::unix_ms());
                if let Some(n) = state.live.get_mut(&s.loc.seg) {
                    *n = n.saturating_sub(1);
                }
                shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "journal: reading records back failed; retrying");
                back.push(s);
            }
            None => back.push(s),
        }
    }
    for s in back.into_iter().rev() {
        state.spilled.push_front(s);
    }
}

/// Reads the store's figure of every followed key (deleted ones are absent).
async fn refresh(store: &Store, shared: &Shared) {
    let ids = shared.state().ledger.watched();
    if ids.is_empty() {
        return;
    }
    match tokio::time::timeout(REFRESH_TIMEOUT, store.key_usages(&ids)).await {
        Ok(Ok(found)) => shared.state().ledger.refreshed(&ids, &found),
        Ok(Err(e)) => tracing::debug!(error = %e, "key refresh failed"),
        Err(_) => tracing::debug!("key refresh timed out"),
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
