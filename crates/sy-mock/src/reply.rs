//! What to answer: the reply text after prefill, stop strings and `max_tokens`,
//! cut into word chunks, with its finish reason, tool call and usage.
//!
//! Pure: the same request and behaviour give the same reply (tool-call ids
//! aside, which are random like the real ones).

use serde_json::Value;

use crate::behaviour::Behaviour;
use crate::request::{content_text, words, Api, ChatRequest};

/// Who answers whom: what the wire encoders need besides the reply.
pub(crate) struct Ctx<'a> {
    /// The provider's name.
    pub provider: &'a str,
    /// The model the request asked for (echoed back).
    pub model: &'a str,
    pub b: &'a Behaviour,
    /// OpenAI's `stream_options.include_usage`.
    pub include_usage: bool,
}

/// Why the reply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The text ended or hit a stop string.
    Stop,
    /// `max_tokens` cut it.
    Length,
    /// It is a tool call.
    ToolCalls,
    /// The provider's content filter stopped it (`content_filter`).
    ContentFilter,
}

impl Finish {
    /// OpenAI's `finish_reason`.
    pub(crate) fn openai(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
        }
    }
}

/// A tool call to send instead of text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCall {
    pub id: String,
    pub name: String,
    /// Compact JSON text of the arguments.
    pub arguments: String,
    /// The same arguments as a value (Anthropic's `input`).
    pub input: Value,
}

impl ToolCall {
    /// The argument text in pieces of up to 8 characters, as streamed.
    pub(crate) fn pieces(&self) -> Vec<&str> {
        let mut pieces = Vec::new();
        let mut start = 0;
        for (count, (i, _)) in self.arguments.char_indices().enumerate() {
            if count > 0 && count % 8 == 0 {
                pieces.push(&self.arguments[start..i]);
                start = i;
            }
        }
        pieces.push(&self.arguments[start..]);
        pieces
    }
}

/// The planned answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    /// Everything the reply says (the concatenation of its chunks).
    pub text: String,
    /// End offset in `text` of each content chunk.
    ends: Vec<usize>,
    pub finish: Finish,
    /// The stop string that cut the text, if any.
    pub stop_sequence: Option<String>,
    pub tool: Option<ToolCall>,
    /// Reasoning text, sent before the answer, when the request asked for reasoning.
    pub reasoning: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Reply {
    /// Plans the reply of provider `name` to `req`.
    pub(crate) fn plan(
        api: Api,
        name: &str,
        default_text: &str,
        b: &Behaviour,
        req: &ChatRequest,
    ) -> Self {
        let messages = req.messages();
        let echoed;
        let full: &str = if b.echo {
            let last_user = messages
                .iter()
                .rev()
                .find(|m| m.role == "user")
                .map(|m| content_text(m.content.as_ref()))
                .unwrap_or_default();
            echoed = format!("Hello from {name}. You said: {last_user}");
            &echoed
        } else {
            b.text.as_deref().unwrap_or(default_text)
        };

        let mut text = full;
        if let Some(last) = messages.last().filter(|m| m.role == "assistant") {
            let prefill = content_text(last.content.as_ref());
            if !prefill.is_empty() {
                if let Some(rest) = full.strip_prefix(prefill.as_ref()) {
                    text = rest;
                } else if let Some(rest) = full.strip_prefix(prefill.trim_end()) {
                    text = rest;
                }
            }
        }

        let mut stop_sequence = None;
        let earliest = req
            .stops(api)
            .into_iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| text.find(s).map(|i| (i, s)))
            .min_by_key(|(i, _)| *i);
        if let Some((i, s)) = earliest {
            text = &text[..i];
            stop_sequence = Some(s.to_owned());
        }

        let mut ends = chunk_ends(text);
        let mut finish = Finish::Stop;
        if let Some(limit) = req.max_tokens(api) {
            if let Ok(limit) = usize::try_from(limit) {
                if limit < ends.len() {
                    ends.truncate(limit);
                    finish = Finish::Length;
                }
            }
        }
        let text = text[..ends.last().copied().unwrap_or(0)].to_owned();
        if b.content_filter {
            finish = Finish::ContentFilter;
        }

        let mut tool = None;
        if b.tool_call {
            let arguments = b.tool_arguments_json();
            let input = b
                .tool_arguments
                .clone()
                .unwrap_or_else(|| serde_json::from_str(&arguments).unwrap_or(Value::Null));
            let prefix = match api {
                Api::OpenAi | Api::Azure | Api::Responses => "call_",
                Api::Anthropic => "toolu_",
                // never sent: Gemini's calls have no ids
                Api::Gemini => "",
                Api::Converse => "tooluse_",
            };
            tool = Some(ToolCall {
                id: format!("{prefix}{}", random_hex(20)),
                name: b
                    .tool_name
                    .as_deref()
                    .or_else(|| req.first_tool_name())
                    .unwrap_or("get_weather")
                    .to_owned(),
                arguments,
                input,
            });
            ends.clear();
            finish = Finish::ToolCalls;
        }
        let reasoning = req.wants_reasoning().then(|| {
            b.reasoning
                .clone()
                .unwrap_or_else(|| crate::thinking::DEFAULT_REASONING.to_owned())
        });
        let completion_tokens = match &tool {
            Some(t) => words(&t.arguments).max(1),
            None => ends.len() as u64,
        } + reasoning.as_deref().map_or(0, words);
        Self {
            text: if tool.is_some() { String::new() } else { text },
            ends,
            finish,
            stop_sequence: if finish == Finish::Stop {
                stop_sequence
            } else {
                None
            },
            tool,
            reasoning,
            prompt_tokens: req.prompt_tokens(),
            completion_tokens,
        }
    }

    /// The content chunks, in order.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let chunk = &self.text[start..end];
            start = end;
            chunk
        })
    }

    /// How many content chunks there are.
    pub(crate) fn chunk_count(&self) -> usize {
        self.ends.len()
    }
}

