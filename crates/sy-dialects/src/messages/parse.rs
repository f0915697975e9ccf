//! Parsing an Anthropic Messages body (SPEC §4.6): Anthropic's own checks of what Switchyard
//! reads (a malformed body is a 400 naming the field, as Anthropic's API would answer), the
//! routing fields lifted out, and the turns of content blocks turned into the typed
//! conversation. Blocks only Anthropic understands (server tools, their results, citations'
//! search results) are kept whole for Anthropic-protocol upstreams.

use serde_json::{Map, Value};
use sy_api::{
    field_error, lift_routing, ApiError, Conversation, Family, Media, Params, Part, Reasoning,
    Request, Role, Tool, ToolChoice, Turn, MAX_COMPLETION_TOKENS,
};

/// Client headers that Anthropic-protocol upstreams receive as sent.
const PASSED_HEADERS: &[&str] = &["anthropic-version", "anthropic-beta"];

pub(crate) fn parse(bytes: &[u8], headers: &[(&str, &str)]) -> Result<Request, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("request body is not valid JSON: {e}"))
            .with("reason", Value::from("malformed_json"))
    })?;
    let Value::Object(mut body) = value else {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    };
    let routing = lift_routing(&mut body)?;
    let max_tokens = match body.get("max_tokens") {
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_COMPLETION_TOKENS).contains(&n) => n,
            _ => {
                return Err(field_error(
                    "max_tokens",
                    &format!("must be an integer from 1 to {MAX_COMPLETION_TOKENS}"),
                ))
            }
        },
        None => return Err(field_error("max_tokens", "is required")),
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(field_error("stream", "must be a boolean")),
    };
    check_types(&body)?;
    let mut conv = Conversation {
        system: system(body.get("system"))?,
        turns: turns(body.get("messages"))?,
        tools: tools(body.get("tools"))?,
        tool_choice: tool_choice(body.get("tool_choice")),
        params: Params::default(),
    };
    conv.params = params(&body, max_tokens)?;
    let mut used = vec!["max_tokens"];
    for (field, name) in [
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("top_k", "top_k"),
        ("stop_sequences", "stop"),
        ("tools", "tools"),
        ("tool_choice", "tool_choice"),
    ] {
        if body.get(field).is_some_and(|v| !v.is_null()) {
            used.push(name);
        }
    }
    let mut needs = Vec::new();
    if conv
        .params
        .reasoning
        .as_ref()
        .is_some_and(Reasoning::wanted)
    {
        used.push("reasoning");
        needs.push("reasoning");
    }
    if !conv.tools.is_empty() {
        needs.push("tools");
    }
    let headers = headers
        .iter()
        .filter(|(k, _)| PASSED_HEADERS.iter().any(|p| k.eq_ignore_ascii_case(p)))
        .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
        .collect();
    let untranslatable = server_tool(&body).map(|t| {
        format!("tool type `{t}` is an Anthropic server tool, with no equivalent elsewhere")
    });
    Ok(Request {
        untranslatable,
        family: Family::Messages,
        routing,
        conv,
        stream,
        max_tokens: Some(max_tokens),
        used_parameters: used,
        needs_when_translated: needs,
        headers,
        body,
    })
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
    if body
        .get("top_k")
        .is_some_and(|v| !v.is_null() && v.as_u64().is_none())
    {
        return Err(field_error("top_k", "must be a non-negative integer"));
    }
    match body.get("stop_sequences") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
        Some(_) => return Err(field_error("stop_sequences", "must be an array of strings")),
    }
    for (key, ok) in [
        ("tools", body.get("tools").map(Value::is_array)),
        ("tool_choice", body.get("tool_choice").map(Value::is_object)),
        ("thinking", body.get("thinking").map(Value::is_object)),
        ("metadata", body.get("metadata").map(Value::is_object)),
    ] {
        if ok == Some(false) && !body.get(key).is_some_and(Value::is_null) {
            return Err(field_error(key, "has the wrong type"));
        }
    }
    Ok(())
}

