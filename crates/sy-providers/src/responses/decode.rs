//! The answer: the semantic event stream (each event kept raw) or one `response` object, read
//! into typed events: text and refusal deltas, reasoning summary and text deltas, function calls
//! (numbered from 0 in the order their items open), `encrypted_content`, usage and the finish
//! from `response.completed` / `response.incomplete`, errors from `response.failed` and `error`.

use std::collections::HashMap;

use serde_json::Value;
use sy_api::{Event, Finish, Frame, RawFrame, UpstreamError, UpstreamUsage};

use crate::errors::truncate;
use crate::sse::{SseEvent, SseHandler};

/// Responses' usage object.
pub(crate) fn usage_of(u: &Value) -> Option<UpstreamUsage> {
    Some(UpstreamUsage {
        prompt_tokens: u.get("input_tokens")?.as_u64()?,
        completion_tokens: u.get("output_tokens").and_then(Value::as_u64).unwrap_or(0),
        cached_tokens: u
            .pointer("/input_tokens_details/cached_tokens")
            .and_then(Value::as_u64),
        cache_write_tokens: None,
        reasoning_tokens: u
            .pointer("/output_tokens_details/reasoning_tokens")
            .and_then(Value::as_u64),
    })
}

/// Function calls seen so far: item id → (index, arguments streamed).
#[derive(Default)]
pub(crate) struct EventHandler {
    calls: HashMap<String, (u32, bool)>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl EventHandler {
    fn call_started(&mut self, item: &Value, out: &mut Vec<Event>) -> u32 {
        let id = text(item, "id");
        if let Some((index, _)) = self.calls.get(&id) {
            return *index;
        }
        let index = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
        self.calls.insert(id, (index, false));
        let call_id = item
            .get("call_id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("call_{index}"), str::to_owned);
        out.push(Event::ToolStart {
            index,
            id: call_id,
            name: text(item, "name"),
        });
        index
    }

    fn args(&mut self, item_id: &str, delta: String, out: &mut Vec<Event>) {
        if let Some((index, streamed)) = self.calls.get_mut(item_id) {
            *streamed = true;
            if !delta.is_empty() {
                out.push(Event::ToolArgs {
                    index: *index,
                    delta,
                });
            }
        }
    }

    fn end(&self, r: &Value, incomplete: bool, out: &mut Vec<Event>) {
        if let Some(u) = r.get("usage").and_then(usage_of) {
            out.push(Event::Usage(u));
        }
        let finish = if incomplete {
            match r
                .pointer("/incomplete_details/reason")
                .and_then(Value::as_str)
            {
                Some("content_filter") => Finish::ContentFilter,
                _ => Finish::Length,
            }
        } else if !self.calls.is_empty() {
            Finish::ToolCalls
        } else {
            Finish::Stop
        };
        out.push(Event::Finish(finish));
        out.push(Event::Done);
    }

    /// The events of one stream event.
    fn read(&mut self, v: &Value, out: &mut Vec<Event>) {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "response.output_text.delta" => out.push(Event::Text(text(v, "delta"))),
            "response.refusal.delta" => out.push(Event::Refusal(text(v, "delta"))),
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                out.push(Event::Reasoning(text(v, "delta")));
            }
            "response.output_item.added" => {
                if let Some(item) = v
                    .get("item")
                    .filter(|i| i.get("type").and_then(Value::as_str) == Some("function_call"))
                {
                    self.call_started(item, out);
                    let args = text(item, "arguments");
                    if !args.is_empty() {
                        self.args(&text(item, "id"), args, out);
                    }
                }
            }
            "response.function_call_arguments.delta" => {
                self.args(&text(v, "item_id"), text(v, "delta"), out);
            }
            "response.output_item.done" => {
                let Some(item) = v.get("item") else { return };
                match item.get("type").and_then(Value::as_str) {
                    Some("function_call") => {
                        self.call_started(item, out);
                        let id = text(item, "id");
                        let streamed = self.calls.get(&id).is_some_and(|c| c.1);
                        if !streamed {
                            self.args(&id, text(item, "arguments"), out);
                        }
                    }
                    Some("reasoning") => {
                        if let Some(e) = item
                            .get("encrypted_content")
                            .and_then(Value::as_str)
                            .filter(|e| !e.is_empty())
                        {
                            out.push(Event::EncryptedReasoning(e.to_owned()));
                        }
                    }
                    _ => {}
                }
            }
            "response.completed" | "response.incomplete" => {
                if let Some(r) = v.get("response") {
                    self.end(r, kind == "response.incomplete", out);
                }
            }
            "response.failed" => {
                let e = v.pointer("/response/error");
                out.push(Event::Error(UpstreamError {
                    message: e
                        .and_then(|e| e.get("message"))
                        .and_then(Value::as_str)
                        .map_or_else(|| "the response failed".to_owned(), |m| truncate(m, 500)),
                    code: e
                        .and_then(|e| e.get("code"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    kind: None,
                    status: None,
                }));
            }
            "error" => {
                let e = v.get("error").unwrap_or(v);
                out.push(Event::Error(UpstreamError {
                    message: truncate(
                        e.get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("upstream error"),
                        500,
                    ),
                    code: e.get("code").and_then(Value::as_str).map(str::to_owned),
                    kind: e.get("type").and_then(Value::as_str).map(str::to_owned),
                    status: None,
                }));
            }
            _ => {}
        }
    }
}

impl SseHandler for EventHandler {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<Frame>) {
        let data = ev.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            out.push(Frame::of(vec![Event::Malformed]));
            return;
        };
        let mut events = Vec::with_capacity(2);
        self.read(&v, &mut events);
        out.push(Frame {
            raw: Some(RawFrame {
                event: ev.event,
                data: ev.data,
            }),
            events,
        });
    }
}

/// A whole `response` object (an upstream that ignored `stream: true`).
pub(crate) fn whole_body(body: &[u8], out: &mut Vec<Frame>) -> Result<(), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(e) = crate::errors::error_from_value(&v).filter(|_| !v["error"].is_null()) {
        out.push(Frame::of(vec![Event::Error(e)]));
        return Ok(());
    }
    let items = v
        .get("output")
        .and_then(Value::as_array)
        .ok_or("no output")?;
    let mut h = EventHandler::default();
    let mut events = Vec::new();
    for item in items {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match part.get("type").and_then(Value::as_str) {
                        Some("output_text") => events.push(Event::Text(text(part, "text"))),
                        Some("refusal") => events.push(Event::Refusal(text(part, "refusal"))),
                        _ => {}
                    }
                }
            }
            Some("reasoning") => {
                for s in item
                    .get("summary")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    events.push(Event::Reasoning(text(s, "text")));
                }
                if let Some(e) = item
                    .get("encrypted_content")
                    .and_then(Value::as_str)
                    .filter(|e| !e.is_empty())
                {
                    events.push(Event::EncryptedReasoning(e.to_owned()));
                }
            }
            Some("function_call") => {
                h.call_started(item, &mut events);
                h.args(&text(item, "id"), text(item, "arguments"), &mut events);
            }
            _ => {}
        }
    }
    let incomplete = v.get("status").and_then(Value::as_str) == Some("incomplete");
    h.end(&v, incomplete, &mut events);
    out.push(Frame::of(events));
    Ok(())
}
