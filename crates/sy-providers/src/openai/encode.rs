//! The request body: a chat request as sent (pass-through), or the typed conversation in
//! OpenAI's messages.

use serde_json::{json, Map, Value};
use sy_api::{Family, Media, OutputFormat, Part, Request, Role, ToolChoice};

use crate::Target;

pub(crate) fn body(
    req: &Request,
    target: &Target<'_>,
    prefill: Option<&str>,
) -> Result<Vec<u8>, String> {
    let mut body = if req.family == Family::Chat {
        passed(req, target, prefill)
    } else {
        translated(req, prefill)
    };
    body.insert("model".to_owned(), Value::from(target.upstream_model));
    let reasoning = req.conv.params.reasoning.as_ref().filter(|r| r.wanted());
    if let Some(r) = reasoning.filter(|_| target.supports("reasoning")) {
        if !body.contains_key("reasoning_effort") {
            body.insert(
                "reasoning_effort".to_owned(),
                Value::from(r.effort_word(req.max_tokens)),
            );
        }
    }
    body.insert("stream".to_owned(), Value::Bool(true));
    let mut opts = match body.remove("stream_options") {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    opts.insert("include_usage".to_owned(), Value::Bool(true));
    body.insert("stream_options".to_owned(), Value::Object(opts));
    serde_json::to_vec(&Value::Object(body)).map_err(|e| e.to_string())
}

/// OpenRouter's sampling extensions: sent only to endpoints that list them (or list nothing),
/// as OpenRouter drops parameters a provider does not take.
const EXTENSIONS: &[&str] = &["top_k", "min_p", "top_a", "repetition_penalty"];

/// The client's body, with the delivered text as a trailing assistant message when resuming.
fn passed(req: &Request, target: &Target<'_>, prefill: Option<&str>) -> Map<String, Value> {
    let mut body = Map::with_capacity(req.body.len() + 3);
    for (k, v) in &req.body {
        if k == "messages" || (EXTENSIONS.contains(&k.as_str()) && !target.supports(k)) {
            continue;
        }
        body.insert(k.clone(), v.clone());
    }
    let mut messages = match req.body.get("messages") {
        Some(Value::Array(m)) => m.clone(),
        _ => Vec::new(),
    };
    if let Some(text) = prefill {
        messages.push(json!({"role": "assistant", "content": text}));
    }
    body.insert("messages".to_owned(), Value::Array(messages));
    body
}

fn translated(req: &Request, prefill: Option<&str>) -> Map<String, Value> {
    let c = &req.conv;
    let mut messages = Vec::with_capacity(c.turns.len() + 2);
    if !c.system.is_empty() {
        messages.push(json!({"role": "system", "content": content(&c.system)}));
    }
    for t in &c.turns {
        match t.role {
            Role::User => messages.push(json!({"role": "user", "content": content(&t.parts)})),
            Role::System => {
                messages.push(json!({"role": "system", "content": content(&t.parts)}));
            }
            Role::Assistant => {
                let mut m = Map::new();
                m.insert("role".to_owned(), Value::from("assistant"));
                let text: String = t
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::Text { text, .. } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                m.insert(
                    "content".to_owned(),
                    if text.is_empty() {
                        Value::Null
                    } else {
                        Value::from(text)
                    },
                );
                let calls: Vec<Value> = t
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::ToolCall {
                            id,
                            name,
                            arguments,
                        } => Some(json!({"id": id, "type": "function",
                            "function": {"name": name, "arguments": arguments}})),
                        _ => None,
                    })
                    .collect();
                if !calls.is_empty() {
                    m.insert("tool_calls".to_owned(), Value::Array(calls));
                }
                messages.push(Value::Object(m));
            }
            Role::Tool => {
                for p in &t.parts {
                    if let Part::ToolResult {
                        call_id,
                        content: c,
                        is_error,
                        ..
                    } = p
                    {
                        let mut text = plain_text(c);
                        if *is_error && text.is_empty() {
                            "error".clone_into(&mut text);
                        }
                        messages.push(
                            json!({"role": "tool", "tool_call_id": call_id, "content": text}),
                        );
                    }
                }
            }
        }
    }
    if let Some(text) = prefill {
        messages.push(json!({"role": "assistant", "content": text}));
    }
    let mut body = Map::new();
    body.insert("messages".to_owned(), Value::Array(messages));
    if !c.tools.is_empty() {
        let tools: Vec<Value> = c
            .tools
            .iter()
            .map(|t| {
                let mut f = Map::new();
                f.insert("name".to_owned(), Value::from(t.name.as_str()));
                if let Some(d) = &t.description {
                    f.insert("description".to_owned(), Value::from(d.as_str()));
                }
                f.insert("parameters".to_owned(), t.parameters.clone());
                if let Some(s) = t.strict {
                    f.insert("strict".to_owned(), Value::Bool(s));
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        body.insert("tools".to_owned(), Value::Array(tools));
        match &c.tool_choice {
            ToolChoice::Default => {}
            ToolChoice::Auto => {
                body.insert("tool_choice".to_owned(), Value::from("auto"));
            }
            ToolChoice::None => {
                body.insert("tool_choice".to_owned(), Value::from("none"));
            }
            ToolChoice::Required => {
                body.insert("tool_choice".to_owned(), Value::from("required"));
            }
            ToolChoice::Named(n) => {
                body.insert(
                    "tool_choice".to_owned(),
                    json!({"type": "function", "function": {"name": n}}),
                );
            }
        }
        if let Some(p) = c.params.parallel_tool_calls {
            body.insert("parallel_tool_calls".to_owned(), Value::Bool(p));
        }
    }
    let p = &c.params;
    if let Some(m) = p.max_tokens {
        body.insert("max_tokens".to_owned(), Value::from(m));
    }
    if let Some(t) = p.temperature {
        body.insert("temperature".to_owned(), Value::from(t));
    }
    if let Some(t) = p.top_p {
        body.insert("top_p".to_owned(), Value::from(t));
    }
    if !p.stop.is_empty() {
        body.insert("stop".to_owned(), json!(p.stop));
    }
    if let Some(s) = p.seed {
        body.insert("seed".to_owned(), Value::from(s));
    }
    if let Some(u) = &p.user {
        body.insert("user".to_owned(), Value::from(u.as_str()));
    }
    match &p.format {
        Some(OutputFormat::JsonObject) => {
            body.insert("response_format".to_owned(), json!({"type": "json_object"}));
        }
        Some(OutputFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => {
            let mut s = json!({"name": name, "schema": schema});
            if let Some(st) = strict {
                s["strict"] = Value::Bool(*st);
            }
            body.insert(
                "response_format".to_owned(),
                json!({"type": "json_schema", "json_schema": s}),
            );
        }
        None => {}
    }
    body
}

/// Parts as OpenAI content: a plain string when it is text only, else an array of parts.
/// Reasoning, encrypted and other families' blocks have no place here and are dropped.
fn content(parts: &[Part]) -> Value {
    let only_text = parts
        .iter()
        .all(|p| matches!(p, Part::Text { cache: None, .. }) || !shown(p));
    if only_text {
        return Value::from(plain_text(parts));
    }
    let list: Vec<Value> = parts
        .iter()
        .filter_map(|p| {
            let mut v = match p {
                Part::Text { text, .. } => json!({"type": "text", "text": text}),
                Part::Image { source, .. } => {
                    json!({"type": "image_url", "image_url": {"url": source.to_url()}})
                }
                Part::Document { source, name, .. } => {
                    let mut f = json!({"file_data": source.to_url()});
                    if let Some(n) = name {
                        f["filename"] = Value::from(n.as_str());
                    }
                    if let Media::Url(_) = source {
                        return None; // OpenAI takes files inline or by id only
                    }
                    json!({"type": "file", "file": f})
                }
                _ => return None,
            };
            if let (
                Part::Text { cache: Some(c), .. }
                | Part::Image { cache: Some(c), .. }
                | Part::Document { cache: Some(c), .. },
                Some(o),
            ) = (p, v.as_object_mut())
            {
                o.insert("cache_control".to_owned(), c.clone());
            }
            Some(v)
        })
        .collect();
    Value::Array(list)
}

/// Whether a part shows up in OpenAI content at all.
fn shown(p: &Part) -> bool {
    matches!(
        p,
        Part::Text { .. } | Part::Image { .. } | Part::Document { .. }
    )
}

/// The text of some parts, joined.
fn plain_text(parts: &[Part]) -> String {
    let mut out = String::new();
    for p in parts {
        if let Part::Text { text, .. } = p {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(text);
        }
    }
    out
}
