//! Health shared through a Redis stream: local first, published in batches, applied by peers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sy_routing::{Admit, EndpointHealth, HealthSummary, Outcome, OutcomeKind, SeriesPoint};
use tokio::sync::mpsc;

use super::{Cluster, STREAM};
use crate::health::{HealthBook, InMemoryHealth};
use crate::state::Clock;

/// Events per stream entry at most.
const BATCH: usize = 512;
/// The stream is trimmed to about this many entries (each a batch).
const STREAM_LEN: usize = 10_000;
/// The reader's blocking read returns at least this often.
const BLOCK_MS: u64 = 1_000;

/// The failure labels of `sy_routing::Failure::label`; a peer's label maps back to one of them.
const LABELS: &[&str] = &[
    "network",
    "timeout",
    "rate_limit",
    "server_error",
    "upstream_auth",
    "client_error",
    "bad_answer",
    "stream_broken",
    "saturated",
];

/// One health event as it travels between instances.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// Model id and provider slug of the endpoint.
    m: String,
    p: String,
    e: What,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "k", rename_all = "snake_case")]
enum What {
    Ok {
        t: Option<f64>,
        g: Option<f64>,
    },
    Fail {
        l: String,
    },
    Client,
    /// An instance took the endpoint's half-open probe.
    Begin,
    /// That probe was cancelled without an outcome: the probe is free again.
    Cancel,
    /// A cooldown ending at wall-clock `u` (Unix ms), so a late reader waits no longer.
    Cool {
        u: u64,
    },
}

/// The health book of a clustered instance: this instance's book, with everything it records
/// also sent to the others.
pub struct SharedHealth {
    local: Arc<InMemoryHealth>,
    cluster: Arc<Cluster>,
    clock: Clock,
}

impl SharedHealth {
    pub fn new(local: Arc<InMemoryHealth>, cluster: Arc<Cluster>, clock: Clock) -> Self {
        Self {
            local,
            cluster,
            clock,
        }
    }