/// End offsets of the `\s*\S+` chunks of `text`; trailing whitespace joins
/// the last chunk, so the chunks always add up to the text (if it has words).
fn chunk_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                ends.push(i);
                in_word = false;
            }
        } else {
            in_word = true;
        }
    }
    if in_word {
        ends.push(text.len());
    } else if let Some(last) = ends.last_mut() {
        *last = text.len();
    }
    ends
}

/// `n` (at most 32) random lowercase hex digits, for ids.
pub(crate) fn random_hex(n: usize) -> String {
    let mut s = format!("{:032x}", rand::random::<u128>());
    s.truncate(n);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "Hello from p. The quick brown fox jumps over the lazy dog.";

    fn plan(api: Api, b: &Behaviour, json: &str) -> Reply {
        let req = ChatRequest::parse(json.as_bytes()).unwrap();
        Reply::plan(api, "p", DEFAULT, b, &req)
    }

    fn chunks(r: &Reply) -> Vec<&str> {
        r.chunks().collect()
    }

    #[test]
    fn chunks_keep_leading_whitespace() {
        let cases: [(&str, &[&str]); 5] = [
            ("a bb  c", &["a", " bb", "  c"]),
            (" a\nb ", &[" a", "\nb "]),
            ("", &[]),
            ("   ", &[]),
            ("héllo wörld", &["héllo", " wörld"]),
        ];
        for (text, expected) in cases {
            let b = Behaviour {
                text: Some(text.to_owned()),
                ..Behaviour::default()
            };
            let r = plan(
                Api::OpenAi,
                &b,
                r#"{"messages":[{"role":"user","content":"x"}]}"#,
            );
            assert_eq!(chunks(&r), expected, "{text:?}");
            assert_eq!(r.completion_tokens, expected.len() as u64);
        }
    }

    #[test]
    fn prefill_continues_the_text() {
        let b = Behaviour::default();
        let r = plan(
            Api::Anthropic,
            &b,
            r#"{"messages":[{"role":"user","content":"x"},
                {"role":"assistant","content":"Hello from p. The quick"}]}"#,
        );
        assert_eq!(r.text, " brown fox jumps over the lazy dog.");
        assert_eq!(r.chunks().next(), Some(" brown"));
        // A prefill with trailing space still continues; a foreign one restarts.
        let r = plan(
            Api::OpenAi,
            &b,
            r#"{"messages":[{"role":"assistant","content":"Hello from p. "}]}"#,
        );
        assert_eq!(r.text, "The quick brown fox jumps over the lazy dog.");
        let r = plan(
            Api::OpenAi,
            &b,
            r#"{"messages":[{"role":"assistant","content":"Nope"}]}"#,
        );
        assert_eq!(r.text, DEFAULT);
    }

    #[test]
    fn stop_and_max_tokens_cut_the_text() {
        let b = Behaviour::default();
        let r = plan(
            Api::OpenAi,
            &b,
            r#"{"stop":[" fox","quick"],"messages":[]}"#,
        );
        assert_eq!(
            (r.text.as_str(), r.finish),
            ("Hello from p. The ", Finish::Stop)
        );
        assert_eq!(r.stop_sequence.as_deref(), Some("quick"));
        let r = plan(
            Api::Anthropic,
            &b,
            r#"{"stop_sequences":["lazy"],"messages":[]}"#,
        );
        assert_eq!(r.text, "Hello from p. The quick brown fox jumps over the ");
        let r = plan(Api::OpenAi, &b, r#"{"max_tokens":3,"messages":[]}"#);
        assert_eq!(
            (r.text.as_str(), r.finish),
            ("Hello from p.", Finish::Length)
        );
        assert_eq!(r.completion_tokens, 3);
        let r = plan(
            Api::OpenAi,
            &b,
            r#"{"max_completion_tokens":50,"messages":[]}"#,
        );
        assert_eq!((r.text.as_str(), r.finish), (DEFAULT, Finish::Stop));
    }

    #[test]
    fn echo_repeats_the_last_user_text() {
        let b = Behaviour {
            echo: true,
            ..Behaviour::default()
        };
        let r = plan(
            Api::OpenAi,
            &b,
            r#"{"messages":[{"role":"user","content":"first"},{"role":"user","content":"second one"}]}"#,
        );
        assert_eq!(r.text, "Hello from p. You said: second one");
        assert_eq!(r.prompt_tokens, 3);
    }

    #[test]
    fn tool_calls_name_the_first_tool() {
        let b = Behaviour {
            tool_call: true,
            ..Behaviour::default()
        };
        let r = plan(
            Api::OpenAi,
            &b,
            r#"{"messages":[],"tools":[{"type":"function","function":{"name":"lookup"}}]}"#,
        );
        let tool = r.tool.as_ref().unwrap();
        assert_eq!(tool.name, "lookup");
        assert!(tool.id.starts_with("call_"));
        assert_eq!(tool.arguments, r#"{"location":"Paris","unit":"celsius"}"#);
        assert_eq!(tool.pieces().concat(), tool.arguments);
        assert!(tool.pieces().iter().all(|p| p.chars().count() <= 8));
        assert_eq!((r.finish, r.chunk_count()), (Finish::ToolCalls, 0));
        assert_eq!(r.completion_tokens, 1);
    }
}
