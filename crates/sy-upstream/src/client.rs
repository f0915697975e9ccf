//! One client per provider, built from a config snapshot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use secrecy::ExposeSecret;
use sy_config::{Api, Config, Provider};
use sy_providers::Encoded;
use sy_routing::FailureKind;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Attempt;

/// The clients of one config snapshot, by provider slug.
pub struct Upstreams {
    clients: HashMap<String, Arc<ProviderClient>>,
}

impl Upstreams {
    /// Builds a client per provider. Fails only when the TLS backend cannot start.
    pub fn new(config: &Config) -> Result<Self, String> {
        let connect = Duration::from_secs_f64(config.routing.connect_timeout_s);
        let mut clients = HashMap::with_capacity(config.providers.len());
        for p in &config.providers {
            clients.insert(p.name.clone(), Arc::new(ProviderClient::new(p, connect)?));
        }
        Ok(Self { clients })
    }

    pub fn get(&self, slug: &str) -> Option<&Arc<ProviderClient>> {
        self.clients.get(slug)
    }
}

/// A provider's HTTP client, headers and concurrency limit.
pub struct ProviderClient {
    http: reqwest::Client,
    pub api: Api,
    base_url: String,
    headers: HeaderMap,
    permits: Arc<Semaphore>,
    /// The provider's credentials, to scrub from anything the upstream says back.
    secrets: Arc<[String]>,
    waiting: AtomicUsize,
    waiting_limit: usize,
}

impl ProviderClient {
    fn new(p: &Provider, connect_timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            // never a whole-request timeout: it would cut long streams (phase timeouts instead)
            .build()
            .map_err(|e| format!("provider {}: cannot build an HTTP client: {e}", p.name))?;
        let mut secrets: Vec<String> = p
            .api_key
            .iter()
            .map(|k| k.expose_secret().to_owned())
            .collect();
        secrets.extend(p.headers.iter().map(|(_, v)| v.clone()));
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(key) = &p.api_key {
            let (name, value) = match p.api {
                Api::OpenAi => (AUTHORIZATION, format!("Bearer {}", key.expose_secret())),
                Api::Anthropic => (
                    HeaderName::from_static("x-api-key"),
                    key.expose_secret().to_owned(),
                ),
            };
            let mut v = HeaderValue::from_str(&value)
                .map_err(|_| format!("provider {}: api_key is not a valid header value", p.name))?;
            v.set_sensitive(true);
            headers.insert(name, v);
        }
        for (k, v) in &p.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("provider {}: bad header name {k}", p.name))?;
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| format!("provider {}: bad value for header {k}", p.name))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let max = usize::try_from(p.max_concurrency)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Ok(Self {
            http,
            api: p.api,
            base_url: p.base_url.clone(),
            headers,
            permits: Arc::new(Semaphore::new(max)),
            secrets: secrets.into(),
            waiting: AtomicUsize::new(0),
            waiting_limit: max.clamp(8, 1024),
        })
    }

    /// A concurrency permit, waiting at most `wait` (SPEC §7: a short, bounded queue). None: full.
    pub async fn permit(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        if let Ok(p) = Arc::clone(&self.permits).try_acquire_owned() {
            return Some(p);
        }
        // a queue longer than the provider's own limit is not short: reroute at once
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.waiting_limit {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let got = tokio::time::timeout(wait, Arc::clone(&self.permits).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        got.ok()?.ok()
    }

    /// A concurrency permit only if one is free now (a hedge never queues).
    pub fn try_permit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.permits).try_acquire_owned().ok()
    }

    /// Sends one call. Returns once the upstream's status line and headers are in.
    pub async fn send(&self, enc: Encoded, prefill: Option<&str>) -> Result<Attempt, FailureKind> {
        let url = format!("{}{}", self.base_url, enc.path);
        let mut req = self
            .http
            .post(url)
            .headers(self.headers.clone())
            .body(enc.body);
        for (k, v) in enc.headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.map_err(|e| transport_failure(&e))?;
        Attempt::start(self.api, resp, Arc::clone(&self.secrets), prefill).await
    }
}

/// Maps a reqwest error to a failure kind, without the URL (it may carry a secret).
pub(crate) fn transport_failure(e: &reqwest::Error) -> FailureKind {
    if e.is_connect() {
        if e.is_timeout() {
            return FailureKind::ConnectTimeout;
        }
        return FailureKind::Connect(root_cause(e));
    }
    if e.is_timeout() {
        return FailureKind::ConnectTimeout;
    }
    FailureKind::Io(root_cause(e))
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let s = cur.to_string();
    // reqwest's own messages name the URL; the innermost cause (io error) does not
    if s.contains("://") {
        "connection error".to_owned()
    } else {
        s
    }
}
