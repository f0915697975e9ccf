//! Normal answers: shapes, usage, streams, prefill, routes.

use serde_json::{json, Value};

use crate::support::{chat, chat_stream, events, openai_text, Event, Mock};

const DEFAULT_TEXT: &str = "Hello from alpha. The quick brown fox jumps over the lazy dog.";

#[tokio::test]
async fn openai_non_streaming_shape_and_usage() {
    let mock = Mock::start("").await;
    let resp = mock.openai("alpha", chat("one two three")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "m");
    assert!(body["created"].as_u64().unwrap() > 0);
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], DEFAULT_TEXT);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 12, "total_tokens": 15, "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}})
    );
}

#[tokio::test]
async fn anthropic_non_streaming_shape_and_usage() {
    let mock = Mock::start("").await;
    let mut body = chat("one two");
    body["system"] = json!("be brief");
    let resp = mock.anthropic("alpha", body).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "m");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": DEFAULT_TEXT}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["stop_sequence"], Value::Null);
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 4, "output_tokens": 12, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0})
    );
}

#[tokio::test]
async fn openai_stream_is_role_content_finish_usage_done() {
    let mock = Mock::start("").await;
    let resp = mock.openai("alpha", chat_stream("hi there")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let ev = events(&resp.text().await.unwrap());
    let n = ev.len();
    assert_eq!(n, 1 + 12 + 1 + 1 + 1, "{ev:#?}");
    assert!(ev.iter().all(|e| e.name.is_none()));
    let first = ev[0].json();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(
        ev[1].json()["choices"][0]["delta"],
        json!({"content": "Hello"})
    );
    assert_eq!(
        ev[2].json()["choices"][0]["delta"],
        json!({"content": " from"})
    );
    assert_eq!(openai_text(&ev), DEFAULT_TEXT);
    let finish = ev[n - 3].json();
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = ev[n - 2].json();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 2, "completion_tokens": 12, "total_tokens": 14, "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}})
    );
    assert_eq!(ev[n - 1].data, "[DONE]");
    let id = &first["id"];
    assert!(ev[..n - 1].iter().all(|e| &e.json()["id"] == id));
}

#[tokio::test]
async fn openai_stream_without_include_usage_has_no_usage_chunk() {
    let mock = Mock::start("").await;
    let mut body = chat("x");
    body["stream"] = true.into();
    let ev = events(&mock.openai("alpha", body).await.text().await.unwrap());
    assert!(ev.iter().all(|e| !e.data.contains("usage")), "{ev:#?}");
    assert_eq!(ev.last().unwrap().data, "[DONE]");
}

#[tokio::test]
async fn anthropic_stream_has_the_real_event_sequence() {
    let mock = Mock::start("").await;
    let resp = mock.anthropic("alpha", chat_stream("a b c")).await;
    assert_eq!(resp.status(), 200);
    let ev = events(&resp.text().await.unwrap());
    let names: Vec<&str> = ev.iter().map(|e| e.name.as_deref().unwrap()).collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 12]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    for e in &ev {
        assert_eq!(e.json()["type"], e.name.as_deref().unwrap());
    }
    let start = ev[0].json();
    assert_eq!(start["message"]["usage"]["input_tokens"], 3);
    assert_eq!(start["message"]["content"], json!([]));
    let text: String = ev
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| e.json()["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, DEFAULT_TEXT);
    let delta = ev[ev.len() - 2].json();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 12);
}

