//! Switchyard's durable state: API keys with their USD usage and limits, and
//! one generation record per finished request (SPEC §8), in SQLite (the
//! default, one file) or PostgreSQL (several instances), through `sqlx`.
//!
//! [`Store`] is the database; [`Writer`] takes finished requests off the
//! request path through a bounded queue and writes them in the background,
//! keeping them in a local journal on disk (`journal.rs`) until the store has
//! them, so that neither a database outage nor a crash loses a charge.
//!
//! Invariants:
//! - a key's `usage` is only ever changed by `usage = usage + cost` inside the
//!   transaction that inserts the generation carrying that cost, so recorded
//!   usage always equals the sum of recorded costs, across instances too;
//! - recording is idempotent on the generation id: a retried write, or a
//!   journal replayed after a crash, never charges twice;
//! - secrets are never stored or returned after creation (SHA-256 at rest),
//!   and no error's text carries the database URL.

mod error;
mod generation;
mod journal;
mod keys;
mod migrate;
mod responses;
mod store;
mod teams;
mod writer;

pub use error::StoreError;

/// Wall-clock time in ms since the epoch (0 before it).
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
pub use generation::Generation;
pub use journal::{JournalConfig, JournalError};
pub use keys::{KeyChange, KeyRecord, NewKey, SECRET_PREFIX};
pub use responses::StoredResponse;
pub use store::Store;
pub use teams::{TeamChange, TeamRecord, TeamSpend};
pub use writer::{
    KeySpend, Stored, Writer, WriterConfig, WriterStatus, BACKOFF_MAX, BACKOFF_MIN, BATCH_MAX,
    DEFAULT_QUEUE_CAPACITY, GATHER, JOURNAL_AFTER, JOURNAL_TICK, REFRESH_EVERY,
};
