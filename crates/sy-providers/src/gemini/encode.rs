//! The request: the typed conversation as a `GenerateContentRequest` (camelCase, as Google's
//! reference writes it). System text becomes `systemInstruction`; assistant turns are `model`
//! turns; tool results are `functionResponse` parts of a `user` turn, named after the call they
//! answer; consecutive turns of one role are merged. OpenRouter's `reasoning` becomes
//! `thinkingConfig`. Parameters without a Gemini equivalent are left out.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use sy_api::{Conversation, Family, Media, OutputFormat, Part, Request, Role, ToolChoice};

use crate::Target;

/// Gemini takes at most this many stop sequences.
const MAX_STOPS: usize = 5;

/// The largest thinking budget Gemini 2.5 models take (Flash's; Pro's is higher).
const MAX_THINKING_BUDGET: u64 = 24_576;

/// Used for the effort's share when neither the request nor the endpoint gives `max_tokens`.
const DEFAULT_MAX_TOKENS: u64 = 8192;

pub(crate) fn body(
    req: &Request,
    target: &Target<'_>,
    prefill: Option<&str>,
) -> Result<Vec<u8>, String> {
    let body = if req.family == Family::Gemini {
        passed(req, prefill)
    } else {
        translated(&req.conv, target, prefill)?
    };
    serde_json::to_vec(&body).map_err(|e| e.to_string())
}

/// A Gemini body as the client sent it (the model is in the URL), the prefill appended.
fn passed(req: &Request, prefill: Option<&str>) -> Value {
    let mut body = req.body.clone();
    body.remove("model");
    body.remove("stream");
    if let (Some(text), Some(Value::Array(contents))) = (prefill, body.get_mut("contents")) {
        contents.push(json!({"role": "model", "parts": [{"text": text}]}));
    }
    Value::Object(body)
}

fn translated(
    c: &Conversation,
    target: &Target<'_>,
    prefill: Option<&str>,
) -> Result<Value, String> {
    let mut out = Map::new();
    let names = call_names(c);
    let mut contents: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for t in &c.turns {
        let role = match t.role {
            Role::Assistant => "model",
            Role::User | Role::Tool => "user",
            Role::System => continue, // joins the system instruction below
        };
        let parts = parts(&t.parts, &names)?;
        push(&mut contents, role, parts);
    }
    if let Some(text) = prefill.filter(|t| !t.is_empty()) {
        push(&mut contents, "model", vec![json!({"text": text})]);
    }
    if contents.is_empty() {
        return Err("no user or assistant message".to_owned());
    }
    // instructions mid-conversation join the system instruction (Gemini has no such turn)
    let mid = c.turns.iter().filter(|t| t.role == Role::System);
    let system: Vec<Value> = c
        .system
        .iter()
        .chain(mid.flat_map(|t| t.parts.iter()))
        .filter_map(|p| match p {
            Part::Text { text, .. } if !text.is_empty() => Some(json!({"text": text})),
            _ => None,
        })
        .collect();
    if !system.is_empty() {
        out.insert(
            "systemInstruction".to_owned(),
            json!({"role": "user", "parts": system}),
        );
    }
    out.insert(
        "contents".to_owned(),
        Value::Array(
            contents
                .into_iter()
                .map(|(role, parts)| json!({"role": role, "parts": parts}))
                .collect(),
        ),
    );
    if !c.tools.is_empty() && c.tool_choice != ToolChoice::None {
        let decls: Vec<Value> = c
            .tools
            .iter()
            .map(|t| {
                let mut d = Map::new();
                d.insert("name".to_owned(), Value::from(t.name.as_str()));
                if let Some(desc) = &t.description {
                    d.insert("description".to_owned(), Value::from(desc.as_str()));
                }
                // full JSON Schema (the older `parameters` takes only an OpenAPI subset and
                // refuses e.g. `additionalProperties`, which OpenAI-style schemas carry)
                d.insert("parametersJsonSchema".to_owned(), t.parameters.clone());
                Value::Object(d)
            })
            .collect();
        out.insert(
            "tools".to_owned(),
            json!([{ "functionDeclarations": decls }]),
        );
        let config = match &c.tool_choice {
            ToolChoice::Default | ToolChoice::None => None,
            ToolChoice::Auto => Some(json!({"mode": "AUTO"})),
            ToolChoice::Required => Some(json!({"mode": "ANY"})),
            ToolChoice::Named(n) => Some(json!({"mode": "ANY", "allowedFunctionNames": [n]})),
        };
        if let Some(config) = config {
            out.insert(
                "toolConfig".to_owned(),
                json!({ "functionCallingConfig": config }),
            );
        }
    }
    let generation = generation_config(c, target);
    if !generation.is_empty() {
        out.insert("generationConfig".to_owned(), Value::Object(generation));
    }
    Ok(Value::Object(out))
}

