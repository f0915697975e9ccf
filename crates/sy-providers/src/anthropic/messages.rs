//! The conversation in Messages form: typed turns become Anthropic's alternating user/assistant
//! turns of content blocks. System text moves to the top-level `system`, tool results become
//! user turns (before any text), consecutive turns of one role are merged, and the text already
//! delivered to the client becomes a trailing assistant turn that the model continues.

use serde_json::{json, Map, Value};
use sy_api::{Conversation, Family, Media, Part, Role};

/// A translated conversation.
pub(super) struct Translated {
    pub system: Option<Value>,
    pub messages: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    User,
    Assistant,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::User => "user",
            Side::Assistant => "assistant",
        }
    }
}

pub(super) fn translate(conv: &Conversation, prefill: Option<&str>) -> Result<Translated, String> {
    let mut system = Vec::with_capacity(conv.system.len());
    for (j, p) in conv.system.iter().enumerate() {
        system.extend(block(p, true).map_err(|e| format!("system content[{j}]: {e}"))?);
    }
    let mut turns: Vec<(Side, Vec<Value>)> = Vec::new();
    for t in &conv.turns {
        let side = match t.role {
            Role::Assistant => Side::Assistant,
            Role::User | Role::Tool => Side::User,
            // instructions mid-conversation join the system instructions
            Role::System => {
                for (j, p) in t.parts.iter().enumerate() {
                    system.extend(block(p, true).map_err(|e| format!("system content[{j}]: {e}"))?);
                }
                continue;
            }
        };
        let mut blocks = Vec::with_capacity(t.parts.len());
        for p in &t.parts {
            blocks.extend(block(p, false)?);
        }
        push(&mut turns, side, blocks);
    }
    if let Some(text) = prefill {
        append_prefill(&mut turns, text);
    }
    trim_final_assistant(&mut turns);
    if turns.is_empty() {
        return Err("no user or assistant message".to_owned());
    }
    let messages = turns
        .into_iter()
        .map(|(side, mut content)| {
            if side == Side::User {
                // Anthropic wants the results of the previous turn's tool calls before any text
                // (a stable sort keeps each group's own order)
                content
                    .sort_by_key(|b| b.get("type").and_then(Value::as_str) != Some("tool_result"));
            }
            json!({"role": side.name(), "content": content})
        })
        .collect();
    Ok(Translated {
        system: system_value(system),
        messages,
    })
}

/// Appends blocks to the conversation, merging them into the previous turn when it has the same
/// role. A message with no content leaves no turn (Anthropic rejects empty ones).
fn push(turns: &mut Vec<(Side, Vec<Value>)>, side: Side, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((s, content)) if *s == side => content.extend(blocks),
        _ => turns.push((side, blocks)),
    }
}

/// The delivered text as (the end of) the final assistant turn: appended to its text when the
/// request itself ends with an assistant prefill, so the model sees one continuous text.
fn append_prefill(turns: &mut Vec<(Side, Vec<Value>)>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some((Side::Assistant, content)) = turns.last_mut() {
        if let Some(Value::String(last)) = content.last_mut().and_then(|b| b.get_mut("text")) {
            last.push_str(text);
            return;
        }
    }
    push(turns, Side::Assistant, vec![text_block(text)]);
}

/// Anthropic rejects a final assistant turn that ends in whitespace; the model continues after
/// the trimmed text instead.
fn trim_final_assistant(turns: &mut Vec<(Side, Vec<Value>)>) {
    let Some((Side::Assistant, content)) = turns.last_mut() else {
        return;
    };
    while let Some(Value::String(text)) = content.last_mut().and_then(|b| b.get_mut("text")) {
        text.truncate(text.trim_end().len());
        if !text.is_empty() {
            break;
        }
        content.pop();
    }
    if content.is_empty() {
        turns.pop();
    }
}

/// `system`: a plain string when it is one text, else the blocks (which keeps `cache_control`).
fn system_value(mut blocks: Vec<Value>) -> Option<Value> {
    if blocks.len() == 1 && blocks[0].get("cache_control").is_none() {
        return blocks.pop()?.get("text").cloned();
    }
    (!blocks.is_empty()).then_some(Value::Array(blocks))
}

fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

fn source(m: &Media) -> Value {
    match m {
        Media::Url(u) => json!({"type": "url", "url": u}),
        Media::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
    }
}

/// One part as a block; None for an empty text or for reasoning Anthropic would refuse; an
/// error for what it cannot carry at all.
fn block(p: &Part, system: bool) -> Result<Option<Value>, String> {
    if system && !matches!(p, Part::Text { .. }) {
        return Err("only text can be a system instruction here".to_owned());
    }
    let (mut b, cache) = match p {
        Part::Text { text, cache } => {
            if text.is_empty() {
                return Ok(None);
            }
            (text_block(text), cache)
        }
        Part::Image { source: s, cache } => {
            if let Media::Url(u) = s {
                if u.starts_with("data:") {
                    return Err("a data: URL must be base64 with a media type".to_owned());
                }
            }
            (json!({"type": "image", "source": source(s)}), cache)
        }
        Part::Document {
            source: s,
            name,
            cache,
        } => {
            if let Media::Url(u) = s {
                if u.starts_with("data:") {
                    return Err("a data: URL must be base64 with a media type".to_owned());
                }
            }
            let mut d = json!({"type": "document", "source": source(s)});
            if let Some(n) = name {
                d["title"] = Value::from(n.as_str());
            }
            (d, cache)
        }
        Part::ToolCall {
            id,
            name,
            arguments,
        } => {
            // Anthropic wants the input as an object; OpenAI sends it as JSON text
            let input = if arguments.trim().is_empty() {
                Value::Object(Map::new())
            } else {
                serde_json::from_str::<Value>(arguments)
                    .map_err(|e| format!("tool call `{id}`: arguments are not JSON: {e}"))?
            };
            if !input.is_object() {
                return Err(format!("tool call `{id}`: arguments must be a JSON object"));
            }
            return Ok(Some(
                json!({"type": "tool_use", "id": id, "name": name, "input": input}),
            ));
        }
        Part::ToolResult {
            call_id,
            content,
            is_error,
            cache,
            ..
        } => {
            let mut r = Map::new();
            r.insert("type".to_owned(), Value::from("tool_result"));
            r.insert("tool_use_id".to_owned(), Value::from(call_id.as_str()));
            let mut inner = Vec::with_capacity(content.len());
            for c in content {
                inner.extend(block(c, false)?);
            }
            // one plain text stays a string, as a client would write it
            let plain = match inner.as_slice() {
                [b] if b.get("cache_control").is_none() => b
                    .get("text")
                    .filter(|_| b.get("type").and_then(Value::as_str) == Some("text"))
                    .cloned(),
                _ => None,
            };
            match plain {
                Some(t) => {
                    r.insert("content".to_owned(), t);
                }
                None if !inner.is_empty() => {
                    r.insert("content".to_owned(), Value::Array(inner));
                }
                None => {}
            }
            if *is_error {
                r.insert("is_error".to_owned(), Value::Bool(true));
            }
            (Value::Object(r), cache)
        }
        // a signature proves the thinking to the family that made it; unsigned or foreign
        // reasoning would be refused, so it is left out
        Part::Reasoning {
            text,
            signature: Some(sig),
            origin: Some(Family::Messages),
        } => {
            return Ok(Some(
                json!({"type": "thinking", "thinking": text, "signature": sig}),
            ));
        }
        Part::Encrypted {
            data,
            origin: Family::Messages,
        } => return Ok(Some(json!({"type": "redacted_thinking", "data": data}))),
        Part::Native {
            origin: Family::Messages,
            value,
        } => return Ok(Some(value.clone())),
        Part::Native { value, .. } => {
            let kind = value.get("type").and_then(Value::as_str).unwrap_or("?");
            return Err(format!("part type `{kind}` has no anthropic equivalent"));
        }
        Part::Reasoning { .. } | Part::Encrypted { .. } => return Ok(None),
    };
    if let (Some(c), Some(o)) = (cache, b.as_object_mut()) {
        o.insert("cache_control".to_owned(), c.clone());
    }
    Ok(Some(b))
}
