//! Token estimates with a real tokenizer (cl100k), for usage an upstream did not report and for
//! the context-length filter. Estimates only: every provider tokenizes differently.

use serde_json::Value;

/// Tokens of a text.
pub fn estimate_text_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let bpe = tiktoken_rs::cl100k_base_singleton();
    bpe.encode_ordinary(text).len() as u64
}

/// The text of a message's content (a string, or the text parts of an array).
pub fn message_text(content: Option<&Value>, out: &mut String) {
    match content {
        Some(Value::String(s)) => out.push_str(s),
        Some(Value::Array(parts)) => {
            for p in parts {
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    out.push_str(t);
                    out.push(' ');
                }
            }
        }
        _ => {}
    }
}

/// Bytes of a prompt's text: each message's content (a string, or the JSON of its parts) and
/// the tools' JSON. A BPE token is at least one byte, so this bounds the token count from above.
pub fn prompt_bytes(messages: &[Value], tools: Option<&Value>) -> usize {
    let mut bytes = tools.map_or(0, |t| t.to_string().len());
    for m in messages {
        bytes += match m.get("content") {
            Some(Value::String(s)) => s.len(),
            Some(v) => v.to_string().len(),
            None => 0,
        };
    }
    bytes
}

/// Prompt tokens of a message list: text plus a few tokens of framing per message, and the
/// tools' JSON (they are part of the prompt too).
pub fn estimate_prompt_tokens(messages: &[Value], tools: Option<&Value>) -> u64 {
    let mut text = String::new();
    for m in messages {
        message_text(m.get("content"), &mut text);
        text.push('\n');
        if let Some(calls) = m.get("tool_calls") {
            text.push_str(&calls.to_string());
        }
    }
    if let Some(t) = tools {
        text.push_str(&t.to_string());
    }
    estimate_text_tokens(&text) + 3 * messages.len() as u64
}

/// A cheap estimate from a byte count (about four bytes a token in English), for when the
/// prompt comfortably fits every context and the exact figure does not matter.
pub fn estimate_text_tokens_fast(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(estimate_text_tokens(""), 0);
        let n = estimate_text_tokens("The quick brown fox jumps over the lazy dog.");
        assert!((8..=12).contains(&n), "{n}");
        let msgs = vec![
            serde_json::json!({"role":"user","content":[{"type":"text","text":"hello there"}]}),
        ];
        assert!(estimate_prompt_tokens(&msgs, None) >= 2);
    }
}
