//! OpenAI Responses (SPEC §4.7): `input` as a string or items (messages, `function_call`,
//! `function_call_output`, `reasoning`), the semantic event stream (`response.created` ...
//! `response.completed` with `usage` and `cost`), errors in OpenAI's shape
//! (`{"error": {"message", "type", "param", "code"}}`).
//!
//! State (`store`, `previous_response_id`) is the server's: it rewrites the body's `input` to the
//! stored items followed by the new ones before the dialect parses it (`with_history`), and keeps
//! the rendered response (`Render::response`).

mod parse;
mod render;

use serde_json::{json, Map, Value};
use sy_api::{ApiError, Family, Request};

use crate::{Dialect, Render};

/// The Responses dialect.
pub struct Responses;

/// The member of a stored reasoning item naming the provider that issued its
/// `encrypted_content` (read by the `openai-responses` protocol, never sent upstream).
pub use sy_api::RESPONSES_ISSUER as ISSUER;

impl Dialect for Responses {
    fn family(&self) -> Family {
        Family::Responses
    }

    fn parse(&self, body: &[u8], _headers: &[(&str, &str)]) -> Result<Request, ApiError> {
        parse::parse(body)
    }

    fn render(&self, stream: bool) -> Box<dyn Render> {
        Box::new(render::ResponsesRender::new(stream))
    }

    fn error_body(&self, err: &ApiError) -> Vec<u8> {
        serde_json::to_vec(&error_value(err)).unwrap_or_default()
    }
}

/// OpenAI's error `type` for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "insufficient_quota",
        403 => "permission_error",
        404 => "not_found_error",
        408 => "timeout_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        503 => "service_unavailable_error",
        _ => "server_error",
    }
}

/// `{"error": {"message", "type", "param", "code"}}` with Switchyard's metadata beside them.
fn error_value(err: &ApiError) -> Value {
    let param = err.metadata.get("field").cloned().unwrap_or(Value::Null);
    json!({
        "error": {
            "message": err.message,
            "type": error_type(err.status),
            "param": param,
            "code": err.status,
            "metadata": err.metadata,
        }
    })
}

/// A body's `input` as a list of items (a string is one user message).
pub fn input_items(body: &Map<String, Value>) -> Vec<Value> {
    match body.get("input") {
        Some(Value::String(s)) => vec![json!({"type": "message", "role": "user", "content": s})],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// The body continuing a stored conversation: `input` becomes the stored items followed by the
/// new ones, and `previous_response_id` (the gateway's id) is removed, so that what follows
/// (parsing, pass-through) sees one self-contained request.
pub fn with_history(body: &mut Map<String, Value>, history: Vec<Value>) {
    let mut items = history;
    items.extend(input_items(body));
    body.insert("input".to_owned(), Value::Array(items));
    body.remove("previous_response_id");
}

/// The items a stored response adds to its conversation: its output, each reasoning item that
/// carries `encrypted_content` marked with the provider that issued it.
pub fn output_items(response: &Value, provider: &str) -> Vec<Value> {
    let Some(list) = response.get("output").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|item| {
            let mut item = item.clone();
            if let Some(o) = item.as_object_mut() {
                let encrypted = o
                    .get("encrypted_content")
                    .is_some_and(|e| e.as_str().is_some_and(|s| !s.is_empty()));
                if o.get("type").and_then(Value::as_str) == Some("reasoning") && encrypted {
                    o.insert(ISSUER.to_owned(), Value::from(provider));
                }
                // an assistant message goes back as input without its output-only members
                o.remove("status");
            }
            item
        })
        .collect()
}

#[cfg(test)]
mod tests;
