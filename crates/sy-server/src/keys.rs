//! API keys on the request path (SPEC §8): a key is looked up once in the store, then served
//! from memory, where its spend is charged the moment a request finishes — so the 402 check
//! is immediate — while the durable charge goes through the writer with the generation record.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use sy_api::ApiError;
use sy_store::{KeyRecord, Store};

use crate::cluster::{Admission, Cluster};

/// A key known to this instance, with its spend as of now.
#[derive(Debug)]
pub struct LiveKey {
    pub id: String,
    pub label: String,
    pub limit: Option<f64>,
    /// Requests per minute, when the key has a rate limit.
    pub rpm: Option<u32>,
    rate: Option<DefaultDirectRateLimiter>,
    usage: Mutex<f64>,
    /// Spend charged here while Redis was away, added to the shared counter on the next charge.
    unshared: Mutex<f64>,
}

impl LiveKey {
    pub fn usage(&self) -> f64 {
        *self
            .usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A key at its limit gets 402 before any upstream is called.
    pub fn check_limit(&self) -> Result<(), ApiError> {
        match self.limit {
            Some(limit) if self.usage() >= limit => Err(ApiError::new(
                402,
                format!("key `{}` has reached its limit of {limit} USD", self.label),
            )
            .with("key_id", self.id.clone().into())),
            _ => Ok(()),
        }
    }

    /// A key over its requests-per-minute limit gets 429 before any upstream is called
    /// (GCRA: the full minute's allowance may come as a burst, then one per 60/rpm seconds).
    pub fn check_rate(&self) -> Result<(), ApiError> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        rate.check().map_err(|not_until| {
            self.over_rate(
                not_until
                    .wait_time_from(DefaultClock::default().now())
                    .as_secs_f64(),
            )
        })
    }

    /// The 429 of a key over its requests-per-minute limit, whoever counted (this instance or
    /// the cluster).
    fn over_rate(&self, wait_s: f64) -> ApiError {
        ApiError::new(
            429,
            format!(
                "key `{}` is over its limit of {} requests per minute",
                self.label,
                self.rpm.unwrap_or(0)
            ),
        )
        .with("key_id", self.id.clone().into())
        .with("retry_after_s", serde_json::json!(wait_s))
    }

    pub fn charge(&self, cost: f64) {
        if cost.is_finite() && cost > 0.0 {
            *self
                .usage
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) += cost;
        }
    }

    /// The cluster's figure replaces the local one (it includes every instance's charges).
    fn set_usage(&self, usage: f64) {
        if usage.is_finite() {
            *self
                .usage
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = usage;
        }
    }

    /// Takes the cluster's figure of this key's spend, when Redis answers.
    pub async fn refresh(&self, cluster: &Cluster) {
        if let Some(u) = cluster.usage(&self.id).await {
            self.set_usage(u);
        }
    }

    /// Admission of a request (before any upstream call): with `[cluster]`, the shared limit and
    /// rate through Redis; alone, or while Redis is away, this instance's figures.
    pub async fn admit(&self, cluster: Option<&Cluster>) -> Result<(), ApiError> {
        let verdict = match cluster {
            Some(c) if c.up() => c.admit(&self.id, self.limit, self.rpm, self.usage()).await,
            _ => None,
        };
        match verdict {
            None => {
                self.check_limit()?;
                self.check_rate()
            }
            Some(Admission::Admitted { usage }) => {
                self.set_usage(usage);
                Ok(())
            }
            Some(Admission::AtLimit { usage }) => {
                self.set_usage(usage);
                self.check_limit()
            }
            Some(Admission::RateLimited { wait_s }) => Err(self.over_rate(wait_s)),
            Some(Admission::Revoked) => Err(ApiError::new(401, "unknown API key")),
        }
    }

    /// Charges a finished request: at once here, then on the cluster's shared counter (what
    /// Redis could not take is carried to the next charge).
    pub async fn charge_shared(&self, cluster: &Cluster, cost: f64) {
        let pending = {
            let mut u = self
                .unshared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::take(&mut *u)
        };
        let amount = pending
            + if cost.is_finite() && cost > 0.0 {
                cost
            } else {
                0.0
            };
        if amount <= 0.0 {
            return;
        }
        let seed = (self.usage() - amount).max(0.0);
        match cluster.charge(&self.id, amount, seed).await {
            Some(total) => self.set_usage(total),
            None => {
                *self
                    .unshared
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) += amount;
            }
        }
    }

    pub fn json(&self) -> serde_json::Value {
        let usage = self.usage();
        serde_json::json!({
            "id": self.id,
            "label": self.label,
            "usage": usage,
            "limit": self.limit,
            "remaining": self.limit.map(|l| (l - usage).max(0.0)),
            "limit_remaining": self.limit.map(|l| (l - usage).max(0.0)),
            "rpm": self.rpm,
        })
    }
}

/// Keys by the SHA-256 of their secret (the secret itself is never kept).
#[derive(Default)]
pub struct KeyCache {
    by_hash: Mutex<HashMap<String, Arc<LiveKey>>>,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl KeyCache {
    /// The key with this secret, from memory or the store. None: unknown key.
    pub async fn lookup(
        &self,
        store: &Store,
        secret: &str,
    ) -> Result<Option<Arc<LiveKey>>, ApiError> {
        let h = hash(secret);
        if let Some(k) = self
            .by_hash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&h)
        {
            return Ok(Some(Arc::clone(k)));
        }
        let rec = store.key_by_secret(secret).await.map_err(|e| {
            tracing::error!(error = %e, "key lookup failed");
            ApiError::new(503, "the key store is unavailable; try again shortly")
        })?;
        Ok(rec.map(|r| {
            let mut map = self
                .by_hash
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(map.entry(h).or_insert_with(|| Arc::new(live(r))))
        }))
    }

    /// Forgets a deleted key at once.
    pub fn forget(&self, id: &str) {
        self.by_hash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, k| k.id != id);
    }

    /// The live usage of a key this instance has charged, if any (fresher than the store's).
    pub fn live_usage(&self, id: &str) -> Option<f64> {
        let map = self
            .by_hash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.values().find(|k| k.id == id).map(|k| k.usage())
    }
}

fn live(r: KeyRecord) -> LiveKey {
    let rate = r
        .rpm
        .and_then(NonZeroU32::new)
        .map(|n| RateLimiter::direct(Quota::per_minute(n)));
    LiveKey {
        id: r.id,
        label: r.label,
        limit: r.limit,
        rpm: r.rpm,
        rate,
        usage: Mutex::new(r.usage),
        unshared: Mutex::new(0.0),
    }
}
