//! OpenAI's Responses wire format (`POST .../responses`): a `response` object, or the semantic
//! event stream (`response.created`, `response.in_progress`, output items with their parts and
//! deltas, `response.completed` with `usage`), each event named and numbered. A request that
//! asks for reasoning gets a reasoning item first, with a summary and `encrypted_content` that
//! only the issuing provider accepts back (as OpenAI verifies it). Errors are OpenAI's.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::reply::{random_hex, Ctx, Finish, Reply};
use crate::request::{ChatRequest, Message};
use crate::script::{json_bytes, sse_event, unix_now, FaultEvents, Script, Step};

/// The `encrypted_content` a provider issues for a reasoning text.
fn encrypted(provider: &str, text: &str) -> String {
    format!(
        "enc:{provider}:{}",
        crate::thinking::signature(text).trim_end_matches('=')
    )
}

/// Reads a Responses body into the mock's request; the reasoning items sent back must carry
/// `encrypted_content` this provider issued.
pub(crate) fn request(body: &[u8], provider: &str) -> Result<ChatRequest, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("request body: {e}"))?;
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or("model: field required")?;
    let mut messages = Vec::new();
    match v.get("input") {
        Some(Value::String(s)) => messages.push(Message {
            role: "user".to_owned(),
            content: Some(Value::from(s.as_str())),
        }),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let kind = item
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("message");
                match kind {
                    "message" => {
                        let role = match item.get("role").and_then(Value::as_str) {
                            Some(r @ ("user" | "assistant" | "system")) => r,
                            Some("developer") => "system",
                            _ => return Err(format!("input[{i}].role: invalid role")),
                        };
                        messages.push(Message {
                            role: role.to_owned(),
                            content: item.get("content").cloned(),
                        });
                    }
                    "function_call" => messages.push(Message {
                        role: "assistant".to_owned(),
                        content: None,
                    }),
                    "function_call_output" => messages.push(Message {
                        role: "tool".to_owned(),
                        content: item.get("output").cloned(),
                    }),
                    "reasoning" => {
                        if let Some(e) = item.get("encrypted_content").and_then(Value::as_str) {
                            let text = item
                                .pointer("/summary/0/text")
                                .and_then(Value::as_str)
                                .unwrap_or("");
                            if e != encrypted(provider, text) {
                                let id = item.get("id").and_then(Value::as_str).unwrap_or("");
                                return Err(format!(
                                    "The encrypted content for item {id} could not be verified."
                                ));
                            }
                        }
                    }
                    other => return Err(format!("input[{i}].type: unknown item type {other:?}")),
                }
            }
        }
        _ => return Err("input: field required".to_owned()),
    }
    if messages.is_empty() {
        return Err("input: must not be empty".to_owned());
    }
    let tools: Vec<Value> = v
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name"))
        .map(|n| json!({ "name": n }))
        .collect();
    Ok(ChatRequest {
        model: Some(model.to_owned()),
        messages: Some(messages),
        system: v.get("instructions").filter(|s| s.is_string()).cloned(),
        stream: v.get("stream").and_then(Value::as_bool),
        max_tokens: v.get("max_output_tokens").and_then(Value::as_i64),
        tools: (!tools.is_empty()).then_some(tools),
        reasoning_effort: v
            .pointer("/reasoning/effort")
            .and_then(Value::as_str)
            .filter(|e| *e != "none")
            .map(str::to_owned),
        ..ChatRequest::default()
    })
}

/// One answer's ids and its events' numbering.
struct Writer<'a> {
    ctx: &'a Ctx<'a>,
    id: String,
    created: u64,
    seq: std::cell::Cell<u64>,
}

