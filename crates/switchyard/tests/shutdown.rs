//! SIGTERM with a stream still open (issue 14): after `[server] shutdown_grace_s` the stream ends
//! with the error chunk and `[DONE]` — never a silent cut — and the request is charged and
//! recorded before the process exits. The real binary, a real SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use futures_util::StreamExt;
use serde_json::{json, Value};
use sy_mock::{Behaviour, MockConfig, MockServer};
use tokio_util::sync::CancellationToken;

mod process;

use process::{create_key, get_json, serve, signal, MASTER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_open_past_the_grace_period_ends_with_an_error_and_is_charged() {
    let stop = CancellationToken::new();
    let mock = MockServer::start(
        MockConfig::default(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        stop.clone(),
    )
    .await
    .unwrap();
    let words: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
    mock.set_behaviour(
        "sim",
        Behaviour {
            text: Some(words.join(" ")),
            tokens_per_s: 10.0,
            ..Behaviour::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nshutdown_grace_s = 1\n[auth]\nmaster_key = \"${{SY_TEST_MASTER}}\"\n\
         [storage]\nurl = \"sqlite://records.db\"\n[routing]\nstream_idle_timeout_s = 30\n\
         [[providers]]\nname = \"sim\"\nbase_url = \"{}\"\n\
         [[models]]\nid = \"test/m\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"sim\"\nupstream_model = \"m\"\nprompt_price = 1000.0\ncompletion_price = 2000.0\n",
        mock.base_url("sim")
    );
    let gw = serve(dir.path(), &config).await;
    let http = reqwest::Client::new();
    let created = create_key(&http, &gw, &json!({"label": "stream"})).await;
    let secret = created["key"].as_str().unwrap().to_owned();
    let key_id = created["data"]["id"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .bearer_auth(&secret)
        .json(&json!({"model": "test/m", "stream": true, "messages": [{"role": "user", "content": "count"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("\"w0"));
    // SIGTERM: the stream (about 20 s long) outlives the 1 s grace period
    signal(&gw, "TERM");
    let mut text = String::from_utf8_lossy(&first).to_string();
    while let Some(Ok(chunk)) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let events: Vec<&str> = text
        .split("\n\n")
        .filter_map(|b| b.trim().strip_prefix("data: "))
        .collect();
    assert_eq!(
        events.last(),
        Some(&"[DONE]"),
        "the stream ends with [DONE]: {text}"
    );
    let error: Value = serde_json::from_str(events[events.len() - 2]).unwrap();
    assert_eq!(error["choices"][0]["finish_reason"], "error", "{error}");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("shut down"));
    let id = error["id"].as_str().unwrap().to_owned();
    let mut gw = gw;
    let status = gw.child.wait().unwrap();
    assert!(status.success(), "{status}");
    // a new process on the same store: the request is there, cancelled and charged
    let gw = serve(dir.path(), &config).await;
    let rec = get_json(
        &http,
        &format!("{}/api/v1/generation?id={id}", gw.url),
        MASTER,
    )
    .await;
    assert_eq!(rec["data"]["cancelled"], true, "{rec}");
    let cost = rec["data"]["cost"].as_f64().unwrap();
    assert!(cost > 0.0, "{rec}");
    let key = get_json(&http, &format!("{}/api/v1/keys/{key_id}", gw.url), MASTER).await;
    assert!(
        (key["data"]["usage"].as_f64().unwrap() - cost).abs() < 1e-9,
        "the key is charged what the record says: {key} vs {cost}"
    );
    stop.cancel();
}
