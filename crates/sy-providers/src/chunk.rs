//! The common currency of translation: OpenAI chunks plus side facts (usage, end, errors), and
//! the facts the relay reads off a chunk (does it carry content, its text, its finish reason).

use serde_json::Value;

/// What a decoder makes of upstream events.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// An OpenAI `chat.completion.chunk` with at least one choice.
    Chunk(Value),
    /// Usage as the upstream reported it.
    Usage(UpstreamUsage),
    /// The upstream said the answer is complete (`[DONE]`, `message_stop`).
    Done,
    /// An error event inside the stream.
    Error(UpstreamError),
    /// An event that could not be understood: skipped and counted.
    Malformed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpstreamUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens read from the provider's cache, when it says.
    pub cached_tokens: Option<u64>,
    /// Prompt tokens written to the provider's cache, when it says.
    pub cache_write_tokens: Option<u64>,
}

/// An upstream's error, as read from its body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamError {
    pub message: String,
    /// OpenAI's `error.code` (e.g. `context_length_exceeded`).
    pub code: Option<String>,
    /// OpenAI's `error.type` / Anthropic's `error.type` (e.g. `overloaded_error`).
    pub kind: Option<String>,
}

/// Facts about one OpenAI chunk.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChunkFacts {
    /// Carries content: text, a tool call, reasoning or a refusal (a role-only chunk does not).
    pub content: bool,
    /// The text of choice 0.
    pub text: String,
    /// A finish reason of any choice.
    pub finish_reason: Option<String>,
    pub tool_calls: bool,
}

impl ChunkFacts {
    pub fn of(chunk: &Value) -> Self {
        let mut f = ChunkFacts::default();
        let Some(choices) = chunk.get("choices").and_then(Value::as_array) else {
            return f;
        };
        for c in choices {
            if let Some(r) = c.get("finish_reason").and_then(Value::as_str) {
                f.finish_reason = Some(r.to_owned());
            }
            let Some(d) = c.get("delta") else { continue };
            let first = c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0;
            if let Some(t) = d.get("content").and_then(Value::as_str) {
                if !t.is_empty() {
                    f.content = true;
                    if first {
                        f.text.push_str(t);
                    }
                }
            }
            if d.get("tool_calls")
                .is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty()))
            {
                f.content = true;
                f.tool_calls = true;
            }
            for k in ["reasoning", "reasoning_content", "refusal"] {
                if d.get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
                {
                    f.content = true;
                }
            }
        }
        f
    }
}

/// Reads an error body of either protocol: OpenAI `{"error":{"message","type","code"}}`,
/// Anthropic `{"type":"error","error":{"type","message"}}`, or anything else as text.
pub(crate) fn parse_error_body(status: u16, body: &[u8]) -> UpstreamError {
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
        }),
        Value::Object(o) => Some(UpstreamError {
            message: o
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| truncate(&e.to_string(), 500), |m| truncate(m, 500)),
            code: as_string(o.get("code")),
            kind: as_string(o.get("type")),
        }),
        _ => None,
    }
}

fn truncate(s: &str, max: usize) -> String {
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
    use serde_json::json;

    #[test]
    fn facts() {
        let role = json!({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]});
        assert!(!ChunkFacts::of(&role).content);
        let text = json!({"choices":[{"index":0,"delta":{"content":" fox"},"finish_reason":null}]});
        let f = ChunkFacts::of(&text);
        assert!(f.content && f.text == " fox" && f.finish_reason.is_none());
        let fin = json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]});
        assert_eq!(ChunkFacts::of(&fin).finish_reason.as_deref(), Some("stop"));
    }

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