    fn share(&self, model: &str, provider: &str, e: What) {
        let ev = Event {
            m: model.to_owned(),
            p: provider.to_owned(),
            e,
        };
        // never wait on the request path: a full queue (Redis slow or away) drops the event
        if self.cluster.events.try_send(ev).is_err() {
            self.cluster.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl HealthBook for SharedHealth {
    fn view(&self, model: &str, provider: &str, now: f64, outage_window_s: f64) -> EndpointHealth {
        self.local.view(model, provider, now, outage_window_s)
    }

    fn summary(&self, model: &str, provider: &str, now: f64) -> HealthSummary {
        self.local.summary(model, provider, now)
    }

    fn series(&self, model: &str, provider: &str, now: f64) -> Vec<SeriesPoint> {
        self.local.series(model, provider, now)
    }

    fn record(&self, model: &str, provider: &str, now: f64, outcome: Outcome) {
        self.local.record(model, provider, now, outcome);
        let e = match outcome.kind {
            OutcomeKind::Success => What::Ok {
                t: outcome.ttft_s,
                g: outcome.throughput,
            },
            OutcomeKind::Failure(l) => What::Fail { l: l.to_owned() },
            OutcomeKind::ClientError => What::Client,
        };
        self.share(model, provider, e);
    }

    fn begin_attempt(&self, model: &str, provider: &str, now: f64) -> Admit {
        let admit = self.local.begin_attempt(model, provider, now);
        if admit == Admit::Probe {
            self.share(model, provider, What::Begin);
        }
        admit
    }

    fn cancel_attempt(&self, model: &str, provider: &str) {
        self.local.cancel_attempt(model, provider);
        self.share(model, provider, What::Cancel);
    }

    fn cooldown(&self, model: &str, provider: &str, until: f64) {
        self.local.cooldown(model, provider, until);
        let left_ms = ((until - self.clock.now()).max(0.0) * 1000.0).min(86_400_000.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let u = wall_ms() + left_ms as u64;
        self.share(model, provider, What::Cool { u });
    }
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Applies a peer's event to this instance's book, at this instance's `now`.
fn apply(local: &InMemoryHealth, ev: &Event, now: f64) {
    let (m, p) = (ev.m.as_str(), ev.p.as_str());
    match &ev.e {
        What::Ok { t, g } => local.record(
            m,
            p,
            now,
            Outcome {
                kind: OutcomeKind::Success,
                ttft_s: t.filter(|x| x.is_finite() && *x >= 0.0),
                throughput: g.filter(|x| x.is_finite() && *x >= 0.0),
            },
        ),
        What::Fail { l } => {
            let label = LABELS
                .iter()
                .find(|x| **x == l)
                .copied()
                .unwrap_or("network");
            local.record(
                m,
                p,
                now,
                Outcome {
                    kind: OutcomeKind::Failure(label),
                    ttft_s: None,
                    throughput: None,
                },
            );
        }
        What::Client => local.record(
            m,
            p,
            now,
            Outcome {
                kind: OutcomeKind::ClientError,
                ttft_s: None,
                throughput: None,
            },
        ),
        What::Begin => {
            let _ = local.begin_attempt(m, p, now);
        }
        What::Cancel => local.cancel_attempt(m, p),
        What::Cool { u } => {
            #[allow(clippy::cast_precision_loss)]
            let left = u.saturating_sub(wall_ms()) as f64 / 1000.0;
            if left > 0.0 {
                local.cooldown(m, p, now + left);
            }
        }
    }
}

/// Publishes this instance's events: whatever queued while the last write was in flight goes
/// out as one stream entry.
pub async fn publish(c: Arc<Cluster>, mut rx: mpsc::Receiver<Event>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let n = tokio::select! {
            () = c.stop.cancelled() => return,
            n = rx.recv_many(&mut batch, BATCH) => n,
        };
        if n == 0 {
            return;
        }
        if !c.up() {
            // local state already has them; peers will learn from their own traffic
            c.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
            batch.clear();
            continue;
        }
        let payload = serde_json::to_string(&batch).unwrap_or_default();
        batch.clear();
        let origin = c.instance.clone();
        let _: Option<String> = c
            .run("publishing health", move |mut conn| {
                Box::pin(async move {
                    redis::cmd("XADD")
                        .arg(STREAM)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(STREAM_LEN)
                        .arg("*")
                        .arg("o")
                        .arg(origin)
                        .arg("e")
                        .arg(payload)
                        .query_async(&mut conn)
                        .await
                })
            })
            .await;
    }
}

/// Reads the stream from its current end and applies every other instance's events.
pub async fn read(c: Arc<Cluster>, local: Arc<InMemoryHealth>, clock: Clock) {
    // a connection of its own: a blocking read would hold up the shared one
    let mut conn = match super::manager(
        &c.client,
        Duration::from_millis(BLOCK_MS) + super::COMMAND_TIMEOUT * 4,
    ) {
        Ok(conn) => conn,
        Err(e) => {
            tracing::error!(error = %e, "cluster health reader not started");
            return;
        }
    };
    let mut last: Option<String> = None;
    loop {
        if c.stop.is_cancelled() {
            return;
        }
        let step = async {
            if last.is_none() {
                last = Some(stream_end(&mut conn).await?);
            }
            let from = last.clone().unwrap_or_else(|| "0-0".to_owned());
            let reply: Option<redis::streams::StreamReadReply> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(BATCH)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(STREAM)
                .arg(&from)
                .query_async(&mut conn)
                .await?;
            Ok::<_, redis::RedisError>(reply)
        };
        let reply = tokio::select! {
            () = c.stop.cancelled() => return,
            r = step => r,
        };
        match reply {
            Ok(reply) => {
                c.ok();
                for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
                    last = Some(entry.id.clone());
                    let origin: Option<String> = entry.get("o");
                    if origin.as_deref() == Some(c.instance.as_str()) {
                        continue;
                    }
                    let Some(payload) = entry.get::<String>("e") else {
                        continue;
                    };
                    match serde_json::from_str::<Vec<Event>>(&payload) {
                        Ok(events) => {
                            let now = clock.now();
                            for ev in &events {
                                apply(&local, ev, now);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, id = %entry.id, "unreadable health entry on the cluster stream: skipped");
                        }
                    }
                }
            }
            Err(e) => {
                c.failed("reading health", &e);
                // wait for the monitor to see Redis again (or a second), then go on
                let _ = tokio::time::timeout(Duration::from_secs(1), c.stop.cancelled()).await;
            }
        }
    }
}

/// The id of the stream's newest entry (`0-0` for an empty stream): reading starts after it.
async fn stream_end(conn: &mut redis::aio::ConnectionManager) -> redis::RedisResult<String> {
    let newest: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(STREAM)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(newest
        .ids
        .into_iter()
        .next()
        .map_or_else(|| "0-0".to_owned(), |e| e.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_meaning_on_the_wire() {
        let evs = vec![
            Event {
                m: "m".into(),
                p: "p".into(),
                e: What::Ok {
                    t: Some(0.2),
                    g: None,
                },
            },
            Event {
                m: "m".into(),
                p: "p".into(),
                e: What::Fail {
                    l: "server_error".into(),
                },
            },
            Event {
                m: "m".into(),
                p: "p".into(),
                e: What::Cool { u: 5 },
            },
        ];
        let text = serde_json::to_string(&evs).unwrap();
        assert!(text.contains(r#""k":"fail""#), "{text}");
        let back: Vec<Event> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, evs);
    }

    #[test]
    fn three_peer_failures_open_the_local_circuit() {
        let local = InMemoryHealth::default();
        let fail = Event {
            m: "m".into(),
            p: "p".into(),
            e: What::Fail {
                l: "server_error".into(),
            },
        };
        for _ in 0..3 {
            apply(&local, &fail, 10.0);
        }
        assert!(local.view("m", "p", 10.0, 30.0).unavailable);
        assert_eq!(local.summary("m", "p", 10.0).circuit, "open");
    }

    #[test]
    fn an_unknown_label_still_counts_as_a_failure() {
        let local = InMemoryHealth::default();
        let ev = Event {
            m: "m".into(),
            p: "p".into(),
            e: What::Fail {
                l: "from-a-newer-version".into(),
            },
        };
        apply(&local, &ev, 1.0);
        assert_eq!(local.summary("m", "p", 1.0).failures, 1);
    }
}
