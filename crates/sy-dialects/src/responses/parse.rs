//! Parsing a Responses body (SPEC §4.7) into the typed conversation: `instructions` as the
//! system instructions, `input` items as turns (consecutive assistant items — text, reasoning,
//! function calls — make one assistant turn; `function_call_output` items a tool turn), function
//! tools, `tool_choice`, `reasoning`, `text.format`, `max_output_tokens`. Items of other types
//! are kept whole for `openai-responses` upstreams. A malformed body is a 400 naming the field.

use serde_json::{Map, Value};
use sy_api::{
    field_error, lift_routing, ApiError, Conversation, Family, Media, OutputFormat, Params, Part,
    Reasoning, Request, Role, Tool, ToolChoice, Turn, MAX_COMPLETION_TOKENS,
};

/// OpenRouter request fields Switchyard does not act on: accepted, never sent upstream (SPEC
/// §4). (`reasoning` and `prompt` are Responses' own fields here.)
const OPENROUTER_ONLY: &[&str] = &[
    "usage",
    "transforms",
    "route",
    "plugins",
    "debug",
    "include_reasoning",
    "session_id",
    "trace",
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
    let stream = flag(&body, "stream")?.unwrap_or(false);
    flag(&body, "store")?;
    flag(&body, "parallel_tool_calls")?;
    check_types(&body)?;
    let max_tokens = match body.get("max_output_tokens") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_COMPLETION_TOKENS).contains(&n) => Some(n),
            _ => {
                return Err(field_error(
                    "max_output_tokens",
                    &format!("must be an integer from 1 to {MAX_COMPLETION_TOKENS}"),
                ))
            }
        },
    };
    let mut system = Vec::new();
    match body.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::String(s)) => system.push(Part::text(s.as_str())),
        Some(_) => return Err(field_error("instructions", "must be a string")),
    }
    let (turns, mid_system) = turns(&body)?;
    system.extend(mid_system);
    let (tools, other_tool) = tools(body.get("tools"))?;
    let conv = Conversation {
        system,
        turns,
        tools,
        tool_choice: tool_choice(body.get("tool_choice"))?,
        params: params(&body, max_tokens)?,
    };
    let mut used = Vec::new();
    for (field, name) in [
        ("max_output_tokens", "max_tokens"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("tools", "tools"),
        ("tool_choice", "tool_choice"),
        ("parallel_tool_calls", "parallel_tool_calls"),
    ] {
        if body.get(field).is_some_and(|v| !v.is_null()) {
            used.push(name);
        }
    }
    if conv.params.format.is_some() {
        used.push("response_format");
    }
    let mut needs = Vec::new();
    if conv
        .params
        .reasoning
        .as_ref()
        .is_some_and(Reasoning::wanted)
    {
        used.push("reasoning");
    }
    if !conv.tools.is_empty() {
        needs.push("tools");
    }
    for k in OPENROUTER_ONLY {
        body.remove(*k);
    }
    let untranslatable =
        other_tool.map(|t| format!("tool type `{t}` is served only by openai-responses endpoints"));
    Ok(Request {
        untranslatable,
        family: Family::Responses,
        routing,
        conv,
        stream,
        max_tokens,
        used_parameters: used,
        needs_when_translated: needs,
        headers: Vec::new(),
        body,
    })
}

fn flag(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(field_error(key, "must be a boolean")),
    }
}

fn check_types(body: &Map<String, Value>) -> Result<(), ApiError> {
    for key in ["temperature", "top_p"] {
        if body
            .get(key)
            .is_some_and(|v| !v.is_null() && !v.is_number())
        {
            return Err(field_error(key, "must be a number"));
        }
    }
    for (key, ok) in [
        ("tools", body.get("tools").map(Value::is_array)),
        ("reasoning", body.get("reasoning").map(Value::is_object)),
        ("text", body.get("text").map(Value::is_object)),
        ("metadata", body.get("metadata").map(Value::is_object)),
        (
            "previous_response_id",
            body.get("previous_response_id").map(Value::is_string),
        ),
    ] {
        if ok == Some(false) && !body.get(key).is_some_and(Value::is_null) {
            return Err(field_error(key, "has the wrong type"));
        }
    }
    Ok(())
}

