//! The providers the mock knows, each with its current behaviour and counters.
//!
//! Locks are held only to clone an `Arc` or swap one, never across an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::behaviour::Behaviour;
use crate::config::MockProvider;

/// The provider behind the unprefixed `/v1/...` routes.
pub const DEFAULT_PROVIDER: &str = "mock";

/// Counters of one provider, as `GET /admin/providers` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProviderStats {
    /// Chat requests received (models listings not counted).
    pub requests: u64,
    /// Chat requests still being answered (streams included).
    pub active: u64,
    /// Requests answered with an injected fault status or dropped (`refuse`).
    pub failed: u64,
    /// Requests answered with a stream.
    pub streams: u64,
    /// Failures `fail_next` still has to inject.
    pub fail_remaining: u32,
}

/// The behaviour now in force and the token that releases requests held
/// under it (`hang`, `stall_after`, `hold_ms`) when it is replaced.
struct Current {
    behaviour: Arc<Behaviour>,
    release: CancellationToken,
}

/// One simulated provider.
pub(crate) struct Provider {
    pub name: String,
    /// `"Hello from {name}. The quick brown fox jumps over the lazy dog."`.
    pub default_text: String,
    current: RwLock<Current>,
    fail_remaining: AtomicU32,
    requests: AtomicU64,
    active: AtomicU64,
    failed: AtomicU64,
    streams: AtomicU64,
    /// The last request received (path, headers, body), for tests of what a gateway sends.
    last: std::sync::Mutex<Option<serde_json::Value>>,
}

impl Provider {
    fn new(name: &str, behaviour: Behaviour) -> Self {
        Self {
            name: name.to_owned(),
            default_text: format!(
                "Hello from {name}. The quick brown fox jumps over the lazy dog."
            ),
            fail_remaining: AtomicU32::new(behaviour.fail_next.unwrap_or(0)),
            current: RwLock::new(Current {
                behaviour: Arc::new(behaviour),
                release: CancellationToken::new(),
            }),
            requests: AtomicU64::new(0),
            active: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            streams: AtomicU64::new(0),
            last: std::sync::Mutex::new(None),
        }
    }

