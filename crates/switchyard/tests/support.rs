//! Test support: the simulated provider and the gateway, both in-process on port 0.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use sy_mock::{Behaviour, MockConfig, MockServer};
use sy_server::{AppState, ConfigSource, Snapshot};
use tokio_util::sync::CancellationToken;

/// The master key of gateways built with `keys`.
pub const MASTER: &str = "sk-master-test";

/// What a test gateway is made of.
pub struct Spec {
    /// Name, protocol, simulated behaviour, extra `[[providers]]` TOML.
    pub providers: Vec<(String, String, Value, String)>,
    /// TOML added to every endpoint of the default model `test/m`.
    pub endpoint_extra: String,
    /// TOML added to `[routing]`.
    pub routing: String,
    /// `[[models]]` TOML instead of the default `test/m` served by every provider.
    pub models: Option<String>,
    /// `[auth]` with `MASTER` and an in-memory store, so keys can be made and charged.
    pub keys: bool,
}

impl Spec {
    pub fn new(providers: &[(&str, &str, Value)]) -> Spec {
        Spec {
            providers: providers
                .iter()
                .map(|(n, a, b)| ((*n).to_owned(), (*a).to_owned(), b.clone(), String::new()))
                .collect(),
            endpoint_extra: String::new(),
            routing: String::new(),
            models: None,
            keys: false,
        }
    }
}

pub struct Gateway {
    pub url: String,
    pub http: reqwest::Client,
    pub mock: MockServer,
    stop: CancellationToken,
    pub state: std::sync::Arc<AppState>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Gateway {
    /// One model `test/m` served by each named provider (prices rising in the given order), each
    /// simulated with the given behaviour; `endpoint_extra` is TOML added to every endpoint.
    pub async fn start(providers: &[(&str, Value)], endpoint_extra: &str) -> Gateway {
        let with_api: Vec<(&str, &str, Value)> = providers
            .iter()
            .map(|(n, b)| (*n, "openai", b.clone()))
            .collect();
        Self::start_with(&with_api, endpoint_extra).await
    }

    /// As `start`, with each provider's wire protocol (`openai` or `anthropic`).
    pub async fn start_with(providers: &[(&str, &str, Value)], endpoint_extra: &str) -> Gateway {
        let mut spec = Spec::new(providers);
        spec.endpoint_extra = endpoint_extra.to_owned();
        Self::build(spec).await
    }

    /// A gateway as `spec` describes it.
    pub async fn build(spec: Spec) -> Gateway {
        let stop = CancellationToken::new();
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let mock = MockServer::start(MockConfig::default(), loopback, stop.clone())
            .await
            .unwrap();
        // short timeouts unless the spec sets its own
        let mut toml = String::from("[routing]\n");
        for default in [
            "first_token_timeout_s = 1",
            "stream_idle_timeout_s = 1",
            "max_retry_wait_s = 1",
        ] {
            let key = default.split(' ').next().unwrap_or_default();
            if !spec
                .routing
                .lines()
                .any(|l| l.trim_start().starts_with(key))
            {
                toml.push_str(default);
                toml.push('\n');
            }
        }
        toml.push_str(&spec.routing);
        toml.push('\n');
        if spec.keys {
            toml.push_str(&format!("[auth]\nmaster_key = \"{MASTER}\"\n"));
        }
        // `{SA_FILE}` in a provider's TOML: a service-account file whose token_uri is the
        // simulated Vertex AI's token endpoint
        let sa_file = std::env::temp_dir().join(format!(
            "switchyard-test-sa-{}-{}.json",
            std::process::id(),
            mock.addr.port()
        ));
        std::fs::write(
            &sa_file,
            sy_mock::service_account_json(&format!("{}/token", mock.url())),
        )
        .unwrap();
        for (name, api, behaviour, extra) in &spec.providers {
            let b: Behaviour = serde_json::from_value(behaviour.clone()).unwrap();
            mock.set_behaviour(name, b);
            let extra = extra.replace("{SA_FILE}", &sa_file.display().to_string());
            toml.push_str(&format!(
                "[[providers]]\nname = \"{name}\"\napi = \"{api}\"\nbase_url = \"{}\"\n{extra}\n",
                mock.base_url(name)
            ));
        }
        match &spec.models {
            Some(m) => toml.push_str(m),
            None => {
                toml.push_str("[[models]]\nid = \"test/m\"\ncontext_length = 8000\n");
                for (i, (name, _, _, _)) in spec.providers.iter().enumerate() {
                    toml.push_str(&format!(
                        "[[models.endpoints]]\nprovider = \"{name}\"\nupstream_model = \"m\"\nprompt_price = {}.0\ncompletion_price = 1.0\n{}\n",
                        i + 1,
                        spec.endpoint_extra
                    ));
                }
            }
        }
        let config = sy_config::load(&toml, "test.toml", &|_| None).unwrap();
        let storage = if spec.keys {
            let store = sy_store::Store::connect("sqlite::memory:").await.unwrap();
            let writer = sy_store::Writer::start(store.clone(), 1000);
            Some(sy_server::Storage { store, writer })
        } else {
            None
        };
        let state = AppState::new(
            Snapshot::new(config).unwrap(),
            ConfigSource::Demo,
            Box::new(|_| None),
            storage,
        );
        let listener = tokio::net::TcpListener::bind(loopback).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = sy_server::router(Arc::clone(&state));
        let state_kept = Arc::clone(&state);
        let s = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(s.cancelled_owned())
                .await
        });
        Gateway {
            url,
            http: reqwest::Client::new(),
            mock,
            stop,
            state: state_kept,
        }
    }
}

pub async fn chat(gw: &Gateway, body: Value) -> reqwest::Response {
    gw.http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The JSON events of a streamed answer, up to `[DONE]` (which must come).
pub async fn sse(gw: &Gateway, body: Value) -> Vec<Value> {
    let r = chat(gw, body).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let mut out = Vec::new();
    let mut done = false;
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let data = block
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("not an SSE data event: {block:?}"));
        if data == "[DONE]" {
            done = true;
            continue;
        }
        assert!(!done, "an event after [DONE]");
        out.push(serde_json::from_str(data).unwrap());
    }
    assert!(done, "the stream must end with [DONE]: {text}");
    out
}

/// Polls `f` until it returns Some, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

impl Gateway {
    /// A key made with the master key: its secret.
    pub async fn key(&self, body: Value) -> String {
        let v: Value = self
            .http
            .post(format!("{}/api/v1/keys", self.url))
            .bearer_auth(MASTER)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["key"].as_str().unwrap().to_owned()
    }

    /// A key's usage in USD (`GET /api/v1/key`).
    pub async fn usage(&self, secret: &str) -> f64 {
        let v: Value = self
            .http
            .get(format!("{}/api/v1/key", self.url))
            .bearer_auth(secret)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"]["usage"].as_f64().unwrap()
    }

    /// A generation record, when the gateway has it.
    pub async fn generation(&self, id: &str) -> Option<Value> {
        let r = self
            .http
            .get(format!("{}/api/v1/generation?id={id}", self.url))
            .bearer_auth(MASTER)
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            return None;
        }
        let v: Value = r.json().await.unwrap();
        Some(v["data"].clone())
    }

    /// The simulated provider's counters.
    pub fn stats(&self, provider: &str) -> sy_mock::ProviderStats {
        self.mock.stats(provider).unwrap_or_default()
    }
}