fn params(body: &Map<String, Value>, max_tokens: Option<u64>) -> Result<Params, ApiError> {
    let reasoning = body.get("reasoning").filter(|r| r.is_object()).map(|r| {
        let effort = r.get("effort").and_then(Value::as_str).map(str::to_owned);
        Reasoning {
            enabled: match effort.as_deref() {
                Some("none") => Some(false),
                Some(_) => Some(true),
                None => None,
            },
            effort: effort.filter(|e| e != "none"),
            summary: r.get("summary").and_then(Value::as_str).map(str::to_owned),
            ..Reasoning::default()
        }
    });
    let format = match body.get("text").and_then(|t| t.get("format")) {
        None | Some(Value::Null) => None,
        Some(f) => match f.get("type").and_then(Value::as_str) {
            Some("json_schema") => Some(OutputFormat::JsonSchema {
                name: f
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("response")
                    .to_owned(),
                schema: f
                    .get("schema")
                    .cloned()
                    .ok_or_else(|| field_error("text.format.schema", "is required"))?,
                strict: f.get("strict").and_then(Value::as_bool),
            }),
            Some("json_object") => Some(OutputFormat::JsonObject),
            Some("text") => None,
            _ => {
                return Err(field_error(
                    "text.format.type",
                    "must be \"text\", \"json_object\" or \"json_schema\"",
                ))
            }
        },
    };
    Ok(Params {
        max_tokens,
        temperature: body.get("temperature").and_then(Value::as_f64),
        top_p: body.get("top_p").and_then(Value::as_f64),
        reasoning,
        format,
        parallel_tool_calls: body.get("parallel_tool_calls").and_then(Value::as_bool),
        user: body.get("user").and_then(Value::as_str).map(str::to_owned),
        ..Params::default()
    })
}

/// The items as turns, and the system/developer messages that came among them.
fn turns(body: &Map<String, Value>) -> Result<(Vec<Turn>, Vec<Part>), ApiError> {
    let items = match body.get("input") {
        None | Some(Value::Null) => return Err(field_error("input", "is required")),
        Some(Value::String(s)) => return Ok((vec![user_text(s)], Vec::new())),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(field_error(
                "input",
                "must be a string or an array of items",
            ))
        }
    };
    let mut turns: Vec<Turn> = Vec::with_capacity(items.len());
    let mut system = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("input[{i}]");
        if !item.is_object() {
            return Err(field_error(&at, "must be an object"));
        }
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        let (role, part) = match kind {
            "message" => {
                let role = item.get("role").and_then(Value::as_str).unwrap_or("");
                let parts = content(item.get("content"), &at)?;
                match role {
                    "user" => push(&mut turns, Role::User, parts),
                    "assistant" => push(&mut turns, Role::Assistant, parts),
                    // a system or developer message first is the instructions; later ones are
                    // mid-conversation instructions
                    "system" | "developer" if turns.is_empty() => system.extend(parts),
                    "system" | "developer" => push(&mut turns, Role::System, parts),
                    _ => {
                        return Err(field_error(
                            &format!("{at}.role"),
                            "must be \"user\", \"assistant\", \"system\" or \"developer\"",
                        ))
                    }
                }
                continue;
            }
            "function_call" => (
                Role::Assistant,
                Part::ToolCall {
                    id: str_field(item, "call_id", &at)?,
                    name: str_field(item, "name", &at)?,
                    arguments: match item.get("arguments") {
                        Some(Value::String(s)) => s.clone(),
                        Some(v) if !v.is_null() => v.to_string(),
                        _ => "{}".to_owned(),
                    },
                },
            ),
            "function_call_output" => {
                let output = match item.get("output") {
                    Some(Value::String(s)) if s.is_empty() => Vec::new(),
                    Some(Value::String(s)) => vec![Part::text(s.as_str())],
                    Some(Value::Array(_)) => content(item.get("output"), &at)?,
                    _ => return Err(field_error(&format!("{at}.output"), "must be a string")),
                };
                (
                    Role::Tool,
                    Part::ToolResult {
                        call_id: str_field(item, "call_id", &at)?,
                        name: None,
                        content: output,
                        is_error: false,
                        cache: None,
                    },
                )
            }
            "reasoning" => {
                let mut text = String::new();
                for key in ["summary", "content"] {
                    for s in item
                        .get(key)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(t) = s.get("text").and_then(Value::as_str) {
                            if !text.is_empty() {
                                text.push('\n');
                            }
                            text.push_str(t);
                        }
                    }
                }
                if let Some(e) = item
                    .get("encrypted_content")
                    .and_then(Value::as_str)
                    .filter(|e| !e.is_empty())
                {
                    if !text.is_empty() {
                        push(
                            &mut turns,
                            Role::Assistant,
                            vec![Part::Reasoning {
                                text,
                                signature: None,
                                origin: Some(Family::Responses),
                            }],
                        );
                    }
                    (
                        Role::Assistant,
                        Part::Encrypted {
                            data: e.to_owned(),
                            origin: Family::Responses,
                        },
                    )
                } else if text.is_empty() {
                    continue;
                } else {
                    (
                        Role::Assistant,
                        Part::Reasoning {
                            text,
                            signature: None,
                            origin: Some(Family::Responses),
                        },
                    )
                }
            }
            // a reference to an item the client had stored at OpenAI: meaningless elsewhere
            _ => (
                Role::Assistant,
                Part::Native {
                    origin: Family::Responses,
                    value: item.clone(),
                },
            ),
        };
        push(&mut turns, role, vec![part]);
    }
    if turns.is_empty() {
        return Err(field_error("input", "must hold at least one item"));
    }
    Ok((turns, system))
}

