//! The answer: every SSE event is a whole `GenerateContentResponse` with only the new parts of
//! candidate 0. Thought parts are reasoning, a `thoughtSignature` (on any part) is the
//! reasoning's signature, function calls arrive whole and get minted ids, `usageMetadata` is
//! cumulative (the last one wins), and a blocked prompt or a safety finish is a content
//! filter. Errors are Google's `{"error":{code,message,status,details}}`, sometimes in an array.

use serde_json::Value;
use sy_api::{Event, Finish, Frame, RawFrame, UpstreamError, UpstreamUsage};

use crate::sse::{SseEvent, SseHandler};

/// State of one Gemini answer.
#[derive(Debug, Default)]
pub(crate) struct ResponseHandler {
    /// Function calls begun so far.
    calls: u32,
}

impl ResponseHandler {
    /// The events of one response; None when it is not a Gemini response at all.
    pub(crate) fn read(&mut self, v: &Value, out: &mut Vec<Event>) -> Option<()> {
        let o = v.as_object()?;
        if let Some(e) = o.get("error") {
            out.push(Event::Error(google_error(e, None)));
            return Some(());
        }
        let candidate = o.get("candidates").and_then(Value::as_array).and_then(|c| {
            c.iter()
                .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
        });
        let mut finish = None;
        if let Some(c) = candidate {
            let parts = c
                .get("content")
                .and_then(|c| c.get("parts"))
                .and_then(Value::as_array);
            for p in parts.into_iter().flatten() {
                self.part(p, o.get("responseId").and_then(Value::as_str), out);
            }
            finish = c
                .get("finishReason")
                .and_then(Value::as_str)
                .map(|r| self.finish(r));
        } else if o
            .get("promptFeedback")
            .and_then(|f| f.get("blockReason"))
            .is_some()
        {
            // the prompt itself was blocked: a 200 with no candidates
            finish = Some(Finish::ContentFilter);
        }
        if let Some(u) = o.get("usageMetadata").and_then(usage) {
            out.push(Event::Usage(u));
        }
        if let Some(f) = finish {
            out.push(Event::Finish(f));
        }
        Some(())
    }

    fn part(&mut self, p: &Value, response_id: Option<&str>, out: &mut Vec<Event>) {
        let thought = p.get("thought").and_then(Value::as_bool) == Some(true);
        if let Some(text) = p.get("text").and_then(Value::as_str) {
            if !text.is_empty() {
                out.push(if thought {
                    Event::Reasoning(text.to_owned())
                } else {
                    Event::Text(text.to_owned())
                });
            }
        }
        if let Some(call) = p.get("functionCall") {
            let name = call.get("name").and_then(Value::as_str).unwrap_or("");
            let args = call
                .get("args")
                .filter(|a| !a.is_null())
                .map_or_else(|| "{}".to_owned(), Value::to_string);
            let index = self.calls;
            self.calls += 1;
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .filter(|i| !i.is_empty())
                .map_or_else(|| mint_id(response_id, name, &args, index), str::to_owned);
            out.push(Event::ToolStart {
                index,
                id,
                name: name.to_owned(),
            });
            out.push(Event::ToolArgs { index, delta: args });
        }
        if let Some(sig) = p
            .get("thoughtSignature")
            .or_else(|| p.get("thought_signature"))
            .and_then(Value::as_str)
        {
            out.push(Event::ReasoningSignature(sig.to_owned()));
        }
    }

    fn finish(&self, reason: &str) -> Finish {
        match reason {
            "MAX_TOKENS" => Finish::Length,
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION" => Finish::ContentFilter,
            // Gemini has no tool-call reason: a turn with calls ends in STOP
            _ if self.calls > 0 => Finish::ToolCalls,
            _ => Finish::Stop,
        }
    }
}

/// A tool-call id for a call Gemini gave none: unique within the answer (the index) and, with
/// the response's id, across answers, so a client's later turns can name it.
fn mint_id(response_id: Option<&str>, name: &str, args: &str, index: u32) -> String {
    // FNV-1a: an id, not a secret
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in response_id
        .unwrap_or("")
        .bytes()
        .chain(name.bytes())
        .chain(args.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("call_{h:016x}_{index}")
}

/// Gemini's `usageMetadata`: `promptTokenCount` includes cached tokens, and thoughts are
/// counted apart from `candidatesTokenCount` (so they are added to the completion here).
fn usage(u: &Value) -> Option<UpstreamUsage> {
    let get = |k: &str| u.get(k).and_then(Value::as_u64);
    let prompt = get("promptTokenCount")?;
    let thoughts = get("thoughtsTokenCount");
    Some(UpstreamUsage {
        prompt_tokens: prompt.saturating_add(get("toolUsePromptTokenCount").unwrap_or(0)),
        completion_tokens: get("candidatesTokenCount")
            .unwrap_or(0)
            .saturating_add(thoughts.unwrap_or(0)),
        cached_tokens: get("cachedContentTokenCount"),
        cache_write_tokens: None,
        reasoning_tokens: thoughts,
    })
}

impl SseHandler for ResponseHandler {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<Frame>) {
        if ev.data.trim().is_empty() {
            return;
        }
        let mut events = Vec::with_capacity(2);
        let read = serde_json::from_str::<Value>(&ev.data)
            .ok()
            .and_then(|v| self.read(&v, &mut events));
        if read.is_none() {
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

/// A whole answer: one response, or the JSON array `streamGenerateContent` gives without
/// `alt=sse`.
pub(super) fn whole(
    body: &[u8],
    h: &mut ResponseHandler,
    out: &mut Vec<Frame>,
) -> Result<(), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let list = match v {
        Value::Array(a) => a,
        v => vec![v],
    };
    for r in list {
        let mut events = Vec::new();
        h.read(&r, &mut events).ok_or("not a Gemini response")?;
        out.push(Frame {
            raw: Some(RawFrame {
                event: None,
                data: r.to_string(),
            }),
            events,
        });
    }
    Ok(())
}

/// One Google error object. `status` is the HTTP status it came with, when known.
fn google_error(e: &Value, status: Option<u16>) -> UpstreamError {
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| e.to_string(), str::to_owned);
    let canonical = e.get("status").and_then(Value::as_str).map(str::to_owned);
    let reasons: Vec<&str> = e
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("reason").and_then(Value::as_str))
        .collect();
    let lower = message.to_ascii_lowercase();
    let mut out = UpstreamError {
        message: crate::errors::truncate(&message, 500),
        code: reasons.first().map(|r| (*r).to_owned()),
        kind: canonical,
        status: None,
    };
    // "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576)."
    if lower.contains("input token count") && lower.contains("exceeds the maximum") {
        out.code = Some("context_length_exceeded".to_owned());
    }
    // a bad key is a 400 (INVALID_ARGUMENT): the gateway's credentials, not the request
    if reasons.contains(&"API_KEY_INVALID")
        || (status == Some(400) && lower.contains("api key not valid"))
    {
        out.status = Some(401);
    }
    out
}

/// Reads a Google error body: `{"error":{...}}`, `[{"error":{...}}]`, or anything else.
pub(crate) fn parse_google_error(status: u16, body: &[u8]) -> UpstreamError {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let e = v.as_ref().and_then(|v| match v {
        Value::Array(a) => a.first().and_then(|x| x.get("error")),
        v => v.get("error"),
    });
    match e {
        Some(e) if e.is_object() => google_error(e, Some(status)),
        _ => crate::errors::parse_error_body(status, body),
    }
}
