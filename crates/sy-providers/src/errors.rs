//! Upstream error bodies: OpenAI's `{"error":{"message","type","code"}}`, Anthropic's
//! `{"type":"error","error":{"type","message"}}`, or anything else as text. Every protocol's
//! proxies mix these, so each shape is recognised whatever the protocol.

use serde_json::Value;
use sy_api::UpstreamError;

/// Reads an error body of either protocol: OpenAI `{"error":{"message","type","code"}}`,
/// Anthropic `{"type":"error","error":{"type","message"}}`, or anything else as text.
pub fn parse_error_body(status: u16, body: &[u8]) -> UpstreamError {
    let fallback = || {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let message = if text.is_empty() {
            format!("HTTP {status}")
        } else {
            truncate(text, 500)
        };
        UpstreamError {
            message,
            code: None,
            kind: None,
            status: None,
        }
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return fallback();
    };
    error_from_value(&v).unwrap_or_else(fallback)
}

/// The error object inside a JSON value, if it holds one.
pub(crate) fn error_from_value(v: &Value) -> Option<UpstreamError> {
    let e = v.get("error")?;
    let as_string = |x: Option<&Value>| match x {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match e {
        Value::String(s) => Some(UpstreamError {
            message: truncate(s, 500),
            code: None,
            kind: None,
            status: None,
        }),
        Value::Object(o) => Some(UpstreamError {
            message: o
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| truncate(&e.to_string(), 500), |m| truncate(m, 500)),
            code: as_string(o.get("code")),
            kind: as_string(o.get("type")),
            status: None,
        }),
        _ => None,
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let e = parse_error_body(400, br#"{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}"#);
        assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
        let a = parse_error_body(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(a.kind.as_deref(), Some("overloaded_error"));
        assert_eq!(
            parse_error_body(502, b"<html>bad gateway</html>").message,
            "<html>bad gateway</html>"
        );
        assert_eq!(parse_error_body(503, b"").message, "HTTP 503");
    }
}