fn user_text(s: &str) -> Turn {
    Turn {
        role: Role::User,
        parts: vec![Part::text(s)],
    }
}

/// Appends parts to the last turn when it has the same role (one assistant turn for its text,
/// reasoning and calls; one tool turn for parallel results), else as a new turn.
fn push(turns: &mut Vec<Turn>, role: Role, parts: Vec<Part>) {
    if parts.is_empty() && role != Role::Assistant {
        return;
    }
    match turns.last_mut() {
        Some(t) if t.role == role && role != Role::System => t.parts.extend(parts),
        _ => turns.push(Turn { role, parts }),
    }
}

fn str_field(item: &Value, key: &str, at: &str) -> Result<String, ApiError> {
    item.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| field_error(&format!("{at}.{key}"), "must be a string"))
}

/// A message's content: a string, or parts (`input_text`, `output_text`, `input_image`,
/// `input_file`, `refusal`).
fn content(v: Option<&Value>, at: &str) -> Result<Vec<Part>, ApiError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(vec![Part::text(s.as_str())]),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(field_error(
                &format!("{at}.content"),
                "must be a string or an array of content parts",
            ))
        }
    };
    let mut parts = Vec::with_capacity(list.len());
    for (j, p) in list.iter().enumerate() {
        let pat = format!("{at}.content[{j}]");
        let kind = p
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| field_error(&format!("{pat}.type"), "is required"))?;
        match kind {
            "input_text" | "output_text" | "text" | "refusal" => {
                let key = if kind == "refusal" { "refusal" } else { "text" };
                let text = str_field(p, key, &pat)?;
                if !text.is_empty() {
                    parts.push(Part::text(text));
                }
            }
            "input_image" => {
                if let Some(url) = p.get("image_url").and_then(Value::as_str) {
                    parts.push(Part::Image {
                        source: Media::from_url(url),
                        cache: None,
                    });
                } else {
                    parts.push(native(p));
                }
            }
            "input_file" => {
                if let Some(data) = p.get("file_data").and_then(Value::as_str) {
                    parts.push(Part::Document {
                        source: Media::from_url(data),
                        name: p.get("filename").and_then(Value::as_str).map(str::to_owned),
                        cache: None,
                    });
                } else if let Some(url) = p.get("file_url").and_then(Value::as_str) {
                    parts.push(Part::Document {
                        source: Media::Url(url.to_owned()),
                        name: None,
                        cache: None,
                    });
                } else {
                    parts.push(native(p));
                }
            }
            _ => parts.push(native(p)),
        }
    }
    Ok(parts)
}

fn native(p: &Value) -> Part {
    Part::Native {
        origin: Family::Responses,
        value: p.clone(),
    }
}

/// Function tools, and the type of the first tool of another kind (web search and the like,
/// which only `openai-responses` endpoints run).
fn tools(v: Option<&Value>) -> Result<(Vec<Tool>, Option<String>), ApiError> {
    let Some(Value::Array(list)) = v else {
        return Ok((Vec::new(), None));
    };
    let mut out = Vec::with_capacity(list.len());
    let mut other = None;
    for (i, t) in list.iter().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
        if kind != "function" {
            other.get_or_insert_with(|| kind.to_owned());
            continue;
        }
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| field_error(&format!("tools[{i}].name"), "is required"))?;
        out.push(Tool {
            name: name.to_owned(),
            description: t
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            parameters: t
                .get("parameters")
                .filter(|p| !p.is_null())
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            strict: t.get("strict").and_then(Value::as_bool),
            cache: None,
        });
    }
    Ok((out, other))
}

fn tool_choice(v: Option<&Value>) -> Result<ToolChoice, ApiError> {
    Ok(match v {
        None | Some(Value::Null) => ToolChoice::Default,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => {
                return Err(field_error(
                    "tool_choice",
                    "must be \"auto\", \"none\", \"required\" or a function",
                ))
            }
        },
        Some(o) => match o.get("name").and_then(Value::as_str) {
            Some(n) => ToolChoice::Named(n.to_owned()),
            None => ToolChoice::Default,
        },
    })
}
