//! The parts of an incoming chat request the mock looks at, and their checks.
//!
//! Only the fields that shape the reply are decoded; everything else is
//! skipped by serde without being built.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

/// Which wire protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `POST .../chat/completions`.
    OpenAi,
    /// `POST .../messages`.
    Anthropic,
    /// `POST .../models/{model}:generateContent` and `:streamGenerateContent`.
    Gemini,
    /// Azure OpenAI: OpenAI's body and answers at Azure's paths.
    Azure,
    /// Amazon Bedrock's Converse API.
    Converse,
    /// `POST .../responses`: OpenAI's Responses API.
    Responses,
}

/// A chat request of either API.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChatRequest {
    pub model: Option<String>,
    pub messages: Option<Vec<Message>>,
    /// Anthropic's top-level system prompt.
    pub system: Option<Value>,
    pub stream: Option<bool>,
    pub stream_options: Option<StreamOptions>,
    pub max_tokens: Option<i64>,
    pub max_completion_tokens: Option<i64>,
    pub stop: Option<Stop>,
    pub stop_sequences: Option<Vec<String>>,
    pub tools: Option<Vec<Value>>,
    /// Anthropic's extended thinking (`{"type": "enabled", "budget_tokens": N}`).
    pub thinking: Option<Value>,
    /// OpenAI's reasoning setting.
    pub reasoning_effort: Option<String>,
}

/// One message; `content` is a string or a list of parts.
#[derive(Debug, Deserialize)]
pub(crate) struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<Value>,
}

/// OpenAI's `stream_options`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

/// OpenAI's `stop`: one string or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Stop {
    One(String),
    Many(Vec<String>),
}

