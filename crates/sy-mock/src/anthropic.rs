//! The Anthropic Messages wire format: `message`, the `message_start` …
//! `message_stop` event stream, error bodies and the model list.

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::reply::{random_hex, Ctx, Finish, Reply};
use crate::script::{json_bytes, sse_event, FaultEvents, Script, Step};

const PING: &[u8] = b"event: ping\ndata: {\"type\":\"ping\"}\n\n";

/// `content_block_stop` for block `index`.
fn block_stop(index: u32) -> Bytes {
    Bytes::from(format!(
        "event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":{index}}}\n\n"
    ))
}
const MESSAGE_STOP: &[u8] = b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/// Anthropic's `stop_reason` for a reply.
fn stop_reason(reply: &Reply) -> &'static str {
    match reply.finish {
        Finish::Stop if reply.stop_sequence.is_some() => "stop_sequence",
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "refusal",
    }
}

#[derive(Serialize)]
struct Usage {
    #[serde(skip_serializing_if = "Option::is_none")]
    input_tokens: Option<u64>,
    output_tokens: u64,
    /// Anthropic's `input_tokens` leaves these out.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_read_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_creation_input_tokens: Option<u64>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a Value,
    },
}

#[derive(Serialize)]
struct Message<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: &'a [Block<'a>],
    stop_reason: Option<&'static str>,
    stop_sequence: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

/// The non-streaming answer.
pub(crate) fn message(ctx: &Ctx<'_>, reply: &Reply) -> Bytes {
    let id = format!("msg_{}", random_hex(24));
    let block = match &reply.tool {
        Some(tool) => Block::ToolUse {
            id: &tool.id,
            name: &tool.name,
            input: &tool.input,
        },
        None => Block::Text { text: &reply.text },
    };
    let signature = reply.reasoning.as_deref().map(crate::thinking::signature);
    let mut content = Vec::with_capacity(2);
    if let (Some(thinking), Some(signature)) = (&reply.reasoning, &signature) {
        content.push(Block::Thinking {
            thinking,
            signature,
        });
    }
    content.push(block);
    json_bytes(&Message {
        id: &id,
        kind: "message",
        role: "assistant",
        model: ctx.model,
        content: &content,
        stop_reason: Some(stop_reason(reply)),
        stop_sequence: reply.stop_sequence.as_deref(),
        usage: (!ctx.b.no_usage).then_some(Usage {
            input_tokens: Some(reply.prompt_tokens),
            output_tokens: reply.completion_tokens,
            cache_read_input_tokens: Some(ctx.b.cached_tokens),
            cache_creation_input_tokens: Some(ctx.b.cache_write_tokens),
        }),
    })
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        message: Message<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: Block<'a>,
    },
    ContentBlockDelta {
        index: u32,
        delta: Delta<'a>,
    },
    MessageDelta {
        delta: StopDelta<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
    },
    Error {
        error: ErrorDetail<'a>,
    },
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::MessageDelta { .. } => "message_delta",
            Self::Error { .. } => "error",
        }
    }

    fn encode(&self) -> Bytes {
        sse_event(self.name(), self)
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // the variants are named as Anthropic's delta types
enum Delta<'a> {
    TextDelta { text: &'a str },
    InputJsonDelta { partial_json: &'a str },
    ThinkingDelta { thinking: &'a str },
    SignatureDelta { signature: &'a str },
}

#[derive(Serialize)]
struct StopDelta<'a> {
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

/// Encodes the fault events of one stream.
struct Events<'a> {
    provider: &'a str,
}

impl FaultEvents for Events<'_> {
    fn malformed(&self) -> Bytes {
        Bytes::from_static(
            b"event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \n\n",
        )
    }

    fn in_band_error(&self) -> Bytes {
        Event::Error {
            error: ErrorDetail {
                kind: "overloaded_error",
                message: &format!("mock {}: Overloaded", self.provider),
            },
        }
        .encode()
    }
}

/// The streamed answer as a script.
pub(crate) fn stream(ctx: &Ctx<'_>, reply: &Reply) -> Vec<Step> {
    let b = ctx.b;
    let w = Events {
        provider: ctx.provider,
    };
    let id = format!("msg_{}", random_hex(24));
    let mut s = Script::new(b, reply.chunk_count() + 8);
    s.send(
        Event::MessageStart {
            message: Message {
                id: &id,
                kind: "message",
                role: "assistant",
                model: ctx.model,
                content: &[],
                stop_reason: None,
                stop_sequence: None,
                usage: (!b.no_usage).then_some(Usage {
                    input_tokens: Some(reply.prompt_tokens),
                    output_tokens: 1,
                    cache_read_input_tokens: Some(b.cached_tokens),
                    cache_creation_input_tokens: Some(b.cache_write_tokens),
                }),
            },
        }
        .encode(),
    );
    // reasoning first, as its own (signed) block; the answer's block follows it
    let at: u32 = u32::from(reply.reasoning.is_some());
    if let Some(thinking) = &reply.reasoning {
        s.send(
            Event::ContentBlockStart {
                index: 0,
                content_block: Block::Thinking {
                    thinking: "",
                    signature: "",
                },
            }
            .encode(),
        );
        s.pace_first();
        for piece in crate::thinking::pieces(thinking) {
            s.send(
                Event::ContentBlockDelta {
                    index: 0,
                    delta: Delta::ThinkingDelta { thinking: piece },
                }
                .encode(),
            );
        }
        let sig = crate::thinking::signature(thinking);
        s.send(
            Event::ContentBlockDelta {
                index: 0,
                delta: Delta::SignatureDelta { signature: &sig },
            }
            .encode(),
        );
        s.send(block_stop(0));
    }
    if let Some(tool) = &reply.tool {
        let empty = Value::Object(serde_json::Map::new());
        s.send(
            Event::ContentBlockStart {
                index: at,
                content_block: Block::ToolUse {
                    id: &tool.id,
                    name: &tool.name,
                    input: &empty,
                },
            }
            .encode(),
        );
        s.send(Bytes::from_static(PING));
        if s.fault_before(0, &w) {
            return s.into_steps();
        }
        s.pace_first();
        // the call's start is content chunk 0, its argument pieces 1.. (faults may cut inside)
        for (k, piece) in tool.pieces().into_iter().enumerate() {
            if s.fault_before(k + 1, &w) {
                return s.into_steps();
            }
            s.pace_token();
            s.send(
                Event::ContentBlockDelta {
                    index: at,
                    delta: Delta::InputJsonDelta {
                        partial_json: piece,
                    },
                }
                .encode(),
            );
        }
    } else {
        s.send(
            Event::ContentBlockStart {
                index: at,
                content_block: Block::Text { text: "" },
            }
            .encode(),
        );
        s.send(Bytes::from_static(PING));
        for (k, piece) in reply.chunks().enumerate() {
            if s.fault_before(k, &w) {
                return s.into_steps();
            }
            if k == 0 {
                s.pace_first();
            } else {
                s.pace_token();
            }
            s.send(
                Event::ContentBlockDelta {
                    index: at,
                    delta: Delta::TextDelta { text: piece },
                }
                .encode(),
            );
        }
        if s.fault_before(reply.chunk_count(), &w) {
            return s.into_steps();
        }
    }
    s.send(block_stop(at));
    s.send(
        Event::MessageDelta {
            delta: StopDelta {
                stop_reason: stop_reason(reply),
                stop_sequence: reply.stop_sequence.as_deref(),
            },
            usage: (!b.no_usage).then_some(Usage {
                input_tokens: None,
                output_tokens: reply.completion_tokens,
                cache_read_input_tokens: None,
                cache_creation_input_tokens: None,
            }),
        }
        .encode(),
    );
    if !b.no_done {
        s.send(Bytes::from_static(MESSAGE_STOP));
    }
    s.finish()
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: ErrorDetail<'a>,
}

/// Anthropic's error body for `status`.
pub(crate) fn error_body(status: u16, message: &str) -> Bytes {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 | 504 => "timeout_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json_bytes(&ErrorBody {
        kind: "error",
        error: ErrorDetail { kind, message },
    })
}

