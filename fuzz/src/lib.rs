//! Helpers shared by the fuzz targets: how a fuzz input becomes SSE events, and the checks every
//! decoded stream must pass whatever the upstream sent.

use serde_json::Value;
use sy_config::Api;
use sy_providers::{Aggregate, ChunkFacts, Decoder, Piece};

/// Splits an input into SSE events the way an SSE parser would hand them to a decoder: blocks
/// separated by a blank line; `event:` names the event, `data:` lines are joined with `\n`, and
/// any other line counts as data too (so that unframed JSON still reaches the decoder).
pub fn sse_events(input: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(input);
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut event = String::new();
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(name) = line.strip_prefix("event:") {
                name.trim().clone_into(&mut event);
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push(d.strip_prefix(' ').unwrap_or(d));
            } else {
                data.push(line);
            }
        }
        out.push((event, data.join("\n")));
    }
    out
}

/// Feeds the input through a decoder for `api`, event by event, then the chunks it made through
/// the aggregate a non-streaming answer is built from. The first line of the input is the prefill
/// of a resumed stream, when it starts with `prefill:`.
pub fn decode_stream(api: Api, input: &[u8]) {
    let (prefill, rest) = match input.strip_prefix(b"prefill:") {
        Some(r) => {
            let end = r.iter().position(|b| *b == b'\n').unwrap_or(r.len());
            (
                Some(String::from_utf8_lossy(&r[..end]).into_owned()),
                &r[end..],
            )
        }
        None => (None, input),
    };
    let mut decoder = Decoder::resuming(api, prefill.as_deref());
    let mut agg = Aggregate::default();
    let mut pieces = Vec::new();
    for (event, data) in sse_events(rest) {
        pieces.clear();
        decoder.event(&event, &data, &mut pieces);
        for p in &pieces {
            if let Piece::Chunk(chunk) = p {
                check_chunk(chunk);
                agg.push(chunk);
            }
        }
    }
    check_choices(agg);
}

/// A decoder's chunk is an OpenAI `chat.completion.chunk` with at least one choice (`Piece`'s
/// own contract), and the relay can read its facts.
pub fn check_chunk(chunk: &Value) {
    let choices = chunk.get("choices").and_then(Value::as_array);
    assert!(
        choices.is_some_and(|c| !c.is_empty()),
        "a Piece::Chunk without choices: {chunk}"
    );
    let _ = ChunkFacts::of(chunk);
}

/// The aggregate's answer serialises and is a list of choices each holding a message.
pub fn check_choices(agg: Aggregate) {
    let _ = agg.text();
    let _ = agg.finish_reason();
    let choices = agg.into_choices();
    let list = choices.as_array();
    assert!(list.is_some(), "into_choices is not an array: {choices}");
    for c in list.into_iter().flatten() {
        assert!(
            c.get("message").is_some_and(Value::is_object),
            "a choice without a message: {c}"
        );
    }
    let _ = serde_json::to_vec(&choices);
}