    /// Keeps a request as the last one received.
    pub(crate) fn remember(&self, request: serde_json::Value) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(request);
    }

    /// The last request received: `{"path", "headers", "body"}`.
    pub fn last_request(&self) -> Option<serde_json::Value> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The behaviour for one request and the token that releases it.
    pub(crate) fn snapshot(&self) -> (Arc<Behaviour>, CancellationToken) {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        (Arc::clone(&current.behaviour), current.release.clone())
    }

    /// The behaviour now in force.
    pub(crate) fn behaviour(&self) -> Arc<Behaviour> {
        self.snapshot().0
    }

    /// Replaces the behaviour, re-arms `fail_next` and releases held requests.
    pub(crate) fn set_behaviour(&self, behaviour: Behaviour) {
        let fail_next = behaviour.fail_next.unwrap_or(0);
        let old = {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            self.fail_remaining.store(fail_next, Ordering::SeqCst);
            std::mem::replace(
                &mut *current,
                Current {
                    behaviour: Arc::new(behaviour),
                    release: CancellationToken::new(),
                },
            )
        };
        old.release.cancel();
    }

    /// Takes one of the `fail_next` failures, if any are left.
    pub(crate) fn take_fail_next(&self) -> bool {
        self.fail_remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Counts a chat request; the guard counts it as active until dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> ActiveGuard {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(Arc::clone(self))
    }

    pub(crate) fn count_failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_stream(&self) {
        self.streams.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> ProviderStats {
        ProviderStats {
            requests: self.requests.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            streams: self.streams.load(Ordering::Relaxed),
            fail_remaining: self.fail_remaining.load(Ordering::SeqCst),
        }
    }

    fn clear_counters(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
        self.streams.store(0, Ordering::Relaxed);
    }

    /// Behaviour and counters, for the admin API.
    pub(crate) fn info(&self) -> ProviderInfo {
        ProviderInfo {
            behaviour: self.behaviour(),
            stats: self.stats(),
        }
    }
}

/// What the admin API shows of one provider.
#[derive(Serialize)]
pub(crate) struct ProviderInfo {
    #[serde(serialize_with = "serialize_arc")]
    behaviour: Arc<Behaviour>,
    #[serde(flatten)]
    stats: ProviderStats,
}

/// serde's `rc` feature is off workspace-wide; this is all it would do here.
fn serialize_arc<S: serde::Serializer>(b: &Arc<Behaviour>, s: S) -> Result<S::Ok, S::Error> {
    Serialize::serialize(&**b, s)
}

/// Counts a request as active while it lives (moved into a stream's body).
pub(crate) struct ActiveGuard(Arc<Provider>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every provider, by name.
pub(crate) struct Registry {
    providers: RwLock<HashMap<String, Arc<Provider>>>,
    /// Behaviours from the configuration, restored by a reset.
    initial: HashMap<String, Behaviour>,
}

impl Registry {
    /// The configured providers, plus `mock` if not configured.
    pub(crate) fn new(configured: Vec<MockProvider>) -> Self {
        let mut initial: HashMap<String, Behaviour> = configured
            .into_iter()
            .map(|p| (p.name, p.behaviour))
            .collect();
        initial.entry(DEFAULT_PROVIDER.to_owned()).or_default();
        let providers = initial
            .iter()
            .map(|(name, b)| (name.clone(), Arc::new(Provider::new(name, b.clone()))))
            .collect();
        Self {
            providers: RwLock::new(providers),
            initial,
        }
    }

    /// The provider `name`, if it exists.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Provider>> {
        let providers = self
            .providers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        providers.get(name).cloned()
    }

    /// The provider `name`, created with the default behaviour if new.
    pub(crate) fn get_or_create(&self, name: &str) -> Arc<Provider> {
        if let Some(p) = self.get(name) {
            return p;
        }
        let mut providers = self
            .providers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            providers
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(Provider::new(name, Behaviour::default()))),
        )
    }

    /// Replaces (or creates) the behaviour of `name`.
    pub(crate) fn set(&self, name: &str, behaviour: Behaviour) -> Arc<Provider> {
        let p = self.get_or_create(name);
        p.set_behaviour(behaviour);
        p
    }

    /// Restores the configured (else default) behaviour and clears the counters.
    pub(crate) fn reset(&self, name: &str) -> Option<Arc<Provider>> {
        let p = self.get(name)?;
        p.set_behaviour(self.initial.get(name).cloned().unwrap_or_default());
        p.clear_counters();
        Some(p)
    }

    /// Every provider, sorted by name.
    pub(crate) fn all(&self) -> BTreeMap<String, Arc<Provider>> {
        let providers = self
            .providers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        providers
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_next_counts_down_and_is_rearmed_by_a_new_behaviour() {
        let registry = Registry::new(vec![MockProvider {
            name: "p".to_owned(),
            behaviour: Behaviour {
                fail_next: Some(2),
                ..Behaviour::default()
            },
        }]);
        let p = registry.get("p").unwrap();
        assert!(p.take_fail_next());
        assert!(p.take_fail_next());
        assert!(!p.take_fail_next());
        let (_, release) = p.snapshot();
        registry.reset("p");
        assert!(
            release.is_cancelled(),
            "a new behaviour releases held requests"
        );
        assert_eq!(p.stats().fail_remaining, 2);
        assert!(registry.get(DEFAULT_PROVIDER).is_some());
        assert!(registry.get("new").is_none());
        assert_eq!(registry.get_or_create("new").name, "new");
    }

    #[test]
    fn the_guard_counts_active_requests() {
        let registry = Registry::new(Vec::new());
        let p = registry.get_or_create("x");
        let guard = p.begin();
        assert_eq!((p.stats().requests, p.stats().active), (1, 1));
        drop(guard);
        assert_eq!((p.stats().requests, p.stats().active), (1, 0));
    }
}
