//! Where endpoint health is kept (SPEC §6): the `HealthBook` trait, and its in-memory
//! implementation for one instance — one `HealthRecord` per endpoint, keyed by (model id,
//! provider slug) so records survive reloads, behind a short mutex never held across an await.
//! A shared implementation (several instances, SPEC §6 `[cluster]`) plugs in behind the same
//! trait.

use std::collections::HashMap;
use std::sync::Mutex;

use sy_routing::{Admit, EndpointHealth, HealthRecord, HealthSummary, Outcome, SeriesPoint};

type Key = (String, String);

/// The health operations the request path needs. `now` is seconds on the server's clock.
pub trait HealthBook: Send + Sync {
    /// The routing view of an endpoint.
    fn view(&self, model: &str, provider: &str, now: f64, outage_window_s: f64) -> EndpointHealth;
    /// Figures over 30 minutes (listings, metrics, dashboard).
    fn summary(&self, model: &str, provider: &str, now: f64) -> HealthSummary;
    /// The 10 s buckets over 30 minutes.
    fn series(&self, model: &str, provider: &str, now: f64) -> Vec<SeriesPoint>;
    /// One attempt's outcome.
    fn record(&self, model: &str, provider: &str, now: f64, outcome: Outcome);
    /// An attempt wants to start: with an open circuit only as the one due probe (SPEC §6).
    fn begin_attempt(&self, model: &str, provider: &str, now: f64) -> Admit;
    /// A probe ended without an outcome (cancelled): the endpoint's probe is free again.
    fn cancel_attempt(&self, model: &str, provider: &str);
    /// No traffic until `until` (Retry-After, rate-limit reset).
    fn cooldown(&self, model: &str, provider: &str, until: f64);
}

/// Health of one instance, in memory.
#[derive(Default)]
pub struct InMemoryHealth {
    records: Mutex<HashMap<Key, HealthRecord>>,
}

impl InMemoryHealth {
    fn with<T>(&self, model: &str, provider: &str, f: impl FnOnce(&mut HealthRecord) -> T) -> T {
        let mut map = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rec = match map.get_mut(&(model.to_owned(), provider.to_owned())) {
            Some(r) => r,
            None => map
                .entry((model.to_owned(), provider.to_owned()))
                .or_default(),
        };
        f(rec)
    }
}

impl HealthBook for InMemoryHealth {
    fn view(&self, model: &str, provider: &str, now: f64, outage_window_s: f64) -> EndpointHealth {
        let map = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(model.to_owned(), provider.to_owned()))
            .map(|r| r.view(now, outage_window_s))
            .unwrap_or_default()
    }

    fn summary(&self, model: &str, provider: &str, now: f64) -> HealthSummary {
        let map = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(model.to_owned(), provider.to_owned()))
            .map(|r| r.summary(now))
            .unwrap_or_else(|| HealthSummary {
                circuit: "closed",
                ..HealthSummary::default()
            })
    }

    /// The endpoint's 10 s buckets over the last 30 minutes (empty when it has no record).
    fn series(&self, model: &str, provider: &str, now: f64) -> Vec<SeriesPoint> {
        let map = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(model.to_owned(), provider.to_owned()))
            .map(|r| r.series(now))
            .unwrap_or_default()
    }

    fn record(&self, model: &str, provider: &str, now: f64, outcome: Outcome) {
        let jitter = rand::random::<f64>();
        self.with(model, provider, |r| r.record(now, outcome, jitter));
    }

    fn begin_attempt(&self, model: &str, provider: &str, now: f64) -> Admit {
        self.with(model, provider, |r| r.begin_attempt(now))
    }

    fn cancel_attempt(&self, model: &str, provider: &str) {
        self.with(model, provider, HealthRecord::cancel_probe);
    }

    fn cooldown(&self, model: &str, provider: &str, until: f64) {
        self.with(model, provider, |r| r.cooldown(until));
    }
}

#[cfg(test)]
mod tests;
