//! The OpenAI Responses dialect (SPEC §4.7) end to end over loopback: passed through to
//! `openai-responses` endpoints field for field, translated to chat and Anthropic endpoints,
//! the semantic event stream, failover and resume across protocols, errors in the Responses
//! shape, and state: stored responses under their key, `previous_response_id` continued on
//! another provider of another protocol, encrypted reasoning only back to its issuer,
//! `GET`/`DELETE /responses/{id}` and another key's 404.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::{Gateway, Spec, MASTER};

const TEXT: &str = "One two three four five six seven eight nine ten eleven twelve.";

async fn post(gw: &Gateway, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut r = gw.http.post(format!("{}/v1/responses", gw.url)).json(body);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    r.send().await.unwrap()
}

/// The data of each event of a Responses stream, checking each is named after its type.
async fn events(r: reqwest::Response) -> Vec<Value> {
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
            let v: Value = serde_json::from_str(&data).unwrap();
            assert_eq!(v["type"], name.as_str());
            v
        })
        .collect()
}

fn text_of(ev: &[Value]) -> String {
    ev.iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect()
}

fn output_text(resp: &Value) -> String {
    resp["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().unwrap().iter())
        .map(|c| c["text"].as_str().unwrap_or_default())
        .collect()
}

fn rich_body(stream: bool) -> Value {
    json!({
        "model": "test/m",
        "models": ["test/m"],
        "provider": {"allow_fallbacks": true},
        "stream": stream,
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Count to twelve."}]}],
        "tools": [{"type": "function", "name": "get_weather", "description": "weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "max_output_tokens": 500,
        "temperature": 0.5,
        "metadata": {"ticket": "t-1"},
        "text": {"format": {"type": "text"}},
        "store": false
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responses_request_passes_through_field_for_field() {
    let gw = Gateway::start_with(&[("oai", "openai-responses", json!({"text": TEXT}))], "").await;
    let body = rich_body(true);
    let ev = events(post(&gw, None, &body).await).await;
    let seen = gw.mock.last_request("oai").unwrap();
    assert_eq!(seen["path"], "/v1/responses");
    let mut expect = body.clone();
    let o = expect.as_object_mut().unwrap();
    o.remove("models");
    o.remove("provider");
    o.insert("model".to_owned(), json!("m"));
    assert_eq!(seen["body"], expect, "the body went upstream as sent");
    // the full semantic stream, numbered, ending with the usage and its cost
    let names: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(names[..2], ["response.created", "response.in_progress"]);
    for (i, e) in ev.iter().enumerate() {
        assert_eq!(e["sequence_number"], i);
    }
    for n in [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert_eq!(text_of(&ev), TEXT);
    let done = ev.last().unwrap();
    assert_eq!(done["type"], "response.completed");
    let r = &done["response"];
    assert!(r["id"].as_str().unwrap().starts_with("gen-"));
    assert_eq!(r["model"], "test/m");
    assert_eq!(r["status"], "completed");
    assert!(r["usage"]["cost"].as_f64().unwrap() > 0.0);
    assert!(r["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert_eq!(output_text(r), TEXT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_translated_for_chat_and_anthropic_endpoints() {
    for api in ["openai", "anthropic"] {
        let gw = Gateway::start_with(&[("up", api, json!({"text": TEXT}))], "").await;
        // collected
        let r = post(&gw, None, &rich_body(false)).await;
        assert_eq!(r.status(), 200, "{api}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["object"], "response");
        assert_eq!(output_text(&v), TEXT, "{api}");
        assert_eq!(
            v["metadata"]["ticket"], "t-1",
            "request fields are repeated"
        );
        assert!(v["usage"]["cost"].as_f64().unwrap() > 0.0);
        let seen = gw.mock.last_request("up").unwrap();
        let sent = seen["body"].to_string();
        assert!(
            sent.contains("Count to twelve.") && sent.contains("Be brief."),
            "{api}: {sent}"
        );
        assert!(
            sent.contains("get_weather"),
            "{api}: the tools were translated"
        );
        // streamed
        let ev = events(post(&gw, None, &rich_body(true)).await).await;
        assert_eq!(text_of(&ev), TEXT, "{api}");
        assert_eq!(ev.last().unwrap()["type"], "response.completed");
    }
    // a function call, translated from chat's tool calls, and its arguments
    let gw = Gateway::start_with(&[("gpt", "openai", json!({"tool_call": true}))], "").await;
    let v: Value = post(&gw, None, &rich_body(false))
        .await
        .json()
        .await
        .unwrap();
    let call = &v["output"][0];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "get_weather");
    assert!(call["call_id"].as_str().unwrap().starts_with("call_"));
    let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["location"], "Paris");
    let ev = events(post(&gw, None, &rich_body(true)).await).await;
    let deltas: String = ev
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&deltas).unwrap(), args);
    // and the round trip: the call's output goes back as a tool result
    let mut next = rich_body(false);
    next["input"] = json!([
        {"role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": call["call_id"], "name": "get_weather", "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}
    ]);
    gw.mock.set_behaviour(
        "gpt",
        serde_json::from_value(json!({"text": TEXT})).unwrap(),
    );
    let r = post(&gw, None, &next).await;
    assert_eq!(r.status(), 200);
    let seen = gw.mock.last_request("gpt").unwrap();
    let msgs = seen["body"]["messages"].as_array().unwrap();
    assert!(
        msgs.iter()
            .any(|m| m["role"] == "tool" && m["content"] == "sunny"),
        "{msgs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_requests_reach_openai_responses_endpoints_translated() {
    let gw = Gateway::start_with(&[("oai", "openai-responses", json!({"text": TEXT}))], "").await;
    let r = support::chat(
        &gw,
        json!({"model": "test/m", "messages": [{"role": "system", "content": "sys"},
               {"role": "user", "content": "hi"}], "max_tokens": 100}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], TEXT);
    assert!(v["usage"]["cost"].as_f64().unwrap() > 0.0);
    let seen = gw.mock.last_request("oai").unwrap();
    assert_eq!(seen["path"], "/v1/responses");
    assert_eq!(seen["body"]["instructions"], "sys");
    assert_eq!(seen["body"]["max_output_tokens"], 100);
    assert_eq!(
        seen["body"]["input"][0],
        json!({"role": "user", "content": "hi"})
    );
    // and streamed
    let chunks = support::sse(
        &gw,
        json!({"model": "test/m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, TEXT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_and_resume_cross_protocols() {
    // the Responses endpoint fails before any content: the Anthropic one answers
    let gw = Gateway::start_with(
        &[
            ("oai", "openai-responses", json!({"status": 503})),
            ("claude", "anthropic", json!({"text": TEXT})),
        ],
        "",
    )
    .await;
    let mut body = rich_body(true);
    body["provider"] = json!({"order": ["oai", "claude"]});
    let r = post(&gw, None, &body).await;
    assert_eq!(r.headers()["x-switchyard-provider"], "claude");
    assert_eq!(r.headers()["x-switchyard-attempts"], "2");
    let ev = events(r).await;
    assert_eq!(text_of(&ev), TEXT);
    // a Responses stream cut after content goes on, in the same message item, from a chat
    // endpoint
    let gw = Gateway::start_with(
        &[
            (
                "oai",
                "openai-responses",
                json!({"text": TEXT, "cut_after": 4}),
            ),
            ("gpt", "openai", json!({"text": TEXT})),
        ],
        "",
    )
    .await;
    body["provider"] = json!({"order": ["oai", "gpt"]});
    let ev = events(post(&gw, None, &body).await).await;
    assert_eq!(text_of(&ev), TEXT, "one seamless text");
    let added = ev
        .iter()
        .filter(|e| e["type"] == "response.output_item.added")
        .count();
    assert_eq!(added, 1, "the continuation stays in the open item");
    let done = ev.last().unwrap();
    assert_eq!(done["type"], "response.completed");
    assert_eq!(output_text(&done["response"]), TEXT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_take_the_responses_shape() {
    let gw = Gateway::start_with(
        &[
            ("a", "openai-responses", json!({"status": 503})),
            ("b", "anthropic", json!({"status": 529})),
        ],
        "",
    )
    .await;
    let r = post(&gw, None, &rich_body(true)).await;
    assert_eq!(r.status(), 502);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "server_error");
    assert!(e["error"]["message"].is_string());
    assert!(e["error"].get("param").is_some() && e["error"].get("code").is_some());
    let r = post(&gw, None, &json!({"model": "test/m", "input": 5})).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert_eq!(e["error"]["param"], "input");
    // a web search tool excludes endpoints that cannot run it
    let r = post(
        &gw,
        None,
        &json!({"model": "test/m", "input": "x", "tools": [{"type": "web_search"}],
                "provider": {"only": ["b"]}}),
    )
    .await;
    assert_eq!(r.status(), 503);
    let text = r.text().await.unwrap();
    assert!(text.contains("web_search"), "{text}");
}

/// Two keys on a gateway with a store; providers `oai` (Responses), `oai2` (Responses),
/// `claude` (Anthropic), `gpt` (chat).
async fn stateful() -> (Gateway, String, String) {
    let mut spec = Spec::new(&[
        ("oai", "openai-responses", json!({"text": TEXT})),
        ("oai2", "openai-responses", json!({"text": TEXT})),
        ("claude", "anthropic", json!({"text": TEXT, "echo": true})),
        ("gpt", "openai", json!({"text": TEXT})),
    ]);
    spec.keys = true;
    let gw = Gateway::build(spec).await;
    let a = gw.key(json!({"label": "a"})).await;
    let b = gw.key(json!({"label": "b"})).await;
    (gw, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_responses_continue_on_another_protocol_and_belong_to_their_key() {
    let (gw, a, b) = stateful().await;
    let first = json!({"model": "test/m", "input": "My name is Ada.", "stream": true,
                       "provider": {"only": ["oai"]}});
    let ev = events(post(&gw, Some(&a), &first).await).await;
    let id = ev.last().unwrap()["response"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // a stream's response objects repeat the request's fields too
    assert_eq!(ev[0]["response"]["store"], true);
    assert_eq!(ev.last().unwrap()["response"]["store"], true);
    // read back by its key only
    let get = |key: String, id: String| {
        let http = gw.http.clone();
        let url = format!("{}/v1/responses/{id}", gw.url);
        async move { http.get(url).bearer_auth(key).send().await.unwrap() }
    };
    let r = get(a.clone(), id.clone()).await;
    assert_eq!(r.status(), 200);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["id"], id.as_str());
    assert_eq!(output_text(&stored), TEXT);
    let r = get(b.clone(), id.clone()).await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "not_found_error");
    assert_eq!(e["error"]["param"], Value::Null);
    // another key cannot continue it either
    let next = json!({"model": "test/m", "input": "What is my name?", "previous_response_id": id,
                      "provider": {"only": ["claude"]}});
    let r = post(&gw, Some(&b), &next).await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["param"], "previous_response_id");
    // its key continues it on an Anthropic endpoint: the stored turns replayed in Messages
    let r = post(&gw, Some(&a), &next).await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    assert_eq!(second["previous_response_id"], id.as_str());
    assert_eq!(second["store"], true);
    let seen = gw.mock.last_request("claude").unwrap();
    let msgs = seen["body"]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert_eq!(msgs[0]["role"], "user");
    assert_eq!(msgs[1]["role"], "assistant");
    assert!(msgs[1].to_string().contains("One two three"));
    assert!(msgs[2].to_string().contains("What is my name?"));
    assert!(
        !seen["body"].to_string().contains(&id),
        "the gateway's id never goes upstream"
    );
    // and then on a chat endpoint, the whole chain
    let third = json!({"model": "test/m", "input": "Thanks.", "previous_response_id": second["id"],
                       "provider": {"only": ["gpt"]}});
    assert_eq!(post(&gw, Some(&a), &third).await.status(), 200);
    let seen = gw.mock.last_request("gpt").unwrap();
    assert_eq!(seen["body"]["messages"].as_array().unwrap().len(), 5);
    // deleted by its key only
    let del = |key: String, id: String| {
        let http = gw.http.clone();
        let url = format!("{}/v1/responses/{id}", gw.url);
        async move { http.delete(url).bearer_auth(key).send().await.unwrap() }
    };
    assert_eq!(del(b.clone(), id.clone()).await.status(), 404);
    let r = del(a.clone(), id.clone()).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"id": id, "object": "response", "deleted": true}));
    assert_eq!(get(a.clone(), id.clone()).await.status(), 404);
    // `store: false` keeps nothing
    let v: Value = post(
        &gw,
        Some(&a),
        &json!({"model": "test/m", "input": "x", "store": false}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(get(a.clone(), id).await.status(), 404);
    let _ = MASTER;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_reasoning_goes_back_only_to_its_issuer() {
    let (gw, a, _) = stateful().await;
    let first = json!({"model": "test/m", "input": "Think.", "reasoning": {"effort": "low"},
                       "provider": {"only": ["oai"]}});
    let r = post(&gw, Some(&a), &first).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let reasoning = &v["output"][0];
    assert_eq!(reasoning["type"], "reasoning");
    assert!(reasoning["encrypted_content"]
        .as_str()
        .unwrap()
        .starts_with("enc:oai:"));
    let id = v["id"].as_str().unwrap().to_owned();
    // on its issuer, the reasoning item goes back (the simulated provider verifies it)
    let next = |only: &str| {
        json!({"model": "test/m", "input": "Again.", "previous_response_id": id,
               "provider": {"only": [only]}})
    };
    let r = post(&gw, Some(&a), &next("oai")).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let sent = gw.mock.last_request("oai").unwrap()["body"]["input"].clone();
    assert!(sent
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["type"] == "reasoning"));
    assert!(
        !sent.to_string().contains("x_switchyard"),
        "the marker never goes upstream"
    );
    // another Responses provider gets the conversation without it
    let r = post(&gw, Some(&a), &next("oai2")).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let sent = gw.mock.last_request("oai2").unwrap()["body"]["input"].clone();
    assert!(
        !sent
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["type"] == "reasoning"),
        "{sent}"
    );
    assert!(sent.to_string().contains("Think."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_broken_after_content_ends_with_response_failed() {
    let gw = Gateway::start_with(
        &[(
            "oai",
            "openai-responses",
            json!({"text": TEXT, "cut_after": 3}),
        )],
        "",
    )
    .await;
    let ev = events(post(&gw, None, &rich_body(true)).await).await;
    let last = ev.last().unwrap();
    assert_eq!(last["type"], "response.failed");
    assert_eq!(last["response"]["status"], "failed");
    assert!(last["response"]["error"]["message"].is_string());
    let added = ev
        .iter()
        .filter(|e| e["type"] == "response.output_item.added")
        .count();
    let done = ev
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .count();
    assert_eq!(added, done, "every item is closed before the end");
}
