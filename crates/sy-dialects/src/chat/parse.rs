//! Parsing a chat-completions body (SPEC §4.1): type checks of the parameters Switchyard reads or
//! that a typo would silently change, the routing fields lifted out, and the messages turned into
//! the typed conversation. Translation is lenient (a field only some protocols need is checked by
//! their encoders); a malformed body is a 400 naming the field.

use serde_json::{Map, Value};
use sy_api::{
    field_error, lift_routing, ApiError, Conversation, Family, Media, OutputFormat, Params, Part,
    Reasoning, Request, Role, Tool, ToolChoice, Turn, MAX_COMPLETION_TOKENS,
};

/// OpenRouter request fields Switchyard does not act on as such (`reasoning` becomes the
/// typed reasoning setting, mapped per protocol): accepted, never sent upstream (SPEC §4).
const OPENROUTER_ONLY: &[&str] = &[
    "usage",
    "transforms",
    "route",
    "plugins",
    "debug",
    "reasoning",
    "include_reasoning",
    "prompt",
    "session_id",
    "trace",
    "deferred_tools",
    "stop_server_tools_when",
    "image_config",
    "prompt_cache_options",
    "cache_control",
];

pub(crate) fn parse(bytes: &[u8]) -> Result<Request, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("request body is not valid JSON: {e}"))
            .with("reason", Value::from("malformed_json"))
    })?;
    let Value::Object(mut body) = value else {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    };
    let routing = lift_routing(&mut body)?;
    check_messages(body.get("messages"))?;
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(field_error("stream", "must be a boolean")),
    };
    check_types(&body)?;
    let max_tokens = ["max_tokens", "max_completion_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64));
    let used_parameters = ROUTING_PARAMETERS
        .iter()
        .copied()
        .filter(|p| match *p {
            "max_tokens" => is_set(&body, "max_tokens") || is_set(&body, "max_completion_tokens"),
            "reasoning" => is_set(&body, "reasoning") || is_set(&body, "reasoning_effort"),
            _ => is_set(&body, p),
        })
        .collect();
    let conv = conversation(&body, max_tokens);
    for k in OPENROUTER_ONLY {
        body.remove(*k);
    }
    let mut needs = Vec::new();
    if !conv.tools.is_empty() {
        needs.push("tools");
    }
    let untranslatable = body
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|l| {
            l.iter()
                .filter_map(|t| t.get("type").and_then(Value::as_str))
                .find(|k| *k != "function")
        })
        .map(|k| format!("tool type `{k}` has no equivalent outside OpenAI chat"));
    Ok(Request {
        untranslatable,
        family: Family::Chat,
        routing,
        conv,
        stream,
        max_tokens,
        used_parameters,
        needs_when_translated: needs,
        headers: Vec::new(),
        body,
    })
}

fn is_set(body: &Map<String, Value>, key: &str) -> bool {
    body.get(key).is_some_and(|v| !v.is_null())
}

/// Parameters that `provider.require_parameters` checks against an endpoint's
/// `supported_parameters` (OpenRouter's names; `max_completion_tokens` counts as `max_tokens`).
const ROUTING_PARAMETERS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "top_a",
    "max_tokens",
    "stop",
    "seed",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "structured_outputs",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "reasoning",
    "include_reasoning",
];

fn check_messages(messages: Option<&Value>) -> Result<(), ApiError> {
    let list = match messages {
        None | Some(Value::Null) => return Err(field_error("messages", "is required")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(field_error("messages", "must be an array of messages")),
    };
    if list.is_empty() {
        return Err(field_error("messages", "must hold at least one message"));
    }
    for (i, m) in list.iter().enumerate() {
        let Value::Object(m) = m else {
            return Err(field_error(&format!("messages[{i}]"), "must be an object"));
        };
        match m.get("role") {
            Some(Value::String(r))
                if matches!(
                    r.as_str(),
                    "system" | "developer" | "user" | "assistant" | "tool" | "function"
                ) => {}
            Some(Value::String(r)) => {
                return Err(field_error(
                    &format!("messages[{i}].role"),
                    &format!("`{r}` is not a known role"),
                ))
            }
            _ => {
                return Err(field_error(
                    &format!("messages[{i}].role"),
                    "must be a string",
                ))
            }
        }
        match m.get("content") {
            None | Some(Value::Null | Value::String(_) | Value::Array(_)) => {}
            Some(_) => {
                return Err(field_error(
                    &format!("messages[{i}].content"),
                    "must be a string or an array of parts",
                ))
            }
        }
    }
    Ok(())
}

/// Type checks of the OpenAI parameters Switchyard reads or that a typo would silently change.
fn check_types(body: &Map<String, Value>) -> Result<(), ApiError> {
    for key in [
        "temperature",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "min_p",
        "top_a",
    ] {
        if let Some(v) = body.get(key) {
            if !v.is_null() && !v.is_number() {
                return Err(field_error(key, "must be a number"));
            }
        }
    }
    for key in [
        "max_tokens",
        "max_completion_tokens",
        "n",
        "top_k",
        "top_logprobs",
    ] {
        match body.get(key) {
            None | Some(Value::Null) => {}
            Some(v) if v.as_u64().is_some() => {}
            Some(v) if v.as_i64().is_some() => {
                return Err(field_error(key, "must not be negative"))
            }
            Some(_) => return Err(field_error(key, "must be a non-negative integer")),
        }
    }
    for key in ["max_tokens", "max_completion_tokens"] {
        if body.get(key).and_then(Value::as_u64) > Some(MAX_COMPLETION_TOKENS) {
            return Err(field_error(
                key,
                &format!("must be at most {MAX_COMPLETION_TOKENS}"),
            ));
        }
    }
    if body.get("n").and_then(Value::as_u64) == Some(0) {
        return Err(field_error("n", "must be at least 1"));
    }
    match body.get("seed") {
        None | Some(Value::Null) => {}
        Some(v) if v.is_i64() || v.is_u64() => {}
        Some(_) => return Err(field_error("seed", "must be an integer")),
    }
    match body.get("stop") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
        Some(_) => {
            return Err(field_error(
                "stop",
                "must be a string or an array of strings",
            ))
        }
    }
    for (key, ok) in [
        ("tools", body.get("tools").map(Value::is_array)),
        (
            "stream_options",
            body.get("stream_options").map(Value::is_object),
        ),
        (
            "response_format",
            body.get("response_format").map(Value::is_object),
        ),
        ("user", body.get("user").map(Value::is_string)),
        (
            "tool_choice",
            body.get("tool_choice")
                .map(|v| v.is_string() || v.is_object()),
        ),
    ] {
        if ok == Some(false) && !body.get(key).is_some_and(Value::is_null) {
            return Err(field_error(key, "has the wrong type"));
        }
    }
    Ok(())
}

