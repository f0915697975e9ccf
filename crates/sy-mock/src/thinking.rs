//! Simulated reasoning: a request that asks for it (Anthropic's `thinking`, OpenAI's
//! `reasoning_effort`) gets a reasoning text first — Anthropic's as a `thinking` block with a
//! signature. Signatures are checked when thinking blocks come back in a later turn, as
//! Anthropic does, so a gateway that alters or drops them is caught.

use std::hash::{Hash, Hasher};

use serde_json::Value;

/// What the mock reasons when the behaviour names no text.
pub(crate) const DEFAULT_REASONING: &str = "Let me think about that step by step.";

/// The signature of a thinking text: deterministic, so any simulated Anthropic provider
/// accepts the blocks of any other, and a changed text or signature is refused.
pub(crate) fn signature(thinking: &str) -> String {
    // SipHash with fixed keys: the same on every run and every instance
    let mut h = std::hash::DefaultHasher::new();
    "switchyard-mock-thinking".hash(&mut h);
    thinking.hash(&mut h);
    format!("EqMockSig{:016x}==", h.finish())
}

/// The first thinking block in `messages` whose signature is not the mock's, if any.
pub(crate) fn bad_signature(messages: &[crate::request::Message]) -> Option<String> {
    for (i, m) in messages.iter().enumerate() {
        let Some(Value::Array(blocks)) = &m.content else {
            continue;
        };
        for (j, b) in blocks.iter().enumerate() {
            if b.get("type").and_then(Value::as_str) != Some("thinking") {
                continue;
            }
            let text = b.get("thinking").and_then(Value::as_str).unwrap_or("");
            let sig = b.get("signature").and_then(Value::as_str).unwrap_or("");
            if sig != signature(text) {
                return Some(format!(
                    "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                ));
            }
        }
    }
    None
}

/// Splits a text into word pieces for streaming (each keeps its leading space).
pub(crate) fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == ' ' && i > start {
            out.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_stable_and_specific() {
        assert_eq!(signature("a"), signature("a"));
        assert_ne!(signature("a"), signature("b"));
        assert_eq!(pieces("Let me think.").concat(), "Let me think.");
        assert_eq!(pieces("Let me think."), vec!["Let", " me", " think."]);
    }
}
