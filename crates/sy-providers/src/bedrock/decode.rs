//! The answer: an AWS event stream (`application/vnd.amazon.eventstream`) of Converse events —
//! `messageStart`, `contentBlockStart` (tool calls only: text starts with its first delta),
//! `contentBlockDelta` (text, tool input as JSON text in pieces, reasoning text, signature,
//! redacted reasoning), `contentBlockStop`, `messageStop` (the stop reason), `metadata` (usage)
//! — and exceptions (`throttlingException`, ...) as in-band errors. A frame with a bad CRC or
//! length makes the stream unreadable (the attempt fails).

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Buf, BytesMut};
use serde_json::Value;
use sy_api::{Event, Finish, Frame, RawFrame, UpstreamError, UpstreamUsage};

/// Largest amount of undecoded bytes held (a frame is at most 16 MiB in AWS's format).
const MAX_PENDING: usize = 24 * 1024 * 1024;

/// The event-stream decoder and the Converse state of one answer.
#[derive(Default)]
pub(crate) struct EventStream {
    frames: MessageFrameDecoder,
    buf: BytesMut,
    state: Converse,
}

/// What a Converse answer has said so far.
#[derive(Default)]
pub(crate) struct Converse {
    /// The content-block index of each tool call begun; the position is the call's index.
    tool_blocks: Vec<u64>,
}

fn header<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

impl crate::Decode for EventStream {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Frame>) -> Result<(), String> {
        if self.buf.len() + bytes.len() > MAX_PENDING {
            return Err("an event-stream frame larger than 24 MiB".to_owned());
        }
        self.buf.extend_from_slice(bytes);
        loop {
            match self.frames.decode_frame(&mut self.buf) {
                Ok(DecodedFrame::Incomplete) => return Ok(()),
                Ok(DecodedFrame::Complete(m)) => self.message(&m, out),
                Err(e) => return Err(format!("a broken event-stream frame: {e}")),
            }
        }
    }

    fn end(&mut self, _out: &mut Vec<Frame>) -> Result<(), String> {
        if self.buf.has_remaining() {
            return Err("the event stream ended inside a frame".to_owned());
        }
        Ok(())
    }
}

impl EventStream {
    fn message(&mut self, m: &Message, out: &mut Vec<Frame>) {
        let data = String::from_utf8_lossy(m.payload()).into_owned();
        let payload: Option<Value> = serde_json::from_slice(m.payload()).ok();
        match header(m, ":message-type").unwrap_or("event") {
            "exception" | "error" => {
                let kind = header(m, ":exception-type").or_else(|| header(m, ":error-code"));
                let message = payload
                    .as_ref()
                    .and_then(|p| p.get("message").or_else(|| p.get("Message")))
                    .and_then(Value::as_str)
                    .or_else(|| header(m, ":error-message"))
                    .unwrap_or("an exception in the event stream");
                out.push(Frame::of(vec![Event::Error(UpstreamError {
                    message: crate::errors::truncate(message, 500),
                    code: None,
                    kind: kind.map(str::to_owned),
                    status: None,
                })]));
            }
            _ => {
                let kind = header(m, ":event-type").unwrap_or("");
                let mut events = Vec::with_capacity(1);
                let read = payload.and_then(|p| self.state.event(kind, &p, &mut events));
                if read.is_none() {
                    out.push(Frame::of(vec![Event::Malformed]));
                    return;
                }
                out.push(Frame {
                    raw: Some(RawFrame {
                        event: Some(kind.to_owned()),
                        data,
                    }),
                    events,
                });
            }
        }
    }
}

/// OpenAI's finish for a Converse `stopReason`.
fn finish(reason: &str) -> Finish {
    match reason {
        "tool_use" => Finish::ToolCalls,
        "max_tokens" | "model_context_window_exceeded" => Finish::Length,
        // a guardrail or the model's own filter: a refusal, delivered as such (SPEC §4.3)
        "guardrail_intervened" | "content_filtered" => Finish::ContentFilter,
        _ => Finish::Stop,
    }
}

/// Converse usage: `inputTokens` leaves out cache reads and writes, which `prompt_tokens`
/// includes.
fn usage(u: &Value) -> Option<UpstreamUsage> {
    let get = |k: &str| u.get(k).and_then(Value::as_u64);
    let input = get("inputTokens")?;
    let read = get("cacheReadInputTokens");
    let write = get("cacheWriteInputTokens");
    Some(UpstreamUsage {
        prompt_tokens: input
            .saturating_add(read.unwrap_or(0))
            .saturating_add(write.unwrap_or(0)),
        completion_tokens: get("outputTokens").unwrap_or(0),
        cached_tokens: read,
        cache_write_tokens: write,
        reasoning_tokens: None,
    })
}

