//! Rendering an answer as Anthropic Messages. Frames from an Anthropic-protocol upstream pass as
//! sent (thinking signatures, citations and server-tool blocks intact), with the gateway's `id`
//! and `model` in `message_start`; its `message_delta` and `message_stop` are held back and sent
//! at the end with the usage of every attempt and the cost. Translated events open and close
//! content blocks as they come; a continuation after a broken stream goes on in the client's
//! open block. A collecting renderer applies the same events to one `message`.
//!
//! Invariants: every `content_block_start` is answered by one `content_block_stop` before the
//! next block starts and before `message_delta`; a tool-use block is started once; block indices
//! count from 0 without gaps across attempts.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use sy_api::{ApiError, Event, Family, Finish, RawFrame, Usage};

use crate::sse::{self, Members};
use crate::{End, Meta, Render};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    Tool,
    Other,
}

pub(crate) struct MessagesRender {
    stream: bool,
    started: bool,
    /// The open block: its index and kind.
    open: Option<(u32, Kind)>,
    next_index: u32,
    /// The client's tool-call index → its block index.
    tool_blocks: Vec<u32>,
    stop_reason: Option<String>,
    stop_sequence: Value,
    /// Collecting: the message's content blocks, and tool inputs being assembled.
    blocks: Vec<Value>,
    partial: HashMap<u32, String>,
}

fn kind_of(block_type: &str) -> Kind {
    match block_type {
        "text" => Kind::Text,
        "thinking" => Kind::Thinking,
        "tool_use" => Kind::Tool,
        _ => Kind::Other,
    }
}

/// Anthropic's `stop_reason` for a finish.
fn stop_reason(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "refusal",
    }
}

/// Anthropic's usage fields: `input_tokens` leaves out cached and cache-written tokens.
pub(crate) fn usage_value(u: &Usage) -> Value {
    json!({
        "input_tokens": u.prompt_tokens.saturating_sub(u.cached_tokens + u.cache_write_tokens),
        "output_tokens": u.completion_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cost": u.cost,
    })
}

impl MessagesRender {
    pub(crate) fn new(stream: bool) -> Self {
        Self {
            stream,
            started: false,
            open: None,
            next_index: 0,
            tool_blocks: Vec::new(),
            stop_reason: None,
            stop_sequence: Value::Null,
            blocks: Vec::new(),
            partial: HashMap::new(),
        }
    }

    /// An event to the client (streaming) or onto the message (collecting).
    fn emit(&mut self, name: &str, v: &Value, out: &mut Vec<u8>) {
        if self.stream {
            sse::named(name, v, out);
        } else {
            self.apply(name, v);
        }
    }

    /// Applies an event to the collected message.
    fn apply(&mut self, name: &str, v: &Value) {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        let i = usize::try_from(index).unwrap_or(usize::MAX);
        match name {
            "content_block_start" => {
                if let Some(b) = v.get("content_block") {
                    if self.blocks.len() <= i && i < 10_000 {
                        self.blocks.resize(i + 1, Value::Null);
                    }
                    if let Some(slot) = self.blocks.get_mut(i) {
                        *slot = b.clone();
                    }
                }
            }
            "content_block_delta" => {
                let Some(d) = v.get("delta") else { return };
                if d.get("type").and_then(Value::as_str) == Some("input_json_delta") {
                    let part = d.get("partial_json").and_then(Value::as_str).unwrap_or("");
                    self.partial
                        .entry(u32::try_from(index).unwrap_or(u32::MAX))
                        .or_default()
                        .push_str(part);
                    return;
                }
                let Some(Value::Object(b)) = self.blocks.get_mut(i) else {
                    return;
                };
                apply_delta(b, d);
            }
            "content_block_stop" => {
                if let Some(json) = self
                    .partial
                    .remove(&u32::try_from(index).unwrap_or(u32::MAX))
                {
                    if let Some(Value::Object(b)) = self.blocks.get_mut(i) {
                        let input = if json.trim().is_empty() {
                            Value::Object(Map::new())
                        } else {
                            serde_json::from_str(&json).unwrap_or(Value::Object(Map::new()))
                        };
                        b.insert("input".to_owned(), input);
                    }
                }
            }
            _ => {}
        }
    }