fn generation_config(c: &Conversation, target: &Target<'_>) -> Map<String, Value> {
    let p = &c.params;
    let mut g = Map::new();
    let max_tokens = p.max_tokens.or(target.max_tokens);
    if let Some(m) = max_tokens {
        g.insert("maxOutputTokens".to_owned(), Value::from(m));
    }
    if let Some(t) = p.temperature {
        g.insert("temperature".to_owned(), Value::from(t));
    }
    if let Some(t) = p.top_p {
        g.insert("topP".to_owned(), Value::from(t));
    }
    if let Some(k) = p.top_k {
        g.insert("topK".to_owned(), Value::from(k));
    }
    if let Some(s) = p.seed {
        g.insert("seed".to_owned(), Value::from(s));
    }
    let stops: Vec<&String> = p
        .stop
        .iter()
        .filter(|s| !s.is_empty())
        .take(MAX_STOPS)
        .collect();
    if !stops.is_empty() {
        g.insert("stopSequences".to_owned(), json!(stops));
    }
    match &p.format {
        Some(OutputFormat::JsonObject) => {
            g.insert(
                "responseMimeType".to_owned(),
                Value::from("application/json"),
            );
        }
        Some(OutputFormat::JsonSchema { schema, .. }) => {
            g.insert(
                "responseMimeType".to_owned(),
                Value::from("application/json"),
            );
            g.insert("responseJsonSchema".to_owned(), schema.clone());
        }
        None => {}
    }
    if let Some(r) = p
        .reasoning
        .as_ref()
        .filter(|_| target.supports("reasoning"))
    {
        if r.wanted() {
            // OpenRouter's mapping: an explicit budget, else the effort's share of max_tokens
            let budget = r
                .budget(max_tokens.unwrap_or(DEFAULT_MAX_TOKENS))
                .min(MAX_THINKING_BUDGET);
            g.insert(
                "thinkingConfig".to_owned(),
                json!({"thinkingBudget": budget, "includeThoughts": !r.exclude}),
            );
        } else if r.enabled == Some(false) {
            g.insert("thinkingConfig".to_owned(), json!({"thinkingBudget": 0}));
        }
    }
    g
}

/// The function name of every tool call in the conversation, by call id: Gemini names the
/// function a `functionResponse` answers, while the other dialects name only the call's id.
fn call_names(c: &Conversation) -> HashMap<&str, &str> {
    c.turns
        .iter()
        .flat_map(|t| t.parts.iter())
        .filter_map(|p| match p {
            Part::ToolCall { id, name, .. } => Some((id.as_str(), name.as_str())),
            _ => None,
        })
        .collect()
}

/// Appends parts, merging into the previous turn of the same role (Gemini wants turns to
/// alternate, and parallel calls' responses in one turn). An empty turn is left out.
fn push(contents: &mut Vec<(&'static str, Vec<Value>)>, role: &'static str, parts: Vec<Value>) {
    if parts.is_empty() {
        return;
    }
    match contents.last_mut() {
        Some((r, p)) if *r == role => p.extend(parts),
        _ => contents.push((role, parts)),
    }
}

fn parts(list: &[Part], names: &HashMap<&str, &str>) -> Result<Vec<Value>, String> {
    let mut out = Vec::with_capacity(list.len());
    // a thought signature goes back on the part it came with: the first function call of the
    // turn (Gemini requires it there), else a part of its own
    let mut signature: Option<&str> = None;
    for p in list {
        match p {
            Part::Text { text, .. } => {
                if !text.is_empty() {
                    out.push(json!({"text": text}));
                }
            }
            Part::Image { source, .. } | Part::Document { source, .. } => {
                out.push(media(source));
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                let args = if arguments.trim().is_empty() {
                    Value::Object(Map::new())
                } else {
                    serde_json::from_str::<Value>(arguments)
                        .map_err(|e| format!("tool call `{id}`: arguments are not JSON: {e}"))?
                };
                let mut part = json!({"functionCall": {"name": name, "args": args}});
                if let Some(sig) = signature.take() {
                    part["thoughtSignature"] = Value::from(sig);
                }
                out.push(part);
            }
            Part::ToolResult {
                call_id,
                name,
                content,
                is_error,
                ..
            } => {
                let name = name
                    .as_deref()
                    .or_else(|| names.get(call_id.as_str()).copied())
                    .ok_or_else(|| {
                        format!("tool result `{call_id}` answers no tool call of the conversation (Gemini needs the function's name)")
                    })?;
                let text: String = content
                    .iter()
                    .filter_map(|c| match c {
                        Part::Text { text, .. } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                // a JSON object result is the response itself; anything else is wrapped
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(o)) if !*is_error => Value::Object(o),
                    _ if *is_error => json!({ "error": text }),
                    _ => json!({ "output": text }),
                };
                out.push(json!({"functionResponse": {"name": name, "response": response}}));
            }
            Part::Reasoning {
                signature: Some(sig),
                origin: Some(Family::Gemini),
                ..
            } => signature = Some(sig),
            Part::Native {
                origin: Family::Gemini,
                value,
            } => out.push(value.clone()),
            Part::Native { value, .. } => {
                let kind = value.get("type").and_then(Value::as_str).unwrap_or("?");
                return Err(format!("part type `{kind}` has no gemini equivalent"));
            }
            // reasoning is the model's own: only its signature goes back, and only to Gemini
            Part::Reasoning { .. } | Part::Encrypted { .. } => {}
        }
    }
    if let Some(sig) = signature {
        out.push(json!({"text": "", "thoughtSignature": sig}));
    }
    Ok(out)
}

/// An image or file: inline bytes, or a URL Gemini fetches (`fileData` needs a media type,
/// guessed from the name).
fn media(m: &Media) -> Value {
    match m {
        Media::Base64 { media_type, data } => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        Media::Url(u) => json!({"fileData": {"mimeType": mime_of(u), "fileUri": u}}),
    }
}

fn mime_of(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        _ => "image/jpeg",
    }
}
