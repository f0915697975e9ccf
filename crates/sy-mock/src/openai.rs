//! The OpenAI chat-completions wire format: `chat.completion`, the
//! `chat.completion.chunk` stream ending `data: [DONE]`, error bodies and
//! the model list.

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::reply::{random_hex, Ctx, Reply};
use crate::script::{json_bytes, sse_data, unix_now, FaultEvents, Script, Step};

const DONE: &[u8] = b"data: [DONE]\n\n";

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
    /// OpenRouter's name for tokens written to the prompt cache.
    cache_write_tokens: u64,
}

#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
}

impl Usage {
    /// A reply's usage: prompt tokens include the cached and cache-written ones (as OpenAI
    /// counts), completion tokens the reasoning ones.
    fn of(reply: &Reply, b: &crate::Behaviour) -> Self {
        let prompt_tokens = reply.prompt_tokens + b.cached_tokens + b.cache_write_tokens;
        Self {
            prompt_tokens,
            completion_tokens: reply.completion_tokens,
            total_tokens: prompt_tokens + reply.completion_tokens,
            prompt_tokens_details: PromptDetails {
                cached_tokens: b.cached_tokens,
                cache_write_tokens: b.cache_write_tokens,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: reply.reasoning.as_deref().map_or(0, crate::request::words),
            },
        }
    }
}

#[derive(Serialize)]
struct Function<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize)]
struct ToolCallOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Option<&'a str>,
    /// Reasoning, as OpenAI-compatible reasoning servers name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallOut<'a>; 1]>,
    refusal: Option<&'a str>,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
    system_fingerprint: &'a str,
}

/// The non-streaming answer.
pub(crate) fn completion(ctx: &Ctx<'_>, reply: &Reply) -> Bytes {
    let id = format!("chatcmpl-{}", random_hex(24));
    let fingerprint = format!("fp_{}", ctx.provider);
    let message = match &reply.tool {
        Some(tool) => Message {
            role: "assistant",
            content: None,
            reasoning_content: reply.reasoning.as_deref(),
            tool_calls: Some([ToolCallOut {
                index: None,
                id: Some(&tool.id),
                kind: Some("function"),
                function: Function {
                    name: Some(&tool.name),
                    arguments: &tool.arguments,
                },
            }]),
            refusal: None,
        },
        None => Message {
            role: "assistant",
            content: Some(&reply.text),
            reasoning_content: reply.reasoning.as_deref(),
            tool_calls: None,
            refusal: None,
        },
    };
    json_bytes(&Completion {
        id: &id,
        object: "chat.completion",
        created: unix_now(),
        model: ctx.model,
        choices: [Choice {
            index: 0,
            message,
            logprobs: None,
            finish_reason: reply.finish.openai(),
        }],
        usage: (!ctx.b.no_usage).then(|| Usage::of(reply, ctx.b)),
        system_fingerprint: &fingerprint,
    })
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallOut<'a>; 1]>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'a str,
    choices: &'a [ChunkChoice<'a>],
    /// `null` on every chunk but the last when usage was asked for, like OpenAI.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

/// Encodes the chunks of one stream.
struct Chunks<'a> {
    id: String,
    created: u64,
    fingerprint: String,
    ctx: &'a Ctx<'a>,
}

impl Chunks<'_> {
    fn chunk(&self, delta: Delta<'_>, finish_reason: Option<&'static str>) -> Bytes {
        sse_data(&Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: self.ctx.model,
            system_fingerprint: &self.fingerprint,
            choices: &[ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: self.ctx.include_usage.then_some(None),
        })
    }

    fn usage(&self, usage: Usage) -> Bytes {
        sse_data(&Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: self.ctx.model,
            system_fingerprint: &self.fingerprint,
            choices: &[],
            usage: Some(Some(usage)),
        })
    }
}

