//! `[cluster]` (SPEC §3, §6): several instances behind one load balancer act as one gateway
//! through one Redis.
//!
//! - **Health.** Every outcome, attempt start and cooldown an instance records goes into its own
//!   health book at once and, batched, onto one Redis stream; every instance reads that stream
//!   with a blocking read (woken by each new entry, at most 1 s apart) and applies the other
//!   instances' events to its own book. Circuits, outage flags and cooldowns therefore follow the
//!   same outcomes everywhere, and routing reads only local memory: Redis is never on the path of
//!   a plan.
//! - **Keys.** A key's spend limit and requests-per-minute allowance are checked by one Lua
//!   script (atomic in Redis) before any upstream call; spend is added by another script when a
//!   request finishes, at most once per generation id. That shared figure is what every
//!   instance enforces, together with the instance's own figure from the store (the higher of
//!   the two decides), which also stands in while Redis is away. A revocation is a flag on the
//!   key's hash, read by the admission script: every instance refuses the key from its next
//!   request; one Redis could not take is kept and sent again when it answers.
//! - **Redis away.** Instances go on serving on local state (own health book, the key's local
//!   mirror and rate limiter), say so on `/ready`, `/metrics` and in the log, and rejoin when a
//!   ping answers again (tried every second). Health events of the gap are not replayed.
//!
//! Redis keys: `switchyard:health` (stream, trimmed to about 10,000 entries),
//! `switchyard:key:{id}` (hash: `usage`, `revoked`), `switchyard:rate:{id}` (GCRA state, expires),
//! `switchyard:charged:{generation id}` (a charge's marker, expires after 15 minutes).
//! Tests isolate themselves with the database number of the URL (`redis://host/5`).

mod health;
mod keys;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use health::SharedHealth;
pub use keys::{Admission, Charge, Charged};

use crate::health::InMemoryHealth;
use crate::state::Clock;

const STREAM: &str = "switchyard:health";
/// One Redis command's bound; beyond it the call counts as failed and local state decides.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
/// Health events waiting to be published; beyond it they are dropped (and counted).
const EVENT_QUEUE: usize = 10_000;

/// This instance's link to the cluster.
pub struct Cluster {
    conn: ConnectionManager,
    client: redis::Client,
    /// Random per process: an instance skips its own events on the stream.
    instance: String,
    up: AtomicBool,
    events: mpsc::Sender<health::Event>,
    dropped: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    stop: CancellationToken,
    /// Deleted keys Redis has not been told of yet.
    pending_revocations: Mutex<std::collections::HashSet<String>>,
}

impl Cluster {
    /// Connects lazily (an instance starts while Redis is down), and starts the publisher, the
    /// stream reader and the reconnect monitor. `local` is this instance's health book.
    pub fn start(
        url: &str,
        local: Arc<InMemoryHealth>,
        clock: Clock,
        stop: CancellationToken,
    ) -> Result<Arc<Self>, String> {
        use redis::IntoConnectionInfo;
        // TCP_NODELAY: small commands each wait for an answer; Nagle + delayed ACK would hold
        // some back by tens of milliseconds
        let info = url
            .into_connection_info()
            .map_err(|e| format!("[cluster] redis_url: {}", scrub(&e)))?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client =
            redis::Client::open(info).map_err(|e| format!("[cluster] redis_url: {}", scrub(&e)))?;
        let conn = manager(&client, COMMAND_TIMEOUT)?;
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let cluster = Arc::new(Self {
            conn,
            client,
            instance: format!("{:016x}", rand::random::<u64>()),
            up: AtomicBool::new(true),
            events: tx,
            dropped: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
            stop,
            pending_revocations: Mutex::default(),
        });
        tokio::spawn(health::publish(Arc::clone(&cluster), rx));
        tokio::spawn(health::read(Arc::clone(&cluster), local, clock));
        tokio::spawn(monitor(Arc::clone(&cluster)));
        Ok(cluster)
    }

    /// Redis answered the last command.
    pub fn up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Health events not shared because the queue was full or Redis was away.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Failed Redis commands since start.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The status block of `/ready`.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "redis": if self.up() { "connected" } else { "unreachable" },
            "instance": self.instance,
            "errors": self.errors(),
            "health_events_dropped": self.dropped(),
            "last_error": self.last_error(),
        })
    }

    /// A command answered: if Redis had been away, the instance has rejoined.
    fn ok(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("redis reachable again: this instance rejoined the cluster");
        }
    }

    /// A command failed: from now on local state decides until the monitor sees Redis again.
    fn failed(&self, what: &str, e: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let msg = format!("{what}: {}", scrub(e));
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(error = %msg, "redis unreachable: serving on this instance's local state until it returns");
        }
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(msg);
    }

    /// Runs one command under the command bound, keeping `up` current.
    async fn run<T: redis::FromRedisValue>(
        &self,
        what: &str,
        cmd: impl FnOnce(ConnectionManager) -> CmdFuture<T>,
    ) -> Option<T> {
        match tokio::time::timeout(COMMAND_TIMEOUT, cmd(self.conn.clone())).await {
            Ok(Ok(v)) => {
                self.ok();
                Some(v)
            }
            Ok(Err(e)) => {
                self.failed(what, &e);
                None
            }
            Err(_) => {
                self.failed(what, &"timed out");
                None
            }
        }
    }
}

type CmdFuture<T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = redis::RedisResult<T>> + Send>>;

fn manager(client: &redis::Client, timeout: Duration) -> Result<ConnectionManager, String> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(client.clone(), config)
        .map_err(|e| format!("[cluster] redis_url: {}", scrub(&e)))
}

/// While Redis is away, pings it every second; the first answer rejoins.
async fn monitor(c: Arc<Cluster>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = c.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if c.up() {
            continue;
        }
        let _: Option<String> = c
            .run("ping", |mut conn| {
                Box::pin(async move { redis::cmd("PING").query_async(&mut conn).await })
            })
            .await;
    }
}

/// A Redis error as text, without the password a URL may carry.
fn scrub(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    // `redis://user:secret@host` → `redis://user:***@host`
    match (text.find("://"), text.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &text[s + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &text[..s + 3], &creds[..colon], &text[at..]),
                None => text,
            }
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_in_an_error_is_hidden() {
        assert_eq!(
            super::scrub(&"cannot reach redis://app:hunter2@db:6379/0"),
            "cannot reach redis://app:***@db:6379/0"
        );
        assert_eq!(super::scrub(&"connection refused"), "connection refused");
    }
}