/// The typed conversation of a (checked) chat body.
fn conversation(body: &Map<String, Value>, max_tokens: Option<u64>) -> Conversation {
    let mut conv = Conversation::default();
    for m in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        match role {
            "system" | "developer" => conv.system.extend(parts(m.get("content"))),
            "user" => conv.turns.push(Turn {
                role: Role::User,
                parts: parts(m.get("content")),
            }),
            "assistant" => conv.turns.push(Turn {
                role: Role::Assistant,
                parts: assistant_parts(m),
            }),
            // `function` is the legacy form of `tool`, answering by name
            _ => {
                let call_id = m
                    .get("tool_call_id")
                    .or_else(|| m.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                conv.turns.push(Turn {
                    role: Role::Tool,
                    parts: vec![Part::ToolResult {
                        call_id,
                        name: m.get("name").and_then(Value::as_str).map(str::to_owned),
                        content: parts(m.get("content")),
                        is_error: false,
                        cache: None,
                    }],
                });
            }
        }
    }
    conv.tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(tool).collect())
        .unwrap_or_default();
    conv.tool_choice = match body.get("tool_choice") {
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => ToolChoice::Default,
        },
        Some(v @ Value::Object(_)) => v
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map_or(ToolChoice::Default, |n| ToolChoice::Named(n.to_owned())),
        _ => ToolChoice::Default,
    };
    conv.params = params(body, max_tokens);
    conv
}

fn params(body: &Map<String, Value>, max_tokens: Option<u64>) -> Params {
    let num = |k: &str| body.get(k).and_then(Value::as_f64);
    Params {
        max_tokens,
        temperature: num("temperature"),
        top_p: num("top_p"),
        top_k: body.get("top_k").and_then(Value::as_u64),
        stop: match body.get("stop") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        },
        seed: body.get("seed").and_then(Value::as_i64),
        reasoning: reasoning(body),
        format: body.get("response_format").and_then(output_format),
        parallel_tool_calls: body.get("parallel_tool_calls").and_then(Value::as_bool),
        user: body.get("user").and_then(Value::as_str).map(str::to_owned),
    }
}

/// OpenRouter's `reasoning` object, OpenAI's `reasoning_effort`, or `include_reasoning`.
fn reasoning(body: &Map<String, Value>) -> Option<Reasoning> {
    if let Some(Value::Object(r)) = body.get("reasoning") {
        return Some(Reasoning {
            effort: r.get("effort").and_then(Value::as_str).map(str::to_owned),
            max_tokens: r.get("max_tokens").and_then(Value::as_u64),
            enabled: r.get("enabled").and_then(Value::as_bool),
            exclude: r.get("exclude").and_then(Value::as_bool).unwrap_or(false),
            summary: None,
        });
    }
    if let Some(e) = body.get("reasoning_effort").and_then(Value::as_str) {
        return Some(Reasoning {
            effort: Some(e.to_owned()),
            ..Reasoning::default()
        });
    }
    match body.get("include_reasoning").and_then(Value::as_bool) {
        Some(true) => Some(Reasoning {
            enabled: Some(true),
            ..Reasoning::default()
        }),
        _ => None,
    }
}

