//! The request: the typed conversation as a Converse body. Turns alternate user / assistant
//! (consecutive ones merged, tool results first in their user turn); content blocks are
//! one-member unions (`text`, `image`, `document`, `toolUse`, `toolResult`,
//! `reasoningContent`); a `cache_control` mark becomes a `cachePoint` block after its block
//! (SPEC §4.9); thinking is Anthropic's `thinking` in `additionalModelRequestFields`.
//! Parameters without a Converse equivalent are left out.

use serde_json::{json, Map, Value};
use sy_api::{Conversation, Family, Media, Part, Role, ToolChoice};

use crate::Target;

/// Converse requires `maxTokens` for Claude; used when neither the request nor the endpoint
/// gives one.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// At most this many stop sequences (Claude's limit; Converse's own is higher).
const MAX_STOPS: usize = 4;

const CACHE_POINT: &str = r#"{"cachePoint":{"type":"default"}}"#;

fn cache_point() -> Value {
    serde_json::from_str(CACHE_POINT).unwrap_or(Value::Null)
}

pub(super) fn body(
    c: &Conversation,
    target: &Target<'_>,
    prefill: Option<&str>,
) -> Result<Vec<u8>, String> {
    let mut out = Map::new();
    let mut system = Vec::new();
    // instructions mid-conversation join the system instructions (Converse has no such turn)
    let mid = c.turns.iter().filter(|t| t.role == Role::System);
    for p in c.system.iter().chain(mid.flat_map(|t| t.parts.iter())) {
        if let Part::Text { text, cache } = p {
            if !text.is_empty() {
                system.push(json!({ "text": text }));
            }
            if cache.is_some() {
                system.push(cache_point());
            }
        }
    }
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for t in &c.turns {
        let role = match t.role {
            Role::Assistant => "assistant",
            Role::User | Role::Tool => "user",
            Role::System => continue, // joined the system instructions above
        };
        let mut blocks = Vec::with_capacity(t.parts.len());
        for p in &t.parts {
            block(p, &mut blocks)?;
        }
        push(&mut turns, role, blocks);
    }
    if let Some(text) = prefill.map(str::trim_end).filter(|t| !t.is_empty()) {
        push(&mut turns, "assistant", vec![json!({ "text": text })]);
    }
    // a final assistant turn may not end in whitespace (Claude refuses it)
    if let Some(("assistant", blocks)) = turns.last_mut().map(|(r, b)| (*r, b)) {
        if let Some(Value::String(t)) = blocks.last_mut().and_then(|b| b.get_mut("text")) {
            t.truncate(t.trim_end().len());
        }
    }
    if turns.is_empty() {
        return Err("no user or assistant message".to_owned());
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, mut content)| {
            if role == "user" {
                // results of the previous turn's tool calls come before any text
                content.sort_by_key(|b| b.get("toolResult").is_none());
            }
            json!({"role": role, "content": content})
        })
        .collect();
    out.insert("messages".to_owned(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".to_owned(), Value::Array(system));
    }
    let p = &c.params;
    let mut max_tokens = p
        .max_tokens
        .or(target.max_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let thinking = p
        .reasoning
        .as_ref()
        .filter(|r| r.wanted() && target.supports("reasoning"));
    if let Some(r) = thinking {
        let budget = r.budget(max_tokens);
        if max_tokens <= budget {
            max_tokens = budget + max_tokens.max(1024);
        }
        out.insert(
            "additionalModelRequestFields".to_owned(),
            json!({"thinking": {"type": "enabled", "budget_tokens": budget}}),
        );
    }
    let mut inference = Map::new();
    inference.insert("maxTokens".to_owned(), Value::from(max_tokens));
    if thinking.is_none() {
        if let Some(t) = p.temperature {
            // Converse's range is 0..1, OpenAI's 0..2
            inference.insert("temperature".to_owned(), Value::from(t.clamp(0.0, 1.0)));
        }
    }
    if let Some(t) = p.top_p {
        inference.insert("topP".to_owned(), Value::from(t));
    }
    let stops: Vec<&String> = p
        .stop
        .iter()
        .filter(|s| !s.is_empty())
        .take(MAX_STOPS)
        .collect();
    if !stops.is_empty() {
        inference.insert("stopSequences".to_owned(), json!(stops));
    }
    out.insert("inferenceConfig".to_owned(), Value::Object(inference));
    if let Some(tools) = tool_config(c) {
        out.insert("toolConfig".to_owned(), tools);
    }
    serde_json::to_vec(&Value::Object(out)).map_err(|e| e.to_string())
}

/// `toolConfig`; Converse has no "none" choice, so `tool_choice: none` sends the tools only
/// when the conversation already used them (Bedrock then requires the definitions).
fn tool_config(c: &Conversation) -> Option<Value> {
    if c.tools.is_empty() {
        return None;
    }
    let used = c
        .turns
        .iter()
        .flat_map(|t| t.parts.iter())
        .any(|p| matches!(p, Part::ToolCall { .. } | Part::ToolResult { .. }));
    if c.tool_choice == ToolChoice::None && !used {
        return None;
    }
    let mut tools: Vec<Value> = Vec::with_capacity(c.tools.len());
    for t in &c.tools {
        let mut spec = Map::new();
        spec.insert("name".to_owned(), Value::from(t.name.as_str()));
        if let Some(d) = t.description.as_deref().filter(|d| !d.is_empty()) {
            spec.insert("description".to_owned(), Value::from(d));
        }
        spec.insert("inputSchema".to_owned(), json!({ "json": t.parameters }));
        tools.push(json!({ "toolSpec": spec }));
        if t.cache.is_some() {
            tools.push(cache_point());
        }
    }
    let mut config = Map::new();
    config.insert("tools".to_owned(), Value::Array(tools));
    let choice = match &c.tool_choice {
        ToolChoice::Default | ToolChoice::None => None,
        ToolChoice::Auto => Some(json!({"auto": {}})),
        ToolChoice::Required => Some(json!({"any": {}})),
        ToolChoice::Named(n) => Some(json!({"tool": {"name": n}})),
    };
    if let Some(choice) = choice {
        config.insert("toolChoice".to_owned(), choice);
    }
    Some(Value::Object(config))
}

fn push(turns: &mut Vec<(&'static str, Vec<Value>)>, role: &'static str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((r, b)) if *r == role => b.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// An image's or document's format word from its media type.
fn format_of(media_type: &str) -> &str {
    media_type.rsplit('/').next().unwrap_or(media_type)
}

fn bytes_of(m: &Media, what: &str) -> Result<(String, String), String> {
    match m {
        Media::Base64 { media_type, data } => Ok((format_of(media_type).to_owned(), data.clone())),
        Media::Url(_) => Err(format!(
            "bedrock takes {what}s as inline bytes only (a data: URL), not by URL"
        )),
    }
}

/// One part as Converse content blocks (with its cache point), appended to `out`.
fn block(p: &Part, out: &mut Vec<Value>) -> Result<(), String> {
    let cache = match p {
        Part::Text { text, cache } => {
            if !text.is_empty() {
                out.push(json!({ "text": text }));
            }
            cache
        }
        Part::Image { source, cache } => {
            let (format, data) = bytes_of(source, "image")?;
            let format = if format == "jpg" {
                "jpeg".to_owned()
            } else {
                format
            };
            out.push(json!({"image": {"format": format, "source": {"bytes": data}}}));
            cache
        }
        Part::Document {
            source,
            name,
            cache,
        } => {
            let (format, data) = bytes_of(source, "document")?;
            // Converse wants a name of letters, digits, spaces, hyphens and brackets
            let name: String = name
                .as_deref()
                .unwrap_or("document")
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || " -()[]".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            out.push(
                json!({"document": {"format": format, "name": name, "source": {"bytes": data}}}),
            );
            cache
        }
        Part::ToolCall {
            id,
            name,
            arguments,
        } => {
            let input = if arguments.trim().is_empty() {
                Value::Object(Map::new())
            } else {
                serde_json::from_str::<Value>(arguments)
                    .map_err(|e| format!("tool call `{id}`: arguments are not JSON: {e}"))?
            };
            out.push(json!({"toolUse": {"toolUseId": id, "name": name, "input": input}}));
            return Ok(());
        }
        Part::ToolResult {
            call_id,
            content,
            is_error,
            cache,
            ..
        } => {
            let mut inner = Vec::new();
            for c in content {
                match c {
                    Part::Text { text, .. } if !text.is_empty() => {
                        inner.push(json!({"text": text}))
                    }
                    Part::Image { source, .. } => {
                        let (format, data) = bytes_of(source, "image")?;
                        inner.push(json!({"image": {"format": format, "source": {"bytes": data}}}));
                    }
                    _ => {}
                }
            }
            if inner.is_empty() {
                inner.push(json!({"text": ""}));
            }
            let mut r = json!({"toolUseId": call_id, "content": inner});
            if *is_error {
                r["status"] = Value::from("error");
            }
            out.push(json!({ "toolResult": r }));
            cache
        }
        // Claude's signatures are valid wherever Claude runs (Anthropic, Bedrock, Vertex)
        Part::Reasoning {
            text,
            signature: Some(sig),
            origin: Some(Family::Messages | Family::Converse),
        } => {
            out.push(
                json!({"reasoningContent": {"reasoningText": {"text": text, "signature": sig}}}),
            );
            return Ok(());
        }
        Part::Encrypted {
            data,
            origin: Family::Messages | Family::Converse,
        } => {
            out.push(json!({"reasoningContent": {"redactedContent": data}}));
            return Ok(());
        }
        Part::Native {
            origin: Family::Converse,
            value,
        } => {
            out.push(value.clone());
            return Ok(());
        }
        Part::Native { value, .. } => {
            let kind = value.get("type").and_then(Value::as_str).unwrap_or("?");
            return Err(format!("part type `{kind}` has no bedrock equivalent"));
        }
        Part::Reasoning { .. } | Part::Encrypted { .. } => return Ok(()),
    };
    if cache.is_some() && !out.is_empty() {
        out.push(cache_point());
    }
    Ok(())
}