/// `GET /v1/models`.
pub(crate) fn models(ids: &[String]) -> Bytes {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| {
            serde_json::json!({"type": "model", "id": id, "display_name": id,
                               "created_at": "2025-01-01T00:00:00Z"})
        })
        .collect();
    json_bytes(&serde_json::json!({
        "data": data,
        "has_more": false,
        "first_id": ids.first(),
        "last_id": ids.last(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::Behaviour;
    use crate::request::{Api, ChatRequest};

    fn events(b: &Behaviour, body: &str) -> Vec<(String, Value)> {
        let req = ChatRequest::parse(body.as_bytes()).unwrap();
        let reply = Reply::plan(Api::Anthropic, "p", "Hi there.", b, &req);
        let ctx = Ctx {
            provider: "p",
            model: "m",
            b,
            include_usage: false,
        };
        stream(&ctx, &reply)
            .into_iter()
            .filter_map(|s| match s {
                Step::Send(bytes) => Some(String::from_utf8(bytes.to_vec()).unwrap()),
                _ => None,
            })
            .map(|e| {
                let (name, data) = e
                    .strip_prefix("event: ")
                    .unwrap()
                    .split_once("\ndata: ")
                    .unwrap();
                let data: Value = serde_json::from_str(data.trim_end()).unwrap();
                assert_eq!(data["type"], name, "{e}");
                (name.to_owned(), data)
            })
            .collect()
    }

    #[test]
    fn a_stream_has_the_real_event_sequence() {
        let ev = events(
            &Behaviour::default(),
            r#"{"system":"s","max_tokens":9,"messages":[{"role":"user","content":"a b"}]}"#,
        );
        let names: Vec<_> = ev.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(ev[0].1["message"]["usage"]["input_tokens"], 3);
        assert_eq!(
            ev[1].1["content_block"],
            serde_json::json!({"type": "text", "text": ""})
        );
        assert_eq!(
            ev[3].1["delta"],
            serde_json::json!({"type": "text_delta", "text": "Hi"})
        );
        assert_eq!(
            ev[6].1,
            serde_json::json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 2}})
        );
    }

    #[test]
    fn limits_tools_and_errors() {
        let ev = events(&Behaviour::default(), r#"{"max_tokens":1,"messages":[]}"#);
        let delta = ev.iter().find(|(n, _)| n == "message_delta").unwrap();
        assert_eq!(delta.1["delta"]["stop_reason"], "max_tokens");
        assert_eq!(delta.1["usage"]["output_tokens"], 1);
        let tool = Behaviour {
            tool_call: true,
            ..Behaviour::default()
        };
        let ev = events(
            &tool,
            r#"{"max_tokens":9,"messages":[],"tools":[{"name":"t"}]}"#,
        );
        assert_eq!(ev[1].1["content_block"]["type"], "tool_use");
        assert_eq!(ev[1].1["content_block"]["name"], "t");
        assert_eq!(ev[3].1["delta"]["type"], "input_json_delta");
        let err = Behaviour {
            error_after: Some(0),
            ..Behaviour::default()
        };
        let ev = events(&err, r#"{"max_tokens":9,"messages":[]}"#);
        assert_eq!(ev.last().unwrap().1["error"]["type"], "overloaded_error");
        let body: Value = serde_json::from_slice(&error_body(529, "Overloaded")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        );
    }
}
