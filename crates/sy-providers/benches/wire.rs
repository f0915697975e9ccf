//! The per-request and per-chunk pure work of the request path: parse and validate a client body,
//! encode it for each wire protocol, decode one upstream SSE event (OpenAI, Anthropic) into typed
//! events, pass a chat chunk through (rewriting `id`, `model`, `provider`) and translate one into
//! an Anthropic event, and fold a whole answer into a non-streamed reply.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use sy_api::{Event, Family, Frame};
use sy_config::{Api, Provider};
use sy_dialects::{Dialect, Meta};
use sy_providers::{protocol, Continue, Target};

const BODY: &str = r#"{"model":"bench/model","messages":[{"role":"system","content":"You are a concise assistant for a customer support team."},{"role":"user","content":"Summarise the refund policy for annual plans in two sentences."}],"temperature":0.2,"max_tokens":128,"user":"u-42"}"#;

const OPENAI_EVENT: &str = "data: {\"id\":\"chatcmpl-9248c90b9478187482743419\",\"object\":\"chat.completion.chunk\",\"created\":1795328245,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_sim\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" quick\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n";

const ANTHROPIC_EVENT: &str = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" quick\"}}\n\n";

fn provider(api: Api) -> Provider {
    Provider {
        name: "p".to_owned(),
        api,
        base_url: "http://up".to_owned(),
        api_key: None,
        data_collection_allowed: true,
        zdr: false,
        max_concurrency: 8,
        headers: Vec::new(),
        cloud: sy_config::Cloud::default(),
    }
}

fn meta() -> Meta<'static> {
    Meta {
        gen_id: "gen-abcdefghijklmnopqrstuvwx",
        created: 1_795_328_245,
        model: "bench/model",
        provider: "p",
        family: Family::Chat,
        prompt_estimate: 20,
    }
}

/// The frames of a 20-token OpenAI answer and its finish, decoded.
fn answer_frames() -> Vec<Frame> {
    let p = provider(Api::OpenAi);
    let t = Target {
        provider: &p,
        upstream_model: "m",
        max_tokens: None,
        supported: &[],
    };
    let mut d = protocol(Api::OpenAi).decoder(&t, Continue::Fresh, false);
    let mut out = Vec::new();
    for _ in 0..20 {
        d.feed(OPENAI_EVENT.as_bytes(), &mut out).unwrap();
    }
    d.feed(b"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", &mut out).unwrap();
    out
}

fn benches(c: &mut Criterion) {
    c.bench_function("parse_request", |b| {
        b.iter(|| {
            sy_dialects::Chat
                .parse(black_box(BODY.as_bytes()), &[])
                .unwrap()
        });
    });
    let req = sy_dialects::Chat.parse(BODY.as_bytes(), &[]).unwrap();
    let openai = provider(Api::OpenAi);
    let anthropic = provider(Api::Anthropic);
    c.bench_function("encode_openai", |b| {
        let t = Target {
            provider: &openai,
            upstream_model: "gpt-4o-mini",
            max_tokens: None,
            supported: &[],
        };
        b.iter(|| {
            protocol(Api::OpenAi)
                .encode(black_box(&req), &t, Continue::Fresh)
                .unwrap()
        });
    });
    c.bench_function("encode_anthropic", |b| {
        let t = Target {
            provider: &anthropic,
            upstream_model: "claude-haiku",
            max_tokens: Some(1024),
            supported: &[],
        };
        b.iter(|| {
            protocol(Api::Anthropic)
                .encode(black_box(&req), &t, Continue::Fresh)
                .unwrap()
        });
    });
    c.bench_function("decode_openai_event", |b| {
        let t = Target {
            provider: &openai,
            upstream_model: "m",
            max_tokens: None,
            supported: &[],
        };
        let mut d = protocol(Api::OpenAi).decoder(&t, Continue::Fresh, false);
        let mut out = Vec::with_capacity(4);
        b.iter(|| {
            out.clear();
            d.feed(black_box(OPENAI_EVENT.as_bytes()), &mut out)
                .unwrap();
            black_box(&out);
        });
    });
    c.bench_function("decode_anthropic_event", |b| {
        let t = Target { provider: &anthropic, upstream_model: "m", max_tokens: None, supported: &[] };
        let mut d = protocol(Api::Anthropic).decoder(&t, Continue::Fresh, false);
        let mut out = Vec::with_capacity(4);
        d.feed(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-haiku\",\"usage\":{\"input_tokens\":20,\"output_tokens\":1}}}\n\n", &mut out).unwrap();
        b.iter(|| {
            out.clear();
            d.feed(black_box(ANTHROPIC_EVENT.as_bytes()), &mut out).unwrap();
            black_box(&out);
        });
    });
    let frames = answer_frames();
    c.bench_function("pass_chat_chunk", |b| {
        let mut r = sy_dialects::Chat.render(true);
        let m = meta();
        let f = &frames[0];
        let raw = f.raw.as_ref().unwrap();
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            out.clear();
            r.pass(black_box(raw), &f.events, &m, &mut out);
            black_box(&out);
        });
    });
    c.bench_function("translate_event_to_messages", |b| {
        let mut r = sy_dialects::Messages.render(true);
        let m = meta();
        let ev = Event::Text(" quick".to_owned());
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            out.clear();
            r.event(black_box(&ev), &m, &mut out);
            black_box(&out);
        });
    });
    c.bench_function("aggregate_21_chunks", |b| {
        b.iter(|| {
            let mut r = sy_dialects::Chat.render(false);
            let m = meta();
            let mut out = Vec::new();
            for f in &frames {
                if let Some(raw) = &f.raw {
                    r.pass(black_box(raw), &f.events, &m, &mut out);
                }
            }
            let u = sy_api::Usage::default();
            r.body(&sy_dialects::End {
                meta: m,
                usage: &u,
                finish: None,
            })
        });
    });
}

criterion_group!(wire, benches);
criterion_main!(wire);
