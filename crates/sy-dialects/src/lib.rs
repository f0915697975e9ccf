//! Dialects: the APIs clients speak to the gateway. A dialect parses a request body into the
//! typed currency (`sy_api::Request`) and renders an answer back in its own shape — typed events
//! when the answer was translated, or the upstream's own frames when the serving endpoint speaks
//! the same wire family (pass-through, rewriting only `id`, `model` and `provider`).
//!
//! Adding a dialect is one module here and one route in `sy-server`.
//!
//! Pure: bytes and values in, bytes out.

mod chat;
pub mod embeddings;
mod messages;
pub mod responses;
mod sse;

use sy_api::{ApiError, Event, Family, Finish, RawFrame, Request, Usage};

pub use chat::{Aggregate, Chat};
pub use messages::Messages;
pub use responses::Responses;

/// Who answered, as the client sees it on every chunk.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    /// `gen-...`: the request's id.
    pub gen_id: &'a str,
    /// Unix seconds.
    pub created: u64,
    /// The model that answers (the catalog id, not the upstream's).
    pub model: &'a str,
    /// The provider slug that answers.
    pub provider: &'a str,
    /// The serving endpoint's wire family.
    pub family: Family,
    /// The gateway's estimate of the prompt's tokens (for dialects that state them up front).
    pub prompt_estimate: u64,
}

/// How an answer ended, for the final chunk or body.
#[derive(Debug, Clone, Copy)]
pub struct End<'a> {
    pub meta: Meta<'a>,
    /// Every attempt's usage together, with the cost.
    pub usage: &'a Usage,
    pub finish: Option<Finish>,
}

/// One inbound API.
pub trait Dialect: Sync {
    /// The wire family it shares with protocols of the same shape.
    fn family(&self) -> Family;
    /// A request body (and the client's headers) into the typed request. Errors are 400s that
    /// name the field.
    fn parse(&self, body: &[u8], headers: &[(&str, &str)]) -> Result<Request, ApiError>;
    /// A renderer for one answer; `stream` selects SSE bytes or one JSON body.
    fn render(&self, stream: bool) -> Box<dyn Render>;
    /// An error body in this dialect's shape (the status stays the `ApiError`'s).
    fn error_body(&self, err: &ApiError) -> Vec<u8>;
}

/// Turns one answer into the client's format. Streaming renderers append SSE bytes to `out`;
/// collecting ones keep what they need for `body`.
pub trait Render: Send {
    /// A frame passed through from an upstream of the dialect's own family, with the events
    /// decoded from it (renderers track their state from those).
    fn pass(&mut self, raw: &RawFrame, events: &[Event], meta: &Meta<'_>, out: &mut Vec<u8>);
    /// An event of a translated (or continued) answer.
    fn event(&mut self, ev: &Event, meta: &Meta<'_>, out: &mut Vec<u8>);
    /// The answer is complete: the last chunk(s), with the usage.
    fn finish(&mut self, end: &End<'_>, out: &mut Vec<u8>);
    /// The answer broke after content and nothing could continue it (SPEC §4.4).
    fn fail(&mut self, err: &ApiError, end: &End<'_>, out: &mut Vec<u8>);
    /// The whole answer as one body (a collecting renderer).
    fn body(&mut self, end: &End<'_>) -> Vec<u8>;
    /// The finished answer as a value to keep, for dialects with state (Responses' `store`);
    /// set once `finish` or `body` ran.
    fn response(&self) -> Option<serde_json::Value> {
        None
    }
    /// Request fields the answer's objects repeat (Responses' `metadata`, `instructions`, ...).
    fn echo(&mut self, _fields: serde_json::Map<String, serde_json::Value>) {}
}

/// The dialect of each family that has one.
pub fn dialect(family: Family) -> Option<&'static dyn Dialect> {
    match family {
        Family::Chat => Some(&Chat),
        Family::Messages => Some(&Messages),
        Family::Responses => Some(&Responses),
        Family::Gemini | Family::Converse => None,
    }
}
