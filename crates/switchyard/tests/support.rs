//! Test support: the simulated provider and the gateway, both in-process on port 0.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use sy_mock::{Behaviour, MockConfig, MockServer};
use sy_server::{AppState, ConfigSource, Snapshot};
use tokio_util::sync::CancellationToken;

pub struct Gateway {
    pub url: String,
    pub http: reqwest::Client,
    pub mock: MockServer,
    stop: CancellationToken,
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
        let stop = CancellationToken::new();
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let mock = MockServer::start(MockConfig::default(), loopback, stop.clone())
            .await
            .unwrap();
        let mut toml = String::from("[routing]\nfirst_token_timeout_s = 1\nstream_idle_timeout_s = 1\nmax_retry_wait_s = 1\n");
        for (name, api, behaviour) in providers {
            let b: Behaviour = serde_json::from_value(behaviour.clone()).unwrap();
            mock.set_behaviour(name, b);
            toml.push_str(&format!(
                "[[providers]]\nname = \"{name}\"\napi = \"{api}\"\nbase_url = \"{}\"\n",
                mock.base_url(name)
            ));
        }
        toml.push_str("[[models]]\nid = \"test/m\"\ncontext_length = 8000\n");
        for (i, (name, _, _)) in providers.iter().enumerate() {
            toml.push_str(&format!(
                "[[models.endpoints]]\nprovider = \"{name}\"\nupstream_model = \"m\"\nprompt_price = {}.0\ncompletion_price = 1.0\n{endpoint_extra}\n",
                i + 1
            ));
        }
        let config = sy_config::load(&toml, "test.toml", &|_| None).unwrap();
        let state = AppState::new(
            Snapshot::new(config).unwrap(),
            ConfigSource::Demo,
            Box::new(|_| None),
            None,
        );
        let listener = tokio::net::TcpListener::bind(loopback).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = sy_server::router(Arc::clone(&state));
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
