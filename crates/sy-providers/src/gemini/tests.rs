//! Recorded Gemini streams and error bodies in, events out; chat requests in, Gemini bodies out.

use serde_json::{json, Value};
use sy_config::Api;
use sy_dialects::Dialect;

use super::*;
use crate::testing::{assert_golden, decode, provider, render, target};

fn stream(capture: &str) -> String {
    render(&decode(&Gemini, Api::Gemini, capture, false).unwrap())
}

#[test]
fn a_stream_with_thoughts_text_and_usage() {
    // CRLF framing, as Google sends it; usage on every chunk, the last one complete
    let capture = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Let me think\", \"thought\": true}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"totalTokenCount\": 9},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r1\"}\r\n\r\n\
data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hello\"}],\"role\": \"model\"},\"index\": 0}],\"responseId\": \"r1\"}\r\n\r\n\
data: {broken\r\n\r\n\
data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" world\", \"thoughtSignature\": \"c2ln\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"candidatesTokenCount\": 2,\"thoughtsTokenCount\": 5,\"cachedContentTokenCount\": 4,\"totalTokenCount\": 16},\"responseId\": \"r1\"}\r\n\r\n";
    assert_golden(
        &stream(capture),
        r#"
        reasoning "Let me think"
        usage prompt=9 completion=0 cached=- write=- reasoning=-
        text "Hello"
        malformed
        text " world"
        signature "c2ln"
        usage prompt=9 completion=7 cached=4 write=- reasoning=5
        finish stop
        "#,
    );
}

