//! The stream: Anthropic's SSE events (`message_start`, `content_block_*`, `message_delta`,
//! `message_stop`, `ping`, `error`) in, typed events out, each frame kept raw.

use serde_json::Value;
use sy_api::{Event, Finish, Frame, RawFrame, UpstreamError, UpstreamUsage};

use crate::errors::error_from_value;
use crate::sse::{SseEvent, SseHandler};

/// OpenAI's finish for an Anthropic `stop_reason`.
pub(crate) fn finish(stop_reason: &str) -> Finish {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        "tool_use" => Finish::ToolCalls,
        "refusal" => Finish::ContentFilter,
        // end_turn, stop_sequence, pause_turn and reasons added later: the turn ended normally
        _ => Finish::Stop,
    }
}

/// The prompt side of Anthropic usage. Anthropic's `input_tokens` leaves out the tokens read from
/// or written to the prompt cache, while the gateway's `prompt_tokens` includes them: they are
/// added back so that prompt tokens mean the same whichever protocol answered.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PromptUsage {
    input: Option<u64>,
    cache_read: Option<u64>,
    cache_creation: Option<u64>,
}

impl PromptUsage {
    /// Updates the counts that `usage` (a `usage` object) states, keeping the others.
    pub(crate) fn update(&mut self, usage: &Value) {
        let get = |k: &str| usage.get(k).and_then(Value::as_u64);
        self.input = get("input_tokens").or(self.input);
        self.cache_read = get("cache_read_input_tokens").or(self.cache_read);
        self.cache_creation = get("cache_creation_input_tokens").or(self.cache_creation);
    }

    pub(crate) fn with_output(self, output_tokens: u64) -> UpstreamUsage {
        let prompt = [self.input, self.cache_read, self.cache_creation]
            .into_iter()
            .flatten()
            .fold(0u64, u64::saturating_add);
        UpstreamUsage {
            prompt_tokens: prompt,
            completion_tokens: output_tokens,
            cached_tokens: self.cache_read,
            cache_write_tokens: self.cache_creation,
            reasoning_tokens: None,
        }
    }
}

/// State of one Anthropic stream.
#[derive(Debug, Default)]
pub struct EventHandler {
    /// Input and cache tokens from `message_start` (a `message_delta` may restate them).
    prompt: PromptUsage,
    /// The content-block index of each tool call begun so far; the position is the call's
    /// index in the answer (Anthropic counts text blocks too).
    tool_blocks: Vec<u64>,
    /// Whitespace trimmed off the end of a prefill, which the continuation tends to start with.
    pending_space: String,
}

impl EventHandler {
    /// A handler for an answer that continues `prefill` (the text already delivered): the
    /// encoder trimmed its trailing whitespace, so the model usually begins by repeating it,
    /// and those characters must not reach the client a second time.
    pub(crate) fn resuming(prefill: Option<&str>) -> Self {
        let mut h = Self::default();
        if let Some(p) = prefill {
            p[p.trim_end().len()..].clone_into(&mut h.pending_space);
        }
        h
    }

