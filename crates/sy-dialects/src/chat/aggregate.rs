//! Builds a non-streamed `chat.completion`'s choices from the chunks of a stream (the upstream
//! is always asked to stream; a non-streaming client gets the whole answer at once).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use sy_api::Event;

#[derive(Debug, Default)]
struct Choice {
    role: Option<String>,
    content: Option<String>,
    reasoning: Option<String>,
    refusal: Option<String>,
    /// OpenRouter's `reasoning_details` (text with its signature, encrypted reasoning).
    reasoning_details: Vec<Value>,
    tool_calls: BTreeMap<u64, ToolCall>,
    finish_reason: Option<String>,
}

#[derive(Debug, Default)]
struct ToolCall {
    id: Option<String>,
    kind: Option<String>,
    name: String,
    arguments: String,
}

/// Accumulates chunks per choice index.
#[derive(Debug, Default)]
pub struct Aggregate {
    choices: BTreeMap<u64, Choice>,
}

impl Aggregate {
    pub fn push(&mut self, chunk: &Value) {
        let Some(list) = chunk.get("choices").and_then(Value::as_array) else {
            return;
        };
        for c in list {
            let idx = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            let slot = self.choices.entry(idx).or_default();
            if let Some(r) = c.get("finish_reason").and_then(Value::as_str) {
                slot.finish_reason = Some(r.to_owned());
            }
            let Some(d) = c.get("delta") else { continue };
            if let Some(r) = d.get("role").and_then(Value::as_str) {
                slot.role = Some(r.to_owned());
            }
            append(&mut slot.content, d.get("content"));
            append(&mut slot.refusal, d.get("refusal"));
            append(
                &mut slot.reasoning,
                d.get("reasoning").or_else(|| d.get("reasoning_content")),
            );
            if let Some(calls) = d.get("tool_calls").and_then(Value::as_array) {
                for (pos, call) in calls.iter().enumerate() {
                    let i = call
                        .get("index")
                        .and_then(Value::as_u64)
                        .unwrap_or(pos as u64);
                    let t = slot.tool_calls.entry(i).or_default();
                    if let Some(id) = call.get("id").and_then(Value::as_str) {
                        t.id = Some(id.to_owned());
                    }
                    if let Some(k) = call.get("type").and_then(Value::as_str) {
                        t.kind = Some(k.to_owned());
                    }
                    if let Some(f) = call.get("function") {
                        if let Some(n) = f.get("name").and_then(Value::as_str) {
                            t.name.push_str(n);
                        }
                        if let Some(a) = f.get("arguments").and_then(Value::as_str) {
                            t.arguments.push_str(a);
                        }
                    }
                }
            }
        }
    }

    /// A typed event of choice 0 (a translated answer); `format` names the reasoning's family
    /// in `reasoning_details`.
    pub fn push_event(&mut self, ev: &Event, format: &str) {
        let slot = self.choices.entry(0).or_default();
        match ev {
            Event::Text(t) => slot.content.get_or_insert_with(String::new).push_str(t),
            Event::Reasoning(t) => {
                slot.reasoning.get_or_insert_with(String::new).push_str(t);
                match slot.reasoning_details.last_mut() {
                    Some(d) if d["type"] == "reasoning.text" && d.get("signature").is_none() => {
                        if let Some(Value::String(s)) = d.get_mut("text") {
                            s.push_str(t);
                        }
                    }
                    _ => slot.reasoning_details.push(json!({
                        "type": "reasoning.text", "text": t, "format": format,
                        "index": slot.reasoning_details.len(),
                    })),
                }
            }
            Event::ReasoningSignature(sig) => match slot.reasoning_details.last_mut() {
                Some(d) if d["type"] == "reasoning.text" && d.get("signature").is_none() => {
                    d["signature"] = Value::from(sig.as_str());
                }
                _ => slot.reasoning_details.push(json!({
                    "type": "reasoning.text", "text": "", "signature": sig, "format": format,
                    "index": slot.reasoning_details.len(),
                })),
            },
            Event::EncryptedReasoning(data) => slot.reasoning_details.push(json!({
                "type": "reasoning.encrypted", "data": data, "format": format,
                "index": slot.reasoning_details.len(),
            })),
            Event::Refusal(t) => slot.refusal.get_or_insert_with(String::new).push_str(t),
            Event::ToolStart { index, id, name } => {
                let t = slot.tool_calls.entry(u64::from(*index)).or_default();
                t.id = Some(id.clone());
                t.name.push_str(name);
            }
            Event::ToolArgs { index, delta } => slot
                .tool_calls
                .entry(u64::from(*index))
                .or_default()
                .arguments
                .push_str(delta),
            Event::Finish(f) => slot.finish_reason = Some(f.as_openai().to_owned()),
            _ => {}
        }
    }

    /// The text of choice 0 so far.
    pub fn text(&self) -> &str {
        self.choices
            .get(&0)
            .and_then(|c| c.content.as_deref())
            .unwrap_or("")
    }

    /// The finish reason of choice 0.
    pub fn finish_reason(&self) -> Option<&str> {
        self.choices
            .get(&0)
            .and_then(|c| c.finish_reason.as_deref())
    }

    /// The `choices` array of a `chat.completion`.
    pub fn into_choices(self) -> Value {
        let list = self
            .choices
            .into_iter()
            .map(|(i, c)| {
                let mut msg = Map::new();
                // OpenRouter's SDKs accept only `assistant` here
                msg.insert("role".to_owned(), Value::from("assistant"));
                msg.insert("content".to_owned(), c.content.map_or(Value::Null, Value::from));
                if let Some(r) = c.refusal {
                    msg.insert("refusal".to_owned(), Value::from(r));
                }
                if let Some(r) = c.reasoning {
                    msg.insert("reasoning".to_owned(), Value::from(r));
                }
                if !c.reasoning_details.is_empty() {
                    msg.insert("reasoning_details".to_owned(), Value::Array(c.reasoning_details));
                }
                if !c.tool_calls.is_empty() {
                    let calls: Vec<Value> = c
                        .tool_calls
                        .into_iter()
                        .map(|(k, t)| {
                            // every call has an id (SDKs require one) and is a function call
                            json!({
                                "id": t.id.unwrap_or_else(|| format!("call_{k}")),
                                "type": "function",
                                "function": {"name": t.name, "arguments": t.arguments},
                            })
                        })
                        .collect();
                    msg.insert("tool_calls".to_owned(), Value::Array(calls));
                }
                json!({"index": i, "message": msg, "logprobs": null, "finish_reason": c.finish_reason})
            })
            .collect();
        Value::Array(list)
    }
}

fn append(slot: &mut Option<String>, v: Option<&Value>) {
    if let Some(s) = v.and_then(Value::as_str) {
        slot.get_or_insert_with(String::new).push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_tool_calls() {
        let mut a = Aggregate::default();
        a.push(&json!({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}));
        a.push(&json!({"choices":[{"index":0,"delta":{"content":"Hel"}}]}));
        a.push(&json!({"choices":[{"index":0,"delta":{"content":"lo"}}]}));
        a.push(&json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":""}}]}}]}));
        a.push(&json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}));
        a.push(&json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}));
        a.push(&json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}));
        assert_eq!(a.text(), "Hello");
        let c = a.into_choices();
        assert_eq!(
            c[0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(c[0]["message"]["tool_calls"][0]["id"], "call_1");
        assert_eq!(c[0]["finish_reason"], "tool_calls");
    }
}
