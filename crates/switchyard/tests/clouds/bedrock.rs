//! `api = "bedrock"`: Amazon Bedrock's Converse API, SigV4-signed (verified by the simulation)
//! or with a Bedrock API key.

use serde_json::{json, Value};

use crate::common::{body, check_usage, streamed_text, streamed_usage, tool_body};
use crate::support::{chat, sse, Gateway, Spec};

const HELLO: &str = "Hello from br. The quick brown fox jumps over the lazy dog.";

pub fn sigv4_keys() -> String {
    format!(
        "region = \"us-east-1\"\naws_access_key_id = \"{}\"\naws_secret_access_key = \"{}\"\naws_session_token = \"session-token-xyz\"",
        sy_mock::MOCK_AWS_ACCESS_KEY_ID,
        sy_mock::MOCK_AWS_SECRET_ACCESS_KEY
    )
}

async fn gateway(behaviour: Value, keys: &str, model: &str) -> Gateway {
    let mut spec = Spec::new(&[("br", "bedrock", behaviour)]);
    spec.providers[0].3 = keys.to_owned();
    spec.models = Some(format!(
        "[[models]]\nid = \"test/m\"\ncontext_length = 8000\n[[models.endpoints]]\nprovider = \"br\"\nupstream_model = \"{model}\"\nprompt_price = 1.0\ncompletion_price = 1.0\n"
    ));
    Gateway::build(spec).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_signed_whole_and_streamed_with_usage_and_cost() {
    // an inference-profile ARN: ':' and '/' encoded in the path and signed as sent
    let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0";
    let gw = gateway(json!({}), &sigv4_keys(), arn).await;
    let r = chat(&gw, body(false)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], HELLO, "{v}");
    check_usage(&v["usage"], 4, 12, 1.0);
    let events = sse(&gw, body(true)).await;
    assert_eq!(streamed_text(&events), HELLO);
    check_usage(&streamed_usage(&events), 4, 12, 1.0);
    assert_eq!(gw.stats("br").failed, 0);

    // a wrong secret is refused by the simulation's signature check: the gateway's own
    // credentials, so a transient failure that names no secret
    let wrong = sigv4_keys().replace(sy_mock::MOCK_AWS_SECRET_ACCESS_KEY, "not-the-secret-at-all");
    let gw = gateway(json!({}), &wrong, "m").await;
    let v: Value = chat(&gw, body(false)).await.json().await.unwrap();
    let attempt = &v["error"]["metadata"]["attempts"][0];
    assert_eq!(attempt["status"], 403, "{v}");
    assert_eq!(attempt["class"], "transient", "{v}");
    assert!(
        attempt["message"].as_str().unwrap().contains("signature"),
        "{v}"
    );
    assert!(!v.to_string().contains("not-the-secret-at-all"));

    // a Bedrock API key goes as Bearer
    let gw = gateway(
        json!({}),
        "region = \"us-west-2\"\napi_key = \"bedrock-api-key-abc\"",
        "m",
    )
    .await;
    assert_eq!(chat(&gw, body(false)).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_tool_call_and_errors_classified() {
    let gw = gateway(json!({"tool_call": true}), &sigv4_keys(), "m").await;
    let v: Value = chat(&gw, tool_body(false)).await.json().await.unwrap();
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather", "{v}");
    assert!(call["id"].as_str().unwrap().starts_with("tooluse_"));
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let events = sse(&gw, tool_body(true)).await;
    let args: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"location": "Paris", "unit": "celsius"})
    );

    // "Input is too long": context length (SPEC §4.3)
    let too_long =
        json!({"status": 400, "error_body": {"message": "Input is too long for requested model."}});
    let gw = gateway(too_long, &sigv4_keys(), "m").await;
    let r = chat(&gw, body(false)).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["metadata"]["attempts"][0]["class"], "context_length",
        "{v}"
    );
    // throttling: transient, rate limited
    let gw = gateway(json!({"status": 429}), &sigv4_keys(), "m").await;
    let r = chat(&gw, body(false)).await;
    assert_eq!(r.status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_reasoning_and_its_signature_sent_back() {
    let gw = gateway(
        json!({"text": "Forty-two."}),
        &sigv4_keys(),
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
    )
    .await;
    let mut b = body(false);
    b["reasoning"] = json!({"effort": "high"});
    b["max_tokens"] = json!(2000);
    let v: Value = chat(&gw, b.clone()).await.json().await.unwrap();
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], "Forty-two.", "{v}");
    assert!(
        m["reasoning"].as_str().unwrap().contains("step by step"),
        "{v}"
    );
    // Claude's thinking, in Bedrock's additionalModelRequestFields
    let sent = gw.mock.last_request("br").unwrap()["body"].clone();
    assert_eq!(
        sent["additionalModelRequestFields"]["thinking"]["type"], "enabled",
        "{sent}"
    );
    b["stream"] = json!(true);
    let events = sse(&gw, b).await;
    let reasoning: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["reasoning"].as_str())
        .collect();
    assert!(reasoning.contains("step by step"), "{events:?}");
    assert_eq!(streamed_text(&events), "Forty-two.");

    // the Messages dialect: the signed thinking block goes back to Bedrock in the next turn, as
    // a reasoningContent block whose signature the simulation checks
    let ask = json!({"role": "user", "content": "What is six times seven?"});
    let first = json!({"model": "test/m", "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": [ask]});
    let r = gw
        .http
        .post(format!("{}/v1/messages", gw.url))
        .json(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    let blocks = m["content"].as_array().unwrap().clone();
    assert_eq!(blocks[0]["type"], "thinking", "{m}");
    assert!(!blocks[0]["signature"].as_str().unwrap().is_empty(), "{m}");
    let next = json!({"model": "test/m", "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [ask, {"role": "assistant", "content": blocks},
                     {"role": "user", "content": "And times eight?"}]});
    let r = gw
        .http
        .post(format!("{}/v1/messages", gw.url))
        .json(&next)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let sent = gw.mock.last_request("br").unwrap()["body"].clone();
    let back = &sent["messages"][1]["content"][0]["reasoningContent"]["reasoningText"];
    assert_eq!(back["signature"], blocks[0]["signature"], "{sent}");
}
