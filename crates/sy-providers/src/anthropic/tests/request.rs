//! OpenAI requests in, Messages bodies out.

use serde_json::{json, Value};

use sy_dialects::Dialect;

use super::*;

fn chat(request: &Value) -> sy_api::Request {
    sy_dialects::Chat
        .parse(request.to_string().as_bytes(), &[])
        .expect("valid request")
}

/// Encodes `request` (an OpenAI body) with the given prefill and endpoint default.
fn run(request: &Value, prefill: Option<&str>, max_default: Option<u64>) -> Result<Value, String> {
    let req = chat(request);
    let p = provider(Api::Anthropic);
    let t = Target {
        upstream_model: "claude-up-1",
        max_tokens: max_default,
        ..target(&p)
    };
    let cont = prefill.map_or(Continue::Fresh, Continue::Prefill);
    let e = Anthropic.encode(&req, &t, cont)?;
    assert_eq!(e.path, "/messages");
    assert_eq!(
        e.headers,
        vec![("anthropic-version".to_owned(), "2023-06-01".to_owned())]
    );
    Ok(serde_json::from_slice(&e.body).expect("JSON body"))
}

/// The body for `request` is `expect` plus the fields every body has (model, max_tokens 4096,
/// stream), unless `expect` states them.
fn check(request: Value, expect: Value) {
    check_with(request, None, None, expect);
}

fn check_with(request: Value, prefill: Option<&str>, max_default: Option<u64>, expect: Value) {
    let mut want = json!({"model": "claude-up-1", "max_tokens": 4096, "stream": true});
    for (k, v) in expect.as_object().expect("object") {
        want[k] = v.clone();
    }
    let got = run(&request, prefill, max_default).expect("encodes");
    assert_eq!(got, want, "\nrequest: {request}\n");
}

fn check_err(request: Value, expect: &str) {
    let err = run(&request, None, None).expect_err("should not encode");
    assert!(err.contains(expect), "{err:?} should contain {expect:?}");
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

fn text(t: &str) -> Value {
    json!({"type": "text", "text": t})
}

#[test]
fn system_and_developer_move_to_system() {
    check(
        json!({"model": "x", "temperature": 0.3, "top_p": 0.9, "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            user("Name a colour."),
        ]}),
        json!({"system": "You are a terse assistant.", "temperature": 0.3, "top_p": 0.9,
               "messages": [{"role": "user", "content": [text("Name a colour.")]}]}),
    );
    // several system texts stay separate blocks; cache_control on a part is kept
    check(
        json!({"model": "x", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Long context",
                                            "cache_control": {"type": "ephemeral"}}]},
            {"role": "developer", "content": "Be brief."},
            user("Hi"),
        ]}),
        json!({"system": [
                   {"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}},
                   text("Be brief."),
               ],
               "messages": [{"role": "user", "content": [text("Hi")]}]}),
    );
}

#[test]
fn multi_part_content_and_merged_turns() {
    check(
        json!({"model": "x", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "first part"},
                                         {"type": "text", "text": ""},
                                         {"type": "text", "text": "second part"}]},
            user("and more"),
            {"role": "assistant", "content": "Sure."},
            {"role": "assistant", "content": [{"type": "text", "text": "Go on?"}]},
            user("yes"),
        ]}),
        json!({"messages": [
            {"role": "user", "content": [text("first part"), text("second part"), text("and more")]},
            {"role": "assistant", "content": [text("Sure."), text("Go on?")]},
            {"role": "user", "content": [text("yes")]},
        ]}),
    );
}

#[test]
fn images_and_files() {
    check(
        json!({"model": "x", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}},
        ]}]}),
        json!({"messages": [{"role": "user", "content": [
            text("What is this?"),
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}, "title": "a.pdf"},
        ]}]}),
    );
}

#[test]
fn untranslatable_requests_are_refused() {
    let with = |m: Value| json!({"model": "x", "messages": [m]});
    check_err(
        with(
            json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}),
        ),
        "base64",
    );
    check_err(
        with(json!({"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]})),
        "input_audio",
    );
    check_err(
        with(
            json!({"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://e/x.png"}}]}),
        ),
        "only text",
    );
    check_err(
        with(json!({"role": "system", "content": "only a system prompt"})),
        "no user or assistant",
    );
    check_err(
        with(json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]})),
        "arguments are not JSON",
    );
    let two = chat(&json!({"model": "x", "n": 2, "messages": [user("hi")]}));
    let p = provider(Api::Anthropic);
    let why = crate::unsupported(&two, &target(&p)).expect("n > 1 is not for this protocol");
    assert!(why.contains("`n`"), "{why}");
}

#[test]
fn parameters() {
    check(
        json!({"model": "x", "messages": [user("hi")], "max_tokens": 3, "stop": "fox",
               "top_k": 40, "user": "u-42", "seed": 7, "frequency_penalty": 0.5}),
        json!({"max_tokens": 3, "stop_sequences": ["fox"], "top_k": 40,
               "metadata": {"user_id": "u-42"},
               "messages": [{"role": "user", "content": [text("hi")]}]}),
    );
    check(
        json!({"model": "x", "messages": [user("hi")], "max_completion_tokens": 50,
               "stop": ["a", "", "b"], "temperature": 1.7, "stream": false,
               "stream_options": {"include_usage": true}}),
        json!({"max_tokens": 50, "stop_sequences": ["a", "b"], "temperature": 1.0,
               "messages": [{"role": "user", "content": [text("hi")]}]}),
    );
    // no max_tokens in the request: the endpoint's limit
    check_with(
        json!({"model": "x", "messages": [user("hi")]}),
        None,
        Some(8192),
        json!({"max_tokens": 8192, "messages": [{"role": "user", "content": [text("hi")]}]}),
    );
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather", "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}})
}

