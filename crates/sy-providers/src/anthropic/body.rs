//! A whole answer: a `message` body (an upstream that ignored `stream: true`, or a recorded
//! answer) becomes the pieces a stream would have given: usage, one chunk, the end.

use serde_json::{json, Map, Value};

use super::{chunk, finish_reason, PromptUsage};
use crate::chunk::{error_from_value, Piece};

pub(crate) fn decode_body(body: &[u8], out: &mut Vec<Piece>) -> Result<(), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(e) = error_from_value(&v) {
        out.push(Piece::Error(e));
        return Ok(());
    }
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("no content")?;
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut calls: Vec<Value> = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                let t = b.get("text").and_then(Value::as_str).unwrap_or("");
                text.get_or_insert_with(String::new).push_str(t);
            }
            Some("thinking") => {
                let t = b.get("thinking").and_then(Value::as_str).unwrap_or("");
                reasoning.get_or_insert_with(String::new).push_str(t);
            }
            Some("tool_use") => {
                let input = b.get("input").cloned().unwrap_or(Value::Object(Map::new()));
                calls.push(json!({
                    "index": calls.len(),
                    "id": b.get("id").cloned().unwrap_or(Value::Null),
                    "type": "function",
                    "function": {
                        "name": b.get("name").cloned().unwrap_or(Value::Null),
                        "arguments": input.to_string(),
                    },
                }));
            }
            // redacted thinking, server tools and their results: nothing OpenAI can carry
            _ => {}
        }
    }
    if text.is_none() && reasoning.is_none() && calls.is_empty() {
        return Err("no content".to_owned());
    }
    let mut delta = Map::new();
    delta.insert("role".to_owned(), Value::from("assistant"));
    delta.insert("content".to_owned(), text.map_or(Value::Null, Value::from));
    if let Some(r) = reasoning {
        delta.insert("reasoning".to_owned(), Value::from(r));
    }
    if !calls.is_empty() {
        delta.insert("tool_calls".to_owned(), Value::Array(calls));
    }
    if let Some(u) = v.get("usage") {
        if let Some(output) = u.get("output_tokens").and_then(Value::as_u64) {
            let mut prompt = PromptUsage::default();
            prompt.update(u);
            out.push(Piece::Usage(prompt.with_output(output)));
        }
    }
    let finish = v
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(finish_reason);
    out.push(Piece::Chunk(chunk(Value::Object(delta), finish)));
    out.push(Piece::Done);
    Ok(())
}