#[tokio::test]
async fn prefill_gets_the_continuation() {
    let mock = Mock::start("").await;
    let prefilled = |stream: bool| {
        json!({"model": "m", "max_tokens": 50, "stream": stream, "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": "Hello from alpha. The quick"}]})
    };
    let body: Value = mock
        .openai("alpha", prefilled(false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        " brown fox jumps over the lazy dog."
    );
    assert_eq!(body["usage"]["completion_tokens"], 7);
    let ev = events(
        &mock
            .openai("alpha", prefilled(true))
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(openai_text(&ev), " brown fox jumps over the lazy dog.");
    let body: Value = mock
        .anthropic("alpha", prefilled(false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["content"][0]["text"],
        " brown fox jumps over the lazy dog."
    );
}

#[tokio::test]
async fn max_tokens_and_stop_cut_the_reply() {
    let mock = Mock::start("").await;
    let mut body = chat("x");
    body["max_tokens"] = 2.into();
    let out: Value = mock
        .openai("alpha", body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["choices"][0]["message"]["content"], "Hello from");
    assert_eq!(out["choices"][0]["finish_reason"], "length");
    let out: Value = mock.anthropic("alpha", body).await.json().await.unwrap();
    assert_eq!(out["stop_reason"], "max_tokens");
    let mut body = chat("x");
    body["stop_sequences"] = json!([" fox"]);
    let out: Value = mock.anthropic("alpha", body).await.json().await.unwrap();
    assert_eq!(
        out["content"][0]["text"],
        "Hello from alpha. The quick brown"
    );
    assert_eq!(
        (out["stop_reason"].as_str(), out["stop_sequence"].as_str()),
        (Some("stop_sequence"), Some(" fox"))
    );
}

#[tokio::test]
async fn unprefixed_routes_are_the_mock_provider_and_models_list() {
    let mock = Mock::start("").await;
    let url = format!("{}/v1/chat/completions", mock.server.url());
    let body: Value = mock
        .client
        .post(url)
        .json(&chat("x"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from mock. The quick brown fox jumps over the lazy dog."
    );
    assert_eq!(mock.server.stats("mock").unwrap().requests, 1);
    let models: Value = mock
        .client
        .get(mock.url("alpha", "/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert!(!models["data"].as_array().unwrap().is_empty());
    let models: Value = mock
        .client
        .get(mock.url("alpha", "/models"))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["has_more"], false);
    let resp = mock
        .client
        .get(format!("{}/nowhere", mock.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = mock
        .client
        .get(mock.url("alpha", "/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn invalid_requests_get_a_400_in_the_api_shape() {
    let mock = Mock::start("").await;
    let resp = mock
        .anthropic(
            "alpha",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));
    let resp = mock.openai("alpha", json!({"messages": []})).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn echo_tool_call_and_ratelimit_headers_from_the_config() {
    let mock = Mock::start(
        r#"
        [[providers]]
        name = "echo"
        echo = true
        [[providers]]
        name = "tools"
        tool_call = true
        [[providers]]
        name = "limited"
        ratelimit_remaining = 0
        ratelimit_reset_s = 2
        "#,
    )
    .await;
    let body: Value = mock
        .openai("echo", chat("ping me"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from echo. You said: ping me"
    );

    let mut req = chat("weather?");
    req["tools"] =
        json!([{"type": "function", "function": {"name": "get_forecast", "parameters": {}}}]);
    let body: Value = mock
        .openai("tools", req.clone())
        .await
        .json()
        .await
        .unwrap();
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_forecast");
    assert_eq!(
        call["function"]["arguments"],
        r#"{"location":"Paris","unit":"celsius"}"#
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    req["tools"] = json!([{"name": "get_forecast", "input_schema": {}}]);
    let body: Value = mock.anthropic("tools", req).await.json().await.unwrap();
    assert_eq!(body["content"][0]["type"], "tool_use");
    assert_eq!(
        body["content"][0]["input"],
        json!({"location": "Paris", "unit": "celsius"})
    );
    assert_eq!(body["stop_reason"], "tool_use");

    let resp = mock.openai("limited", chat("x")).await;
    assert_eq!(resp.headers()["x-ratelimit-remaining-requests"], "0");
    assert_eq!(resp.headers()["x-ratelimit-reset-requests"], "2s");
    let resp = mock.anthropic("limited", chat("x")).await;
    assert_eq!(
        resp.headers()["anthropic-ratelimit-requests-remaining"],
        "0"
    );
    let reset = resp.headers()["anthropic-ratelimit-requests-reset"]
        .to_str()
        .unwrap();
    assert!(reset.ends_with('Z') && reset.len() == 20, "{reset}");
}

async fn responses(mock: &Mock, provider: &str, body: Value) -> reqwest::Response {
    mock.client
        .post(mock.url(provider, "/responses"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn responses_whole_stream_reasoning_and_its_issuer() {
    let mock = Mock::start("").await;
    let r = responses(
        &mock,
        "alpha",
        json!({"model": "m", "input": "one two three"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["output"][0]["content"][0]["text"], DEFAULT_TEXT);
    assert_eq!(body["usage"]["input_tokens"], 3);
    assert_eq!(body["usage"]["output_tokens"], 12);
    // streamed, with reasoning: every event named after its type and numbered
    let r = responses(
        &mock,
        "alpha",
        json!({"model": "m", "input": [{"role": "user", "content": "hi"}], "stream": true,
               "reasoning": {"effort": "low"}}),
    )
    .await;
    let text = r.text().await.unwrap();
    let evs = events(&text);
    for (i, e) in evs.iter().enumerate() {
        let v = e.json();
        assert_eq!(Some(v["type"].as_str().unwrap()), e.name.as_deref());
        assert_eq!(v["sequence_number"], i);
    }
    let last = evs.last().unwrap().json();
    assert_eq!(last["type"], "response.completed");
    let reasoning = last["response"]["output"][0].clone();
    assert_eq!(reasoning["type"], "reasoning");
    let deltas: String = evs
        .iter()
        .map(Event::json)
        .filter(|v| v["type"] == "response.output_text.delta")
        .map(|v| v["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(deltas, DEFAULT_TEXT);
    // the reasoning item goes back to its issuer only
    let again = json!({"model": "m", "input": [reasoning, {"role": "user", "content": "more"}]});
    assert_eq!(responses(&mock, "alpha", again.clone()).await.status(), 200);
    let r = responses(&mock, "beta", again).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("could not be verified"));
}
