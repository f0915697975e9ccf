//! Converse event streams (encoded with the same crate AWS's SDKs use) in, events out; chat
//! requests in, Converse bodies out.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use serde_json::{json, Value};
use sy_config::Api;
use sy_dialects::Dialect;

use super::*;
use crate::testing::{assert_golden, provider, render, target};

fn frame(kind: &str, payload: &Value, exception: bool) -> Vec<u8> {
    let (mt, th) = if exception {
        ("exception", ":exception-type")
    } else {
        ("event", ":event-type")
    };
    let m = Message::new(payload.to_string().into_bytes())
        .add_header(Header::new(th, HeaderValue::String(kind.to_owned().into())))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(":message-type", HeaderValue::String(mt.into())));
    let mut buf = Vec::new();
    write_message_to(&m, &mut buf).unwrap();
    buf
}

fn run(bytes: &[u8]) -> Result<String, String> {
    let p = provider(Api::Bedrock);
    let mut d = Bedrock.decoder(&target(&p), Continue::Fresh, false);
    let mut out = Vec::new();
    for piece in bytes.chunks(5) {
        d.feed(piece, &mut out)?;
    }
    d.end(&mut out)?;
    Ok(render(&out))
}

#[test]
fn a_converse_stream_with_reasoning_a_tool_call_and_usage() {
    let mut s = Vec::new();
    for (kind, p) in [
        ("messageStart", json!({"role": "assistant"})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hmm"}}, "p": "abcdef"}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 0})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"text": "Hi"}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 1})),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"a\":"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "1}"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 2})),
        ("messageStop", json!({"stopReason": "tool_use"})),
        (
            "metadata",
            json!({"usage": {"inputTokens": 3, "outputTokens": 9, "totalTokens": 12, "cacheReadInputTokens": 10, "cacheWriteInputTokens": 2}, "metrics": {"latencyMs": 5}}),
        ),
    ] {
        s.extend(frame(kind, &p, false));
    }
    assert_golden(
        &run(&s).unwrap(),
        r#"
        reasoning "hmm"
        signature "sig"
        text "Hi"
        tool 0 tooluse_1 get
        args 0 "{\"a\":"
        args 0 "1}"
        finish tool_calls
        usage prompt=15 completion=9 cached=10 write=2 reasoning=-
        "#,
    );
}

#[test]
fn exceptions_bad_frames_and_errors() {
    let mut s = frame(
        "contentBlockDelta",
        &json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
        false,
    );
    s.extend(frame(
        "throttlingException",
        &json!({"message": "Too many tokens, please wait before trying again."}),
        true,
    ));
    assert_golden(
        &run(&s).unwrap(),
        "text \"Hi\"\nerror kind=throttlingException code=- message=Too many tokens, please wait before trying again.",
    );
    let mut bad = frame("messageStop", &json!({"stopReason": "end_turn"}), false);
    let last = bad.len() - 1;
    bad[last] ^= 0xff; // the message CRC
    assert!(run(&bad).unwrap_err().contains("event-stream"));
    let cut = frame("messageStop", &json!({"stopReason": "end_turn"}), false);
    assert!(run(&cut[..4]).is_err());
    let e = Bedrock.parse_error(
        400,
        br#"{"message":"Input is too long for requested model."}"#,
    );
    assert_eq!(e.message, "Input is too long for requested model.");
    assert_eq!(
        Bedrock
            .parse_error(
                400,
                br#"{"__type":"com.amazon#ValidationException","message":"x"}"#
            )
            .kind
            .as_deref(),
        Some("ValidationException")
    );
}

#[test]
fn a_chat_request_becomes_a_converse_body() {
    let req = sy_dialects::Chat
        .parse(
            json!({"model": "m", "max_tokens": 50, "temperature": 1.5, "stop": ["END"],
                "messages": [
                    {"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]},
                    {"role": "user", "content": "Weather?"},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "tooluse_1", "type": "function", "function": {"name": "get", "arguments": "{\"c\":1}"}}]},
                    {"role": "tool", "tool_call_id": "tooluse_1", "content": "sunny"}],
                "tools": [{"type": "function", "function": {"name": "get", "parameters": {"type": "object"}}}],
                "tool_choice": "auto"})
            .to_string()
            .as_bytes(),
            &[],
        )
        .unwrap();
    let p = provider(Api::Bedrock);
    let t = Target {
        upstream_model: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0",
        ..target(&p)
    };
    let call = Bedrock.encode(&req, &t, Continue::Prefill("Sun ")).unwrap();
    assert_eq!(
        call.path,
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream"
    );
    let body: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(
        body,
        json!({
            "system": [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}],
            "messages": [
                {"role": "user", "content": [{"text": "Weather?"}]},
                {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "get", "input": {"c": 1}}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "sunny"}]}}]},
                {"role": "assistant", "content": [{"text": "Sun"}]}
            ],
            "inferenceConfig": {"maxTokens": 50, "temperature": 1.0, "stopSequences": ["END"]},
            "toolConfig": {"tools": [{"toolSpec": {"name": "get", "inputSchema": {"json": {"type": "object"}}}}], "toolChoice": {"auto": {}}}
        })
    );
}
