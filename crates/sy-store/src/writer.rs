//! [`Writer`]: finished requests are handed over here by the request path and written to the
//! store by one background task, in batches, with retries while the database is away — and,
//! with a journal, kept on local disk until the store has them (SPEC §8).
//!
//! A record lives in memory (the queue, bounded by the capacity) and, from
//! [`JOURNAL_AFTER`] after it was handed over if the store has not confirmed it by then, also in
//! the journal (`spool.rs` appends and fsyncs every [`JOURNAL_TICK`]); records beyond the
//! capacity go to the journal only and are read back when there is room. A healthy store
//! confirms a record within tens of milliseconds, so the journal is touched only when the
//! store is slow or away. At start-up the journal of the previous run is read back the same
//! way; the store's insert is idempotent on the generation id, so a record both journaled and
//! written is stored and charged once.
//!
//! Invariants: a record leaves the writer only once its transaction committed (or, at
//! shutdown, once it is on disk); `backlog()` counts every record not yet in the store;
//! `submit` never waits; nothing is dropped while the journal can be written — when it cannot
//! (disk full, `journal_max_bytes`), records stay in memory and `accepting()` turns false so
//! the server refuses new requests; a key's spend in the ledger is the store's figure plus
//! what this writer still owes it, changed together under one lock.

mod ledger;
mod spool;
mod task;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use ledger::{KeySpend, Stored};

use crate::generation::Generation;
use crate::journal::{Journal, JournalConfig, JournalError, Loc};
use crate::store::Store;

/// A capacity for the in-memory queue when the operator gave none: about 100 s of a busy
/// gateway's records (a few KiB each).
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
/// A record the store has not confirmed this long after it was handed over goes to the
/// journal; with [`JOURNAL_TICK`] and an fsync it is on disk well within SPEC §8's second.
pub const JOURNAL_AFTER: Duration = Duration::from_millis(250);
/// How often the journal is appended to (and trimmed).
pub const JOURNAL_TICK: Duration = Duration::from_millis(100);
/// How often the store's figure of each followed key is read again (and deleted keys noticed):
/// instances sharing a database see each other's charges and deletions this soon.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// How to start a [`Writer`].
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Records held in memory at most (0 is taken as 1).
    pub capacity: usize,
    /// `None`: no journal; a full queue then drops records (counted), as for an in-memory
    /// database whose records would not outlive the process anyway.
    pub journal: Option<JournalConfig>,
}

/// Handle to the background writer. Clones share one queue and one task.
#[derive(Clone)]
pub struct Writer {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("capacity", &self.capacity())
            .field("journal", &self.journal_dir())
            .finish_non_exhaustive()
    }
}

/// Owned by the clones of a [`Writer`]: when the last goes without `shutdown`, the tasks are
/// told to stop once the queue is empty.
struct Handle {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Whether (and where) a record is in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnDisk {
    No,
    /// Being appended right now.
    Writing,
    In(u64),
}

/// A record in memory.
pub(crate) struct Entry {
    pub rec: Arc<Generation>,
    pub at: Instant,
    pub disk: OnDisk,
}

/// A record on disk only: where, and what it charges (so the ledger stays right without
/// holding the record).
pub(crate) struct Spilled {
    pub loc: Loc,
    pub id: String,
    pub key_id: Option<String>,
    pub cost: f64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub queued: AtomicU64,
    pub journaled: AtomicU64,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub replayed: AtomicU64,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub capacity: usize,
    pub wake: Notify,
    pub healthy: AtomicBool,
    /// `None` without a journal, and after shutdown (which so releases the directory's
    /// lock). A std mutex: only blocking threads take it.
    pub journal: Mutex<Option<Journal>>,
    pub journal_dir: Option<PathBuf>,
    pub counters: Counters,
}

#[derive(Default)]
pub(crate) struct State {
    pub queue: VecDeque<Entry>,
    /// Taken off the queue by the task, not yet committed.
    pub in_flight: Vec<Entry>,
    /// Beyond the capacity: waiting for the journal task to put them on disk.
    pub spill: Vec<Entry>,
    /// Taken from `spill` by the journal task, being written.
    pub spill_writing: usize,
    /// On disk only, waiting for room in the queue.
    pub spilled: VecDeque<Spilled>,
    /// Records of each journal segment the store has not confirmed.
    pub live: BTreeMap<u64, usize>,
    pub journal_bytes: u64,
    pub ledger: ledger::Ledger,
    /// No more waiting for records: write what is queued, then stop.
    pub stopping: bool,
    /// Shut down: nothing more is accepted.
    pub closed: bool,
    pub last_error: Option<String>,
    /// Why the last journal append failed, while it keeps failing.
    pub journal_error: Option<String>,
    /// Records are being kept on disk for a slow or absent store (said once per episode).
    pub journaling: bool,
}

impl State {
    /// Records in memory (queue, in flight, spill).
    fn in_memory(&self) -> usize {
        self.queue.len() + self.in_flight.len() + self.spill.len() + self.spill_writing
    }
}

impl Shared {
    pub fn state(&self) -> MutexGuard<'_, State> {
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

/// The writer's figures for `/ready` and `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterStatus {
    /// The last write to the store succeeded.
    pub healthy: bool,
    /// Nothing is at risk: records can be put on disk (or no journal is needed).
    pub accepting: bool,
    /// Records not yet in the store, in memory (they may be on disk too) ...
    pub in_memory: usize,
    /// ... and on disk only.
    pub journal_only: usize,
    /// Records in the journal not yet in the store.
    pub journaled: usize,
    pub journal_bytes: u64,
    /// A journal is configured.
    pub journal: bool,
    pub journal_error: Option<String>,
    pub last_error: Option<String>,
    pub queued_total: u64,
    pub journaled_total: u64,
    pub written_total: u64,
    pub dropped_total: u64,
    pub replayed_total: u64,
}

impl Writer {
    /// Starts a writer without a journal on the current Tokio runtime. `capacity` bounds the
    /// records held; 0 is taken as 1.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    #[must_use]
    pub fn start(store: Store, capacity: usize) -> Writer {
        Self::spawn(store, capacity, None, Vec::new(), Vec::new())
    }