pub(crate) fn output_format(v: &Value) -> Option<OutputFormat> {
    match v.get("type").and_then(Value::as_str)? {
        "json_object" => Some(OutputFormat::JsonObject),
        "json_schema" => {
            let s = v.get("json_schema")?;
            Some(OutputFormat::JsonSchema {
                name: s
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("output")
                    .to_owned(),
                schema: s
                    .get("schema")
                    .cloned()
                    .unwrap_or(Value::Object(Map::new())),
                strict: s.get("strict").and_then(Value::as_bool),
            })
        }
        _ => None,
    }
}

/// A function tool; other tool types stay in the body for same-family upstreams only.
fn tool(t: &Value) -> Option<Tool> {
    if t.get("type")
        .and_then(Value::as_str)
        .is_some_and(|k| k != "function")
    {
        return None;
    }
    let f = t.get("function")?;
    Some(Tool {
        name: f.get("name")?.as_str()?.to_owned(),
        description: f
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        parameters: match f.get("parameters") {
            Some(p @ Value::Object(_)) => p.clone(),
            _ => serde_json::json!({"type": "object", "properties": {}}),
        },
        strict: f.get("strict").and_then(Value::as_bool),
        cache: t.get("cache_control").cloned(),
    })
}

/// Content (a string, an array of parts, or null) as parts. Empty texts are dropped.
fn parts(content: Option<&Value>) -> Vec<Part> {
    match content {
        Some(Value::String(s)) if !s.is_empty() => vec![Part::text(s.as_str())],
        Some(Value::Array(list)) => list.iter().filter_map(part).collect(),
        _ => Vec::new(),
    }
}

fn part(p: &Value) -> Option<Part> {
    let cache = p.get("cache_control").cloned();
    match p.get("type").and_then(Value::as_str).unwrap_or("text") {
        kind @ ("text" | "refusal") => {
            let text = p
                .get(kind)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())?;
            Some(Part::Text {
                text: text.to_owned(),
                cache,
            })
        }
        "image_url" => {
            let url = match p.get("image_url") {
                Some(Value::String(s)) => s.as_str(),
                Some(o) => o.get("url").and_then(Value::as_str)?,
                None => return None,
            };
            Some(Part::Image {
                source: Media::from_url(url),
                cache,
            })
        }
        "file" => {
            let f = p.get("file")?;
            let data = f.get("file_data").and_then(Value::as_str)?;
            Some(Part::Document {
                source: Media::from_url(data),
                name: f.get("filename").and_then(Value::as_str).map(str::to_owned),
                cache,
            })
        }
        // audio and other part types: kept whole for same-family upstreams; a translation
        // that cannot carry them refuses the request
        _ => Some(Part::Native {
            origin: Family::Chat,
            value: p.clone(),
        }),
    }
}

/// An assistant message: its reasoning (OpenRouter's `reasoning_details`, with signatures, or
/// plain `reasoning` text), its content, then its tool calls.
fn assistant_parts(m: &Value) -> Vec<Part> {
    let mut out = Vec::new();
    if let Some(details) = m.get("reasoning_details").and_then(Value::as_array) {
        for d in details {
            match d.get("type").and_then(Value::as_str) {
                Some("reasoning.text") => out.push(Part::Reasoning {
                    text: d
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    signature: d
                        .get("signature")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    origin: d
                        .get("format")
                        .and_then(Value::as_str)
                        .and_then(family_of_format),
                }),
                Some("reasoning.encrypted") => {
                    if let (Some(data), Some(origin)) = (
                        d.get("data").and_then(Value::as_str),
                        d.get("format")
                            .and_then(Value::as_str)
                            .and_then(family_of_format),
                    ) {
                        out.push(Part::Encrypted {
                            data: data.to_owned(),
                            origin,
                        });
                    }
                }
                _ => {}
            }
        }
    } else if let Some(r) = m
        .get("reasoning")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        out.push(Part::Reasoning {
            text: r.to_owned(),
            signature: None,
            origin: None,
        });
    }
    out.extend(parts(m.get("content")));
    for c in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = c.get("function");
        out.push(Part::ToolCall {
            id: c.get("id").and_then(Value::as_str).unwrap_or("").to_owned(),
            name: f
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            arguments: match f.and_then(|f| f.get("arguments")) {
                Some(Value::String(s)) => s.clone(),
                Some(v @ Value::Object(_)) => v.to_string(),
                _ => String::new(),
            },
        });
    }
    out
}

/// The family a `reasoning_details` format names (OpenRouter's format strings).
pub(crate) fn family_of_format(format: &str) -> Option<Family> {
    match format {
        f if f.starts_with("anthropic") => Some(Family::Messages),
        f if f.starts_with("openai") => Some(Family::Responses),
        f if f.starts_with("google") => Some(Family::Gemini),
        _ => None,
    }
}

/// The `reasoning_details` format string for reasoning a family issued.
pub(crate) fn format_of_family(family: Family) -> &'static str {
    match family {
        Family::Messages | Family::Converse => "anthropic-claude-v1",
        Family::Responses | Family::Chat => "openai-responses-v1",
        Family::Gemini => "google-gemini-v1",
    }
}

#[cfg(test)]
mod tests;
