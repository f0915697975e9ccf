//! Rendering an answer as chat completions: passed-through chunks get the gateway's `id`,
//! `model` and `provider` (their other members untouched); translated events become chunks;
//! a collecting renderer aggregates both into one `chat.completion`.

use serde_json::{json, Map, Value};
use sy_api::{ApiError, Event, RawFrame};

use super::aggregate::Aggregate;
use super::format_of_family;
use crate::sse::{self, Members};
use crate::{End, Meta, Render};

pub(crate) struct ChatRender {
    stream: bool,
    /// The client has the assistant role (the first chunk carries it).
    role_sent: bool,
    agg: Aggregate,
}

impl ChatRender {
    pub(crate) fn new(stream: bool) -> Self {
        Self {
            stream,
            role_sent: false,
            agg: Aggregate::default(),
        }
    }

    /// A chunk around `choices`, stamped with who answers.
    fn chunk(meta: &Meta<'_>, choices: &Value, out: &mut Vec<u8>) {
        let mut obj = stamp(meta);
        obj.insert("choices".to_owned(), choices.clone());
        sse::data(&Value::Object(obj), out);
    }
}

/// The members every chunk starts with.
fn stamp(meta: &Meta<'_>) -> Map<String, Value> {
    let mut obj = Map::with_capacity(7);
    obj.insert("id".to_owned(), Value::from(meta.gen_id));
    obj.insert("object".to_owned(), Value::from("chat.completion.chunk"));
    obj.insert("created".to_owned(), Value::from(meta.created));
    obj.insert("model".to_owned(), Value::from(meta.model));
    obj.insert("provider".to_owned(), Value::from(meta.provider));
    obj
}

/// Whether a passed-through chunk has any choice (a usage-only chunk has none: the gateway
/// sends its own usage at the end).
fn has_choices(m: &Members<'_>) -> bool {
    m.get("choices")
        .is_some_and(|c| !matches!(c.get().trim(), "[]" | "null"))
}

/// Members of a choice, its delta and its tool calls that OpenRouter's TypeScript SDK refuses
/// as `null` (they may only be absent), and the members every choice must have.
const NOT_NULL: &[&str] = &[
    "\"role\":null",
    "\"tool_calls\":null",
    "\"id\":null",
    "\"type\":null",
    "\"function\":null",
    "\"name\":null",
    "\"arguments\":null",
    "\"reasoning_details\":null",
    "\"audio\":null",
];

/// A passed-through chunk's `choices` as OpenRouter's SDKs accept them, when the upstream's
/// need changing: `null` members removed where only absence is allowed, `delta` and
/// `finish_reason` present on every choice. None: they are fine as they are (the usual case,
/// checked without decoding them).
fn clean_choices(raw: &str) -> Option<Value> {
    // JSON written with spaces after colons is checked the slow way
    let suspicious = raw.contains("\": null")
        || NOT_NULL.iter().any(|p| raw.contains(p))
        || !raw.contains("\"delta\"")
        || !raw.contains("\"finish_reason\"");
    if !suspicious {
        return None;
    }
    let mut v: Value = serde_json::from_str(raw).ok()?;
    for c in v.as_array_mut()?.iter_mut() {
        let Some(c) = c.as_object_mut() else { continue };
        c.entry("finish_reason").or_insert(Value::Null);
        let delta = c
            .entry("delta")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(d) = delta.as_object_mut() {
            d.retain(|k, v| !(v.is_null() && k != "content" && k != "reasoning" && k != "refusal"));
            if d.contains_key("role") {
                d.insert("role".into(), Value::from("assistant"));
            }
            if let Some(calls) = d.get_mut("tool_calls").and_then(Value::as_array_mut) {
                for call in calls.iter_mut().filter_map(Value::as_object_mut) {
                    call.retain(|_, v| !v.is_null());
                    if let Some(f) = call.get_mut("function").and_then(Value::as_object_mut) {
                        f.retain(|_, v| !v.is_null());
                    }
                }
            }
        }
    }
    Some(v)
}

impl Render for ChatRender {
    fn pass(&mut self, raw: &RawFrame, events: &[Event], meta: &Meta<'_>, out: &mut Vec<u8>) {
        // reasoning arrives as `reasoning_content` from some servers: the client gets it as
        // `reasoning` and `reasoning_details` (SPEC §4.9), so such a chunk is rendered anew
        let reasons = events.iter().any(|e| {
            matches!(
                e,
                Event::Reasoning(_) | Event::ReasoningSignature(_) | Event::EncryptedReasoning(_)
            )
        });
        if reasons {
            for e in events {
                self.event(e, meta, out);
            }
            return;
        }
        if !self.stream {
            // one choice (the usual case): its events say all of it; several (`n` > 1) are
            // aggregated from the chunk itself
            if raw.data.contains("\"index\":1") || raw.data.contains("\"index\": 1") {
                if let Ok(v) = serde_json::from_str::<Value>(&raw.data) {
                    self.agg.push(&v);
                }
            } else {
                for e in events {
                    self.agg.push_event(e, format_of_family(meta.family));
                }
            }
            return;
        }
        let Some(m) = Members::parse(&raw.data) else {
            return;
        };
        if !has_choices(&m) {
            return;
        }
        self.role_sent = true;
        // members the SDKs refuse as null are left out rather than passed on
        let mut drop: Vec<&str> = vec!["usage"];
        for k in ["system_fingerprint", "error", "service_tier"] {
            if m.get(k).is_some_and(|v| v.get() == "null") {
                drop.push(k);
            }
        }
        out.extend_from_slice(b"data: ");
        match m.get("choices").and_then(|c| clean_choices(c.get())) {
            Some(choices) => m.write(
                &[
                    ("id", &meta.gen_id),
                    ("object", &"chat.completion.chunk"),
                    ("created", &meta.created),
                    ("model", &meta.model),
                    ("provider", &meta.provider),
                    ("choices", &choices),
                ],
                &drop,
                out,
            ),
            None => m.write(
                &[
                    ("id", &meta.gen_id),
                    ("object", &"chat.completion.chunk"),
                    ("created", &meta.created),
                    ("model", &meta.model),
                    ("provider", &meta.provider),
                ],
                &drop,
                out,
            ),
        }
        out.extend_from_slice(b"\n\n");
    }