    /// Starts a writer with a journal: opens it (taking its lock), and queues what the previous
    /// run left there for the store. Call [`Writer::shutdown`] before [`Store::close`]: a
    /// closed pool fails every write.
    ///
    /// # Errors
    /// The journal directory cannot be created, read or locked (another process uses it).
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start_with(store: Store, config: WriterConfig) -> Result<Writer, JournalError> {
        let Some(jc) = config.journal else {
            return Ok(Self::start(store, config.capacity));
        };
        let (journal, found, damaged) = Journal::open(&jc)?;
        if damaged > 0 {
            tracing::warn!(
                lines = damaged,
                dir = %jc.dir.display(),
                "journal: damaged lines skipped (the torn tail of a write cut by a crash)"
            );
        }
        if !found.is_empty() {
            tracing::info!(
                records = found.len(),
                dir = %jc.dir.display(),
                "journal: records of a previous run found; writing them to the store"
            );
        }
        let segments = journal.segments();
        Ok(Self::spawn(
            store,
            config.capacity,
            Some(journal),
            found,
            segments,
        ))
    }

    fn spawn(
        store: Store,
        capacity: usize,
        journal: Option<Journal>,
        found: Vec<crate::journal::Found>,
        segments: Vec<u64>,
    ) -> Writer {
        let mut state = State::default();
        for seg in segments {
            state.live.insert(seg, 0);
        }
        let replayed = found.len() as u64;
        for f in found {
            *state.live.entry(f.loc.seg).or_default() += 1;
            state.ledger.charge(&f.id, f.key_id.as_deref(), f.cost);
            state.spilled.push_back(Spilled {
                loc: f.loc,
                id: f.id,
                key_id: f.key_id,
                cost: f.cost,
            });
        }
        if let Some(j) = &journal {
            state.journal_bytes = j.bytes();
        }
        let counters = Counters::default();
        counters.replayed.store(replayed, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            capacity: capacity.max(1),
            wake: Notify::new(),
            healthy: AtomicBool::new(true),
            journal_dir: journal.as_ref().map(|j| j.dir().to_owned()),
            journal: Mutex::new(journal),
            counters,
        });
        if shared.journal_dir.is_some() {
            tokio::spawn(spool::run(Arc::clone(&shared)));
        }
        let task = tokio::spawn(task::run(store, Arc::clone(&shared)));
        Writer {
            handle: Arc::new(Handle {
                shared,
                task: Mutex::new(Some(task)),
            }),
        }
    }