fn params(body: &Map<String, Value>, max_tokens: u64) -> Result<Params, ApiError> {
    let reasoning = match body.get("thinking") {
        Some(t) => match t.get("type").and_then(Value::as_str) {
            Some("enabled") => Some(Reasoning {
                max_tokens: t.get("budget_tokens").and_then(Value::as_u64),
                enabled: Some(true),
                ..Reasoning::default()
            }),
            Some("disabled") => Some(Reasoning {
                enabled: Some(false),
                ..Reasoning::default()
            }),
            // adaptive and later forms: reasoning as the model sees fit
            Some(_) => Some(Reasoning {
                enabled: Some(true),
                ..Reasoning::default()
            }),
            None => return Err(field_error("thinking.type", "is required")),
        },
        None => None,
    };
    // `output_config.effort` (Claude Code sends it with adaptive thinking) is the effort a
    // translation asks of another provider's reasoning
    let effort = body
        .get("output_config")
        .and_then(|o| o.get("effort"))
        .and_then(Value::as_str);
    let reasoning = match (reasoning, effort) {
        (Some(mut r), Some(e)) if r.enabled != Some(false) => {
            r.effort = Some(e.to_owned());
            Some(r)
        }
        (r, _) => r,
    };
    Ok(Params {
        max_tokens: Some(max_tokens),
        temperature: body.get("temperature").and_then(Value::as_f64),
        top_p: body.get("top_p").and_then(Value::as_f64),
        top_k: body.get("top_k").and_then(Value::as_u64),
        stop: body
            .get("stop_sequences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        seed: None,
        reasoning,
        format: None,
        parallel_tool_calls: body
            .get("tool_choice")
            .and_then(|t| t.get("disable_parallel_tool_use"))
            .and_then(Value::as_bool)
            .map(|d| !d),
        user: body
            .get("metadata")
            .and_then(|m| m.get("user_id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn system(v: Option<&Value>) -> Result<Vec<Part>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![Part::text(s.as_str())]),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .enumerate()
            .map(|(i, b)| block(b, &format!("system[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.into_iter().flatten().collect()),
        Some(_) => Err(field_error(
            "system",
            "must be a string or an array of text blocks",
        )),
    }
}

fn turns(v: Option<&Value>) -> Result<Vec<Turn>, ApiError> {
    let list = match v {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => {
            return Err(field_error("messages", "must hold at least one message"))
        }
        None | Some(Value::Null) => return Err(field_error("messages", "is required")),
        Some(_) => return Err(field_error("messages", "must be an array of messages")),
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let at = format!("messages[{i}]");
        if !m.is_object() {
            return Err(field_error(&at, "must be an object"));
        }
        let role = match m.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            Some("system") => Role::System,
            Some(r) => {
                return Err(field_error(
                    &format!("{at}.role"),
                    &format!("`{r}` is not a known role (user, assistant or system)"),
                ))
            }
            None => return Err(field_error(&format!("{at}.role"), "must be a string")),
        };
        let parts: Vec<Part> = match m.get("content") {
            Some(Value::String(s)) if s.is_empty() => Vec::new(),
            Some(Value::String(s)) => vec![Part::text(s.as_str())],
            Some(Value::Array(blocks)) => {
                let mut parts = Vec::with_capacity(blocks.len());
                for (j, b) in blocks.iter().enumerate() {
                    parts.extend(block(b, &format!("{at}.content[{j}]"))?);
                }
                parts
            }
            _ => {
                return Err(field_error(
                    &format!("{at}.content"),
                    "must be a string or an array of content blocks",
                ))
            }
        };
        // tool results answer the previous turn's calls: a turn of their own, before the text
        let (results, rest): (Vec<Part>, Vec<Part>) = parts
            .into_iter()
            .partition(|p| matches!(p, Part::ToolResult { .. }));
        if !results.is_empty() {
            out.push(Turn {
                role: Role::Tool,
                parts: results,
            });
        }
        if !rest.is_empty() || role == Role::Assistant {
            out.push(Turn { role, parts: rest });
        }
    }
    Ok(out)
}

/// One content block; None for an empty text.
fn block(b: &Value, at: &str) -> Result<Option<Part>, ApiError> {
    let kind = b
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| field_error(&format!("{at}.type"), "is required"))?;
    let cache = b.get("cache_control").cloned();
    let str_field = |k: &str| -> Result<String, ApiError> {
        b.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| field_error(&format!("{at}.{k}"), "must be a string"))
    };
    let part = match kind {
        "text" => {
            let text = str_field("text")?;
            if text.is_empty() {
                return Ok(None);
            }
            Part::Text { text, cache }
        }
        "image" => Part::Image {
            source: media(b.get("source"), &format!("{at}.source"))?,
            cache,
        },
        "document" => match b
            .get("source")
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str)
        {
            Some("text") => Part::Text {
                text: b
                    .get("source")
                    .and_then(|s| s.get("data"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                cache,
            },
            Some("base64" | "url") => Part::Document {
                source: media(b.get("source"), &format!("{at}.source"))?,
                name: b.get("title").and_then(Value::as_str).map(str::to_owned),
                cache,
            },
            _ => native(b),
        },
        "tool_use" => Part::ToolCall {
            id: str_field("id")?,
            name: str_field("name")?,
            arguments: b
                .get("input")
                .map_or_else(|| "{}".to_owned(), Value::to_string),
        },
        "tool_result" => {
            let content = match b.get("content") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) if s.is_empty() => Vec::new(),
                Some(Value::String(s)) => vec![Part::text(s.as_str())],
                Some(Value::Array(list)) => {
                    let mut parts = Vec::new();
                    for (k, c) in list.iter().enumerate() {
                        parts.extend(block(c, &format!("{at}.content[{k}]"))?);
                    }
                    parts
                }
                Some(_) => {
                    return Err(field_error(
                        &format!("{at}.content"),
                        "must be a string or an array of blocks",
                    ))
                }
            };
            Part::ToolResult {
                call_id: str_field("tool_use_id")?,
                name: None,
                content,
                is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
                cache,
            }
        }
        "thinking" => Part::Reasoning {
            text: str_field("thinking")?,
            signature: b
                .get("signature")
                .and_then(Value::as_str)
                .map(str::to_owned),
            origin: Some(Family::Messages),
        },
        "redacted_thinking" => Part::Encrypted {
            data: str_field("data")?,
            origin: Family::Messages,
        },
        _ => native(b),
    };
    Ok(Some(part))
}

fn native(b: &Value) -> Part {
    Part::Native {
        origin: Family::Messages,
        value: b.clone(),
    }
}

fn media(source: Option<&Value>, at: &str) -> Result<Media, ApiError> {
    let s = source.ok_or_else(|| field_error(at, "is required"))?;
    match s.get("type").and_then(Value::as_str) {
        Some("base64") => Ok(Media::Base64 {
            media_type: s
                .get("media_type")
                .and_then(Value::as_str)
                .ok_or_else(|| field_error(&format!("{at}.media_type"), "is required"))?
                .to_owned(),
            data: s
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| field_error(&format!("{at}.data"), "is required"))?
                .to_owned(),
        }),
        Some("url") => Ok(Media::Url(
            s.get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| field_error(&format!("{at}.url"), "is required"))?
                .to_owned(),
        )),
        _ => Err(field_error(
            &format!("{at}.type"),
            "must be \"base64\" or \"url\"",
        )),
    }
}

fn tools(v: Option<&Value>) -> Result<Vec<Tool>, ApiError> {
    let Some(Value::Array(list)) = v else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        // server tools (`web_search_…`, `bash_…`) carry a versioned type: Anthropic's own
        if t.get("type")
            .and_then(Value::as_str)
            .is_some_and(|k| k != "custom")
        {
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
                .get("input_schema")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            strict: None,
            cache: t.get("cache_control").cloned(),
        });
    }
    Ok(out)
}

fn tool_choice(v: Option<&Value>) -> ToolChoice {
    match v.and_then(|t| t.get("type")).and_then(Value::as_str) {
        Some("auto") => ToolChoice::Auto,
        Some("any") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some("tool") => v
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
            .map_or(ToolChoice::Default, |n| ToolChoice::Named(n.to_owned())),
        _ => ToolChoice::Default,
    }
}

/// The type of the first server tool the request uses (tools only Anthropic runs).
fn server_tool(body: &Map<String, Value>) -> Option<String> {
    body.get("tools")?
        .as_array()?
        .iter()
        .filter_map(|t| t.get("type").and_then(Value::as_str))
        .find(|k| *k != "custom")
        .map(str::to_owned)
}
