//! One model served over both wire protocols: failover between an Anthropic-API endpoint and an
//! OpenAI-API endpoint in both directions, before the first token and mid-stream (issue 5).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::{chat, sse, Gateway};

const TEXT: &str = "One two three four five six seven eight nine ten eleven twelve.";

fn streamed_text(events: &[Value]) -> String {
    events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect()
}

fn body(order: [&str; 2], stream: bool) -> Value {
    json!({"model": "test/m", "stream": stream, "messages": [{"role": "system", "content": "Be brief."},
           {"role": "user", "content": "count"}], "provider": {"order": order}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_down_openai_answers_and_back() {
    let gw = Gateway::start_with(
        &[
            ("claude", "anthropic", json!({"status": 529})),
            ("gpt", "openai", json!({})),
        ],
        "",
    )
    .await;
    let r = chat(&gw, body(["claude", "gpt"], false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["provider"], "gpt");

    let gw = Gateway::start_with(
        &[
            ("claude", "anthropic", json!({})),
            ("gpt", "openai", json!({"status": 503})),
        ],
        "",
    )
    .await;
    let r = chat(&gw, body(["gpt", "claude"], false)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["provider"], "claude");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from claude. The quick brown fox jumps over the lazy dog."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_stream_cut_mid_way_resumes_on_anthropic_by_prefill() {
    // the anthropic endpoint supports prefill by default: it continues the delivered text
    let gw = Gateway::start_with(
        &[
            ("gpt", "openai", json!({"text": TEXT, "cut_after": 5})),
            ("claude", "anthropic", json!({"text": TEXT})),
        ],
        "",
    )
    .await;
    let events = sse(&gw, body(["gpt", "claude"], true)).await;
    assert_eq!(streamed_text(&events), TEXT, "{events:?}");
    assert!(events.iter().all(|e| e.get("error").is_none()));
    let providers: Vec<&str> = events
        .iter()
        .filter_map(|e| e["provider"].as_str())
        .collect();
    assert!(
        providers.contains(&"gpt") && providers.contains(&"claude"),
        "{providers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_stream_error_mid_way_resumes_on_openai_by_regeneration() {
    // the openai endpoint has no prefill: it regenerates, and its answer is spliced in
    let gw = Gateway::start_with(
        &[
            (
                "claude",
                "anthropic",
                json!({"text": TEXT, "error_after": 4}),
            ),
            ("gpt", "openai", json!({"text": TEXT})),
        ],
        "",
    )
    .await;
    let events = sse(&gw, body(["claude", "gpt"], true)).await;
    assert_eq!(streamed_text(&events), TEXT, "{events:?}");
    assert!(events.iter().all(|e| e.get("error").is_none()));
    let last = events.last().unwrap();
    assert!(last["usage"]["cost"].as_f64().unwrap() > 0.0);
}
