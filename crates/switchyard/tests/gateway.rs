//! The request path end to end over real loopback HTTP: the gateway (router in-process) in
//! front of the simulated provider (`sy-mock`, in-process), driven with reqwest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::{chat, sse, Gateway};

const TEXT: &str = "One two three four five six seven eight nine ten eleven twelve.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_fails_over_to_the_next_provider() {
    let gw = Gateway::start(&[("down", json!({"status": 503})), ("up", json!({}))], "").await;
    let r = chat(
        &gw,
        json!({"model": "test/m", "messages": [{"role": "user", "content": "hi"}],
                              "provider": {"order": ["down", "up"]}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-attempts"], "2");
    // the reason the plan gave the serving endpoint travels with the answer
    assert_eq!(r.headers()["x-switchyard-why"], "provider.order position 2");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["provider"], "up");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from up. The quick brown fox jumps over the lazy dog."
    );
    assert!(body["id"].as_str().unwrap().starts_with("gen-"));
    assert!(body["usage"]["cost"].as_f64().unwrap() > 0.0);
    // and the generation record keeps the whole plan with its reasons
    let id = body["id"].as_str().unwrap();
    let rec: Value = gw
        .http
        .get(format!("{}/api/v1/generation?id={id}", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plan = &rec["data"]["plan"]["attempts"];
    assert_eq!(plan[0]["provider"], "down");
    assert_eq!(plan[0]["why"], "provider.order position 1");
    assert_eq!(rec["data"]["attempts"][0]["status"], 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_after_content_is_resumed_seamlessly() {
    let gw = Gateway::start(
        &[
            ("cutter", json!({"text": TEXT, "cut_after": 4})),
            ("cont", json!({"text": TEXT})),
        ],
        "supports_prefill = true",
    )
    .await;
    let events = sse(
        &gw,
        json!({"model": "test/m", "stream": true, "messages": [{"role": "user", "content": "go"}],
                                   "provider": {"order": ["cutter", "cont"]}}),
    )
    .await;
    let text: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, TEXT);
    assert!(
        events.iter().all(|e| e.get("error").is_none()),
        "{events:?}"
    );
    assert!(events.last().unwrap()["usage"]["cost"].as_f64().unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_nothing_can_continue_ends_with_the_error_chunk() {
    let gw = Gateway::start(
        &[
            ("cutter", json!({"text": TEXT, "cut_after": 4})),
            ("other", json!({"text": "Unrelated."})),
        ],
        "",
    )
    .await;
    let events = sse(
        &gw,
        json!({"model": "test/m", "stream": true, "messages": [{"role": "user", "content": "go"}],
                                   "provider": {"order": ["cutter", "other"]}}),
    )
    .await;
    let last = events.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "error");
    assert_eq!(last["error"]["code"], 502);
    let text: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "One two three four");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_is_left_for_the_next_endpoint() {
    let gw = Gateway::start(&[("silent", json!({"hang": true})), ("up", json!({}))], "").await;
    let r = chat(
        &gw,
        json!({"model": "test/m", "messages": [{"role": "user", "content": "hi"}],
                              "provider": {"order": ["silent", "up"]}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["provider"], "up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_are_returned_in_the_error_shape() {
    let gw = Gateway::start(&[("up", json!({}))], "").await;
    let r = chat(
        &gw,
        json!({"model": "nope/none", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nope/none"));
    let r = gw
        .http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .body("{\"model\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = gw
        .http
        .get(format!("{}/nowhere", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_lists_the_plan_and_the_exclusions() {
    let gw = Gateway::start(&[("a", json!({})), ("b", json!({}))], "").await;
    let r = gw
        .http
        .post(format!("{}/api/v1/routing/explain", gw.url))
        .json(&json!({"model": "test/m", "messages": [{"role": "user", "content": "hi"}], "provider": {"ignore": ["b"]}}))
        .send()
        .await
        .unwrap();
    let plan: Value = r.json().await.unwrap();
    assert_eq!(plan["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(plan["excluded"][0]["provider"], "b");
    assert!(plan["excluded"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("ignore"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_head_counts_the_calls_made_before_it() {
    let gw = Gateway::start(&[("down", json!({"status": 503})), ("up", json!({}))], "").await;
    let r = chat(
        &gw,
        json!({"model": "test/m", "stream": true, "messages": [{"role": "user", "content": "hi"}],
               "provider": {"order": ["down", "up"]}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], "up");
    assert_eq!(r.headers()["x-switchyard-attempts"], "2");
}