impl Writer<'_> {
    fn event(&self, name: &str, mut v: Value) -> Bytes {
        if let Some(o) = v.as_object_mut() {
            o.insert("type".to_owned(), Value::from(name));
            o.insert("sequence_number".to_owned(), Value::from(self.seq.get()));
        }
        self.seq.set(self.seq.get() + 1);
        sse_event(name, &v)
    }

    fn usage(&self, reply: &Reply) -> Value {
        let b = self.ctx.b;
        if b.no_usage {
            return Value::Null;
        }
        let input = reply.prompt_tokens + b.cached_tokens + b.cache_write_tokens;
        json!({
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": b.cached_tokens},
            "output_tokens": reply.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": reply.reasoning.as_deref().map_or(0, crate::request::words)},
            "total_tokens": input + reply.completion_tokens,
        })
    }

    fn response(&self, status: &str, output: Vec<Value>, usage: Value) -> Value {
        json!({
            "id": self.id, "object": "response", "created_at": self.created, "status": status,
            "error": null,
            "incomplete_details": if status == "incomplete" { json!({"reason": "max_output_tokens"}) } else { Value::Null },
            "model": self.ctx.model, "output": output, "parallel_tool_calls": true,
            "tool_choice": "auto", "tools": [], "usage": usage,
        })
    }

    fn items(&self, reply: &Reply) -> Vec<Value> {
        let mut out = Vec::new();
        if let Some(r) = &reply.reasoning {
            out.push(self.reasoning_item(r));
        }
        match &reply.tool {
            Some(t) => out.push(
                json!({"id": format!("fc_{}", random_hex(16)), "type": "function_call",
                "status": "completed", "arguments": t.arguments, "call_id": t.id, "name": t.name}),
            ),
            None => out.push(
                json!({"id": format!("msg_{}", random_hex(16)), "type": "message",
                "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}]}),
            ),
        }
        out
    }

    fn reasoning_item(&self, text: &str) -> Value {
        json!({"id": format!("rs_{}", random_hex(16)), "type": "reasoning",
            "summary": [{"type": "summary_text", "text": text}],
            "encrypted_content": encrypted(self.ctx.provider, text)})
    }
}

impl FaultEvents for Writer<'_> {
    fn malformed(&self) -> Bytes {
        Bytes::from_static(b"event: response.output_text.delta\ndata: {\"type\": \"response.output_text.delta\", \"delta\": \n\n")
    }

    fn in_band_error(&self) -> Bytes {
        let mut r = self.response("failed", Vec::new(), Value::Null);
        r["error"] = json!({"code": "server_error",
            "message": format!("mock {}: upstream error mid-stream", self.ctx.provider)});
        self.event("response.failed", json!({ "response": r }))
    }
}

fn status_of(reply: &Reply) -> &'static str {
    if reply.finish == Finish::Length {
        "incomplete"
    } else {
        "completed"
    }
}

/// The whole answer.
pub(crate) fn whole(ctx: &Ctx<'_>, reply: &Reply) -> Bytes {
    let w = Writer {
        ctx,
        id: format!("resp_{}", random_hex(24)),
        created: unix_now(),
        seq: std::cell::Cell::new(0),
    };
    json_bytes(&w.response(status_of(reply), w.items(reply), w.usage(reply)))
}