fn anthropic_weather_tool() -> Value {
    json!({"name": "get_weather", "description": "Current weather for a city",
           "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}})
}

#[test]
fn tools_and_tool_choice() {
    let msgs = json!([{"role": "user", "content": [text("weather?")]}]);
    for (choice, parallel, want) in [
        (None, None, None),
        (Some(json!("auto")), None, Some(json!({"type": "auto"}))),
        (Some(json!("required")), None, Some(json!({"type": "any"}))),
        (Some(json!("none")), None, Some(json!({"type": "none"}))),
        (
            Some(json!({"type": "function", "function": {"name": "get_weather"}})),
            None,
            Some(json!({"type": "tool", "name": "get_weather"})),
        ),
        (
            None,
            Some(false),
            Some(json!({"type": "auto", "disable_parallel_tool_use": true})),
        ),
        (
            Some(json!("required")),
            Some(false),
            Some(json!({"type": "any", "disable_parallel_tool_use": true})),
        ),
        (
            Some(json!("auto")),
            Some(true),
            Some(json!({"type": "auto"})),
        ),
    ] {
        let mut req =
            json!({"model": "x", "messages": [user("weather?")], "tools": [weather_tool()]});
        let mut expect = json!({"messages": msgs, "tools": [anthropic_weather_tool()]});
        if let Some(c) = choice {
            req["tool_choice"] = c;
        }
        if let Some(p) = parallel {
            req["parallel_tool_calls"] = Value::Bool(p);
        }
        if let Some(w) = want {
            expect["tool_choice"] = w;
        }
        check(req, expect);
    }
    // a tool without parameters gets the empty schema Anthropic requires
    check(
        json!({"model": "x", "messages": [user("t?")], "tools": [{"type": "function", "function": {"name": "now"}}]}),
        json!({"messages": [{"role": "user", "content": [text("t?")]}],
               "tools": [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]}),
    );
    // tool_choice without tools says nothing
    check(
        json!({"model": "x", "messages": [user("hi")], "tool_choice": "required"}),
        json!({"messages": [{"role": "user", "content": [text("hi")]}]}),
    );
}

#[test]
fn tool_call_round_trip_keeps_the_id() {
    check(
        json!({"model": "x", "tools": [weather_tool()], "messages": [
            user("weather in Oslo and Bergen?"),
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "call_abc123", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"location\":\"Oslo\"}"}},
                {"id": "call_def456", "type": "function",
                 "function": {"name": "get_weather", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": "call_abc123", "content": "12 degrees and windy"},
            {"role": "tool", "tool_call_id": "call_def456", "content": [{"type": "text", "text": "9 degrees"}]},
            user("Thanks. Which is warmer?"),
        ]}),
        json!({"tools": [anthropic_weather_tool()], "messages": [
            {"role": "user", "content": [text("weather in Oslo and Bergen?")]},
            {"role": "assistant", "content": [
                text("Let me check."),
                {"type": "tool_use", "id": "call_abc123", "name": "get_weather", "input": {"location": "Oslo"}},
                {"type": "tool_use", "id": "call_def456", "name": "get_weather", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_abc123", "content": "12 degrees and windy"},
                {"type": "tool_result", "tool_use_id": "call_def456", "content": "9 degrees"},
                text("Thanks. Which is warmer?"),
            ]},
        ]}),
    );
    // a user text before the tool results in the same turn still comes after them
    check(
        json!({"model": "x", "tools": [weather_tool()], "messages": [
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            user("(note)"),
            {"role": "tool", "tool_call_id": "c1", "content": ""},
        ]}),
        json!({"tools": [anthropic_weather_tool()], "messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "get_weather", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1"}, text("(note)")]},
        ]}),
    );
}

#[test]
fn prefill_is_a_trailing_assistant_turn_without_trailing_whitespace() {
    let req = json!({"model": "x", "messages": [user("count")]});
    for (prefill, want) in [
        (Some(" One two three"), Some(" One two three")),
        (Some("One two \n\n"), Some("One two")),
        (Some("   "), None),
        (Some(""), None),
        (None, None),
    ] {
        let mut messages = vec![json!({"role": "user", "content": [text("count")]})];
        if let Some(w) = want {
            messages.push(json!({"role": "assistant", "content": [text(w)]}));
        }
        check_with(req.clone(), prefill, None, json!({ "messages": messages }));
    }
    // the request's own assistant prefill is continued as one text, and trimmed as well
    check_with(
        json!({"model": "x", "messages": [user("count"), {"role": "assistant", "content": "One "}]}),
        None,
        None,
        json!({"messages": [{"role": "user", "content": [text("count")]},
                            {"role": "assistant", "content": [text("One")]}]}),
    );
    check_with(
        json!({"model": "x", "messages": [user("count"), {"role": "assistant", "content": "One"}]}),
        Some(" two "),
        None,
        json!({"messages": [{"role": "user", "content": [text("count")]},
                            {"role": "assistant", "content": [text("One two")]}]}),
    );
}
