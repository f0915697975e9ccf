//! Recorded OpenAI events in, pieces out.

use serde_json::json;

use super::*;
use crate::ChunkFacts;

fn decode(events: &[&str]) -> Vec<Piece> {
    let mut s = StreamState;
    let mut out = Vec::new();
    for e in events {
        s.event(e, &mut out);
    }
    out
}

#[test]
fn stream_events() {
    let out = decode(&[
        r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
        r#"{"id": "broken", "choices": [{"delta": {"content": "#,
        r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#,
        "[DONE]",
    ]);
    assert_eq!(out.len(), 6);
    assert!(matches!(out[2], Piece::Malformed));
    assert_eq!(
        out[4],
        Piece::Usage(UpstreamUsage {
            prompt_tokens: 3,
            completion_tokens: 1,
            ..Default::default()
        })
    );
    assert_eq!(out[5], Piece::Done);
    let Piece::Chunk(c) = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(ChunkFacts::of(c).text, "Hi");
}

#[test]
fn in_band_error() {
    let out =
        decode(&[r#"{"error":{"message":"upstream error mid-stream","type":"server_error"}}"#]);
    assert!(matches!(&out[0], Piece::Error(e) if e.message == "upstream error mid-stream"));
}

#[test]
fn encode_passes_unknown_fields_and_asks_for_usage() {
    let req = sy_api::parse_chat_request(
        br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"x_vendor":{"k":1},"temperature":0.2}"#,
    )
    .unwrap();
    let e = encode(&req, "up-model", Some("Hel"));
    let v: Value = serde_json::from_slice(&e.body).unwrap();
    assert_eq!(v["model"], "up-model");
    assert_eq!(v["x_vendor"], json!({"k":1}));
    assert_eq!(v["stream"], true);
    assert_eq!(v["stream_options"]["include_usage"], true);
    assert_eq!(
        v["messages"][1],
        json!({"role":"assistant","content":"Hel"})
    );
}

#[test]
fn whole_body_becomes_pieces() {
    let body = br#"{"id":"x","object":"chat.completion","model":"u","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#;
    let mut out = Vec::new();
    decode_body(body, &mut out).unwrap();
    assert!(matches!(out[0], Piece::Usage(_)));
    let Piece::Chunk(c) = &out[1] else { panic!() };
    let f = ChunkFacts::of(c);
    assert_eq!(
        (f.text.as_str(), f.finish_reason.as_deref()),
        ("Hello", Some("stop"))
    );
    assert!(decode_body(b"<html>", &mut Vec::new()).is_err());
    assert!(decode_body(b"", &mut Vec::new()).is_err());
}
