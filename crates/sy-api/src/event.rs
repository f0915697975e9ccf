//! The typed answer: what every protocol's decoder makes of an upstream's stream (or whole body)
//! and every dialect's renderer turns into the client's format. Translation, resume,
//! aggregation and accounting read these, never a protocol's JSON.

/// One thing an upstream said.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Answer text.
    Text(String),
    /// Reasoning text (thinking).
    Reasoning(String),
    /// The signature closing a reasoning block (Anthropic's `signature_delta`, Gemini's
    /// thought signature), bound to the family that issued it.
    ReasoningSignature(String),
    /// Reasoning returned encrypted (`redacted_thinking`, `encrypted_content`).
    EncryptedReasoning(String),
    /// A tool call begins. `index` counts the answer's tool calls from 0.
    ToolStart {
        index: u32,
        id: String,
        name: String,
    },
    /// More of a tool call's arguments (JSON text, in pieces).
    ToolArgs { index: u32, delta: String },
    /// A refusal message (OpenAI's `refusal`).
    Refusal(String),
    /// Token counts as the upstream reported them (cumulative: the latest wins).
    Usage(UpstreamUsage),
    /// The answer is finished, for this reason.
    Finish(Finish),
    /// An error inside the stream.
    Error(UpstreamError),
    /// The upstream said the stream is over (`[DONE]`, `message_stop`).
    Done,
    /// Something that could not be understood: skipped and counted.
    Malformed,
}

impl Event {
    /// Carries content (the first such event is the first token, SPEC §4.3).
    pub fn is_content(&self) -> bool {
        match self {
            Event::Text(t) | Event::Reasoning(t) | Event::Refusal(t) => !t.is_empty(),
            Event::ToolStart { .. } | Event::EncryptedReasoning(_) => true,
            Event::ToolArgs { delta, .. } => !delta.is_empty(),
            _ => false,
        }
    }
}

/// Why an answer ended, in OpenAI's words (each dialect renders its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl Finish {
    pub fn as_openai(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::ToolCalls => "tool_calls",
            Finish::ContentFilter => "content_filter",
        }
    }

    pub fn from_openai(s: &str) -> Finish {
        match s {
            "length" => Finish::Length,
            "tool_calls" | "function_call" => Finish::ToolCalls,
            "content_filter" => Finish::ContentFilter,
            _ => Finish::Stop,
        }
    }
}

/// Usage as an upstream reported it. `prompt_tokens` includes cached and cache-written tokens
/// (whatever the protocol's own convention), so it means the same for every protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpstreamUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens read from the provider's cache, when it says.
    pub cached_tokens: Option<u64>,
    /// Prompt tokens written to the provider's cache, when it says.
    pub cache_write_tokens: Option<u64>,
    /// Completion tokens spent reasoning, when it says (part of `completion_tokens`).
    pub reasoning_tokens: Option<u64>,
}

/// An upstream's error, as read from its body or an in-band event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamError {
    pub message: String,
    /// OpenAI's `error.code` (e.g. `context_length_exceeded`).
    pub code: Option<String>,
    /// OpenAI's / Anthropic's `error.type` (e.g. `overloaded_error`).
    pub kind: Option<String>,
    /// The HTTP status the error stands for when the protocol knows better than the status
    /// line (Gemini answers a bad API key with 400 `API_KEY_INVALID`: the gateway's own
    /// credentials, so a 401 for classification).
    pub status: Option<u16>,
}

/// An upstream's event as it sent it (an SSE event's name and data), kept for pass-through to a
/// client of the same wire family.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawFrame {
    /// The SSE `event:` name, when there was one.
    pub event: Option<String>,
    pub data: String,
}

/// One upstream frame: the raw event (when the protocol can pass it through) and the typed
/// events decoded from it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    pub raw: Option<RawFrame>,
    pub events: Vec<Event>,
}

impl Frame {
    pub fn of(events: Vec<Event>) -> Frame {
        Frame { raw: None, events }
    }

    /// Carries content or a finish (what commits a stream, SPEC §4.4).
    pub fn commits(&self) -> bool {
        self.events
            .iter()
            .any(|e| e.is_content() || matches!(e, Event::Finish(_)))
    }
}
