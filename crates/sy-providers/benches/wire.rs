//! The per-request and per-chunk pure work of the request path (issue 9): parse and validate a
//! client body, encode it for each wire protocol, decode one upstream SSE event (OpenAI: parse;
//! Anthropic: translate to an OpenAI chunk), and fold a whole answer's chunks into a
//! non-streamed reply.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use sy_config::Api;
use sy_providers::{encode, Aggregate, Decoder, Piece};

const BODY: &str = r#"{"model":"bench/model","messages":[{"role":"system","content":"You are a concise assistant for a customer support team."},{"role":"user","content":"Summarise the refund policy for annual plans in two sentences."}],"temperature":0.2,"max_tokens":128,"user":"u-42"}"#;

const OPENAI_EVENT: &str = r#"{"id":"chatcmpl-9248c90b9478187482743419","object":"chat.completion.chunk","created":1795328245,"model":"gpt-4o-mini","system_fingerprint":"fp_sim","choices":[{"index":0,"delta":{"content":" quick"},"logprobs":null,"finish_reason":null}]}"#;

const ANTHROPIC_EVENT: &str =
    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" quick"}}"#;

/// The 20 content events and the finish event of a short OpenAI answer, decoded.
fn answer_chunks() -> Vec<serde_json::Value> {
    let mut d = Decoder::new(Api::OpenAi);
    let mut out = Vec::new();
    for _ in 0..20 {
        d.event("", OPENAI_EVENT, &mut out);
    }
    d.event(
        "",
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        &mut out,
    );
    out.into_iter()
        .filter_map(|p| match p {
            Piece::Chunk(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    c.bench_function("parse_request", |b| {
        b.iter(|| sy_api::parse_chat_request(black_box(BODY.as_bytes())).unwrap());
    });
    let req = sy_api::parse_chat_request(BODY.as_bytes()).unwrap();
    c.bench_function("encode_openai", |b| {
        b.iter(|| encode(Api::OpenAi, black_box(&req), "gpt-4o-mini", None, None).unwrap());
    });
    c.bench_function("encode_anthropic", |b| {
        b.iter(|| {
            encode(
                Api::Anthropic,
                black_box(&req),
                "claude-haiku",
                None,
                Some(1024),
            )
            .unwrap()
        });
    });
    c.bench_function("decode_openai_event", |b| {
        let mut d = Decoder::new(Api::OpenAi);
        let mut out = Vec::with_capacity(4);
        b.iter(|| {
            out.clear();
            d.event("", black_box(OPENAI_EVENT), &mut out);
            black_box(&out);
        });
    });
    c.bench_function("translate_anthropic_event", |b| {
        let mut d = Decoder::new(Api::Anthropic);
        let mut out = Vec::with_capacity(4);
        d.event(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","model":"claude-haiku","usage":{"input_tokens":20,"output_tokens":1}}}"#,
            &mut out,
        );
        b.iter(|| {
            out.clear();
            d.event("content_block_delta", black_box(ANTHROPIC_EVENT), &mut out);
            black_box(&out);
        });
    });
    let chunks = answer_chunks();
    c.bench_function("aggregate_21_chunks", |b| {
        b.iter(|| {
            let mut agg = Aggregate::default();
            for ch in &chunks {
                agg.push(black_box(ch));
            }
            agg.into_choices()
        });
    });
}

criterion_group!(wire, benches);
criterion_main!(wire);