impl ChatRequest {
    /// Decodes a body, naming the first problem like the real APIs do.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, String> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err("request body is empty; expected a JSON object".to_owned());
        }
        serde_json::from_slice(body).map_err(|e| format!("request body: {e}"))
    }

    /// Checks what the real API would reject before generating anything.
    pub(crate) fn validate(&self, api: Api) -> Result<(), String> {
        if self.model.as_deref().is_none_or(str::is_empty) {
            return Err("model: field required".to_owned());
        }
        let Some(messages) = self.messages.as_deref().filter(|m| !m.is_empty()) else {
            return Err("messages: field required (non-empty list)".to_owned());
        };
        match api {
            Api::Anthropic => {
                if self.max_tokens.is_none() {
                    return Err("max_tokens: Field required".to_owned());
                }
                // `system` turns mid-conversation are what Claude Code sends (a recent beta)
                for (i, m) in messages.iter().enumerate() {
                    if m.role != "user" && m.role != "assistant" && m.role != "system" {
                        return Err(format!(
                            "messages.{i}.role: Input should be 'user', 'assistant' or 'system'"
                        ));
                    }
                }
                if let Some(system) = &self.system {
                    if !(system.is_string() || system.is_array()) {
                        return Err(
                            "system: Input should be a valid string or list of text blocks"
                                .to_owned(),
                        );
                    }
                }
            }
            // read and checked by its wire module
            Api::Gemini | Api::Converse | Api::Responses => {}
            Api::OpenAi | Api::Azure => {
                const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];
                for (i, m) in messages.iter().enumerate() {
                    if !ROLES.contains(&m.role.as_str()) {
                        return Err(format!("messages[{i}].role: invalid role {:?}", m.role));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the request asks the model to reason.
    pub(crate) fn wants_reasoning(&self) -> bool {
        self.reasoning_effort.is_some()
            || self
                .thinking
                .as_ref()
                .and_then(|t| t.get("type"))
                .and_then(Value::as_str)
                .is_some_and(|t| t != "disabled")
    }

    /// The messages, or none.
    pub(crate) fn messages(&self) -> &[Message] {
        self.messages.as_deref().unwrap_or_default()
    }

    /// Whether the last message is the assistant's (a prefill).
    pub(crate) fn ends_with_assistant(&self) -> bool {
        self.messages()
            .last()
            .is_some_and(|m| m.role == "assistant")
    }

    /// Whether a streamed answer was asked for.
    pub(crate) fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// OpenAI's `stream_options.include_usage`.
    pub(crate) fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// Words in every message text and the system prompt, at least 1.
    pub(crate) fn prompt_tokens(&self) -> u64 {
        let mut n = self.system.as_ref().map_or(0, count_words);
        for m in self.messages() {
            n += m.content.as_ref().map_or(0, count_words);
        }
        n.max(1)
    }

    /// The stop strings of the request's API.
    pub(crate) fn stops(&self, api: Api) -> Vec<&str> {
        match api {
            // the clouds' requests are read into the Anthropic-shaped fields
            Api::Anthropic | Api::Gemini | Api::Converse | Api::Responses => self
                .stop_sequences
                .iter()
                .flatten()
                .map(String::as_str)
                .collect(),
            Api::OpenAi | Api::Azure => match &self.stop {
                Some(Stop::One(s)) => vec![s.as_str()],
                Some(Stop::Many(v)) => v.iter().map(String::as_str).collect(),
                None => Vec::new(),
            },
        }
    }

    /// The completion-length limit of the request's API.
    pub(crate) fn max_tokens(&self, api: Api) -> Option<i64> {
        match api {
            Api::Anthropic | Api::Gemini | Api::Converse | Api::Responses => self.max_tokens,
            Api::OpenAi | Api::Azure => self.max_tokens.or(self.max_completion_tokens),
        }
    }

    /// The name of the first tool (`name`, or OpenAI's `function.name`).
    pub(crate) fn first_tool_name(&self) -> Option<&str> {
        let tool = self.tools.as_ref()?.first()?;
        tool.get("name")
            .and_then(Value::as_str)
            .or_else(|| tool.get("function")?.get("name")?.as_str())
    }
}

/// Words (whitespace-separated runs) in a text.
pub(crate) fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Words in a message content without joining its parts.
fn count_words(content: &Value) -> u64 {
    match content {
        Value::String(s) => words(s),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part {
                Value::String(s) => words(s),
                Value::Object(o) => match o.get("text") {
                    Some(Value::String(s)) => words(s),
                    _ if o.get("type").and_then(Value::as_str) == Some("tool_result") => {
                        o.get("content").map_or(0, count_words)
                    }
                    _ => 0,
                },
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}

/// The text of a message content: a string, or its text parts joined by a space.
pub(crate) fn content_text(content: Option<&Value>) -> Cow<'_, str> {
    match content {
        Some(Value::String(s)) => Cow::Borrowed(s),
        Some(Value::Array(parts)) => {
            let texts: Vec<Cow<'_, str>> = parts
                .iter()
                .filter_map(|part| match part {
                    Value::String(s) => Some(Cow::Borrowed(s.as_str())),
                    Value::Object(o) => match o.get("text") {
                        Some(Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
                        _ if o.get("type").and_then(Value::as_str) == Some("tool_result") => {
                            Some(content_text(o.get("content")))
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            if texts.len() == 1 {
                texts.into_iter().next().unwrap_or_default()
            } else {
                Cow::Owned(texts.join(" "))
            }
        }
        _ => Cow::Borrowed(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ChatRequest {
        ChatRequest::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn prompt_tokens_count_every_text_and_the_system_prompt() {
        let cases = [
            (
                r#"{"messages":[{"role":"user","content":"one two three"}]}"#,
                3,
            ),
            (r#"{"messages":[{"role":"user","content":""}]}"#, 1),
            (
                r#"{"system":"be brief","messages":[{"role":"user","content":[
                    {"type":"text","text":"a b"},{"type":"image"},
                    {"type":"tool_result","content":[{"type":"text","text":"c d e"}]}]}]}"#,
                7,
            ),
            (
                r#"{"messages":[{"role":"system","content":"x"},{"role":"user","content":"y z"}]}"#,
                3,
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(parse(json).prompt_tokens(), expected, "{json}");
        }
    }

    #[test]
    fn validation_mirrors_the_real_apis() {
        let cases = [
            (
                Api::OpenAi,
                r#"{"messages":[{"role":"user","content":"x"}]}"#,
                Some("model"),
            ),
            (
                Api::OpenAi,
                r#"{"model":"m","messages":[]}"#,
                Some("messages"),
            ),
            (
                Api::OpenAi,
                r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
                Some("role"),
            ),
            (
                Api::OpenAi,
                r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#,
                None,
            ),
            (
                Api::Anthropic,
                r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#,
                Some("max_tokens"),
            ),
            (
                Api::Anthropic,
                r#"{"model":"m","max_tokens":5,"messages":[{"role":"tool","content":"x"}]}"#,
                Some("role"),
            ),
            (
                Api::Anthropic,
                r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#,
                None,
            ),
        ];
        for (api, json, expected) in cases {
            let result = parse(json).validate(api);
            match expected {
                None => assert!(result.is_ok(), "{json}: {result:?}"),
                Some(word) => assert!(result.unwrap_err().contains(word), "{json}"),
            }
        }
        assert!(ChatRequest::parse(b"[1]").is_err());
        assert!(ChatRequest::parse(b"").is_err());
    }

    #[test]
    fn content_text_joins_parts() {
        let v: Value = serde_json::from_str(r#"[{"type":"text","text":"a"},"b"]"#).unwrap();
        assert_eq!(content_text(Some(&v)), "a b");
        assert_eq!(content_text(None), "");
    }

    #[test]
    fn stops_and_tools_per_api() {
        let r = parse(
            r#"{"stop":"x","stop_sequences":["y"],"tools":[{"type":"function","function":{"name":"f"}}]}"#,
        );
        assert_eq!(r.stops(Api::OpenAi), ["x"]);
        assert_eq!(r.stops(Api::Anthropic), ["y"]);
        assert_eq!(r.first_tool_name(), Some("f"));
        assert_eq!(
            parse(r#"{"tools":[{"name":"g"}]}"#).first_tool_name(),
            Some("g")
        );
    }
}