    fn start_message(&mut self, meta: &Meta<'_>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        if !self.stream {
            return;
        }
        let v = json!({
            "type": "message_start",
            "message": {
                "id": meta.gen_id, "type": "message", "role": "assistant", "model": meta.model,
                "provider": meta.provider, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": meta.prompt_estimate, "output_tokens": 1,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
            }
        });
        sse::named("message_start", &v, out);
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((index, _)) = self.open.take() {
            self.emit(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
                out,
            );
        }
    }

    /// Makes sure a block of `kind` is open (closing another), starting it with `block`.
    fn open_block(&mut self, kind: Kind, block: Value, out: &mut Vec<u8>) -> u32 {
        if let Some((index, k)) = self.open {
            if k == kind && kind != Kind::Tool {
                return index;
            }
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, kind));
        self.emit(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
            out,
        );
        index
    }

    fn delta(&mut self, index: u32, delta: Value, out: &mut Vec<u8>) {
        self.emit(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            out,
        );
    }

    /// Tracks a passed-through frame's effect on the client's blocks.
    fn track(&mut self, kind: &str, m: &Members<'_>) {
        let index = m
            .get("index")
            .and_then(|i| i.get().parse::<u32>().ok())
            .unwrap_or(self.next_index);
        match kind {
            "content_block_start" => {
                let block_type = m
                    .get("content_block")
                    .and_then(|b| serde_json::from_str::<Value>(b.get()).ok())
                    .and_then(|b| b.get("type").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default();
                let k = kind_of(&block_type);
                if k == Kind::Tool {
                    self.tool_blocks.push(index);
                }
                self.open = Some((index, k));
                self.next_index = self.next_index.max(index + 1);
            }
            "content_block_stop" if self.open.is_some_and(|(i, _)| i == index) => {
                self.open = None;
            }
            _ => {}
        }
    }
}

/// Applies a content-block delta to a collected block.
fn apply_delta(b: &mut Map<String, Value>, d: &Value) {
    let append = |b: &mut Map<String, Value>, field: &str, text: Option<&str>| {
        if let Some(t) = text {
            let cur = b.entry(field).or_insert_with(|| Value::from(""));
            if let Value::String(s) = cur {
                s.push_str(t);
            }
        }
    };
    match d.get("type").and_then(Value::as_str) {
        Some("text_delta") => append(b, "text", d.get("text").and_then(Value::as_str)),
        Some("thinking_delta") => append(b, "thinking", d.get("thinking").and_then(Value::as_str)),
        Some("signature_delta") => {
            if let Some(s) = d.get("signature") {
                b.insert("signature".to_owned(), s.clone());
            }
        }
        Some("citations_delta") => {
            if let Some(c) = d.get("citation") {
                let list = b
                    .entry("citations")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(l) = list {
                    l.push(c.clone());
                }
            }
        }
        _ => {}
    }
}

