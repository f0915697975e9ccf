//! Shared server state: the current config snapshot (swapped whole on reload, only after it
//! validated), the health store, the generation store and the clock.

use std::sync::Arc;
use tokio::time::Instant;

use arc_swap::ArcSwap;
use sy_config::Config;
use sy_upstream::Upstreams;
use tokio_util::task::TaskTracker;

use crate::affinity::Affinity;
use crate::cluster::{Cluster, SharedHealth};
use crate::generations::Generations;
use crate::health::{HealthBook, InMemoryHealth};
use crate::keys::KeyCache;

/// One loaded configuration with everything derived from it. A request takes one snapshot and
/// keeps it to the end, so a reload never changes a request half-way.
pub struct Snapshot {
    pub config: Config,
    pub upstreams: Upstreams,
    /// Unix seconds when this config was loaded (the catalog's `created`).
    pub loaded_at: u64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Snapshot {
    pub fn new(config: Config) -> Result<Self, String> {
        let upstreams = Upstreams::new(&config, None)?;
        Ok(Self {
            config,
            upstreams,
            loaded_at: unix_now(),
        })
    }

    /// The snapshot that replaces `previous` on a reload: each provider keeps its concurrency
    /// limiter, so attempts in flight stay counted against `max_concurrency`.
    pub fn next(config: Config, previous: &Snapshot) -> Result<Self, String> {
        let upstreams = Upstreams::new(&config, Some(&previous.upstreams))?;
        Ok(Self {
            config,
            upstreams,
            loaded_at: unix_now(),
        })
    }
}

/// How the config is (re)loaded: from a file, or the built-in demo.
pub enum ConfigSource {
    File(std::path::PathBuf),
    Demo,
}

/// The `${VAR}` lookup a reload uses (the process environment, or the demo's own values).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Durable storage: the database and the background writer of generation records.
pub struct Storage {
    pub store: sy_store::Store,
    pub writer: sy_store::Writer,
}

/// The server's monotonic clock in seconds (what the pure health code takes as `now`); tokio's,
/// so paused-time tests drive it.
#[derive(Clone, Copy, Debug)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Self {
        Self(Instant::now())
    }

    pub fn now(self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// Generation records kept in memory (newest first): what the dashboard scans and what
/// `/generation` answers before the store has a record; older ones come from the store.
const RECENT_RECORDS: usize = 2_000;

pub struct AppState {
    pub snapshot: ArcSwap<Snapshot>,
    pub health: Box<dyn HealthBook>,
    /// `[cluster]`: the link to the other instances through Redis.
    pub cluster: Option<Arc<Cluster>>,
    pub affinity: Affinity,
    pub generations: Generations,
    pub storage: Option<Storage>,
    pub keys: KeyCache,
    /// The teams of the keys in memory (SPEC §8).
    pub teams: crate::teams::Teams,
    pub source: ConfigSource,
    /// `${VAR}` lookup used on reload.
    pub env: EnvLookup,
    /// Every task a request spawns, so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// Cancelled when shutdown's grace period is over: requests still running end now (streams
    /// with the error event), charged and recorded (SPEC §8).
    pub ending: tokio_util::sync::CancellationToken,
    clock: Clock,
}

impl AppState {
    pub fn new(
        snapshot: Snapshot,
        source: ConfigSource,
        env: EnvLookup,
        storage: Option<Storage>,
    ) -> Arc<Self> {
        Self::build(
            snapshot,
            source,
            env,
            storage,
            Clock::start(),
            Box::new(InMemoryHealth::default()),
            None,
        )
    }

    /// An instance of a cluster (`[cluster] redis_url`): health shared through Redis, key
    /// limits enforced on Redis. Connects lazily: an instance starts while Redis is down.
    pub fn clustered(
        snapshot: Snapshot,
        source: ConfigSource,
        env: EnvLookup,
        storage: Option<Storage>,
        redis_url: &str,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<Arc<Self>, String> {
        let clock = Clock::start();
        let local = Arc::new(InMemoryHealth::default());
        let cluster = Cluster::start(redis_url, Arc::clone(&local), clock, stop)?;
        let health = SharedHealth::new(local, Arc::clone(&cluster), clock);
        Ok(Self::build(
            snapshot,
            source,
            env,
            storage,
            clock,
            Box::new(health),
            Some(cluster),
        ))
    }

    fn build(
        snapshot: Snapshot,
        source: ConfigSource,
        env: EnvLookup,
        storage: Option<Storage>,
        clock: Clock,
        health: Box<dyn HealthBook>,
        cluster: Option<Arc<Cluster>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            snapshot: ArcSwap::from_pointee(snapshot),
            health,
            cluster,
            affinity: Affinity::default(),
            generations: Generations::new(RECENT_RECORDS),
            storage,
            keys: KeyCache::default(),
            teams: crate::teams::Teams::default(),
            source,
            env,
            tasks: TaskTracker::new(),
            ending: tokio_util::sync::CancellationToken::new(),
            clock,
        })
    }

    /// Seconds on the server's monotonic clock (what the pure health code takes as `now`).
    pub fn now(&self) -> f64 {
        self.clock.now()
    }
}
