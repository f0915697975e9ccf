//! Provider translation by wire protocol: how a request is encoded for an upstream, how its
//! answer (a JSON body or a stream of SSE events) is decoded into OpenAI chunks, and how its
//! errors are read. Pure: bytes and JSON in, values out; the IO lives in `sy-upstream`.

mod aggregate;
mod anthropic;
mod chunk;
mod openai;
mod tokens;

pub use aggregate::Aggregate;
pub use chunk::{ChunkFacts, Piece, UpstreamError, UpstreamUsage};
pub use tokens::{
    estimate_prompt_tokens, estimate_text_tokens, estimate_text_tokens_fast, message_text,
    prompt_bytes,
};

use serde_json::Value;
use sy_api::ChatRequest;
use sy_config::Api;

/// One encoded upstream call.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Appended to the provider's `base_url`.
    pub path: &'static str,
    pub body: Vec<u8>,
    /// Protocol headers besides authentication (e.g. `anthropic-version`).
    pub headers: Vec<(&'static str, &'static str)>,
}

/// Encodes a request for `api`. The upstream is always asked to stream (SPEC §4.3 needs the first
/// token to time it); `prefill` is the text already delivered, sent as a trailing assistant message.
pub fn encode(
    api: Api,
    req: &ChatRequest,
    upstream_model: &str,
    prefill: Option<&str>,
    max_tokens_default: Option<u64>,
) -> Result<Encoded, String> {
    match api {
        Api::OpenAi => Ok(openai::encode(req, upstream_model, prefill)),
        Api::Anthropic => anthropic::encode(req, upstream_model, prefill, max_tokens_default),
    }
}

/// A stream decoder for one attempt: SSE events in, pieces out.
pub enum Decoder {
    OpenAi(openai::StreamState),
    Anthropic(anthropic::StreamState),
}

impl Decoder {
    pub fn new(api: Api) -> Self {
        match api {
            Api::OpenAi => Decoder::OpenAi(openai::StreamState),
            Api::Anthropic => Decoder::Anthropic(anthropic::StreamState::default()),
        }
    }

    /// A decoder for a continuation after `prefill` (stream resume): Anthropic's answer starts
    /// with the whitespace the prefill had trimmed, which the client already has.
    pub fn resuming(api: Api, prefill: Option<&str>) -> Self {
        let mut d = Self::new(api);
        if let (Decoder::Anthropic(s), Some(p)) = (&mut d, prefill) {
            s.resume_after(p);
        }
        d
    }

    /// One SSE event (`event:` name, may be empty, and its `data:`).
    pub fn event(&mut self, event: &str, data: &str, out: &mut Vec<Piece>) {
        match self {
            Decoder::OpenAi(s) => s.event(data, out),
            Decoder::Anthropic(s) => s.event(event, data, out),
        }
    }
}

/// Decodes a complete (non-streamed) answer into the pieces a stream would have given.
pub fn decode_body(api: Api, body: &[u8], out: &mut Vec<Piece>) -> Result<(), String> {
    match api {
        Api::OpenAi => openai::decode_body(body, out),
        Api::Anthropic => anthropic::decode_body(body, out),
    }
}

/// Reads an upstream error body (either protocol's shape, or plain text).
pub fn parse_error(api: Api, status: u16, body: &[u8]) -> UpstreamError {
    let _ = api; // both shapes are recognised whatever the protocol: proxies mix them
    chunk::parse_error_body(status, body)
}

/// The `choices[0].delta.content` text of an OpenAI chunk, for tests and resume.
pub fn delta_text(chunk: &Value) -> Option<&str> {
    chunk
        .get("choices")?
        .get(0)?
        .get("delta")?
        .get("content")?
        .as_str()
}