#[test]
fn function_calls_get_minted_ids_and_finish_as_tool_calls() {
    let capture = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_weather\",\"args\": {\"city\": \"Paris\"}},\"thoughtSignature\": \"AAA=\"},{\"functionCall\": {\"name\": \"get_time\",\"args\": {}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 20,\"candidatesTokenCount\": 8,\"totalTokenCount\": 28},\"responseId\": \"abc\"}\n\n";
    let frames = decode(&Gemini, Api::Gemini, capture, false).unwrap();
    let events = &frames[0].events;
    let ids: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            sy_api::Event::ToolStart { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert!(ids.iter().all(|i| i.starts_with("call_")), "{ids:?}");
    let rendered = render(&frames)
        .replace(ids[0], "ID0")
        .replace(ids[1], "ID1");
    assert_golden(
        &rendered,
        r#"
        tool 0 ID0 get_weather
        args 0 "{\"city\":\"Paris\"}"
        signature "AAA="
        tool 1 ID1 get_time
        args 1 "{}"
        usage prompt=20 completion=8 cached=- write=- reasoning=-
        finish tool_calls
        "#,
    );
    // the same answer again mints the same ids (a regenerated answer keeps the client's ids)
    let again = decode(&Gemini, Api::Gemini, capture, false).unwrap();
    assert_eq!(again, frames);
}

#[test]
fn blocks_errors_and_whole_bodies() {
    assert_golden(
        &stream("data: {\"promptFeedback\": {\"blockReason\": \"SAFETY\"},\"usageMetadata\": {\"promptTokenCount\": 3,\"totalTokenCount\": 3}}\r\n\r\n"),
        "usage prompt=3 completion=0 cached=- write=- reasoning=-\nfinish content_filter",
    );
    assert_golden(
        &stream("data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}]},\"finishReason\": \"SAFETY\"}]}\n\n"),
        "text \"Hi\"\nfinish content_filter",
    );
    assert_golden(
        &stream("data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\n\n"),
        "error kind=UNAVAILABLE code=- message=The model is overloaded.",
    );
    // without alt=sse: a JSON array of responses
    let whole = r#"[{"candidates":[{"content":{"parts":[{"text":"A"}]},"index":0}]},{"candidates":[{"content":{"parts":[{"text":"B"}]},"finishReason":"MAX_TOKENS","index":0}],"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2}}]"#;
    assert_golden(
        &render(&decode(&Gemini, Api::Gemini, whole, true).unwrap()),
        "text \"A\"\ntext \"B\"\nusage prompt=1 completion=2 cached=- write=- reasoning=-\nfinish length",
    );
}

#[test]
fn google_errors_are_classified_by_their_details() {
    let ctx = Gemini.parse_error(400, br#"{"error":{"code":400,"message":"The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#);
    assert_eq!(ctx.code.as_deref(), Some("context_length_exceeded"));
    assert_eq!(ctx.status, None);
    let key = Gemini.parse_error(400, br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#);
    assert_eq!(
        (key.code.as_deref(), key.status),
        (Some("API_KEY_INVALID"), Some(401))
    );
    let quota = Gemini.parse_error(
        429,
        br#"[{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}]"#,
    );
    assert_eq!(
        (quota.kind.as_deref(), quota.message.as_str()),
        (Some("RESOURCE_EXHAUSTED"), "Quota exceeded")
    );
    assert_eq!(Gemini.parse_error(502, b"<html>").message, "<html>");
}

fn encode(request: &Value, prefill: Option<&str>) -> (Call, Value) {
    let req = sy_dialects::Chat
        .parse(request.to_string().as_bytes(), &[])
        .expect("valid request");
    let p = provider(Api::Gemini);
    let t = Target {
        upstream_model: "gemini-2.5-flash",
        ..target(&p)
    };
    let cont = prefill.map_or(Continue::Fresh, Continue::Prefill);
    let call = Gemini.encode(&req, &t, cont).unwrap();
    let body = serde_json::from_slice(&call.body).unwrap();
    (call, body)
}

#[test]
fn a_chat_request_becomes_a_gemini_body() {
    let (call, body) = encode(
        &json!({"model": "m", "max_tokens": 100, "temperature": 0.3, "stop": ["END"],
            "reasoning": {"effort": "low"},
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Weather?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}]},
                {"role": "assistant", "content": null,
                 "reasoning_details": [{"type": "reasoning.text", "signature": "c2ln", "format": "google-gemini-v1"}],
                 "tool_calls": [{"id": "call_x_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_x_0", "content": "{\"temp\":21}"},
                {"role": "tool", "tool_call_id": "call_x_0", "content": "not json"}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": false}}}],
            "tool_choice": "required"}),
        None,
    );
    assert_eq!(
        call.path,
        "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        body,
        json!({
            "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Weather?"}, {"inlineData": {"mimeType": "image/png", "data": "iVBO"}}]},
                {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                    {"functionResponse": {"name": "get_weather", "response": {"output": "not json"}}}
                ]}
            ],
            "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "d",
                "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": false}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            "generationConfig": {"maxOutputTokens": 100, "temperature": 0.3, "stopSequences": ["END"],
                "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}}
        })
    );
}

#[test]
fn prefill_unknown_results_and_foreign_signatures() {
    let (_, body) = encode(
        &json!({"model": "m", "messages": [{"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hel",
             "reasoning_details": [{"type": "reasoning.text", "text": "t", "signature": "anthropic-sig", "format": "anthropic-claude-v1"}]}]}),
        Some("lo"),
    );
    // a signature of another family is dropped; the prefill extends the model's turn
    assert_eq!(
        body["contents"],
        json!([{"role": "user", "parts": [{"text": "Hi"}]},
               {"role": "model", "parts": [{"text": "Hel"}, {"text": "lo"}]}])
    );
    let req = sy_dialects::Chat
        .parse(
            json!({"model": "m", "messages": [{"role": "user", "content": "Hi"},
                {"role": "tool", "tool_call_id": "nowhere", "content": "x"}]})
            .to_string()
            .as_bytes(),
            &[],
        )
        .unwrap();
    let p = provider(Api::Gemini);
    let err = Gemini
        .encode(&req, &target(&p), Continue::Fresh)
        .unwrap_err();
    assert!(err.contains("nowhere"), "{err}");
    assert_eq!(model_segment("models/gemini-2.5-pro"), "gemini-2.5-pro");
    assert_eq!(model_segment("a/b c"), "a%2Fb%20c");
}
