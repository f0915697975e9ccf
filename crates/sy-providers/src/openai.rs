//! The `openai` wire protocol: any OpenAI-compatible server. Requests pass through with unknown
//! fields intact; the upstream is asked to stream and to report usage.

use serde_json::{Map, Value};
use sy_api::ChatRequest;

use crate::chunk::{error_from_value, Piece, UpstreamUsage};
use crate::Encoded;

pub(crate) fn encode(req: &ChatRequest, upstream_model: &str, prefill: Option<&str>) -> Encoded {
    let mut body: Map<String, Value> = Map::with_capacity(req.body.len() + 3);
    body.insert("model".to_owned(), Value::from(upstream_model));
    for (k, v) in &req.body {
        if k != "stream" && k != "stream_options" && k != "messages" {
            body.insert(k.clone(), v.clone());
        }
    }
    let mut messages = req.messages().to_vec();
    if let Some(text) = prefill {
        messages.push(serde_json::json!({"role": "assistant", "content": text}));
    }
    body.insert("messages".to_owned(), Value::Array(messages));
    body.insert("stream".to_owned(), Value::Bool(true));
    let mut opts = match req.body.get("stream_options") {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    opts.insert("include_usage".to_owned(), Value::Bool(true));
    body.insert("stream_options".to_owned(), Value::Object(opts));
    Encoded {
        path: "/chat/completions",
        body: serde_json::to_vec(&Value::Object(body)).unwrap_or_default(),
        headers: Vec::new(),
    }
}

/// State of one OpenAI stream (none needed beyond what each event says).
#[derive(Debug, Default)]
pub struct StreamState;

impl StreamState {
    pub(crate) fn event(&mut self, data: &str, out: &mut Vec<Piece>) {
        let data = data.trim();
        if data == "[DONE]" {
            out.push(Piece::Done);
            return;
        }
        if data.is_empty() {
            return;
        }
        match serde_json::from_str::<Value>(data) {
            Ok(v) if v.is_object() => chunk_pieces(v, out),
            _ => out.push(Piece::Malformed),
        }
    }
}

fn chunk_pieces(mut v: Value, out: &mut Vec<Piece>) {
    let has_choices = v
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    if !has_choices {
        if let Some(e) = error_from_value(&v) {
            out.push(Piece::Error(e));
            return;
        }
    }
    if let Some(u) = v.as_object_mut().and_then(|o| o.remove("usage")) {
        if let Some(u) = usage_of(&u) {
            out.push(Piece::Usage(u));
        }
    }
    if has_choices {
        out.push(Piece::Chunk(v));
    }
}

pub(crate) fn usage_of(u: &Value) -> Option<UpstreamUsage> {
    let prompt = u.get("prompt_tokens")?.as_u64()?;
    let completion = u
        .get("completion_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let cached = u
        .get("prompt_tokens_details")
        .and_then(|d| d.get("cached_tokens"))
        .and_then(Value::as_u64);
    Some(UpstreamUsage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        cached_tokens: cached,
        cache_write_tokens: None,
    })
}

/// A complete `chat.completion` body (an upstream that ignored `stream: true`).
pub(crate) fn decode_body(body: &[u8], out: &mut Vec<Piece>) -> Result<(), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(e) = error_from_value(&v) {
        out.push(Piece::Error(e));
        return Ok(());
    }
    let choices = v
        .get("choices")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("no choices")?;
    let deltas: Vec<Value> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut delta = c
                .get("message")
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                for (j, call) in calls.iter_mut().enumerate() {
                    if let Some(o) = call.as_object_mut() {
                        o.entry("index").or_insert(Value::from(j));
                    }
                }
            }
            serde_json::json!({
                "index": c.get("index").cloned().unwrap_or(Value::from(i)),
                "delta": delta,
                "logprobs": c.get("logprobs").cloned().unwrap_or(Value::Null),
                "finish_reason": c.get("finish_reason").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let mut chunk = Map::new();
    for k in ["id", "created", "model", "system_fingerprint"] {
        if let Some(x) = v.get(k) {
            chunk.insert(k.to_owned(), x.clone());
        }
    }
    chunk.insert("object".to_owned(), Value::from("chat.completion.chunk"));
    chunk.insert("choices".to_owned(), Value::Array(deltas));
    if let Some(u) = v.get("usage").and_then(usage_of) {
        out.push(Piece::Usage(u));
    }
    out.push(Piece::Chunk(Value::Object(chunk)));
    out.push(Piece::Done);
    Ok(())
}

#[cfg(test)]
mod tests;
