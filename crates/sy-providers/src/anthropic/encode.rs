//! The request: an OpenAI chat body becomes a Messages body — the conversation (see `messages`)
//! plus the parameters that have an Anthropic equivalent. Parameters without one (`seed`,
//! penalties, `logit_bias`, `response_format`, ...) are left out: `require_parameters` routing
//! is how a client insists on them.

use serde_json::{json, Map, Value};
use sy_api::ChatRequest;

use super::messages;
use crate::Encoded;

/// The API version the translation is written against.
const VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; this is used when neither the request nor the endpoint
/// gives one.
const DEFAULT_MAX_TOKENS: u64 = 4096;

pub(crate) fn encode(
    req: &ChatRequest,
    upstream_model: &str,
    prefill: Option<&str>,
    max_tokens_default: Option<u64>,
) -> Result<Encoded, String> {
    let b = &req.body;
    if b.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err("`n` above 1: the anthropic protocol gives one choice".to_owned());
    }
    let conversation = messages::translate(req.messages(), prefill)?;
    let mut out = Map::new();
    out.insert("model".to_owned(), Value::from(upstream_model));
    if let Some(system) = conversation.system {
        out.insert("system".to_owned(), system);
    }
    out.insert("messages".to_owned(), Value::Array(conversation.messages));
    let max_tokens = req
        .max_tokens
        .or(max_tokens_default)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".to_owned(), Value::from(max_tokens));
    if let Some(stops) = stop_sequences(b.get("stop")) {
        out.insert("stop_sequences".to_owned(), stops);
    }
    if let Some(t) = b.get("temperature").and_then(Value::as_f64) {
        // OpenAI's range is 0..2, Anthropic's 0..1: an out-of-range value would be a request
        // error here although another endpoint of the same model accepts it.
        out.insert("temperature".to_owned(), Value::from(t.clamp(0.0, 1.0)));
    }
    for k in ["top_p", "top_k"] {
        if let Some(v) = b.get(k).filter(|v| v.is_number()) {
            out.insert(k.to_owned(), v.clone());
        }
    }
    let tools = match b.get("tools") {
        Some(Value::Array(list)) if !list.is_empty() => tools(list)?,
        _ => Vec::new(),
    };
    if !tools.is_empty() {
        let parallel = b.get("parallel_tool_calls").and_then(Value::as_bool);
        if let Some(choice) = tool_choice(b.get("tool_choice"), parallel)? {
            out.insert("tool_choice".to_owned(), choice);
        }
        out.insert("tools".to_owned(), Value::Array(tools));
    }
    if let Some(user) = b.get("user").and_then(Value::as_str) {
        out.insert("metadata".to_owned(), json!({ "user_id": user }));
    }
    out.insert("stream".to_owned(), Value::Bool(true));
    let body = serde_json::to_vec(&Value::Object(out)).map_err(|e| e.to_string())?;
    Ok(Encoded {
        path: "/messages",
        body,
        headers: vec![("anthropic-version", VERSION)],
    })
}

/// `stop` (a string or a list) as `stop_sequences`; empty strings mean nothing and are dropped.
fn stop_sequences(stop: Option<&Value>) -> Option<Value> {
    let list: Vec<Value> = match stop? {
        Value::String(s) => vec![Value::from(s.as_str())],
        Value::Array(a) => a.clone(),
        _ => return None,
    };
    let list: Vec<Value> = list
        .into_iter()
        .filter(|s| s.as_str().is_some_and(|s| !s.is_empty()))
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

/// OpenAI function tools as Anthropic tools.
fn tools(list: &[Value]) -> Result<Vec<Value>, String> {
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            match t.get("type").and_then(Value::as_str) {
                None | Some("function") => {}
                Some(other) => {
                    return Err(format!(
                        "tools[{i}]: type `{other}` has no anthropic equivalent"
                    ))
                }
            }
            let f = t
                .get("function")
                .ok_or_else(|| format!("tools[{i}]: `function` missing"))?;
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("tools[{i}]: `function.name` missing"))?;
            let mut tool = Map::new();
            tool.insert("name".to_owned(), Value::from(name));
            if let Some(d) = f.get("description").and_then(Value::as_str) {
                tool.insert("description".to_owned(), Value::from(d));
            }
            // Anthropic requires a schema; OpenAI's default for a tool without one is "no arguments"
            let schema = match f.get("parameters") {
                Some(p @ Value::Object(_)) => p.clone(),
                _ => json!({"type": "object", "properties": {}}),
            };
            tool.insert("input_schema".to_owned(), schema);
            if let Some(c) = t.get("cache_control") {
                tool.insert("cache_control".to_owned(), c.clone());
            }
            Ok(Value::Object(tool))
        })
        .collect()
}

/// `tool_choice` and `parallel_tool_calls` as Anthropic's `tool_choice`; None: Anthropic's
/// default (`auto`, parallel calls allowed) is what was asked.
fn tool_choice(choice: Option<&Value>, parallel: Option<bool>) -> Result<Option<Value>, String> {
    let mut tc = match choice {
        None | Some(Value::Null) => json!({"type": "auto"}),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => return Ok(Some(json!({"type": "none"}))),
            other => return Err(format!("tool_choice `{other}` is not understood")),
        },
        Some(v) => {
            let name = v
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or("tool_choice: `function.name` missing")?;
            json!({"type": "tool", "name": name})
        }
    };
    if parallel == Some(false) {
        tc["disable_parallel_tool_use"] = Value::Bool(true);
    } else if choice.is_none_or(Value::is_null) {
        return Ok(None);
    }
    Ok(Some(tc))
}
