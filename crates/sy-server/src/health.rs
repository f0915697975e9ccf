//! The in-memory health store: one `HealthRecord` per endpoint, keyed by (model id, provider
//! slug) so records survive reloads. A short mutex per operation, never held across an await.

use std::collections::HashMap;
use std::sync::Mutex;

use sy_routing::{EndpointHealth, HealthRecord, HealthSummary, Outcome, SeriesPoint};

type Key = (String, String);

#[derive(Default)]
pub struct HealthStore {
    records: Mutex<HashMap<Key, HealthRecord>>,
}

impl HealthStore {
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

    pub fn view(
        &self,
        model: &str,
        provider: &str,
        now: f64,
        outage_window_s: f64,
    ) -> EndpointHealth {
        let map = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(model.to_owned(), provider.to_owned()))
            .map(|r| r.view(now, outage_window_s))
            .unwrap_or_default()
    }

    pub fn summary(&self, model: &str, provider: &str, now: f64) -> HealthSummary {
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
    pub fn series(&self, model: &str, provider: &str, now: f64) -> Vec<SeriesPoint> {
        let map = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(model.to_owned(), provider.to_owned()))
            .map(|r| r.series(now))
            .unwrap_or_default()
    }

    pub fn record(&self, model: &str, provider: &str, now: f64, outcome: Outcome) {
        let jitter = rand::random::<f64>();
        self.with(model, provider, |r| r.record(now, outcome, jitter));
    }

    pub fn begin_attempt(&self, model: &str, provider: &str, now: f64) {
        self.with(model, provider, |r| r.begin_attempt(now));
    }

    pub fn cooldown(&self, model: &str, provider: &str, until: f64) {
        self.with(model, provider, |r| r.cooldown(until));
    }
}
