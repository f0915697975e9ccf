//! A whole answer: a `message` body (an upstream that ignored `stream: true`) becomes the event
//! stream it stands for, so a Messages client gets it as passed-through frames and every other
//! dialect the same typed events as from a stream.

use serde_json::{json, Value};
use sy_api::Frame;

use super::EventHandler;
use crate::errors::error_from_value;
use crate::sse::{SseEvent, SseHandler};

pub(crate) fn whole(body: &[u8], h: &mut EventHandler, out: &mut Vec<Frame>) -> Result<(), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(e) = error_from_value(&v) {
        out.push(Frame::of(vec![sy_api::Event::Error(e)]));
        return Ok(());
    }
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("no content")?;
    let mut events: Vec<(&str, Value)> = Vec::with_capacity(3 * blocks.len() + 3);
    let mut message = v.clone();
    if let Some(m) = message.as_object_mut() {
        m.insert("content".to_owned(), Value::Array(Vec::new()));
        m.insert("stop_reason".to_owned(), Value::Null);
    }
    events.push((
        "message_start",
        json!({"type": "message_start", "message": message}),
    ));
    for (i, b) in blocks.iter().enumerate() {
        let mut start = b.clone();
        let delta = match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                start["text"] = Value::from("");
                Some(
                    json!({"type": "text_delta", "text": b.get("text").cloned().unwrap_or_default()}),
                )
            }
            Some("thinking") => {
                start["thinking"] = Value::from("");
                start["signature"] = Value::from("");
                Some(
                    json!({"type": "thinking_delta", "thinking": b.get("thinking").cloned().unwrap_or_default()}),
                )
            }
            Some("tool_use") => {
                start["input"] = json!({});
                let input = b
                    .get("input")
                    .map_or_else(|| "{}".to_owned(), Value::to_string);
                Some(json!({"type": "input_json_delta", "partial_json": input}))
            }
            _ => None,
        };
        events.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": i, "content_block": start}),
        ));
        if let Some(d) = delta {
            events.push((
                "content_block_delta",
                json!({"type": "content_block_delta", "index": i, "delta": d}),
            ));
        }
        if let Some(sig) = b
            .get("signature")
            .filter(|_| b.get("type").and_then(Value::as_str) == Some("thinking"))
        {
            events.push(("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "signature_delta", "signature": sig}})));
        }
        events.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": i}),
        ));
    }
    events.push((
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": v.get("stop_reason").cloned().unwrap_or(Value::Null),
                         "stop_sequence": v.get("stop_sequence").cloned().unwrap_or(Value::Null)},
               "usage": v.get("usage").cloned().unwrap_or(json!({}))}),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    for (name, data) in events {
        h.event(
            SseEvent {
                event: Some(name.to_owned()),
                data: data.to_string(),
            },
            out,
        );
    }
    Ok(())
}
