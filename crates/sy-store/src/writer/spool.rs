//! The journal task: every [`JOURNAL_TICK`], removes the segments whose records are all in the
//! store, then appends (and fsyncs) every record the store has not confirmed within
//! [`JOURNAL_AFTER`] and every record beyond the queue's capacity. The file work runs on a
//! blocking thread, holding the journal's own lock; the writer's state lock is taken only for
//! short bookkeeping steps around it.
//!
//! Says once when it starts keeping records on disk, once when it cannot (the server then
//! refuses new requests), and once when that is over.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use super::{OnDisk, Shared, Spilled, JOURNAL_AFTER, JOURNAL_TICK};

/// Ticks until the writer is shut down (whose last tick is run by `shutdown` itself).
pub(super) async fn run(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(JOURNAL_TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        {
            let state = shared.state();
            // the last handle went without a shutdown and nothing is left: stop with it
            let orphaned =
                state.stopping && state.in_memory() == 0 && Arc::strong_count(&shared) == 1;
            if state.closed || orphaned {
                return;
            }
        }
        let s = Arc::clone(&shared);
        if tokio::task::spawn_blocking(move || tick(&s, false))
            .await
            .is_err()
        {
            tracing::error!("journal task panicked; records are no longer put on disk");
            return;
        }
    }
}

/// One round: trim, then append. `all`: append every record in memory whatever its age (at
/// shutdown).
pub(super) fn tick(shared: &Shared, all: bool) {
    let mut journal = shared
        .journal
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let Some(journal) = journal.as_mut() else {
        return;
    };
    trim(shared, journal);
    append(shared, journal, all);
}

/// Removes every segment none of whose records is still owed to the store.
fn trim(shared: &Shared, journal: &mut crate::journal::Journal) {
    let dead: Vec<u64> = {
        let state = shared.state();
        journal
            .segments()
            .into_iter()
            .filter(|seg| state.live.get(seg).copied().unwrap_or(0) == 0)
            .collect()
    };
    for seg in dead {
        match journal.remove(seg) {
            Ok(()) => {
                let mut state = shared.state();
                state.live.remove(&seg);
                state.journal_bytes = journal.bytes();
            }
            Err(e) => {
                tracing::warn!(error = %e, "journal: a written-out segment could not be removed");
                return;
            }
        }
    }
    let mut state = shared.state();
    if state.journaling && state.spilled.is_empty() && state.live.values().all(|&n| n == 0) {
        state.journaling = false;
        tracing::info!("journal: every record is in the store again");
    }
}

fn append(shared: &Shared, journal: &mut crate::journal::Journal, all: bool) {
    let now = Instant::now();
    let (aged, spill) = {
        let mut state = shared.state();
        let state = &mut *state;
        let mut aged = Vec::new();
        for e in state.in_flight.iter_mut().chain(state.queue.iter_mut()) {
            if e.disk == OnDisk::No && (all || now.duration_since(e.at) >= JOURNAL_AFTER) {
                e.disk = OnDisk::Writing;
                aged.push(Arc::clone(&e.rec));
            }
        }
        let spill = std::mem::take(&mut state.spill);
        state.spill_writing = spill.len();
        (aged, spill)
    };
    if aged.is_empty() && spill.is_empty() {
        // nothing needs the disk: whatever failed before no longer puts a record at risk
        let mut state = shared.state();
        if state.journal_error.take().is_some() {
            tracing::info!("journal: nothing is at risk any more; accepting new requests");
        }
        return;
    }
    let recs: Vec<&crate::Generation> = aged
        .iter()
        .map(AsRef::as_ref)
        .chain(spill.iter().map(|e| e.rec.as_ref()))
        .collect();
    let result = journal.append(&recs);
    let appended = recs.len() as u64;
    drop(recs);
    let mut state = shared.state();
    let state = &mut *state;
    state.spill_writing = 0;
    match result {
        Ok(locs) => {
            let seg = locs.first().map_or(0, |l| l.seg);
            // records the store confirmed during the append are dead lines from the start
            let mut live = 0;
            for e in state.in_flight.iter_mut().chain(state.queue.iter_mut()) {
                if e.disk == OnDisk::Writing {
                    e.disk = OnDisk::In(seg);
                    live += 1;
                }
            }
            for (e, loc) in spill.into_iter().zip(locs.into_iter().skip(aged.len())) {
                state.spilled.push_back(Spilled {
                    loc,
                    id: e.rec.id.clone(),
                    key_id: e.rec.key_id.clone(),
                    cost: e.rec.cost,
                });
                live += 1;
            }
            *state.live.entry(seg).or_default() += live;
            state.journal_bytes = journal.bytes();
            shared
                .counters
                .journaled
                .fetch_add(appended, Ordering::Relaxed);
            if state.journal_error.take().is_some() {
                tracing::info!("journal: writable again; accepting new requests");
            }
            if live > 0 && !state.journaling {
                state.journaling = true;
                tracing::warn!(
                    dir = %journal.dir().display(),
                    "the store is slow or away: finished requests are kept in the local journal until it has them"
                );
            }
        }
        Err(e) => {
            for entry in state.in_flight.iter_mut().chain(state.queue.iter_mut()) {
                if entry.disk == OnDisk::Writing {
                    entry.disk = OnDisk::No;
                }
            }
            // back in front of anything spilled meanwhile: kept in memory, never dropped
            let later = std::mem::replace(&mut state.spill, spill);
            state.spill.extend(later);
            if state.journal_error.is_none() {
                tracing::error!(
                    error = %e,
                    error.kind = e.label(),
                    held_in_memory = state.in_memory(),
                    "journal: cannot write finished requests to local disk; refusing new requests until it can"
                );
            }
            state.journal_error = Some(e.to_string());
        }
    }
}
