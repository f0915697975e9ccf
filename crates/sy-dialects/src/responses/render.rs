//! Rendering an answer as a Responses `response`: the semantic events as the answer comes
//! (output items opened and closed as the kind of content changes: reasoning, message text,
//! function calls), `response.completed` (or `response.incomplete`) at the end with the usage of
//! every attempt and its cost, `response.failed` when the answer broke and nothing could
//! continue it. Frames of an `openai-responses` upstream are rendered from their events too,
//! with the gateway's ids, so a continuation from another protocol goes on in the same item.
//!
//! Invariants: every `output_item.added` is answered by one `output_item.done` before the next
//! item and before the end; `sequence_number` counts every event from 0; a function call's item
//! is opened once.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use sy_api::{ApiError, Event, Finish, RawFrame, Usage};

use crate::sse;
use crate::{End, Meta, Render};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Message,
    Reasoning,
    Call,
}

/// The item being written.
struct Open {
    kind: Kind,
    index: usize,
    id: String,
    /// Text, reasoning summary or arguments so far.
    text: String,
    /// A function call's call id and name.
    call: Option<(String, String)>,
    /// A reasoning item's `encrypted_content`.
    encrypted: Option<String>,
}

pub(crate) struct ResponsesRender {
    stream: bool,
    started: bool,
    seq: u64,
    /// Closed items, in output order.
    output: Vec<Value>,
    open: Option<Open>,
    /// The answer's tool-call index → the output index of its item.
    calls: HashMap<u32, usize>,
    finish: Option<Finish>,
    /// The final response object, once rendered (what the server stores).
    done: Option<Value>,
    /// Request fields every response object repeats.
    echo: Map<String, Value>,
}

/// Responses' usage object, with the cost.
pub(crate) fn usage_value(u: &Usage) -> Value {
    json!({
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens},
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.prompt_tokens + u.completion_tokens,
        "cost": u.cost,
    })
}

impl ResponsesRender {
    pub(crate) fn new(stream: bool) -> Self {
        Self {
            stream,
            started: false,
            seq: 0,
            output: Vec::new(),
            open: None,
            calls: HashMap::new(),
            finish: None,
            done: None,
            echo: Map::new(),
        }
    }

