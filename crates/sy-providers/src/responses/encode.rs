//! The request body: a Responses request as sent (pass-through), or the typed conversation as
//! `instructions` and `input` items.

use serde_json::{json, Map, Value};
use sy_api::{Family, OutputFormat, Part, Request, Role, ToolChoice, RESPONSES_ISSUER};

use crate::Target;

pub(crate) fn body(
    req: &Request,
    target: &Target<'_>,
    prefill: Option<&str>,
) -> Result<Vec<u8>, String> {
    let mut body = if req.family == Family::Responses {
        passed(req, target)
    } else {
        translated(req, target)
    };
    body.insert("model".to_owned(), Value::from(target.upstream_model));
    body.insert("stream".to_owned(), Value::Bool(true));
    if let Some(text) = prefill {
        let input = body
            .entry("input")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::String(s) = input {
            *input = json!([{"role": "user", "content": s.as_str()}]);
        }
        if let Value::Array(items) = input {
            items.push(json!({"role": "assistant", "content": text}));
        }
    }
    serde_json::to_vec(&Value::Object(body)).map_err(|e| e.to_string())
}

/// The client's body; stored reasoning items only for the provider that issued them.
fn passed(req: &Request, target: &Target<'_>) -> Map<String, Value> {
    let mut body = req.body.clone();
    if let Some(Value::Array(items)) = body.get_mut("input") {
        if items.iter().any(|i| i.get(RESPONSES_ISSUER).is_some()) {
            items.retain(|i| {
                i.get(RESPONSES_ISSUER)
                    .is_none_or(|p| p.as_str() == Some(target.provider.name.as_str()))
            });
            for i in items.iter_mut() {
                if let Some(o) = i.as_object_mut() {
                    o.remove(RESPONSES_ISSUER);
                }
            }
        }
    }
    body
}

fn translated(req: &Request, target: &Target<'_>) -> Map<String, Value> {
    let c = &req.conv;
    let mut body = Map::new();
    let instructions = plain_text(&c.system);
    if !instructions.is_empty() {
        body.insert("instructions".to_owned(), Value::from(instructions));
    }
    let mut input = Vec::with_capacity(c.turns.len() + 1);
    for t in &c.turns {
        match t.role {
            Role::User => input.push(json!({"role": "user", "content": user_content(&t.parts)})),
            Role::System => {
                input.push(json!({"role": "developer", "content": plain_text(&t.parts)}));
            }
            Role::Assistant => {
                let mut text = String::new();
                for p in &t.parts {
                    match p {
                        Part::Text { text: t, .. } => text.push_str(t),
                        Part::ToolCall {
                            id,
                            name,
                            arguments,
                        } => {
                            flush_text(&mut text, &mut input);
                            input.push(json!({"type": "function_call", "call_id": id,
                                "name": name, "arguments": arguments}));
                        }
                        Part::Native {
                            origin: Family::Responses,
                            value,
                        } => {
                            flush_text(&mut text, &mut input);
                            input.push(value.clone());
                        }
                        // reasoning of other families has no place in Responses input
                        _ => {}
                    }
                }
                flush_text(&mut text, &mut input);
            }
            Role::Tool => {
                for p in &t.parts {
                    if let Part::ToolResult {
                        call_id, content, ..
                    } = p
                    {
                        input.push(json!({"type": "function_call_output", "call_id": call_id,
                            "output": plain_text(content)}));
                    }
                }
            }
        }
    }
    body.insert("input".to_owned(), Value::Array(input));
    if !c.tools.is_empty() {
        let tools: Vec<Value> = c
            .tools
            .iter()
            .map(|t| {
                let mut f = Map::new();
                f.insert("type".to_owned(), Value::from("function"));
                f.insert("name".to_owned(), Value::from(t.name.as_str()));
                if let Some(d) = &t.description {
                    f.insert("description".to_owned(), Value::from(d.as_str()));
                }
                f.insert("parameters".to_owned(), t.parameters.clone());
                if let Some(s) = t.strict {
                    f.insert("strict".to_owned(), Value::Bool(s));
                }
                Value::Object(f)
            })
            .collect();
        body.insert("tools".to_owned(), Value::Array(tools));
        let choice = match &c.tool_choice {
            ToolChoice::Default => None,
            ToolChoice::Auto => Some(Value::from("auto")),
            ToolChoice::None => Some(Value::from("none")),
            ToolChoice::Required => Some(Value::from("required")),
            ToolChoice::Named(n) => Some(json!({"type": "function", "name": n})),
        };
        if let Some(v) = choice {
            body.insert("tool_choice".to_owned(), v);
        }
        if let Some(p) = c.params.parallel_tool_calls {
            body.insert("parallel_tool_calls".to_owned(), Value::Bool(p));
        }
    }
    let p = &c.params;
    if let Some(m) = p.max_tokens {
        body.insert("max_output_tokens".to_owned(), Value::from(m));
    }
    if let Some(t) = p.temperature {
        body.insert("temperature".to_owned(), Value::from(t));
    }
    if let Some(t) = p.top_p {
        body.insert("top_p".to_owned(), Value::from(t));
    }
    if let Some(u) = &p.user {
        body.insert("user".to_owned(), Value::from(u.as_str()));
    }
    if let Some(r) = p
        .reasoning
        .as_ref()
        .filter(|r| r.wanted() && target.supports("reasoning"))
    {
        let mut v = json!({"effort": r.effort_word(req.max_tokens)});
        if let Some(s) = &r.summary {
            v["summary"] = Value::from(s.as_str());
        }
        body.insert("reasoning".to_owned(), v);
    }
    match &p.format {
        Some(OutputFormat::JsonObject) => {
            body.insert(
                "text".to_owned(),
                json!({"format": {"type": "json_object"}}),
            );
        }
        Some(OutputFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => {
            let mut f = json!({"type": "json_schema", "name": name, "schema": schema});
            if let Some(s) = strict {
                f["strict"] = Value::Bool(*s);
            }
            body.insert("text".to_owned(), json!({ "format": f }));
        }
        None => {}
    }
    // the gateway keeps no state at the provider for a translated request
    body.insert("store".to_owned(), Value::Bool(false));
    body
}

fn flush_text(text: &mut String, input: &mut Vec<Value>) {
    if text.is_empty() {
        return;
    }
    input.push(json!({"role": "assistant",
        "content": [{"type": "output_text", "text": std::mem::take(text)}]}));
}

/// A user turn's content: a string when it is text only, else input parts.
fn user_content(parts: &[Part]) -> Value {
    if parts.iter().all(|p| matches!(p, Part::Text { .. })) {
        return Value::from(plain_text(parts));
    }
    let list: Vec<Value> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } => Some(json!({"type": "input_text", "text": text})),
            Part::Image { source, .. } => {
                Some(json!({"type": "input_image", "image_url": source.to_url()}))
            }
            Part::Document { source, name, .. } => {
                let mut f = json!({"type": "input_file", "file_data": source.to_url()});
                if let Some(n) = name {
                    f["filename"] = Value::from(n.as_str());
                }
                Some(f)
            }
            Part::Native {
                origin: Family::Responses,
                value,
            } => Some(value.clone()),
            _ => None,
        })
        .collect();
    Value::Array(list)
}

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
