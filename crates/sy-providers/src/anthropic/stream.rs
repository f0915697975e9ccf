//! The stream: Anthropic's SSE events (`message_start`, `content_block_*`, `message_delta`,
//! `message_stop`, `ping`, `error`) in, OpenAI chunks, usage, end and errors out.

use serde_json::{json, Value};

use super::{chunk, finish_reason, PromptUsage};
use crate::chunk::{error_from_value, Piece, UpstreamError};

/// State of one Anthropic stream.
#[derive(Debug, Default)]
pub struct StreamState {
    /// Input and cache tokens from `message_start` (a `message_delta` may restate them).
    prompt: PromptUsage,
    /// The Anthropic content-block index of each tool call begun so far; the position is the
    /// OpenAI tool-call index (Anthropic counts text blocks too, OpenAI counts calls only).
    tool_blocks: Vec<u64>,
    /// Whitespace trimmed off the end of a prefill, which the continuation tends to start with.
    pending_space: String,
}

impl StreamState {
    /// Prepares for a resumed stream whose request carried `prefill` (the text already
    /// delivered): the encoder trimmed its trailing whitespace, so the model usually begins by
    /// repeating it, and those characters must not reach the client a second time.
    pub fn resume_after(&mut self, prefill: &str) {
        prefill[prefill.trim_end().len()..].clone_into(&mut self.pending_space);
    }

    pub(crate) fn event(&mut self, event: &str, data: &str, out: &mut Vec<Piece>) {
        let data = data.trim();
        if data.is_empty() {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            out.push(Piece::Malformed);
            return;
        };
        if !v.is_object() {
            out.push(Piece::Malformed);
            return;
        }
        // the data names its own type; the SSE event name is a fallback for proxies that drop it
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(event);
        if self.handle(kind, &v, out).is_none() {
            out.push(Piece::Malformed);
        }
    }

    /// None: an event of a known type without the fields it must have.
    fn handle(&mut self, kind: &str, v: &Value, out: &mut Vec<Piece>) -> Option<()> {
        match kind {
            "message_start" => {
                if let Some(u) = v.get("message")?.get("usage") {
                    self.prompt.update(u);
                }
                out.push(Piece::Chunk(chunk(
                    json!({"role": "assistant", "content": ""}),
                    None,
                )));
            }
            "content_block_start" => {
                let index = v.get("index")?.as_u64()?;
                self.block_start(index, v.get("content_block")?, out)?;
            }
            "content_block_delta" => {
                let index = v.get("index")?.as_u64()?;
                self.block_delta(index, v.get("delta")?, out)?;
            }
            "message_delta" => {
                let stop = v.get("delta").and_then(|d| d.get("stop_reason"));
                if let Some(reason) = stop.and_then(Value::as_str) {
                    out.push(Piece::Chunk(chunk(json!({}), Some(finish_reason(reason)))));
                }
                if let Some(u) = v.get("usage") {
                    self.prompt.update(u);
                    // the counts are cumulative: the last message_delta has the totals
                    if let Some(output) = u.get("output_tokens").and_then(Value::as_u64) {
                        out.push(Piece::Usage(self.prompt.with_output(output)));
                    }
                }
            }
            "message_stop" => out.push(Piece::Done),
            "error" => out.push(Piece::Error(error_from_value(v).unwrap_or_else(|| {
                UpstreamError {
                    message: "error event without an error object".to_owned(),
                    code: None,
                    kind: Some("error".to_owned()),
                }
            }))),
            // ping, content_block_stop, and event types added later (Anthropic's versioning
            // policy asks clients to ignore those)
            _ => {}
        }
        Some(())
    }

    fn block_start(&mut self, index: u64, block: &Value, out: &mut Vec<Piece>) -> Option<()> {
        match block.get("type")?.as_str()? {
            "text" => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                self.text(text, out);
            }
            "thinking" => {
                let text = block.get("thinking").and_then(Value::as_str).unwrap_or("");
                reasoning(text, out);
            }
            "tool_use" => {
                let ordinal = self.tool_blocks.len();
                self.tool_blocks.push(index);
                // streamed input arrives as input_json_delta; a start that already holds the
                // whole input (not seen from Anthropic itself) is passed on as arguments
                let arguments = match block.get("input") {
                    Some(Value::Object(o)) if !o.is_empty() => Value::Object(o.clone()).to_string(),
                    _ => String::new(),
                };
                let call = json!({
                    "index": ordinal,
                    "id": block.get("id")?.as_str()?,
                    "type": "function",
                    "function": {"name": block.get("name")?.as_str()?, "arguments": arguments},
                });
                out.push(Piece::Chunk(chunk(json!({ "tool_calls": [call] }), None)));
            }
            // redacted thinking, server tools and their results: nothing OpenAI can carry
            _ => {}
        }
        Some(())
    }

    fn block_delta(&mut self, index: u64, delta: &Value, out: &mut Vec<Piece>) -> Option<()> {
        match delta.get("type")?.as_str()? {
            "text_delta" => self.text(delta.get("text")?.as_str()?, out),
            "thinking_delta" => reasoning(delta.get("thinking")?.as_str()?, out),
            "input_json_delta" => {
                let partial = delta.get("partial_json")?.as_str()?;
                // deltas of a block that is no tool call (a server tool's input) are not ours
                let ordinal = self.tool_blocks.iter().position(|b| *b == index);
                if let (Some(ordinal), false) = (ordinal, partial.is_empty()) {
                    let call = json!({"index": ordinal, "function": {"arguments": partial}});
                    out.push(Piece::Chunk(chunk(json!({ "tool_calls": [call] }), None)));
                }
            }
            // signature_delta, citations_delta and later types
            _ => {}
        }
        Some(())
    }

    fn text(&mut self, text: &str, out: &mut Vec<Piece>) {
        let mut text = text;
        if !self.pending_space.is_empty() {
            let same = common_prefix(&self.pending_space, text);
            text = &text[same..];
            self.pending_space.replace_range(..same, "");
            if !text.is_empty() {
                // the model went on without (all of) the whitespace: nothing more to swallow
                self.pending_space.clear();
            }
        }
        if !text.is_empty() {
            out.push(Piece::Chunk(chunk(json!({ "content": text }), None)));
        }
    }
}

fn reasoning(text: &str, out: &mut Vec<Piece>) {
    if !text.is_empty() {
        out.push(Piece::Chunk(chunk(json!({ "reasoning": text }), None)));
    }
}

/// Length in bytes of the common prefix of `a` and `b`, on char boundaries.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or_else(|| a.len().min(b.len()), |((i, _), _)| i)
}