/// The streamed answer as a script.
pub(crate) fn stream(ctx: &Ctx<'_>, reply: &Reply) -> Vec<Step> {
    let w = Writer {
        ctx,
        id: format!("resp_{}", random_hex(24)),
        created: unix_now(),
        seq: std::cell::Cell::new(0),
    };
    let mut s = Script::new(ctx.b, reply.chunk_count() + 16);
    let head = w.response("in_progress", Vec::new(), Value::Null);
    s.send(w.event("response.created", json!({ "response": head.clone() })));
    s.send(w.event("response.in_progress", json!({ "response": head })));
    let mut output = Vec::new();
    if let Some(r) = &reply.reasoning {
        let item = w.reasoning_item(r);
        let id = item["id"].clone();
        let n = output.len();
        s.pace_first();
        s.send(w.event(
            "response.output_item.added",
            json!({"output_index": n,
            "item": {"id": id, "type": "reasoning", "summary": []}}),
        ));
        s.send(w.event(
            "response.reasoning_summary_part.added",
            json!({"item_id": id,
            "output_index": n, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
        ));
        for piece in crate::thinking::pieces(r) {
            s.send(w.event(
                "response.reasoning_summary_text.delta",
                json!({"item_id": id,
                "output_index": n, "summary_index": 0, "delta": piece}),
            ));
        }
        s.send(w.event(
            "response.reasoning_summary_text.done",
            json!({"item_id": id,
            "output_index": n, "summary_index": 0, "text": r}),
        ));
        s.send(w.event(
            "response.reasoning_summary_part.done",
            json!({"item_id": id,
            "output_index": n, "summary_index": 0, "part": {"type": "summary_text", "text": r}}),
        ));
        s.send(w.event(
            "response.output_item.done",
            json!({"output_index": n, "item": item.clone()}),
        ));
        output.push(item);
    }
    let n = output.len();
    if let Some(tool) = &reply.tool {
        if s.fault_before(0, &w) {
            return s.into_steps();
        }
        s.pace_first();
        let id = format!("fc_{}", random_hex(16));
        s.send(w.event(
            "response.output_item.added",
            json!({"output_index": n,
            "item": {"id": id, "type": "function_call", "status": "in_progress", "arguments": "",
                     "call_id": tool.id, "name": tool.name}}),
        ));
        for (k, piece) in tool.pieces().into_iter().enumerate() {
            if s.fault_before(k + 1, &w) {
                return s.into_steps();
            }
            s.pace_token();
            s.send(w.event(
                "response.function_call_arguments.delta",
                json!({"item_id": id,
                "output_index": n, "delta": piece}),
            ));
        }
        s.send(w.event(
            "response.function_call_arguments.done",
            json!({"item_id": id,
            "output_index": n, "arguments": tool.arguments}),
        ));
        let item = json!({"id": id, "type": "function_call", "status": "completed",
            "arguments": tool.arguments, "call_id": tool.id, "name": tool.name});
        s.send(w.event(
            "response.output_item.done",
            json!({"output_index": n, "item": item.clone()}),
        ));
        output.push(item);
    } else {
        let id = format!("msg_{}", random_hex(16));
        let count = reply.chunk_count();
        for (k, piece) in reply.chunks().enumerate() {
            if s.fault_before(k, &w) {
                return s.into_steps();
            }
            if k == 0 {
                s.pace_first();
                s.send(w.event(
                    "response.output_item.added",
                    json!({"output_index": n,
                    "item": {"id": id, "type": "message", "status": "in_progress",
                             "role": "assistant", "content": []}}),
                ));
                s.send(w.event(
                    "response.content_part.added",
                    json!({"item_id": id,
                    "output_index": n, "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []}}),
                ));
            } else {
                s.pace_token();
            }
            s.send(w.event(
                "response.output_text.delta",
                json!({"item_id": id,
                "output_index": n, "content_index": 0, "delta": piece, "logprobs": []}),
            ));
        }
        if s.fault_before(count, &w) {
            return s.into_steps();
        }
        let part = json!({"type": "output_text", "text": reply.text, "annotations": []});
        if count > 0 {
            s.send(w.event(
                "response.output_text.done",
                json!({"item_id": id, "output_index": n,
                "content_index": 0, "text": reply.text, "logprobs": []}),
            ));
            s.send(w.event(
                "response.content_part.done",
                json!({"item_id": id,
                "output_index": n, "content_index": 0, "part": part.clone()}),
            ));
            let item = json!({"id": id, "type": "message", "status": "completed",
                "role": "assistant", "content": [part]});
            s.send(w.event(
                "response.output_item.done",
                json!({"output_index": n, "item": item.clone()}),
            ));
            output.push(item);
        }
    }
    let status = status_of(reply);
    let end = w.response(status, output, w.usage(reply));
    let name = if status == "incomplete" {
        "response.incomplete"
    } else {
        "response.completed"
    };
    s.send(w.event(name, json!({ "response": end })));
    s.finish()
}
