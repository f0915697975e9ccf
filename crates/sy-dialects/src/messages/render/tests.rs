//! Recorded events in, Anthropic's stream and message out.

use super::*;

fn meta(family: Family) -> Meta<'static> {
    Meta {
        gen_id: "gen-1",
        created: 1,
        model: "anthropic/claude",
        provider: "p",
        family,
        prompt_estimate: 7,
    }
}

/// The (event name, data) pairs of an SSE text.
fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
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
            (name, serde_json::from_str(&data).unwrap())
        })
        .collect()
}

fn usage() -> Usage {
    Usage {
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        cached_tokens: 4,
        cost: 0.5,
        ..Usage::default()
    }
}

#[test]
fn translated_events_open_and_close_blocks() {
    let mut r = MessagesRender::new(true);
    let m = meta(Family::Chat);
    let mut out = Vec::new();
    for ev in [
        Event::Reasoning("not signed: dropped".into()),
        Event::Text("Hel".into()),
        Event::Text("lo".into()),
        Event::ToolStart {
            index: 0,
            id: "c1".into(),
            name: "get".into(),
        },
        Event::ToolArgs {
            index: 0,
            delta: "{\"a\":".into(),
        },
        Event::ToolArgs {
            index: 0,
            delta: "1}".into(),
        },
        Event::Finish(Finish::ToolCalls),
    ] {
        r.event(&ev, &m, &mut out);
    }
    let u = usage();
    r.finish(
        &End {
            meta: m,
            usage: &u,
            finish: Some(Finish::ToolCalls),
        },
        &mut out,
    );
    let ev = events(&out);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(ev[0].1["message"]["id"], "gen-1");
    assert_eq!(ev[5].1["content_block"]["type"], "tool_use");
    assert_eq!(ev[5].1["index"], 1);
    assert_eq!(ev[9].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(ev[9].1["usage"]["input_tokens"], 6);
    assert_eq!(ev[9].1["usage"]["cache_read_input_tokens"], 4);
    assert_eq!(ev[9].1["usage"]["cost"], 0.5);
}

fn frame(event: &str, data: Value) -> RawFrame {
    RawFrame {
        event: Some(event.to_owned()),
        data: data.to_string(),
    }
}

fn anthropic_stream() -> Vec<RawFrame> {
    vec![
        frame(
            "message_start",
            json!({"type":"message_start","message":{"id":"msg_up","type":"message","role":"assistant","model":"claude-up","content":[],"stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}}),
        ),
        frame(
            "content_block_start",
            json!({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}),
        ),
        frame(
            "content_block_delta",
            json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think."}}),
        ),
        frame(
            "content_block_delta",
            json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"SIG=="}}),
        ),
        frame(
            "content_block_stop",
            json!({"type":"content_block_stop","index":0}),
        ),
        frame(
            "content_block_start",
            json!({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}),
        ),
        frame(
            "content_block_delta",
            json!({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi"}}),
        ),
        frame(
            "message_delta",
            json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}),
        ),
        frame("message_stop", json!({"type":"message_stop"})),
    ]
}

#[test]
fn passed_through_frames_keep_signatures_and_end_with_the_gateway_usage() {
    let mut r = MessagesRender::new(true);
    let m = meta(Family::Messages);
    let mut out = Vec::new();
    for f in anthropic_stream() {
        r.pass(&f, &[], &m, &mut out);
    }
    let u = usage();
    r.finish(
        &End {
            meta: m,
            usage: &u,
            finish: Some(Finish::Stop),
        },
        &mut out,
    );
    let ev = events(&out);
    assert_eq!(ev[0].1["message"]["id"], "gen-1");
    assert_eq!(ev[0].1["message"]["model"], "anthropic/claude");
    assert_eq!(ev[3].1["delta"]["signature"], "SIG==");
    // the open text block is closed before the gateway's message_delta
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    assert_eq!(ev[ev.len() - 2].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(ev[ev.len() - 2].1["usage"]["cost"], 0.5);
}

#[test]
fn a_collected_message_from_passed_frames_is_whole() {
    let mut r = MessagesRender::new(false);
    let m = meta(Family::Messages);
    let mut out = Vec::new();
    for f in anthropic_stream() {
        r.pass(&f, &[], &m, &mut out);
    }
    assert!(out.is_empty());
    let u = usage();
    let body: Value = serde_json::from_slice(&r.body(&End {
        meta: m,
        usage: &u,
        finish: Some(Finish::Stop),
    }))
    .unwrap();
    assert_eq!(
        body["content"][0],
        json!({"type":"thinking","thinking":"Let me think.","signature":"SIG=="})
    );
    assert_eq!(body["content"][1], json!({"type":"text","text":"Hi"}));
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["id"], "gen-1");
}

#[test]
fn a_continuation_goes_on_in_the_open_block() {
    let mut r = MessagesRender::new(true);
    let m = meta(Family::Messages);
    let mut out = Vec::new();
    for f in &anthropic_stream()[..7] {
        r.pass(f, &[], &m, &mut out);
    }
    let before = events(&out).len();
    // the stream broke; the next endpoint (another protocol) continues the text
    let m2 = meta(Family::Chat);
    r.event(&Event::Text(" there".into()), &m2, &mut out);
    let ev = events(&out);
    assert_eq!(ev.len(), before + 1, "no new block for more text");
    assert_eq!(ev[before].1["index"], 1);
    assert_eq!(ev[before].1["delta"]["text"], " there");
}
