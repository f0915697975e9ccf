//! Starting a mock, sending requests and reading SSE streams.

use std::time::Duration;

use serde_json::Value;
use sy_mock::{MockConfig, MockServer};
use tokio_util::sync::CancellationToken;

/// A running mock that stops when dropped.
pub struct Mock {
    pub server: MockServer,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Mock {
    pub async fn start(toml: &str) -> Self {
        let config = MockConfig::from_toml(toml).unwrap();
        let shutdown = CancellationToken::new();
        let server = MockServer::start(config, "127.0.0.1:0".parse().unwrap(), shutdown.clone())
            .await
            .unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        Self {
            server,
            client,
            shutdown,
        }
    }

    pub fn url(&self, provider: &str, path: &str) -> String {
        format!("{}{path}", self.server.base_url(provider))
    }

    /// `POST {base}/chat/completions`.
    pub async fn openai(&self, provider: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(provider, "/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `POST {base}/messages`.
    pub async fn anthropic(&self, provider: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(provider, "/messages"))
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.server.url()));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }
}

/// A chat body with one user message.
pub fn chat(text: &str) -> Value {
    serde_json::json!({"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": text}]})
}

/// `chat(text)` with `"stream": true` and usage asked for.
pub fn chat_stream(text: &str) -> Value {
    let mut body = chat(text);
    body["stream"] = true.into();
    body["stream_options"] = serde_json::json!({"include_usage": true});
    body
}

/// One SSE event: its `event:` name, if any, and its `data:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {:?}", self.data))
    }
}

/// Splits a whole SSE body into events, checking the framing.
pub fn events(body: &str) -> Vec<Event> {
    assert!(
        body.is_empty() || body.ends_with("\n\n"),
        "unterminated SSE: {body:?}"
    );
    body.split_terminator("\n\n")
        .map(|block| {
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(v.to_owned());
                } else {
                    panic!("unexpected SSE line {line:?} in {body:?}");
                }
            }
            Event {
                name,
                data: data.unwrap_or_default(),
            }
        })
        .collect()
}

/// The text of OpenAI content deltas.
pub fn openai_text(events: &[Event]) -> String {
    events
        .iter()
        .filter(|e| e.data != "[DONE]")
        .filter_map(|e| {
            e.json()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// Polls `condition` until it holds; fails after a generous deadline.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