    fn event(&mut self, ev: &Event, meta: &Meta<'_>, out: &mut Vec<u8>) {
        if !self.stream {
            self.agg.push_event(ev, format_of_family(meta.family));
            return;
        }
        let (delta, finish) = match ev {
            Event::Text(t) => (json!({ "content": t }), None),
            Event::Refusal(t) => (json!({ "refusal": t }), None),
            Event::Reasoning(t) => (
                json!({ "reasoning": t, "reasoning_details": [
                    {"type": "reasoning.text", "text": t, "format": format_of_family(meta.family), "index": 0}
                ]}),
                None,
            ),
            Event::ReasoningSignature(s) => (
                json!({ "reasoning_details": [
                    {"type": "reasoning.text", "signature": s, "format": format_of_family(meta.family), "index": 0}
                ]}),
                None,
            ),
            Event::EncryptedReasoning(d) => (
                json!({ "reasoning_details": [
                    {"type": "reasoning.encrypted", "data": d, "format": format_of_family(meta.family), "index": 0}
                ]}),
                None,
            ),
            Event::ToolStart { index, id, name } => (
                json!({ "tool_calls": [{"index": index, "id": id, "type": "function",
                                        "function": {"name": name, "arguments": ""}}] }),
                None,
            ),
            Event::ToolArgs { index, delta } => (
                json!({ "tool_calls": [{"index": index, "function": {"arguments": delta}}] }),
                None,
            ),
            Event::Finish(f) => (json!({}), Some(f.as_openai())),
            _ => return,
        };
        let mut delta = delta;
        if !self.role_sent && finish.is_none() {
            self.role_sent = true;
            if let Some(d) = delta.as_object_mut() {
                d.insert("role".to_owned(), Value::from("assistant"));
            }
        }
        let choices = json!([{"index": 0, "delta": delta, "finish_reason": finish}]);
        Self::chunk(meta, &choices, out);
    }

    fn finish(&mut self, end: &End<'_>, out: &mut Vec<u8>) {
        if !self.stream {
            return;
        }
        let mut obj = stamp(&end.meta);
        obj.insert("choices".to_owned(), Value::Array(Vec::new()));
        obj.insert(
            "usage".to_owned(),
            serde_json::to_value(end.usage).unwrap_or(Value::Null),
        );
        sse::data(&Value::Object(obj), out);
        sse::done(out);
    }

    fn fail(&mut self, err: &ApiError, end: &End<'_>, out: &mut Vec<u8>) {
        if !self.stream {
            return;
        }
        let mut obj = stamp(&end.meta);
        obj.insert(
            "choices".to_owned(),
            json!([{"index": 0, "delta": {}, "finish_reason": "error"}]),
        );
        let mut metadata = err.metadata.clone();
        metadata
            .entry("error_type")
            .or_insert_with(|| Value::from(error_type(err.status)));
        obj.insert(
            "error".to_owned(),
            json!({"code": err.status, "message": err.message, "metadata": metadata}),
        );
        obj.insert(
            "usage".to_owned(),
            serde_json::to_value(end.usage).unwrap_or(Value::Null),
        );
        sse::data(&Value::Object(obj), out);
        sse::done(out);
    }

    fn body(&mut self, end: &End<'_>) -> Vec<u8> {
        let mut choices = std::mem::take(&mut self.agg).into_choices();
        if let (Some(c0), Some(f)) = (
            choices.get_mut(0).and_then(Value::as_object_mut),
            end.finish,
        ) {
            c0.entry("finish_reason").and_modify(|r| {
                if r.is_null() {
                    *r = Value::from(f.as_openai());
                }
            });
        }
        let m = &end.meta;
        let body = json!({
            "id": m.gen_id,
            "object": "chat.completion",
            "created": m.created,
            "model": m.model,
            "provider": m.provider,
            "system_fingerprint": null,
            "choices": choices,
            "usage": end.usage,
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// OpenRouter's `error.metadata.error_type` for a stream's error chunk.
pub(crate) fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication",
        402 => "payment_required",
        403 => "permission_denied",
        404 => "not_found",
        408 => "timeout",
        413 => "payload_too_large",
        422 => "unprocessable",
        429 => "rate_limit_exceeded",
        400..=499 => "invalid_request",
        502 | 503 => "provider_unavailable",
        529 => "provider_overloaded",
        _ => "server",
    }
}
