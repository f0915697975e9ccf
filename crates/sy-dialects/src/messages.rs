//! Anthropic Messages (SPEC §4.6): `message` bodies and the event stream (`message_start`,
//! `content_block_*`, `message_delta` with `usage` and `cost`, `message_stop`), errors in
//! Anthropic's shape with its error types.

mod parse;
mod render;

use serde_json::json;
use sy_api::{ApiError, Family, Request};

use crate::{Dialect, Render};

/// The Anthropic Messages dialect.
pub struct Messages;

impl Dialect for Messages {
    fn family(&self) -> Family {
        Family::Messages
    }

    fn parse(&self, body: &[u8], headers: &[(&str, &str)]) -> Result<Request, ApiError> {
        parse::parse(body, headers)
    }

    fn render(&self, stream: bool) -> Box<dyn Render> {
        Box::new(render::MessagesRender::new(stream))
    }

    fn error_body(&self, err: &ApiError) -> Vec<u8> {
        serde_json::to_vec(&error_value(err)).unwrap_or_default()
    }
}

/// Anthropic's error type for an HTTP status (SPEC §4.6).
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 => "timeout_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// `{"type":"error","error":{"type","message"}}`, with Switchyard's metadata beside them.
fn error_value(err: &ApiError) -> serde_json::Value {
    json!({
        "type": "error",
        "error": {
            "type": error_type(err.status),
            "message": err.message,
            "metadata": err.metadata,
        }
    })
}
