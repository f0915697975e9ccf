//! Protocols: the wire formats of upstream providers. A protocol builds the HTTP call for a
//! request (method, path, headers, body — pass-through when the request arrived in the
//! protocol's own wire family, translated from the typed conversation otherwise), decodes the
//! answer's framing (SSE, AWS event-stream, a whole JSON body) into typed events (keeping each
//! raw frame for pass-through), and reads its errors.
//!
//! Adding a protocol is one module here plus one line in `protocol()`.
//!
//! Pure: bytes and values in, values out; signing and sending live in `sy-upstream`.

mod anthropic;
mod azure;
mod bedrock;
mod cloud_embed;
mod errors;
mod gemini;
mod openai;
mod responses;
mod sse;
#[cfg(test)]
mod testing;
mod tokens;
mod vertex;

use sy_api::{EmbedRequest, Family, Frame, Request, UpstreamError};
use sy_config::{Api, Provider};

pub use errors::parse_error_body;
pub use sse::SseFramer;
pub use tokens::{estimate_prompt_tokens, estimate_text_tokens, estimate_text_tokens_fast};

/// The endpoint a call is for.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub provider: &'a Provider,
    pub upstream_model: &'a str,
    /// The endpoint's `max_completion_tokens`, a default where a protocol requires a limit.
    pub max_tokens: Option<u64>,
    /// The endpoint's `supported_parameters` (empty: everything).
    pub supported: &'a [String],
}

impl Target<'_> {
    /// Whether the endpoint takes an OpenRouter parameter (an endpoint without a list takes all).
    pub fn supports(&self, parameter: &str) -> bool {
        self.supported.is_empty() || self.supported.iter().any(|s| s == parameter)
    }
}

/// How a call continues a broken stream (SPEC §4.3).
#[derive(Debug, Clone, Copy)]
pub enum Continue<'a> {
    /// A first answer.
    Fresh,
    /// The text the client has, sent as a trailing assistant message to go on from.
    Prefill(&'a str),
    /// The whole answer again (the relay splices it).
    Regenerate,
}

impl Continue<'_> {
    pub fn prefill(&self) -> Option<&str> {
        match self {
            Continue::Prefill(p) => Some(p),
            _ => None,
        }
    }
}

/// One upstream HTTP call, before authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: &'static str,
    /// Appended to the provider's `base_url`; may carry a query.
    pub path: String,
    /// Protocol headers besides authentication (e.g. `anthropic-version`).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// How a protocol authenticates with the provider's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer {api_key}`.
    Bearer,
    /// The key in a header of this name.
    Header(&'static str),
    /// AWS Signature Version 4 over the final request (method, path, signed headers, body)
    /// with the provider's AWS keys, for this service name; a provider configured with an
    /// `api_key` instead sends it as Bearer (Bedrock API keys).
    SigV4 { service: &'static str },
    /// `Authorization: Bearer` with an OAuth access token obtained from the provider's
    /// service-account file (a JWT exchanged at its `token_uri`), cached until near expiry.
    GoogleServiceAccount,
}

/// Decodes one answer's body, whatever its framing, into frames of typed events.
pub trait Decode: Send {
    /// More of the body. An error is a framing the protocol cannot read (the attempt fails).
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Frame>) -> Result<(), String>;
    /// The body ended.
    fn end(&mut self, out: &mut Vec<Frame>) -> Result<(), String>;
}

/// One upstream wire protocol.
pub trait Protocol: Sync {
    /// The wire family of an endpoint of this protocol serving `upstream_model`.
    fn family(&self, upstream_model: &str) -> Family;
    fn auth(&self) -> Auth;
    /// Why an endpoint of this protocol cannot serve `req` (beyond the common checks), if so.
    fn unsupported(&self, _req: &Request, _target: &Target<'_>) -> Option<String> {
        None
    }
    /// The call for `req`. Upstreams are asked to stream (the first token is timed).
    fn encode(
        &self,
        req: &Request,
        target: &Target<'_>,
        cont: Continue<'_>,
    ) -> Result<Call, String>;
    /// A decoder for the answer; `whole` when the upstream answered with one JSON body.
    fn decoder(&self, target: &Target<'_>, cont: Continue<'_>, whole: bool) -> Box<dyn Decode>;
    /// Reads an error body.
    fn parse_error(&self, status: u16, body: &[u8]) -> UpstreamError {
        parse_error_body(status, body)
    }

    /// A call that counts a request's input tokens, for protocols that have one.
    fn count_tokens(&self, _req: &Request, _target: &Target<'_>) -> Option<Call> {
        None
    }

    /// The count in the answer to `count_tokens`'s call.
    fn read_count(&self, _body: &[u8]) -> Option<u64> {
        None
    }

    /// The call that embeds `req`'s inputs, for protocols that serve embeddings (SPEC §4.8).
    fn embed(&self, _req: &EmbedRequest, _target: &Target<'_>) -> Option<Call> {
        None
    }

    /// The vectors (in input order) and the reported prompt tokens of an embeddings answer.
    fn read_embeddings(&self, _body: &[u8]) -> Result<Embeddings, String> {
        Err("this protocol serves no embeddings".to_owned())
    }
}

/// An embeddings answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// Prompt tokens as the upstream reported them.
    pub prompt_tokens: Option<u64>,
}

/// The protocol of an `api`.
pub fn protocol(api: Api) -> &'static dyn Protocol {
    match api {
        Api::OpenAi => &openai::OpenAi,
        Api::OpenAiResponses => &responses::OpenAiResponses,
        Api::Anthropic => &anthropic::Anthropic,
        Api::Gemini => &gemini::Gemini,
        Api::Azure => &azure::Azure,
        Api::Bedrock => &bedrock::Bedrock,
        Api::Vertex => &vertex::Vertex,
    }
}

/// Why `target` cannot serve `req`: the checks every protocol shares (a request that only its
/// own family can carry; features a translation needs the endpoint to list), then the
/// protocol's own.
pub fn unsupported(req: &Request, target: &Target<'_>) -> Option<String> {
    let p = protocol(target.provider.api);
    if p.family(target.upstream_model) != req.family {
        if let Some(why) = &req.untranslatable {
            return Some(why.clone());
        }
        {
            if let Some(n) = req
                .needs_when_translated
                .iter()
                .find(|n| !target.supports(n))
            {
                return Some(format!(
                    "the request needs `{n}`, which this endpoint's supported_parameters lack"
                ));
            }
        }
    }
    p.unsupported(req, target)
}