    /// Takes a finished request; never waits. False when it was not taken: the writer is shut
    /// down, the record is invalid (see [`Generation::validate`]; logged), or the queue is
    /// full and there is no journal. Each is counted as dropped.
    pub fn submit(&self, rec: Generation) -> bool {
        let shared = &self.handle.shared;
        if let Err(e) = rec.validate() {
            tracing::error!(error = %e, "generation record refused");
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        {
            let mut state = shared.state();
            let full = state.queue.len() + state.in_flight.len() >= shared.capacity;
            if state.closed || (full && shared.journal_dir.is_none()) {
                drop(state);
                shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            state
                .ledger
                .charge(&rec.id, rec.key_id.as_deref(), rec.cost);
            let entry = Entry {
                rec: Arc::new(rec),
                at: Instant::now(),
                disk: OnDisk::No,
            };
            if full {
                state.spill.push(entry);
            } else {
                state.queue.push_back(entry);
            }
        }
        shared.counters.queued.fetch_add(1, Ordering::Relaxed);
        shared.wake.notify_one();
        true
    }

    /// False after a failed write, until a later write succeeds.
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.handle.shared.healthy.load(Ordering::Relaxed)
    }

    /// False while records that need the journal cannot be put there (disk full, or
    /// `journal_max_bytes` reached): the server then refuses new requests, so that the records
    /// of the ones it answers can still be kept.
    #[must_use]
    pub fn accepting(&self) -> bool {
        self.handle.shared.state().journal_error.is_none()
    }

    /// The last write error's text (no URL in it), while unhealthy.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        if self.healthy() {
            return None;
        }
        self.handle.shared.state().last_error.clone()
    }

    /// Records accepted and not yet in the store (in memory or on disk).
    #[must_use]
    pub fn backlog(&self) -> usize {
        let state = self.handle.shared.state();
        state.in_memory() + state.spilled.len()
    }

    /// The bound given at start.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.handle.shared.capacity
    }

    /// The journal's directory, when there is one.
    #[must_use]
    pub fn journal_dir(&self) -> Option<&std::path::Path> {
        self.handle.shared.journal_dir.as_deref()
    }

    #[must_use]
    pub fn status(&self) -> WriterStatus {
        let shared = &self.handle.shared;
        let c = &shared.counters;
        let state = shared.state();
        WriterStatus {
            healthy: shared.healthy.load(Ordering::Relaxed),
            accepting: state.journal_error.is_none(),
            in_memory: state.in_memory(),
            journal_only: state.spilled.len(),
            journaled: state.live.values().sum(),
            journal_bytes: state.journal_bytes,
            journal: shared.journal_dir.is_some(),
            journal_error: state.journal_error.clone(),
            last_error: if shared.healthy.load(Ordering::Relaxed) {
                None
            } else {
                state.last_error.clone()
            },
            queued_total: c.queued.load(Ordering::Relaxed),
            journaled_total: c.journaled.load(Ordering::Relaxed),
            written_total: c.written.load(Ordering::Relaxed),
            dropped_total: c.dropped.load(Ordering::Relaxed),
            replayed_total: c.replayed.load(Ordering::Relaxed),
        }
    }

    /// Follows a key: its stored figure is read again every [`REFRESH_EVERY`] (and its
    /// deletion noticed). `stored` is the usage the caller just read from the store.
    pub fn watch_key(&self, id: &str, stored: f64) {
        self.handle.shared.state().ledger.watch(id, stored);
    }

    pub fn unwatch_key(&self, id: &str) {
        self.handle.shared.state().ledger.unwatch(id);
    }

    /// Marks a key deleted at once (this instance deleted it).
    pub fn key_deleted(&self, id: &str) {
        self.handle.shared.state().ledger.deleted(id);
    }

    /// Whether (since when) the store has this record, as far as this writer knows (records
    /// charging a key; commit times are kept for a minute).
    #[must_use]
    pub fn stored(&self, gen_id: &str) -> Stored {
        self.handle.shared.state().ledger.stored(gen_id)
    }

    /// The key's records the store did not have at `since_ms` (wall clock, ms since the epoch):
    /// not in it yet, or committed later (for at most a minute back) — (id, USD, commit ms or 0).
    #[must_use]
    pub fn stored_after(&self, key_id: &str, since_ms: u64) -> Vec<(String, f64, u64)> {
        self.handle
            .shared
            .state()
            .ledger
            .stored_after(key_id, since_ms)
    }

    /// Whether this writer holds, or committed within the last minute, a record charging this
    /// key.
    #[must_use]
    pub fn charged_recently(&self, key_id: &str) -> bool {
        self.handle
            .shared
            .state()
            .ledger
            .active(key_id, crate::unix_ms())
    }

    /// The key's spend as this instance knows it (`None`: neither followed nor owed).
    #[must_use]
    pub fn key_spend(&self, id: &str) -> Option<KeySpend> {
        self.handle.shared.state().ledger.spend(id)
    }

    /// Stops accepting records (on every clone) once the queue is written: writes what is in
    /// memory to the store for at most `timeout`, then puts whatever is left in the journal.
    /// Returns how many records are neither in the store nor on disk (0 with a writable
    /// journal). Only the first call waits.
    pub async fn shutdown(self, timeout: Duration) -> usize {
        let shared = Arc::clone(&self.handle.shared);
        shared.stop();
        let task = self
            .handle
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut task) = task {
            if tokio::time::timeout(timeout, &mut task).await.is_err() {
                task.abort();
                // Wait for the abort so the records it held are back in the state.
                let _ = task.await;
            }
        }
        if shared.journal_dir.is_some() {
            let s = Arc::clone(&shared);
            let _ = tokio::task::spawn_blocking(move || {
                spool::tick(&s, true);
                // closed: release the directory (and its lock) for the next process
                s.journal
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
            })
            .await;
        }
        let lost = {
            let mut state = shared.state();
            state.closed = true;
            state
                .queue
                .iter()
                .chain(&state.in_flight)
                .chain(&state.spill)
                .filter(|e| e.disk == OnDisk::No)
                .count()
        };
        shared.wake.notify_one();
        if lost > 0 {
            shared
                .counters
                .dropped
                .fetch_add(lost as u64, Ordering::Relaxed);
            tracing::error!(
                records = lost,
                "generation records neither written nor journaled at shutdown"
            );
        }
        lost
    }
}