impl Converse {
    /// The events of one Converse event; None when its payload is not what its type says.
    pub(crate) fn event(&mut self, kind: &str, p: &Value, out: &mut Vec<Event>) -> Option<()> {
        match kind {
            "contentBlockStart" => {
                let index = p.get("contentBlockIndex")?.as_u64()?;
                if let Some(tool) = p.get("start")?.get("toolUse") {
                    let ordinal = u32::try_from(self.tool_blocks.len()).unwrap_or(u32::MAX);
                    self.tool_blocks.push(index);
                    out.push(Event::ToolStart {
                        index: ordinal,
                        id: tool.get("toolUseId")?.as_str()?.to_owned(),
                        name: tool.get("name")?.as_str()?.to_owned(),
                    });
                }
            }
            "contentBlockDelta" => {
                let index = p.get("contentBlockIndex")?.as_u64()?;
                let delta = p.get("delta")?;
                if let Some(t) = delta.get("text").and_then(Value::as_str) {
                    if !t.is_empty() {
                        out.push(Event::Text(t.to_owned()));
                    }
                } else if let Some(tool) = delta.get("toolUse") {
                    let input = tool.get("input")?.as_str()?;
                    let ordinal = self.tool_blocks.iter().position(|b| *b == index);
                    if let (Some(ordinal), false) = (ordinal, input.is_empty()) {
                        out.push(Event::ToolArgs {
                            index: u32::try_from(ordinal).unwrap_or(u32::MAX),
                            delta: input.to_owned(),
                        });
                    }
                } else if let Some(r) = delta.get("reasoningContent") {
                    if let Some(t) = r.get("text").and_then(Value::as_str) {
                        if !t.is_empty() {
                            out.push(Event::Reasoning(t.to_owned()));
                        }
                    }
                    if let Some(s) = r.get("signature").and_then(Value::as_str) {
                        out.push(Event::ReasoningSignature(s.to_owned()));
                    }
                    if let Some(d) = r.get("redactedContent").and_then(Value::as_str) {
                        out.push(Event::EncryptedReasoning(d.to_owned()));
                    }
                }
            }
            "messageStop" => {
                out.push(Event::Finish(finish(p.get("stopReason")?.as_str()?)));
            }
            "metadata" => {
                if let Some(u) = p.get("usage").and_then(usage) {
                    out.push(Event::Usage(u));
                }
            }
            // messageStart, contentBlockStop, and event types added later (botocore drops
            // unknown ones too)
            _ => {}
        }
        Some(())
    }
}

/// A whole `/converse` answer: the events its stream would have given.
pub(super) fn whole(body: &[u8], out: &mut Vec<Frame>) -> Result<(), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let blocks = v
        .get("output")
        .and_then(|o| o.get("message"))
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .ok_or("no output message")?;
    let mut events = Vec::new();
    let mut calls = 0u32;
    for b in blocks {
        if let Some(t) = b.get("text").and_then(Value::as_str) {
            events.push(Event::Text(t.to_owned()));
        } else if let Some(tool) = b.get("toolUse") {
            events.push(Event::ToolStart {
                index: calls,
                id: tool
                    .get("toolUseId")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                name: tool
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            });
            let input = tool
                .get("input")
                .map_or_else(|| "{}".to_owned(), Value::to_string);
            events.push(Event::ToolArgs {
                index: calls,
                delta: input,
            });
            calls += 1;
        } else if let Some(r) = b.get("reasoningContent") {
            if let Some(rt) = r.get("reasoningText") {
                if let Some(t) = rt.get("text").and_then(Value::as_str) {
                    events.push(Event::Reasoning(t.to_owned()));
                }
                if let Some(s) = rt.get("signature").and_then(Value::as_str) {
                    events.push(Event::ReasoningSignature(s.to_owned()));
                }
            }
            if let Some(d) = r.get("redactedContent").and_then(Value::as_str) {
                events.push(Event::EncryptedReasoning(d.to_owned()));
            }
        }
    }
    if let Some(u) = v.get("usage").and_then(usage) {
        events.push(Event::Usage(u));
    }
    if let Some(r) = v.get("stopReason").and_then(Value::as_str) {
        events.push(Event::Finish(finish(r)));
    }
    out.push(Frame::of(events));
    Ok(())
}

/// Bedrock's error body: `{"message": "..."}` (the exception's name is in a header this seam
/// does not see; the status and the message say enough: "Input is too long" is context length).
pub(crate) fn parse_error(status: u16, body: &[u8]) -> UpstreamError {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let message = v
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("Message")))
        .and_then(Value::as_str);
    match message {
        Some(m) => UpstreamError {
            message: crate::errors::truncate(m, 500),
            code: None,
            kind: v
                .as_ref()
                .and_then(|v| v.get("__type").or_else(|| v.get("code")))
                .and_then(Value::as_str)
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned()),
            status: None,
        },
        None => crate::errors::parse_error_body(status, body),
    }
}