    /// The events of one SSE event's data; None: not an event this protocol knows the shape of.
    pub(crate) fn read(
        &mut self,
        event: Option<&str>,
        data: &str,
        out: &mut Vec<Event>,
    ) -> Option<()> {
        let v = serde_json::from_str::<Value>(data).ok()?;
        if !v.is_object() {
            return None;
        }
        // the data names its own type; the SSE event name is a fallback for proxies that drop it
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(event)
            .unwrap_or("");
        match kind {
            "message_start" => {
                if let Some(u) = v.get("message")?.get("usage") {
                    self.prompt.update(u);
                }
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
                    out.push(Event::Finish(finish(reason)));
                }
                if let Some(u) = v.get("usage") {
                    self.prompt.update(u);
                    // the counts are cumulative: the last message_delta has the totals
                    if let Some(output) = u.get("output_tokens").and_then(Value::as_u64) {
                        out.push(Event::Usage(self.prompt.with_output(output)));
                    }
                }
            }
            "message_stop" => out.push(Event::Done),
            "error" => out.push(Event::Error(error_from_value(&v).unwrap_or_else(|| {
                UpstreamError {
                    message: "error event without an error object".to_owned(),
                    code: None,
                    kind: Some("error".to_owned()),
                    status: None,
                }
            }))),
            // ping, content_block_stop, and event types added later (Anthropic's versioning
            // policy asks clients to ignore those)
            _ => {}
        }
        Some(())
    }

    fn block_start(&mut self, index: u64, block: &Value, out: &mut Vec<Event>) -> Option<()> {
        match block.get("type")?.as_str()? {
            "text" => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                self.text(text, out);
            }
            "thinking" => {
                let text = block.get("thinking").and_then(Value::as_str).unwrap_or("");
                if !text.is_empty() {
                    out.push(Event::Reasoning(text.to_owned()));
                }
            }
            "redacted_thinking" => {
                let data = block.get("data").and_then(Value::as_str).unwrap_or("");
                out.push(Event::EncryptedReasoning(data.to_owned()));
            }
            "tool_use" => {
                let ordinal = u32::try_from(self.tool_blocks.len()).unwrap_or(u32::MAX);
                self.tool_blocks.push(index);
                out.push(Event::ToolStart {
                    index: ordinal,
                    id: block.get("id")?.as_str()?.to_owned(),
                    name: block.get("name")?.as_str()?.to_owned(),
                });
                // streamed input arrives as input_json_delta; a start that already holds the
                // whole input (not seen from Anthropic itself) is passed on as arguments
                if let Some(Value::Object(o)) = block.get("input") {
                    if !o.is_empty() {
                        out.push(Event::ToolArgs {
                            index: ordinal,
                            delta: Value::Object(o.clone()).to_string(),
                        });
                    }
                }
            }
            // server tools and their results: nothing other families can carry
            _ => {}
        }
        Some(())
    }

    fn block_delta(&mut self, index: u64, delta: &Value, out: &mut Vec<Event>) -> Option<()> {
        match delta.get("type")?.as_str()? {
            "text_delta" => self.text(delta.get("text")?.as_str()?, out),
            "thinking_delta" => {
                let t = delta.get("thinking")?.as_str()?;
                if !t.is_empty() {
                    out.push(Event::Reasoning(t.to_owned()));
                }
            }
            "signature_delta" => {
                out.push(Event::ReasoningSignature(
                    delta.get("signature")?.as_str()?.to_owned(),
                ));
            }
            "input_json_delta" => {
                let partial = delta.get("partial_json")?.as_str()?;
                // deltas of a block that is no tool call (a server tool's input) are not ours
                let ordinal = self.tool_blocks.iter().position(|b| *b == index);
                if let (Some(ordinal), false) = (ordinal, partial.is_empty()) {
                    out.push(Event::ToolArgs {
                        index: u32::try_from(ordinal).unwrap_or(u32::MAX),
                        delta: partial.to_owned(),
                    });
                }
            }
            // citations_delta and later types
            _ => {}
        }
        Some(())
    }

    fn text(&mut self, text: &str, out: &mut Vec<Event>) {
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
            out.push(Event::Text(text.to_owned()));
        }
    }
}

impl SseHandler for EventHandler {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<Frame>) {
        if ev.data.trim().is_empty() {
            return;
        }
        let mut events = Vec::with_capacity(1);
        if self
            .read(ev.event.as_deref(), &ev.data, &mut events)
            .is_none()
        {
            out.push(Frame::of(vec![Event::Malformed]));
            return;
        }
        out.push(Frame {
            raw: Some(RawFrame {
                event: ev.event,
                data: ev.data,
            }),
            events,
        });
    }
}

/// Length in bytes of the common prefix of `a` and `b`, on char boundaries.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or_else(|| a.len().min(b.len()), |((i, _), _)| i)
}