    fn emit(&mut self, name: &str, mut v: Map<String, Value>, out: &mut Vec<u8>) {
        if !self.stream {
            return;
        }
        v.insert("type".to_owned(), Value::from(name));
        v.insert("sequence_number".to_owned(), Value::from(self.seq));
        self.seq += 1;
        sse::named(name, &Value::Object(v), out);
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// The response object.
    fn response(&self, meta: &Meta<'_>, status: &str, usage: Option<&Usage>) -> Value {
        let mut r = self.bare_response(meta, status, usage);
        if let Some(o) = r.as_object_mut() {
            for (k, v) in &self.echo {
                o.insert(k.clone(), v.clone());
            }
        }
        r
    }

    fn bare_response(&self, meta: &Meta<'_>, status: &str, usage: Option<&Usage>) -> Value {
        let mut output = self.output.clone();
        if let Some(o) = &self.open {
            output.push(item_value(o, "in_progress"));
        }
        json!({
            "id": meta.gen_id,
            "object": "response",
            "created_at": meta.created,
            "status": status,
            "background": false,
            "error": null,
            "incomplete_details": null,
            "instructions": null,
            "max_output_tokens": null,
            "model": meta.model,
            "provider": meta.provider,
            "output": output,
            "parallel_tool_calls": true,
            "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null},
            "store": true,
            "temperature": null,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": null,
            "truncation": "disabled",
            "usage": usage.map(usage_value),
            "user": null,
            "metadata": {},
        })
    }

    fn start(&mut self, meta: &Meta<'_>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let r = self.response(meta, "in_progress", None);
        self.emit(
            "response.created",
            Self::obj(json!({"response": r.clone()})),
            out,
        );
        self.emit(
            "response.in_progress",
            Self::obj(json!({"response": r})),
            out,
        );
    }

    fn item_id(meta: &Meta<'_>, prefix: &str, index: usize) -> String {
        let base = meta.gen_id.strip_prefix("gen-").unwrap_or(meta.gen_id);
        format!("{prefix}_{base}{index}")
    }

    /// Makes sure an item of `kind` is open (closing another); calls always open a new one.
    fn open_item(
        &mut self,
        kind: Kind,
        call: Option<(String, String)>,
        meta: &Meta<'_>,
        out: &mut Vec<u8>,
    ) {
        if self.open.as_ref().is_some_and(|o| o.kind == kind) && kind != Kind::Call {
            return;
        }
        self.close(out);
        let index = self.output.len();
        let prefix = match kind {
            Kind::Message => "msg",
            Kind::Reasoning => "rs",
            Kind::Call => "fc",
        };
        let o = Open {
            kind,
            index,
            id: Self::item_id(meta, prefix, index),
            text: String::new(),
            call,
            encrypted: None,
        };
        let item = item_value(&o, "in_progress");
        let (id, idx) = (o.id.clone(), o.index);
        self.open = Some(o);
        self.emit(
            "response.output_item.added",
            Self::obj(json!({"output_index": idx, "item": item})),
            out,
        );
        match kind {
            Kind::Message => self.emit(
                "response.content_part.added",
                Self::obj(
                    json!({"item_id": id, "output_index": idx, "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []}}),
                ),
                out,
            ),
            Kind::Reasoning => self.emit(
                "response.reasoning_summary_part.added",
                Self::obj(
                    json!({"item_id": id, "output_index": idx, "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""}}),
                ),
                out,
            ),
            Kind::Call => {}
        }
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        let Some(o) = self.open.take() else { return };
        let (id, idx) = (o.id.clone(), o.index);
        match o.kind {
            Kind::Message => {
                self.emit(
                    "response.output_text.done",
                    Self::obj(
                        json!({"item_id": id, "output_index": idx, "content_index": 0,
                        "text": o.text, "logprobs": []}),
                    ),
                    out,
                );
                self.emit(
                    "response.content_part.done",
                    Self::obj(
                        json!({"item_id": id, "output_index": idx, "content_index": 0,
                        "part": {"type": "output_text", "text": o.text, "annotations": []}}),
                    ),
                    out,
                );
            }
            Kind::Reasoning => {
                self.emit(
                    "response.reasoning_summary_text.done",
                    Self::obj(
                        json!({"item_id": id, "output_index": idx, "summary_index": 0,
                        "text": o.text}),
                    ),
                    out,
                );
                self.emit(
                    "response.reasoning_summary_part.done",
                    Self::obj(
                        json!({"item_id": id, "output_index": idx, "summary_index": 0,
                        "part": {"type": "summary_text", "text": o.text}}),
                    ),
                    out,
                );
            }
            Kind::Call => {
                let name = o.call.as_ref().map(|c| c.1.clone()).unwrap_or_default();
                self.emit(
                    "response.function_call_arguments.done",
                    Self::obj(json!({"item_id": id, "output_index": idx,
                        "arguments": o.text, "name": name})),
                    out,
                );
            }
        }
        let item = item_value(&o, "completed");
        self.emit(
            "response.output_item.done",
            Self::obj(json!({"output_index": idx, "item": item.clone()})),
            out,
        );
        self.output.push(item);
    }

    fn delta(&mut self, name: &str, index_key: &str, delta: &str, out: &mut Vec<u8>) {
        let Some(o) = self.open.as_mut() else { return };
        o.text.push_str(delta);
        let mut v = Map::new();
        v.insert("item_id".to_owned(), Value::from(o.id.clone()));
        v.insert("output_index".to_owned(), Value::from(o.index));
        if !index_key.is_empty() {
            v.insert(index_key.to_owned(), Value::from(0));
        }
        v.insert("delta".to_owned(), Value::from(delta));
        if name == "response.output_text.delta" {
            v.insert("logprobs".to_owned(), Value::Array(Vec::new()));
        }
        self.emit(name, v, out);
    }

    /// An upstream's finished item of a kind the typed events do not carry, as it sent it.
    fn pass_item(&mut self, data: &str, meta: &Meta<'_>, out: &mut Vec<u8>) {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return;
        };
        let Some(item) = v.get("item") else { return };
        let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
        if matches!(kind, "message" | "reasoning" | "function_call" | "") {
            return;
        }
        self.start(meta, out);
        self.close(out);
        let idx = self.output.len();
        self.emit(
            "response.output_item.added",
            Self::obj(json!({"output_index": idx, "item": item.clone()})),
            out,
        );
        self.emit(
            "response.output_item.done",
            Self::obj(json!({"output_index": idx, "item": item.clone()})),
            out,
        );
        self.output.push(item.clone());
    }

    fn end_status(&self, end: &End<'_>) -> (&'static str, Option<Finish>) {
        let finish = self.finish.or(end.finish);
        match finish {
            Some(Finish::Length) => ("incomplete", finish),
            _ => ("completed", finish),
        }
    }

    fn final_response(&mut self, end: &End<'_>) -> Value {
        let (status, finish) = self.end_status(end);
        let mut r = self.response(&end.meta, status, Some(end.usage));
        if finish == Some(Finish::Length) {
            r["incomplete_details"] = json!({"reason": "max_output_tokens"});
        } else if finish == Some(Finish::ContentFilter) {
            r["incomplete_details"] = json!({"reason": "content_filter"});
        }
        self.done = Some(r.clone());
        r
    }
}

/// An item as the client sees it.
fn item_value(o: &Open, status: &str) -> Value {
    match o.kind {
        Kind::Message => {
            let content = if status == "in_progress" && o.text.is_empty() {
                json!([])
            } else {
                json!([{"type": "output_text", "text": o.text, "annotations": [], "logprobs": []}])
            };
            json!({"id": o.id, "type": "message", "status": status, "role": "assistant",
                   "content": content})
        }
        Kind::Reasoning => {
            let summary = if o.text.is_empty() {
                json!([])
            } else {
                json!([{"type": "summary_text", "text": o.text}])
            };
            let mut v = json!({"id": o.id, "type": "reasoning", "summary": summary});
            if let Some(e) = &o.encrypted {
                v["encrypted_content"] = Value::from(e.as_str());
            }
            v
        }
        Kind::Call => {
            let (call_id, name) = o.call.clone().unwrap_or_default();
            json!({"id": o.id, "type": "function_call", "status": status, "arguments": o.text,
                   "call_id": call_id, "name": name})
        }
    }
}

impl Render for ResponsesRender {
    fn pass(&mut self, raw: &RawFrame, events: &[Event], meta: &Meta<'_>, out: &mut Vec<u8>) {
        // an openai-responses upstream's frames: its events carry what the client gets, rendered
        // with the gateway's ids so that a continuation from elsewhere fits in; items of other
        // kinds (a web search call, ...) go through whole
        for e in events {
            self.event(e, meta, out);
        }
        if raw.event.as_deref() == Some("response.output_item.done")
            || raw.data.contains("\"response.output_item.done\"")
        {
            self.pass_item(&raw.data, meta, out);
        }
    }

    fn event(&mut self, ev: &Event, meta: &Meta<'_>, out: &mut Vec<u8>) {
        match ev {
            Event::Text(t) | Event::Refusal(t) if !t.is_empty() => {
                self.start(meta, out);
                self.open_item(Kind::Message, None, meta, out);
                self.delta("response.output_text.delta", "content_index", t, out);
            }
            Event::Reasoning(t) if !t.is_empty() => {
                self.start(meta, out);
                self.open_item(Kind::Reasoning, None, meta, out);
                self.delta(
                    "response.reasoning_summary_text.delta",
                    "summary_index",
                    t,
                    out,
                );
            }
            Event::EncryptedReasoning(d) => {
                self.start(meta, out);
                // encrypted reasoning is only meaningful to the family that issued it
                if meta.family != sy_api::Family::Responses {
                    return;
                }
                self.open_item(Kind::Reasoning, None, meta, out);
                if let Some(o) = self.open.as_mut() {
                    o.encrypted = Some(d.clone());
                }
            }
            Event::ToolStart { index, id, name } => {
                self.start(meta, out);
                self.open_item(Kind::Call, Some((id.clone(), name.clone())), meta, out);
                if let Some(o) = &self.open {
                    self.calls.insert(*index, o.index);
                }
            }
            Event::ToolArgs { index, delta } if !delta.is_empty() => {
                let Some(&item) = self.calls.get(index) else {
                    return;
                };
                // an item is never reopened: arguments of a closed call have nowhere to go
                if self.open.as_ref().is_some_and(|o| o.index == item) {
                    self.delta("response.function_call_arguments.delta", "", delta, out);
                }
            }
            Event::Finish(f) => self.finish = Some(*f),
            _ => {}
        }
    }

    fn finish(&mut self, end: &End<'_>, out: &mut Vec<u8>) {
        self.start(&end.meta, out);
        self.close(out);
        let r = self.final_response(end);
        let name = if r["status"] == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.emit(name, Self::obj(json!({"response": r})), out);
    }

    fn fail(&mut self, err: &ApiError, end: &End<'_>, out: &mut Vec<u8>) {
        self.start(&end.meta, out);
        self.close(out);
        let mut r = self.response(&end.meta, "failed", Some(end.usage));
        r["error"] = json!({"code": "server_error", "message": err.message});
        self.emit("response.failed", Self::obj(json!({"response": r})), out);
    }

    fn body(&mut self, end: &End<'_>) -> Vec<u8> {
        self.close(&mut Vec::new());
        let r = self.final_response(end);
        serde_json::to_vec(&r).unwrap_or_default()
    }

    fn response(&self) -> Option<Value> {
        self.done.clone()
    }

    fn echo(&mut self, fields: Map<String, Value>) {
        self.echo = fields;
    }
}