impl FaultEvents for Chunks<'_> {
    fn malformed(&self) -> Bytes {
        Bytes::from_static(
            b"data: {\"id\": \"broken\", \"choices\": [{\"delta\": {\"content\": \n\n",
        )
    }

    fn in_band_error(&self) -> Bytes {
        sse_data(&ErrorBody {
            error: ErrorDetail {
                message: &format!("mock {}: upstream error mid-stream", self.ctx.provider),
                kind: "server_error",
                param: None,
                code: Some("server_error"),
            },
        })
    }
}

/// The streamed answer as a script.
pub(crate) fn stream(ctx: &Ctx<'_>, reply: &Reply) -> Vec<Step> {
    let w = Chunks {
        id: format!("chatcmpl-{}", random_hex(24)),
        created: unix_now(),
        fingerprint: format!("fp_{}", ctx.provider),
        ctx,
    };
    let b = ctx.b;
    let mut s = Script::new(b, reply.chunk_count() + 8);
    s.send(w.chunk(
        Delta {
            role: Some("assistant"),
            content: Some(""),
            ..Delta::default()
        },
        None,
    ));
    if let Some(reasoning) = &reply.reasoning {
        s.pace_first();
        for piece in crate::thinking::pieces(reasoning) {
            s.send(w.chunk(
                Delta {
                    reasoning_content: Some(piece),
                    ..Delta::default()
                },
                None,
            ));
        }
    }
    if let Some(tool) = &reply.tool {
        if s.fault_before(0, &w) {
            return s.into_steps();
        }
        s.pace_first();
        let head = ToolCallOut {
            index: Some(0),
            id: Some(&tool.id),
            kind: Some("function"),
            function: Function {
                name: Some(&tool.name),
                arguments: "",
            },
        };
        s.send(w.chunk(
            Delta {
                tool_calls: Some([head]),
                ..Delta::default()
            },
            None,
        ));
        // the call's head is content chunk 0, its argument pieces 1.. (faults may cut inside)
        for (k, piece) in tool.pieces().into_iter().enumerate() {
            if s.fault_before(k + 1, &w) {
                return s.into_steps();
            }
            s.pace_token();
            let delta = ToolCallOut {
                index: Some(0),
                id: None,
                kind: None,
                function: Function {
                    name: None,
                    arguments: piece,
                },
            };
            s.send(w.chunk(
                Delta {
                    tool_calls: Some([delta]),
                    ..Delta::default()
                },
                None,
            ));
        }
    } else {
        for (k, piece) in reply.chunks().enumerate() {
            if s.fault_before(k, &w) {
                return s.into_steps();
            }
            if k == 0 {
                s.pace_first();
            } else {
                s.pace_token();
            }
            s.send(w.chunk(
                Delta {
                    content: Some(piece),
                    ..Delta::default()
                },
                None,
            ));
        }
        if s.fault_before(reply.chunk_count(), &w) {
            return s.into_steps();
        }
    }
    s.send(w.chunk(Delta::default(), Some(reply.finish.openai())));
    if ctx.include_usage && !b.no_usage {
        s.send(w.usage(Usage::of(reply, b)));
    }
    if !b.no_done {
        s.send(Bytes::from_static(DONE));
    }
    s.finish()
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

/// OpenAI's error body for `status`.
pub(crate) fn error_body(status: u16, message: &str) -> Bytes {
    let kind = match status {
        403 => "permission_error",
        429 => "rate_limit_exceeded",
        s if s >= 500 => "server_error",
        _ => "invalid_request_error",
    };
    let code = match status {
        401 => Some("invalid_api_key"),
        429 => Some("rate_limit_exceeded"),
        _ => None,
    };
    json_bytes(&ErrorBody {
        error: ErrorDetail {
            message,
            kind,
            param: None,
            code,
        },
    })
}

/// `GET /v1/models`.
pub(crate) fn models(provider: &str, ids: &[String]) -> Bytes {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": provider}))
        .collect();
    json_bytes(&serde_json::json!({"object": "list", "data": data}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::Behaviour;
    use crate::request::{Api, ChatRequest};

    fn events(b: &Behaviour, include_usage: bool, body: &str) -> Vec<String> {
        let req = ChatRequest::parse(body.as_bytes()).unwrap();
        let reply = Reply::plan(Api::OpenAi, "p", "Hi there.", b, &req);
        let ctx = Ctx {
            provider: "p",
            model: "m",
            b,
            include_usage,
        };
        stream(&ctx, &reply)
            .into_iter()
            .filter_map(|s| match s {
                Step::Send(bytes) => Some(String::from_utf8(bytes.to_vec()).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn json(event: &str) -> Value {
        let data = event.strip_prefix("data: ").unwrap().trim_end();
        serde_json::from_str(data).unwrap()
    }

    #[test]
    fn a_stream_is_role_content_finish_usage_done() {
        let ev = events(
            &Behaviour::default(),
            true,
            r#"{"messages":[{"role":"user","content":"a b"}]}"#,
        );
        assert_eq!(ev.len(), 6, "{ev:#?}");
        assert!(ev.iter().all(|e| e.ends_with("\n\n")));
        let first = json(&ev[0]);
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(
            first["choices"][0]["delta"],
            serde_json::json!({"role": "assistant", "content": ""})
        );
        assert!(first["usage"].is_null() && first.get("usage").is_some());
        assert_eq!(json(&ev[1])["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(json(&ev[2])["choices"][0]["delta"]["content"], " there.");
        assert_eq!(json(&ev[3])["choices"][0]["finish_reason"], "stop");
        let usage = json(&ev[4]);
        assert_eq!(usage["choices"], serde_json::json!([]));
        assert_eq!(
            usage["usage"],
            serde_json::json!({"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4,
                "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0}})
        );
        assert_eq!(ev[5], "data: [DONE]\n\n");
        // Every chunk of one stream shares its id.
        assert_eq!(json(&ev[0])["id"], json(&ev[3])["id"]);
    }

    #[test]
    fn usage_only_when_asked_and_not_suppressed() {
        let body = r#"{"messages":[{"role":"user","content":"a"}]}"#;
        let ev = events(&Behaviour::default(), false, body);
        assert_eq!(ev.len(), 5);
        assert!(json(&ev[0]).get("usage").is_none());
        let no_usage = Behaviour {
            no_usage: true,
            no_done: true,
            ..Behaviour::default()
        };
        let ev = events(&no_usage, true, body);
        assert_eq!(ev.len(), 4, "{ev:#?}");
        assert!(!ev.last().unwrap().contains("[DONE]"));
    }

    #[test]
    fn a_tool_call_streams_its_arguments() {
        let b = Behaviour {
            tool_call: true,
            ..Behaviour::default()
        };
        let ev = events(
            &b,
            false,
            r#"{"messages":[],"tools":[{"type":"function","function":{"name":"f"}}]}"#,
        );
        let head = json(&ev[1]);
        assert_eq!(
            head["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "f"
        );
        let args: String = ev[2..ev.len() - 2]
            .iter()
            .map(|e| {
                json(e)["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(args, r#"{"location":"Paris","unit":"celsius"}"#);
        assert_eq!(
            json(&ev[ev.len() - 2])["choices"][0]["finish_reason"],
            "tool_calls"
        );
    }

    #[test]
    fn in_band_error_and_error_bodies() {
        let b = Behaviour {
            error_after: Some(1),
            ..Behaviour::default()
        };
        let ev = events(&b, false, r#"{"messages":[]}"#);
        assert_eq!(ev.len(), 3);
        assert_eq!(json(&ev[2])["error"]["type"], "server_error");
        let body: Value = serde_json::from_slice(&error_body(429, "slow down")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"message": "slow down", "type": "rate_limit_exceeded", "param": null, "code": "rate_limit_exceeded"}})
        );
    }
}
