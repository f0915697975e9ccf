//! `api = "gemini"`: the Gemini API (Google AI Studio).

use serde_json::{json, Value};

use crate::common::{body, check_usage, streamed_text, streamed_usage, tool_body};
use crate::support::{chat, sse, Gateway, Spec};

const KEY: &str = "api_key = \"AIza-test-key\"";

async fn gateway(behaviour: Value) -> Gateway {
    let mut spec = Spec::new(&[("gem", "gemini", behaviour)]);
    spec.providers[0].3 = KEY.to_owned();
    Gateway::build(spec).await
}

const HELLO: &str = "Hello from gem. The quick brown fox jumps over the lazy dog.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_answers_whole_and_streamed_with_usage_and_cost() {
    let gw = gateway(json!({})).await;
    let r = chat(&gw, body(false)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["provider"], "gem");
    assert_eq!(v["choices"][0]["message"]["content"], HELLO);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    // the mock counts words: "Be brief." + "Say hello" = 4 prompt, 12 completion chunks
    check_usage(&v["usage"], 4, 12, 1.0);

    let events = sse(&gw, body(true)).await;
    assert_eq!(streamed_text(&events), HELLO);
    check_usage(&streamed_usage(&events), 4, 12, 1.0);
    assert_eq!(
        gw.stats("gem").streams,
        2,
        "the gateway always streams upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_tool_calls_get_ids_that_map_back_to_names() {
    let gw = gateway(json!({"tool_call": true})).await;
    let v: Value = chat(&gw, tool_body(false)).await.json().await.unwrap();
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"location": "Paris", "unit": "celsius"})
    );
    let id = call["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("call_"), "{id}");

    let events = sse(&gw, tool_body(true)).await;
    let streamed: Vec<&Value> = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert_eq!(streamed[0]["function"]["name"], "get_weather", "{events:?}");
    assert!(events
        .iter()
        .any(|e| e["choices"][0]["finish_reason"] == "tool_calls"));

    // the next turn answers the call by its minted id: the gateway names the function again
    gw.mock.set_behaviour("gem", sy_mock::Behaviour::default());
    let mut next = tool_body(false);
    let messages = next["messages"].as_array_mut().unwrap();
    messages.push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
    messages.push(json!({"role": "tool", "tool_call_id": id, "content": "{\"temp\": 21}"}));
    let r = chat(&gw, next).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_errors_are_classified() {
    // context length: Google's INVALID_ARGUMENT with its own wording
    let gw = gateway(json!({"status": 400, "error_body": {"error": {"code": 400,
        "message": "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).",
        "status": "INVALID_ARGUMENT"}}}))
    .await;
    let r = chat(&gw, body(false)).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["metadata"]["attempts"][0]["class"], "context_length",
        "{v}"
    );

    // a bad key is the gateway's credentials (transient), not the client's request
    let gw = gateway(json!({"status": 400, "error_body": {"error": {"code": 400,
        "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
        "details": [{"reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}}))
    .await;
    let v: Value = chat(&gw, body(false)).await.json().await.unwrap();
    assert_eq!(
        v["error"]["metadata"]["attempts"][0]["class"], "transient",
        "{v}"
    );
    assert!(!v.to_string().contains("AIza-test-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_thoughts_are_reasoning_priced_as_such() {
    let gw = gateway(json!({"text": "Forty-two."})).await;
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
    // thoughtsTokenCount (8 words) is part of the completion, priced as reasoning
    let u = &v["usage"];
    assert_eq!(u["completion_tokens_details"]["reasoning_tokens"], 8, "{u}");
    check_usage(u, 4, 9, 1.0);
    // the setting reached Gemini as its thinkingConfig, thoughts shown
    let sent = gw.mock.last_request("gem").unwrap()["body"].clone();
    let thinking = &sent["generationConfig"]["thinkingConfig"];
    assert_eq!(thinking["includeThoughts"], true, "{sent}");
    assert!(thinking["thinkingBudget"].as_u64().unwrap() > 0, "{sent}");

    b["stream"] = json!(true);
    let events = sse(&gw, b).await;
    let reasoning: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["reasoning"].as_str())
        .collect();
    assert!(reasoning.contains("step by step"), "{events:?}");
    assert_eq!(streamed_text(&events), "Forty-two.");
}
