//! A request as the gateway carries it, whatever dialect it arrived in: the routing fields, the
//! typed conversation, and the body as the client sent it (without the routing fields) so that
//! an upstream of the same wire family receives it unchanged (pass-through).

use serde_json::{Map, Value};

use crate::{Conversation, Routing};

/// A wire family: the shape of request bodies and answers that a dialect (inbound) and a
/// protocol (upstream) may share. A request whose family is the serving endpoint's passes
/// through; any other is translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// OpenAI chat completions.
    Chat,
    /// Anthropic Messages.
    Messages,
    /// OpenAI Responses.
    Responses,
    /// Google's generateContent (Gemini API, Vertex).
    Gemini,
    /// Amazon Bedrock Converse.
    Converse,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Chat => "chat",
            Family::Messages => "messages",
            Family::Responses => "responses",
            Family::Gemini => "gemini",
            Family::Converse => "converse",
        }
    }
}

/// The member of a stored Responses reasoning item naming the provider that issued its
/// `encrypted_content`: an `openai-responses` endpoint receives such an item only from the same
/// provider, and never this member (SPEC §4.7).
pub const RESPONSES_ISSUER: &str = "x_switchyard_provider";

/// A validated request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The family of the dialect it arrived in.
    pub family: Family,
    pub routing: Routing,
    /// The body as sent, without the routing fields: what a same-family upstream receives.
    pub body: Map<String, Value>,
    /// The typed view every translation reads.
    pub conv: Conversation,
    pub stream: bool,
    /// Requested completion tokens, when given.
    pub max_tokens: Option<u64>,
    /// Parameters the request uses, by OpenRouter's names (for `require_parameters`).
    pub used_parameters: Vec<&'static str>,
    /// Features an endpoint of another family must list in `supported_parameters` to serve the
    /// request translated (SPEC §4.6: `reasoning` for thinking, `tools` for tools).
    pub needs_when_translated: Vec<&'static str>,
    /// Client headers passed to same-family upstreams (e.g. `anthropic-beta`).
    pub headers: Vec<(String, String)>,
    /// Why the request cannot be translated to another family at all (e.g. a server tool only
    /// its own family runs); such a request is served by same-family endpoints only.
    pub untranslatable: Option<String>,
}

impl Request {
    /// A request with an empty body and no parameters, for tests and tools.
    pub fn new(family: Family, routing: Routing, conv: Conversation) -> Request {
        Request {
            family,
            routing,
            body: Map::new(),
            max_tokens: conv.params.max_tokens,
            conv,
            stream: false,
            used_parameters: Vec::new(),
            needs_when_translated: Vec::new(),
            headers: Vec::new(),
            untranslatable: None,
        }
    }
}

/// The largest `max_tokens` accepted: far above any model's context, and small enough that the
/// planner's token sums (prompt estimate plus completion) can never overflow a `u64`.
pub const MAX_COMPLETION_TOKENS: u64 = u32::MAX as u64;
