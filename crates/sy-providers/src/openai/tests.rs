//! Recorded OpenAI streams and bodies in, events out; chat and translated requests in, bodies out.

use serde_json::{json, Value};
use sy_config::Api;

use super::*;
use crate::testing::{assert_golden, decode, provider, render, target};

fn stream(capture: &str) -> String {
    render(&decode(&OpenAi, Api::OpenAi, capture, false).unwrap())
}

#[test]
fn stream_events() {
    let capture = r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}

data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}

data: {"id": "broken", "choices": [{"delta": {"content": 

data: {"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":""}}]}}]}

data: {"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]}}]}

data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":0}}}

data: [DONE]

"#;
    assert_golden(
        &stream(capture),
        r#"
        text "Hi"
        malformed
        tool 0 call_1 get
        args 0 "{\"a\":1}"
        finish tool_calls
        usage prompt=3 completion=1 cached=2 write=- reasoning=0
        done
        "#,
    );
    // every chunk but [DONE] and the broken one is kept raw for a chat client
    let frames = decode(&OpenAi, Api::OpenAi, capture, false).unwrap();
    assert_eq!(frames.iter().filter(|f| f.raw.is_some()).count(), 6);
}

#[test]
fn in_band_error_and_reasoning() {
    assert_golden(
        &stream("data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm\"}}]}\n\ndata: {\"error\":{\"message\":\"upstream error mid-stream\",\"type\":\"server_error\"}}\n\n"),
        r#"
        reasoning "hmm"
        error kind=server_error code=- message=upstream error mid-stream
        "#,
    );
}

fn chat(body: Value) -> sy_api::Request {
    use sy_dialects::Dialect;
    sy_dialects::Chat
        .parse(body.to_string().as_bytes(), &[])
        .unwrap()
}

fn encode_with(req: &sy_api::Request, cont: Continue<'_>) -> Value {
    let p = provider(Api::OpenAi);
    let call = OpenAi.encode(req, &target(&p), cont).unwrap();
    assert_eq!(call.path, "/chat/completions");
    serde_json::from_slice(&call.body).unwrap()
}

#[test]
fn chat_passes_through_with_unknown_fields_and_asks_for_usage() {
    let req = chat(
        json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "x_vendor":{"k":1},"temperature":0.2,"usage":{"include":true},"transforms":[],
        "reasoning":{"effort":"low"}}),
    );
    let v = encode_with(&req, Continue::Prefill("Hel"));
    assert_eq!(v["model"], "up-model");
    assert_eq!(v["x_vendor"], json!({"k":1}));
    assert_eq!(v["stream"], true);
    assert_eq!(v["stream_options"]["include_usage"], true);
    assert_eq!(v["reasoning_effort"], "low");
    // OpenRouter's own fields never reach the upstream
    for k in ["usage", "transforms", "reasoning", "provider", "models"] {
        assert!(v.get(k).is_none(), "{k} was forwarded: {v}");
    }
    assert_eq!(
        v["messages"][1],
        json!({"role":"assistant","content":"Hel"})
    );
}

#[test]
fn whole_body_becomes_events() {
    let body = r#"{"id":"x","object":"chat.completion","model":"u","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#;
    assert_golden(
        &render(&decode(&OpenAi, Api::OpenAi, body, true).unwrap()),
        r#"
        usage prompt=2 completion=1 cached=- write=- reasoning=-
        text "Hello"
        finish stop
        done
        "#,
    );
    assert!(decode(&OpenAi, Api::OpenAi, "<html>", true).is_err());
    assert!(decode(&OpenAi, Api::OpenAi, "", true).unwrap().is_empty());
}
