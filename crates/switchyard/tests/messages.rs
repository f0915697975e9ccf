//! The Anthropic Messages dialect (SPEC §4.6) end to end over loopback: passed through to
//! Anthropic-protocol endpoints field for field (thinking signatures intact), translated to
//! OpenAI-protocol ones, resumed across protocols in the same content block, errors in
//! Anthropic's shape, `count_tokens`, `x-api-key`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::{Gateway, Spec, MASTER};

const TEXT: &str = "One two three four five six seven eight nine ten eleven twelve.";

fn messages_body(stream: bool) -> Value {
    json!({
        "model": "test/m",
        "max_tokens": 1024,
        "stream": stream,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Count to twelve."}]}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "metadata": {"user_id": "u-1"},
        "temperature": 1
    })
}

async fn post(gw: &Gateway, body: &Value) -> reqwest::Response {
    gw.http
        .post(format!("{}/v1/messages", gw.url))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "interleaved-thinking-2025-05-14")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The (event, data) pairs of an Anthropic event stream.
async fn events(r: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let mut name = String::new();
            let mut data = String::new();
            for line in b.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (name, serde_json::from_str(&data).unwrap_or(Value::Null))
        })
        .collect()
}

/// The text of every text block, the thinking and its signature, of an event stream.
fn contents(ev: &[(String, Value)]) -> (String, String, String) {
    let (mut text, mut thinking, mut sig) = (String::new(), String::new(), String::new());
    for (name, d) in ev {
        if name == "content_block_delta" {
            let delta = &d["delta"];
            match delta["type"].as_str() {
                Some("text_delta") => text.push_str(delta["text"].as_str().unwrap()),
                Some("thinking_delta") => thinking.push_str(delta["thinking"].as_str().unwrap()),
                Some("signature_delta") => sig.push_str(delta["signature"].as_str().unwrap()),
                _ => {}
            }
        }
    }
    (text, thinking, sig)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messages_request_passes_through_field_for_field_with_signatures_intact() {
    let gw = Gateway::start_with(&[("claude", "anthropic", json!({"text": TEXT}))], "").await;
    let body = messages_body(true);
    let ev = events(post(&gw, &body).await).await;
    // the upstream got the client's body: only `model` replaced (and streaming asked for)
    let seen = gw.mock.last_request("claude").unwrap();
    let mut expect = body.clone();
    expect["model"] = json!("m");
    assert_eq!(seen["body"], expect, "the body went upstream as sent");
    assert_eq!(
        seen["headers"]["anthropic-beta"],
        "interleaved-thinking-2025-05-14"
    );
    assert_eq!(seen["headers"]["anthropic-version"], "2023-06-01");
    // the client got Anthropic's own events: the thinking block with its signature
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
    assert_eq!(ev[0].1["message"]["model"], "test/m");
    assert!(ev[0].1["message"]["id"]
        .as_str()
        .unwrap()
        .starts_with("gen-"));
    let (text, thinking, sig) = contents(&ev);
    assert_eq!(text, TEXT);
    assert!(!thinking.is_empty());
    assert!(sig.starts_with("EqMockSig"), "{sig}");
    let delta = &ev[ev.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["cost"].as_f64().unwrap() > 0.0);
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
    // the signature is the upstream's: sent back in the next turn, the upstream accepts it
    let mut next = messages_body(false);
    next["messages"] = json!([
        {"role": "user", "content": "Count to twelve."},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": thinking, "signature": sig},
            {"type": "text", "text": text}]},
        {"role": "user", "content": "Again."}
    ]);
    let r = post(&gw, &next).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // a tampered signature is refused by the upstream, and its error reaches the client as sent
    next["messages"][1]["content"][0]["signature"] = json!("EqForged==");
    let r = post(&gw, &next).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collected_message_keeps_thinking_and_reports_cost() {
    let gw = Gateway::start_with(&[("claude", "anthropic", json!({"text": TEXT}))], "").await;
    let r = post(&gw, &messages_body(false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], "claude");
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["content"][0]["type"], "thinking");
    assert!(m["content"][0]["signature"]
        .as_str()
        .unwrap()
        .starts_with("EqMockSig"));
    assert_eq!(m["content"][1], json!({"type": "text", "text": TEXT}));
    assert_eq!(m["stop_reason"], "end_turn");
    assert!(m["usage"]["cost"].as_f64().unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messages_request_is_translated_for_an_openai_endpoint() {
    let gw = Gateway::start_with(&[("gpt", "openai", json!({"tool_call": true}))], "").await;
    let mut body = messages_body(true);
    body["tools"] = json!([{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}]);
    let ev = events(post(&gw, &body).await).await;
    let seen = gw.mock.last_request("gpt").unwrap()["body"].clone();
    assert_eq!(
        seen["messages"][0],
        json!({"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]})
    );
    assert_eq!(seen["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(seen["max_tokens"], 1024);
    assert!(
        seen["reasoning_effort"].is_string(),
        "thinking maps to the reasoning setting: {seen}"
    );
    // the answer is Anthropic's: a tool_use block with its input streamed, stop_reason tool_use
    let start = ev
        .iter()
        .find(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .expect("a tool_use block");
    assert_eq!(start.1["content_block"]["name"], "get_weather");
    let input: String = ev
        .iter()
        .filter(|(n, d)| n == "content_block_delta" && d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&input).unwrap(),
        json!({"location": "Paris", "unit": "celsius"})
    );
    let delta = ev.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");
    // reasoning from another family is not shown as (unsigned) thinking
    assert!(!ev
        .iter()
        .any(|(_, d)| d["content_block"]["type"] == "thinking"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_messages_stream_goes_on_in_the_same_block_on_another_protocol() {
    let gw = Gateway::start_with(
        &[
            ("claude", "anthropic", json!({"text": TEXT, "cut_after": 4})),
            ("gpt", "openai", json!({"text": TEXT})),
        ],
        "",
    )
    .await;
    let mut body = messages_body(true);
    body.as_object_mut().unwrap().remove("thinking");
    body["provider"] = json!({"order": ["claude", "gpt"]});
    let ev = events(post(&gw, &body).await).await;
    let (text, _, _) = contents(&ev);
    assert_eq!(text, TEXT, "one seamless text");
    let text_blocks = ev
        .iter()
        .filter(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "text")
        .count();
    assert_eq!(text_blocks, 1, "the continuation stays in the open block");
    let starts = ev
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .count();
    let stops = ev.iter().filter(|(n, _)| n == "content_block_stop").count();
    assert_eq!(starts, stops);
    let delta = ev.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "end_turn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_take_anthropic_shape_and_statuses() {
    let gw = Gateway::start_with(
        &[
            ("a", "anthropic", json!({"status": 529})),
            ("b", "openai", json!({"status": 503})),
        ],
        "",
    )
    .await;
    // every endpoint overloaded: a real status in Anthropic's error shape, even when streaming
    let r = post(&gw, &messages_body(true)).await;
    assert_eq!(r.status(), 502);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "api_error");
    // a malformed body names the field, in Anthropic's shape
    let r = post(&gw, &json!({"model": "test/m", "messages": []})).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens"),
        "{e}"
    );
    let r = post(&gw, &json!({"model": "nope/x", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("nope/x"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_tokens_asks_an_anthropic_endpoint_else_estimates() {
    let gw = Gateway::start_with(
        &[
            ("claude", "anthropic", json!({})),
            ("gpt", "openai", json!({})),
        ],
        "",
    )
    .await;
    let count = |provider: Value| {
        let gw = &gw;
        async move {
            let r = gw
                .http
                .post(format!("{}/v1/messages/count_tokens", gw.url))
                .json(&json!({"model": "test/m", "provider": provider,
                    "messages": [{"role": "user", "content": "one two three four five"}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["input_tokens"]
                .as_u64()
                .unwrap()
        }
    };
    // the simulated Anthropic counts words: 5
    assert_eq!(count(json!({"order": ["claude"]})).await, 5);
    assert_eq!(gw.stats("claude").requests, 0, "a count is no generation");
    // no Anthropic-protocol endpoint allowed: the tokenizer's estimate
    let estimate = count(json!({"only": ["gpt"]})).await;
    assert!(estimate >= 5, "{estimate}");
    // the Anthropic endpoint failing: the estimate too
    gw.mock.set_behaviour(
        "claude",
        serde_json::from_value(json!({"status": 500})).unwrap(),
    );
    assert_eq!(count(json!({"order": ["claude"]})).await, estimate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_api_key_is_a_key_and_a_bad_one_is_an_authentication_error() {
    let mut spec = Spec::new(&[("claude", "anthropic", json!({}))]);
    spec.keys = true;
    let gw = Gateway::build(spec).await;
    let secret = gw.key(json!({"label": "cc"})).await;
    let send = |key: &str| {
        gw.http
            .post(format!("{}/v1/messages", gw.url))
            .header("x-api-key", key)
            .json(&json!({"model": "test/m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let r = send(&secret).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = send("sk-sy-wrong").await.unwrap();
    assert_eq!(r.status(), 401);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "authentication_error");
    let r = send(MASTER).await.unwrap();
    assert_eq!(r.status(), 200);
}
