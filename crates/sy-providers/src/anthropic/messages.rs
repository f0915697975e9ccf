//! The conversation: OpenAI's role-tagged messages become Anthropic's user/assistant turns of
//! content blocks. System text moves to the top-level `system`, tool results become user turns,
//! consecutive turns of one role are merged (Anthropic wants them alternating), and the text
//! already delivered to the client becomes a trailing assistant turn that the model continues.

use serde_json::{json, Map, Value};

/// A translated conversation.
pub(super) struct Conversation {
    pub system: Option<Value>,
    pub messages: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

pub(super) fn translate(messages: &[Value], prefill: Option<&str>) -> Result<Conversation, String> {
    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let at = |what: String| format!("messages[{i}]: {what}");
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| at("`role` missing".to_owned()))?;
        match role {
            "system" | "developer" => system.extend(blocks(m.get("content"), true).map_err(at)?),
            "user" => push(
                &mut turns,
                Role::User,
                blocks(m.get("content"), false).map_err(at)?,
            ),
            "assistant" => {
                let mut b = blocks(m.get("content"), false).map_err(at)?;
                b.extend(tool_uses(m.get("tool_calls")).map_err(at)?);
                push(&mut turns, Role::Assistant, b);
            }
            "tool" => push(&mut turns, Role::User, vec![tool_result(m).map_err(at)?]),
            other => return Err(at(format!("role `{other}` has no anthropic equivalent"))),
        }
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
        .map(|(role, mut content)| {
            if role == Role::User {
                // Anthropic wants the results of the previous turn's tool calls before any text
                // (a stable sort keeps each group's own order)
                content
                    .sort_by_key(|b| b.get("type").and_then(Value::as_str) != Some("tool_result"));
            }
            json!({"role": role.name(), "content": content})
        })
        .collect();
    Ok(Conversation {
        system: system_value(system),
        messages,
    })
}

/// Appends blocks to the conversation, merging them into the previous turn when it has the same
/// role. A message with no content leaves no turn (Anthropic rejects empty ones).
fn push(turns: &mut Vec<(Role, Vec<Value>)>, role: Role, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((r, content)) if *r == role => content.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// The delivered text as (the end of) the final assistant turn: appended to its text when the
/// request itself ends with an assistant prefill, so the model sees one continuous text.
fn append_prefill(turns: &mut Vec<(Role, Vec<Value>)>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some((Role::Assistant, content)) = turns.last_mut() {
        if let Some(Value::String(last)) = content.last_mut().and_then(|b| b.get_mut("text")) {
            last.push_str(text);
            return;
        }
    }
    push(turns, Role::Assistant, vec![text_block(text)]);
}

/// Anthropic rejects a final assistant turn that ends in whitespace; the model continues after
/// the trimmed text instead.
fn trim_final_assistant(turns: &mut Vec<(Role, Vec<Value>)>) {
    let Some((Role::Assistant, content)) = turns.last_mut() else {
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

/// Content blocks of a message's `content` (a string, an array of parts, or null). Empty texts
/// are dropped: Anthropic rejects empty text blocks.
fn blocks(content: Option<&Value>, text_only: bool) -> Result<Vec<Value>, String> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![text_block(s)]),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                if let Some(b) = part(p, text_only).map_err(|e| format!("content[{j}]: {e}"))? {
                    out.push(b);
                }
            }
            Ok(out)
        }
        Some(_) => Err("`content` must be a string or an array of parts".to_owned()),
    }
}

/// One content part as a block; None for an empty text.
fn part(p: &Value, text_only: bool) -> Result<Option<Value>, String> {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("text");
    let mut block = match kind {
        // a refusal part is what the assistant said: text to the model
        "text" | "refusal" => {
            let text = p
                .get(kind)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("`{kind}` missing"))?;
            if text.is_empty() {
                return Ok(None);
            }
            text_block(text)
        }
        "image_url" if !text_only => image(p.get("image_url"))?,
        "file" if !text_only => file(p.get("file"))?,
        other => {
            return Err(format!(
                "part type `{other}` has no anthropic equivalent here"
            ))
        }
    };
    // OpenRouter's prompt-caching breakpoints ride on parts; Anthropic reads the same field
    if let (Some(c), Some(o)) = (p.get("cache_control"), block.as_object_mut()) {
        o.insert("cache_control".to_owned(), c.clone());
    }
    Ok(Some(block))
}

/// An `image_url` part: a `data:` URL becomes a base64 source, any other URL a url source.
fn image(image_url: Option<&Value>) -> Result<Value, String> {
    let url = match image_url {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(o) => o.get("url").and_then(Value::as_str),
        None => None,
    }
    .ok_or("`image_url.url` missing")?;
    let source = match url.strip_prefix("data:") {
        Some(rest) => base64_source(rest)?,
        None => json!({"type": "url", "url": url}),
    };
    Ok(json!({"type": "image", "source": source}))
}

/// A `file` part with inline data (a PDF, say) as a document block.
fn file(file: Option<&Value>) -> Result<Value, String> {
    let data = file
        .and_then(|f| f.get("file_data"))
        .and_then(Value::as_str)
        .and_then(|d| d.strip_prefix("data:"))
        .ok_or("only files sent inline as a `file_data` data: URL can be passed on")?;
    Ok(json!({"type": "document", "source": base64_source(data)?}))
}

/// `media/type;base64,DATA` (a data: URL after its scheme) as a base64 source.
fn base64_source(rest: &str) -> Result<Value, String> {
    let (meta, data) = rest.split_once(',').ok_or("malformed data: URL")?;
    let media_type = meta
        .strip_suffix(";base64")
        .filter(|m| !m.is_empty())
        .ok_or("a data: URL must be base64 with a media type")?;
    Ok(json!({"type": "base64", "media_type": media_type, "data": data}))
}

/// An assistant message's `tool_calls` as `tool_use` blocks (arguments parsed: Anthropic wants
/// the input as an object, OpenAI sends it as a JSON string).
fn tool_uses(calls: Option<&Value>) -> Result<Vec<Value>, String> {
    let Some(Value::Array(calls)) = calls else {
        return Ok(Vec::new());
    };
    calls
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let at = |what: &str| format!("tool_calls[{j}]: {what}");
            let id = c
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| at("`id` missing"))?;
            let f = c.get("function").ok_or_else(|| at("`function` missing"))?;
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| at("`function.name` missing"))?;
            let input = match f.get("arguments") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(Value::String(s)) if s.trim().is_empty() => Value::Object(Map::new()),
                Some(Value::String(s)) => serde_json::from_str(s)
                    .map_err(|e| at(&format!("arguments are not JSON: {e}")))?,
                Some(v) => v.clone(),
            };
            if !input.is_object() {
                return Err(at("arguments must be a JSON object"));
            }
            Ok(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
        })
        .collect()
}

/// A `tool` message as a `tool_result` block answering the `tool_use` with the same id.
fn tool_result(m: &Value) -> Result<Value, String> {
    let id = m
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or("`tool_call_id` missing")?;
    let mut block = Map::new();
    block.insert("type".to_owned(), Value::from("tool_result"));
    block.insert("tool_use_id".to_owned(), Value::from(id));
    match m.get("content") {
        Some(Value::String(s)) if !s.is_empty() => {
            block.insert("content".to_owned(), Value::from(s.as_str()));
        }
        c @ Some(Value::Array(_)) => {
            let b = blocks(c, false)?;
            if !b.is_empty() {
                block.insert("content".to_owned(), Value::Array(b));
            }
        }
        _ => {}
    }
    Ok(Value::Object(block))
}
