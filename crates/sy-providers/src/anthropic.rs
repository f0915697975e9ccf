//! The `anthropic` wire protocol (Messages API), translated both ways: OpenAI requests into
//! Messages bodies (`encode`, `messages`), and Anthropic answers — an SSE event stream
//! (`stream`) or a whole `message` (`body`) — into OpenAI chunks, usage and errors.

mod body;
mod encode;
mod messages;
mod stream;

pub(crate) use body::decode_body;
pub(crate) use encode::encode;
pub use stream::StreamState;

use serde_json::{Map, Value};

use crate::chunk::UpstreamUsage;

/// An OpenAI `chat.completion.chunk` with one choice; the relay fills in `id`, `model` and
/// `provider` itself, so they are left out here.
/// Built field by field so that `delta` is moved, not copied: this runs for every token.
fn chunk(delta: Value, finish_reason: Option<&str>) -> Value {
    let mut choice = Map::with_capacity(3);
    choice.insert("index".to_owned(), Value::from(0));
    choice.insert("delta".to_owned(), delta);
    let finish = finish_reason.map_or(Value::Null, Value::from);
    choice.insert("finish_reason".to_owned(), finish);
    let mut chunk = Map::with_capacity(2);
    chunk.insert("object".to_owned(), Value::from("chat.completion.chunk"));
    chunk.insert(
        "choices".to_owned(),
        Value::Array(vec![Value::Object(choice)]),
    );
    Value::Object(chunk)
}

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and reasons added later: the turn ended normally
        _ => "stop",
    }
}

/// The prompt side of Anthropic usage. Anthropic's `input_tokens` leaves out the tokens read from
/// or written to the prompt cache, while OpenAI's `prompt_tokens` includes them: they are added
/// back so that prompt tokens mean the same whichever protocol answered.
#[derive(Debug, Default, Clone, Copy)]
struct PromptUsage {
    input: Option<u64>,
    cache_read: Option<u64>,
    cache_creation: Option<u64>,
}

impl PromptUsage {
    /// Updates the counts that `usage` (a `usage` object) states, keeping the others.
    fn update(&mut self, usage: &Value) {
        let get = |k: &str| usage.get(k).and_then(Value::as_u64);
        self.input = get("input_tokens").or(self.input);
        self.cache_read = get("cache_read_input_tokens").or(self.cache_read);
        self.cache_creation = get("cache_creation_input_tokens").or(self.cache_creation);
    }

    fn with_output(self, output_tokens: u64) -> UpstreamUsage {
        let prompt = [self.input, self.cache_read, self.cache_creation]
            .into_iter()
            .flatten()
            .fold(0u64, u64::saturating_add);
        UpstreamUsage {
            prompt_tokens: prompt,
            completion_tokens: output_tokens,
            cached_tokens: self.cache_read,
            cache_write_tokens: self.cache_creation,
        }
    }
}

#[cfg(test)]
mod tests;