impl Render for MessagesRender {
    fn pass(&mut self, raw: &RawFrame, _events: &[Event], meta: &Meta<'_>, out: &mut Vec<u8>) {
        let Some(m) = Members::parse(&raw.data) else {
            return;
        };
        let kind = m
            .get("type")
            .and_then(|t| serde_json::from_str::<String>(t.get()).ok())
            .or_else(|| raw.event.clone())
            .unwrap_or_default();
        match kind.as_str() {
            "message_start" => {
                if self.started {
                    return;
                }
                self.started = true;
                if !self.stream {
                    return;
                }
                let Ok(mut v) = serde_json::from_str::<Value>(&raw.data) else {
                    return;
                };
                if let Some(msg) = v.get_mut("message").and_then(Value::as_object_mut) {
                    msg.insert("id".to_owned(), Value::from(meta.gen_id));
                    msg.insert("model".to_owned(), Value::from(meta.model));
                    msg.insert("provider".to_owned(), Value::from(meta.provider));
                }
                sse::named("message_start", &v, out);
            }
            "message_delta" => {
                if let Ok(v) = serde_json::from_str::<Value>(&raw.data) {
                    if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                        self.stop_reason = Some(r.to_owned());
                    }
                    if let Some(s) = v.pointer("/delta/stop_sequence") {
                        self.stop_sequence = s.clone();
                    }
                }
            }
            // the end and errors are the gateway's to send
            "message_stop" | "error" => {}
            _ => {
                self.track(&kind, &m);
                if self.stream {
                    sse::raw(Some(&kind), &raw.data, out);
                } else if let Ok(v) = serde_json::from_str::<Value>(&raw.data) {
                    self.apply(&kind, &v);
                }
            }
        }
    }

    fn event(&mut self, ev: &Event, meta: &Meta<'_>, out: &mut Vec<u8>) {
        // thinking signatures mean something only to the family that issued them; reasoning
        // from elsewhere would come back unsigned and be refused by Anthropic
        let signed = meta.family == Family::Messages || meta.family == Family::Converse;
        match ev {
            Event::Text(t) | Event::Refusal(t) if !t.is_empty() => {
                self.start_message(meta, out);
                let i = self.open_block(Kind::Text, json!({"type": "text", "text": ""}), out);
                self.delta(i, json!({"type": "text_delta", "text": t}), out);
            }
            Event::Reasoning(t) if signed && !t.is_empty() => {
                self.start_message(meta, out);
                let i = self.open_block(
                    Kind::Thinking,
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    out,
                );
                self.delta(i, json!({"type": "thinking_delta", "thinking": t}), out);
            }
            Event::ReasoningSignature(s) if signed => {
                if let Some((i, Kind::Thinking)) = self.open {
                    self.delta(i, json!({"type": "signature_delta", "signature": s}), out);
                }
            }
            Event::EncryptedReasoning(d) if signed => {
                self.start_message(meta, out);
                self.open_block(
                    Kind::Other,
                    json!({"type": "redacted_thinking", "data": d}),
                    out,
                );
                self.close(out);
            }
            Event::ToolStart { index, id, name } => {
                self.start_message(meta, out);
                let i = self.open_block(
                    Kind::Tool,
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    out,
                );
                let slot = *index as usize;
                if self.tool_blocks.len() <= slot {
                    self.tool_blocks.resize(slot + 1, u32::MAX);
                }
                self.tool_blocks[slot] = i;
            }
            Event::ToolArgs { index, delta } if !delta.is_empty() => {
                let Some(&block) = self.tool_blocks.get(*index as usize) else {
                    return;
                };
                // a block is never reopened: arguments of a closed call have nowhere to go
                if self.open.is_some_and(|(i, _)| i == block) {
                    self.delta(
                        block,
                        json!({"type": "input_json_delta", "partial_json": delta}),
                        out,
                    );
                }
            }
            Event::Finish(f) => self.stop_reason = Some(stop_reason(*f).to_owned()),
            _ => {}
        }
    }

    fn finish(&mut self, end: &End<'_>, out: &mut Vec<u8>) {
        if !self.stream {
            return;
        }
        self.start_message(&end.meta, out);
        self.close(out);
        let reason = self
            .stop_reason
            .clone()
            .or_else(|| end.finish.map(|f| stop_reason(f).to_owned()))
            .unwrap_or_else(|| "end_turn".to_owned());
        let delta = json!({
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": self.stop_sequence},
            "usage": usage_value(end.usage),
        });
        sse::named("message_delta", &delta, out);
        sse::named("message_stop", &json!({"type": "message_stop"}), out);
    }

    fn fail(&mut self, err: &ApiError, _end: &End<'_>, out: &mut Vec<u8>) {
        if !self.stream {
            return;
        }
        let v = json!({
            "type": "error",
            "error": {"type": super::error_type(err.status), "message": err.message},
        });
        sse::named("error", &v, out);
    }

    fn body(&mut self, end: &End<'_>) -> Vec<u8> {
        // a block left open by a cut stream still has its input assembled
        let open: Vec<u32> = self.partial.keys().copied().collect();
        for i in open {
            self.apply(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": i}),
            );
        }
        let reason = self
            .stop_reason
            .clone()
            .or_else(|| end.finish.map(|f| stop_reason(f).to_owned()))
            .unwrap_or_else(|| "end_turn".to_owned());
        let content: Vec<Value> = std::mem::take(&mut self.blocks)
            .into_iter()
            .filter(|b| !b.is_null())
            .collect();
        let m = &end.meta;
        let body = json!({
            "id": m.gen_id,
            "type": "message",
            "role": "assistant",
            "model": m.model,
            "provider": m.provider,
            "content": content,
            "stop_reason": reason,
            "stop_sequence": self.stop_sequence,
            "usage": usage_value(end.usage),
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
