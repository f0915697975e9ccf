//! The request: a Messages request as the client sent it (only `model` replaced, the delivered
//! text appended as the assistant's prefill when resuming), or the typed conversation translated
//! into a Messages body with the parameters that have an Anthropic equivalent. Parameters
//! without one (`seed`, penalties, `logit_bias`, `response_format`, ...) are left out:
//! `require_parameters` routing is how a client insists on them.

use serde_json::{json, Map, Value};
use sy_api::{Family, Request, ToolChoice};

use super::messages;
use crate::Target;

/// The API version the translation is written against.
pub(crate) const VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; this is used when neither the request nor the endpoint
/// gives one.
const DEFAULT_MAX_TOKENS: u64 = 4096;

pub(crate) fn body(
    req: &Request,
    target: &Target<'_>,
    prefill: Option<&str>,
) -> Result<Value, String> {
    if req.family == Family::Messages {
        return Ok(passed(req, target, prefill));
    }
    translated(req, target, prefill)
}

/// The client's body with the endpoint's model; a prefill is the last assistant turn, without
/// trailing whitespace (Anthropic refuses it; the decoder swallows the model's repeat of it).
fn passed(req: &Request, target: &Target<'_>, prefill: Option<&str>) -> Value {
    let mut body = req.body.clone();
    body.insert("model".to_owned(), Value::from(target.upstream_model));
    body.insert("stream".to_owned(), Value::Bool(true));
    if let Some(text) = prefill.map(str::trim_end).filter(|t| !t.is_empty()) {
        if let Some(Value::Array(list)) = body.get_mut("messages") {
            let last_is_assistant = list
                .last()
                .and_then(|m| m.get("role"))
                .and_then(Value::as_str)
                == Some("assistant");
            if last_is_assistant {
                // the client's own prefill, then what was delivered: one continuous text
                if let Some(last) = list.last_mut() {
                    let mut blocks = match last.get("content") {
                        Some(Value::String(s)) => vec![json!({"type": "text", "text": s})],
                        Some(Value::Array(a)) => a.clone(),
                        _ => Vec::new(),
                    };
                    blocks.push(json!({"type": "text", "text": text}));
                    last["content"] = Value::Array(blocks);
                }
            } else {
                list.push(json!({"role": "assistant", "content": text}));
            }
        }
    }
    Value::Object(body)
}

fn translated(req: &Request, target: &Target<'_>, prefill: Option<&str>) -> Result<Value, String> {
    let c = &req.conv;
    let conv = messages::translate(c, prefill)?;
    let mut out = Map::new();
    out.insert("model".to_owned(), Value::from(target.upstream_model));
    if let Some(system) = conv.system {
        out.insert("system".to_owned(), system);
    }
    out.insert("messages".to_owned(), Value::Array(conv.messages));
    let mut max_tokens = c
        .params
        .max_tokens
        .or(target.max_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let thinking = c
        .params
        .reasoning
        .as_ref()
        .filter(|r| r.wanted() && target.supports("reasoning"));
    if let Some(r) = thinking {
        let budget = r.budget(max_tokens);
        // the budget must stay below max_tokens, with room left for the answer
        if max_tokens <= budget {
            max_tokens = budget + max_tokens.max(1024);
        }
        out.insert(
            "thinking".to_owned(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    out.insert("max_tokens".to_owned(), Value::from(max_tokens));
    let p = &c.params;
    let stops: Vec<&String> = p.stop.iter().filter(|s| !s.is_empty()).collect();
    if !stops.is_empty() {
        out.insert("stop_sequences".to_owned(), json!(stops));
    }
    // with thinking on, Anthropic takes neither a temperature nor top_k
    if thinking.is_none() {
        if let Some(t) = p.temperature {
            // OpenAI's range is 0..2, Anthropic's 0..1: an out-of-range value would be a request
            // error here although another endpoint of the same model accepts it.
            out.insert("temperature".to_owned(), Value::from(t.clamp(0.0, 1.0)));
        }
        if let Some(k) = p.top_k {
            out.insert("top_k".to_owned(), Value::from(k));
        }
    }
    if let Some(t) = p.top_p {
        out.insert("top_p".to_owned(), Value::from(t));
    }
    if !c.tools.is_empty() {
        let tools: Vec<Value> = c
            .tools
            .iter()
            .map(|t| {
                let mut tool = Map::new();
                tool.insert("name".to_owned(), Value::from(t.name.as_str()));
                if let Some(d) = &t.description {
                    tool.insert("description".to_owned(), Value::from(d.as_str()));
                }
                tool.insert("input_schema".to_owned(), t.parameters.clone());
                if let Some(c) = &t.cache {
                    tool.insert("cache_control".to_owned(), c.clone());
                }
                Value::Object(tool)
            })
            .collect();
        if let Some(choice) = tool_choice(&c.tool_choice, p.parallel_tool_calls) {
            out.insert("tool_choice".to_owned(), choice);
        }
        out.insert("tools".to_owned(), Value::Array(tools));
    }
    if let Some(user) = &p.user {
        out.insert("metadata".to_owned(), json!({ "user_id": user }));
    }
    out.insert("stream".to_owned(), Value::Bool(true));
    Ok(Value::Object(out))
}

/// `tool_choice` and `parallel_tool_calls` as Anthropic's `tool_choice`; None: Anthropic's
/// default (`auto`, parallel calls allowed) is what was asked.
fn tool_choice(choice: &ToolChoice, parallel: Option<bool>) -> Option<Value> {
    let mut tc = match choice {
        ToolChoice::Default | ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::None => return Some(json!({"type": "none"})),
        ToolChoice::Named(n) => json!({"type": "tool", "name": n}),
    };
    if parallel == Some(false) {
        tc["disable_parallel_tool_use"] = Value::Bool(true);
    } else if *choice == ToolChoice::Default {
        return None;
    }
    Some(tc)
}
