//! The answer: `chat.completion.chunk` events (each kept raw for a chat client) or a whole
//! `chat.completion`, read into typed events for choice 0. Chunks are read into borrowed structs
//! (no JSON tree per chunk).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};
use sy_api::{Event, Finish, Frame, RawFrame, UpstreamUsage};

use crate::errors::error_from_value;
use crate::sse::{SseEvent, SseHandler};

#[derive(Deserialize, Default)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    choices: Option<Vec<Choice<'a>>>,
    #[serde(default)]
    usage: Option<UsageRaw>,
    #[serde(borrow, default)]
    error: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default)]
    index: u32,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    /// A whole answer's message (same fields as a delta).
    #[serde(borrow, default)]
    message: Option<Delta<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<ToolCall<'a>>>,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(default)]
    index: Option<u32>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    function: Option<Function<'a>>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<ArgumentsRaw<'a>>,
}

/// Arguments are JSON text; a few servers send an object instead.
#[derive(Deserialize)]
#[serde(untagged)]
enum ArgumentsRaw<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Json(Value),
}

#[derive(Deserialize, Default, Clone, Copy)]
struct UsageRaw {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    cache_write_tokens: Option<u64>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

fn usage_from(u: UsageRaw) -> Option<UpstreamUsage> {
    Some(UpstreamUsage {
        prompt_tokens: u.prompt_tokens?,
        completion_tokens: u.completion_tokens.unwrap_or(0),
        cached_tokens: u.prompt_tokens_details.and_then(|d| d.cached_tokens),
        cache_write_tokens: u.prompt_tokens_details.and_then(|d| d.cache_write_tokens),
        reasoning_tokens: u.completion_tokens_details.and_then(|d| d.reasoning_tokens),
    })
}

/// OpenAI's usage object (also what other protocols' OpenAI-shaped answers carry).
#[allow(dead_code)] // read by the responses protocol
pub(crate) fn usage_of(u: &Value) -> Option<UpstreamUsage> {
    usage_from(UsageRaw::deserialize(u).ok()?)
}

/// Tool calls begun so far (their OpenAI index), to tell a start from more arguments.
#[derive(Default)]
pub(crate) struct ChunkHandler {
    started: Vec<u32>,
}

impl ChunkHandler {
    /// The events of one chunk's choice 0.
    fn choice(&mut self, c: &Choice<'_>, out: &mut Vec<Event>) {
        if let Some(d) = c.delta.as_ref().or(c.message.as_ref()) {
            for r in [&d.reasoning, &d.reasoning_content].into_iter().flatten() {
                if !r.is_empty() {
                    out.push(Event::Reasoning(r.clone().into_owned()));
                }
            }
            if let Some(t) = d.content.as_ref().filter(|t| !t.is_empty()) {
                out.push(Event::Text(t.clone().into_owned()));
            }
            if let Some(t) = d.refusal.as_ref().filter(|t| !t.is_empty()) {
                out.push(Event::Refusal(t.clone().into_owned()));
            }
            for (pos, call) in d.tool_calls.iter().flatten().enumerate() {
                let index = call
                    .index
                    .unwrap_or_else(|| u32::try_from(pos).unwrap_or(u32::MAX));
                let f = call.function.as_ref();
                if !self.started.contains(&index) {
                    self.started.push(index);
                    let id = call
                        .id
                        .as_ref()
                        .map_or_else(|| format!("call_{index}"), |i| i.clone().into_owned());
                    let name = f
                        .and_then(|f| f.name.as_ref())
                        .map_or_else(String::new, |n| n.clone().into_owned());
                    out.push(Event::ToolStart { index, id, name });
                }
                let args = match f.and_then(|f| f.arguments.as_ref()) {
                    Some(ArgumentsRaw::Text(t)) => t.clone().into_owned(),
                    Some(ArgumentsRaw::Json(v)) if !v.is_null() => v.to_string(),
                    _ => String::new(),
                };
                if !args.is_empty() {
                    out.push(Event::ToolArgs { index, delta: args });
                }
            }
        }
        if let Some(f) = &c.finish_reason {
            out.push(Event::Finish(Finish::from_openai(f)));
        }
    }

    /// The events of one chunk (or whole answer), or None when it is not a chunk at all.
    fn read(&mut self, data: &str, events: &mut Vec<Event>) -> Option<()> {
        let chunk: Chunk<'_> = serde_json::from_str(data).ok()?;
        let choices = chunk.choices.unwrap_or_default();
        if choices.is_empty() {
            if let Some(e) = chunk.error {
                let v: Value = serde_json::from_str(e.get()).ok()?;
                let mut wrapper = Map::new();
                wrapper.insert("error".to_owned(), v);
                if let Some(err) = error_from_value(&Value::Object(wrapper)) {
                    events.push(Event::Error(err));
                    return Some(());
                }
            }
        }
        if let Some(u) = chunk.usage.and_then(usage_from) {
            events.push(Event::Usage(u));
        }
        for c in choices.iter().filter(|c| c.index == 0) {
            self.choice(c, events);
        }
        Some(())
    }
}

impl SseHandler for ChunkHandler {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<Frame>) {
        let data = ev.data.trim();
        if data == "[DONE]" {
            out.push(Frame::of(vec![Event::Done]));
            return;
        }
        if data.is_empty() {
            return;
        }
        let mut events = Vec::with_capacity(2);
        if self.read(data, &mut events).is_none() || !data.starts_with('{') {
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

/// A whole `chat.completion` (an upstream that ignored `stream: true`): the events a stream
/// would have given, and one chunk with every choice's message as its delta for a chat client.
pub(crate) fn whole_body(body: &[u8], out: &mut Vec<Frame>) -> Result<(), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(e) = error_from_value(&v) {
        out.push(Frame::of(vec![Event::Error(e)]));
        return Ok(());
    }
    let choices = v
        .get("choices")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("no choices")?;
    let deltas: Vec<Value> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut delta = c
                .get("message")
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                for (j, call) in calls.iter_mut().enumerate() {
                    if let Some(o) = call.as_object_mut() {
                        o.entry("index").or_insert(Value::from(j));
                    }
                }
            }
            serde_json::json!({
                "index": c.get("index").cloned().unwrap_or(Value::from(i)),
                "delta": delta,
                "logprobs": c.get("logprobs").cloned().unwrap_or(Value::Null),
                "finish_reason": c.get("finish_reason").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let mut chunk = Map::new();
    chunk.insert("object".to_owned(), Value::from("chat.completion.chunk"));
    chunk.insert("choices".to_owned(), Value::Array(deltas));
    let chunk = Value::Object(chunk);
    // the events straight from the parsed answer (no second parse of the chunk text)
    let mut events = Vec::new();
    if let Some(u) = v.get("usage").and_then(usage_of) {
        events.push(Event::Usage(u));
    }
    let mut h = ChunkHandler::default();
    if let Some(list) = chunk.get("choices") {
        let parsed: Vec<Choice<'_>> =
            Vec::deserialize(list).map_err(|e| format!("choices: {e}"))?;
        for c in parsed.iter().filter(|c| c.index == 0) {
            h.choice(c, &mut events);
        }
    }
    let data = chunk.to_string();
    out.push(Frame {
        raw: Some(RawFrame { event: None, data }),
        events,
    });
    out.push(Frame::of(vec![Event::Done]));
    Ok(())
}
