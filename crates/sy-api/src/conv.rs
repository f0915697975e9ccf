//! The typed conversation: what every dialect's request becomes and every protocol's encoder
//! reads. Messages are turns of typed parts (text, image, document, tool call, tool result,
//! reasoning with its signature); cache marks ride on the parts; parameters that have a meaning
//! across protocols are typed, the rest stay in the request's pass-through body.

use serde_json::Value;

/// A whole request's conversation and the parameters translation carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// System (and developer) instructions, in order.
    pub system: Vec<Part>,
    pub turns: Vec<Turn>,
    pub tools: Vec<Tool>,
    pub tool_choice: ToolChoice,
    pub params: Params,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    /// Results of tool calls (OpenAI's `tool` messages; a user turn for Anthropic).
    Tool,
    /// Instructions in the middle of the conversation (Anthropic's `system` turns, as Claude
    /// Code sends them); protocols without them fold them into their system instructions.
    System,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub role: Role,
    pub parts: Vec<Part>,
}

/// Where an image's or a document's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    Url(String),
    Base64 { media_type: String, data: String },
}

impl Media {
    /// As a URL: a `data:` URL for inline bytes.
    pub fn to_url(&self) -> String {
        match self {
            Media::Url(u) => u.clone(),
            Media::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        }
    }

    /// From a URL: a base64 `data:` URL becomes inline bytes.
    pub fn from_url(url: &str) -> Media {
        if let Some(rest) = url.strip_prefix("data:") {
            if let Some((meta, data)) = rest.split_once(',') {
                if let Some(mt) = meta.strip_suffix(";base64").filter(|m| !m.is_empty()) {
                    return Media::Base64 {
                        media_type: mt.to_owned(),
                        data: data.to_owned(),
                    };
                }
            }
        }
        Media::Url(url.to_owned())
    }
}

/// One piece of a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text {
        text: String,
        /// A prompt-cache breakpoint (`{"type":"ephemeral"}`), as the client sent it.
        cache: Option<Value>,
    },
    Image {
        source: Media,
        cache: Option<Value>,
    },
    /// A file (PDF and the like).
    Document {
        source: Media,
        name: Option<String>,
        cache: Option<Value>,
    },
    /// The assistant called a tool; `arguments` is JSON text.
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    /// The answer to a tool call.
    ToolResult {
        call_id: String,
        /// The called tool's name, when the dialect says (Gemini needs it).
        name: Option<String>,
        content: Vec<Part>,
        is_error: bool,
        cache: Option<Value>,
    },
    /// Reasoning the assistant produced, with the provider's signature when there was one.
    /// Signatures are bound to the protocol family that issued them (`origin`).
    Reasoning {
        text: String,
        signature: Option<String>,
        origin: Option<crate::Family>,
    },
    /// Reasoning the provider returned encrypted (Anthropic's `redacted_thinking`, Responses'
    /// `encrypted_content`): meaningful only to the family that issued it.
    Encrypted {
        data: String,
        origin: crate::Family,
    },
    /// A block only its own family understands (server tools and their results, ...), kept
    /// whole for that family and dropped elsewhere.
    Native {
        origin: crate::Family,
        value: Value,
    },
}

impl Part {
    pub fn text(t: impl Into<String>) -> Part {
        Part::Text {
            text: t.into(),
            cache: None,
        }
    }
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub parameters: Value,
    pub strict: Option<bool>,
    pub cache: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum ToolChoice {
    /// Not given: the provider's default (auto when there are tools).
    #[default]
    Default,
    Auto,
    None,
    /// Some tool must be called.
    Required,
    /// This tool must be called.
    Named(String),
}

/// How much the model should reason (OpenRouter's `reasoning`, Anthropic's `thinking`,
/// Responses' `reasoning.effort`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reasoning {
    /// `minimal`, `low`, `medium`, `high`.
    pub effort: Option<String>,
    /// A token budget.
    pub max_tokens: Option<u64>,
    /// Explicitly on (true) or off (false); None: as the effort or budget imply.
    pub enabled: Option<bool>,
    /// Reason, but do not return the reasoning to the client.
    pub exclude: bool,
    /// Responses' `summary` setting, passed to providers that summarise.
    pub summary: Option<String>,
}

impl Reasoning {
    /// Whether reasoning was asked for at all.
    pub fn wanted(&self) -> bool {
        self.enabled != Some(false)
            && (self.enabled == Some(true) || self.effort.is_some() || self.max_tokens.is_some())
    }

    /// A token budget for protocols that take one (Anthropic's `budget_tokens`): the explicit
    /// one, else a share of `max_tokens` by effort, as OpenRouter documents it.
    pub fn budget(&self, max_tokens: u64) -> u64 {
        if let Some(b) = self.max_tokens {
            return b.max(1024);
        }
        let share = match self.effort.as_deref() {
            Some("high") => 0.8,
            Some("low") => 0.2,
            Some("minimal") => 0.1,
            _ => 0.5,
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let b = (max_tokens as f64 * share) as u64;
        b.clamp(1024, 32_000)
    }

    /// An effort word for protocols that take one (OpenAI's `reasoning_effort`).
    pub fn effort_word(&self, max_tokens: Option<u64>) -> &str {
        if let Some(e) = self.effort.as_deref() {
            return e;
        }
        match (self.max_tokens, max_tokens) {
            (Some(b), Some(m)) if m > 0 => {
                #[allow(clippy::cast_precision_loss)]
                let share = b as f64 / m as f64;
                if share >= 0.7 {
                    "high"
                } else if share >= 0.35 {
                    "medium"
                } else {
                    "low"
                }
            }
            _ => "medium",
        }
    }
}

/// A structured-output request.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputFormat {
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        strict: Option<bool>,
    },
}

/// Parameters with a meaning across protocols.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub reasoning: Option<Reasoning>,
    pub format: Option<OutputFormat>,
    pub parallel_tool_calls: Option<bool>,
    /// An end-user id (OpenAI's `user`, Anthropic's `metadata.user_id`).
    pub user: Option<String>,
}

impl Conversation {
    /// All text of the prompt, for token estimates: system, turns (tool calls and results
    /// included) and the tools' schemas.
    pub fn prompt_text(&self, out: &mut String) {
        for p in &self.system {
            p.collect_text(out);
        }
        for t in &self.turns {
            for p in &t.parts {
                p.collect_text(out);
            }
            out.push('\n');
        }
        for t in &self.tools {
            out.push_str(&t.name);
            if let Some(d) = &t.description {
                out.push(' ');
                out.push_str(d);
            }
            out.push_str(&t.parameters.to_string());
        }
    }

    /// An upper bound on the prompt's size in bytes (a BPE token is at least one byte).
    pub fn prompt_bytes(&self) -> usize {
        let parts = self
            .system
            .iter()
            .chain(self.turns.iter().flat_map(|t| t.parts.iter()));
        parts.map(Part::byte_len).sum::<usize>()
            + self
                .tools
                .iter()
                .map(|t| {
                    t.name.len()
                        + t.description.as_ref().map_or(0, String::len)
                        + t.parameters.to_string().len()
                })
                .sum::<usize>()
    }

    /// `prompt_bytes` of the stable prefix: everything but the last turn.
    pub fn prefix_bytes(&self) -> usize {
        let last = self
            .turns
            .last()
            .map_or(0, |t| t.parts.iter().map(Part::byte_len).sum::<usize>());
        self.prompt_bytes().saturating_sub(last)
    }

    /// Messages, counting the system instructions as one.
    pub fn message_count(&self) -> usize {
        self.turns.len() + usize::from(!self.system.is_empty())
    }

    /// The conversation ends with an assistant turn (a prefill the model continues).
    pub fn ends_with_assistant(&self) -> bool {
        self.turns.last().is_some_and(|t| t.role == Role::Assistant)
    }
}

impl Part {
    fn collect_text(&self, out: &mut String) {
        match self {
            Part::Text { text, .. } | Part::Reasoning { text, .. } => {
                out.push_str(text);
                out.push(' ');
            }
            Part::ToolCall {
                name, arguments, ..
            } => {
                out.push_str(name);
                out.push(' ');
                out.push_str(arguments);
                out.push(' ');
            }
            Part::ToolResult { content, .. } => {
                for c in content {
                    c.collect_text(out);
                }
            }
            // images and documents are priced by their providers in ways text tokens do not
            // capture; opaque blocks carry no prompt text we can count
            Part::Image { .. }
            | Part::Document { .. }
            | Part::Encrypted { .. }
            | Part::Native { .. } => {}
        }
    }

    fn byte_len(&self) -> usize {
        match self {
            Part::Text { text, .. } | Part::Reasoning { text, .. } => text.len() + 1,
            Part::ToolCall {
                name, arguments, ..
            } => name.len() + arguments.len() + 2,
            Part::ToolResult { content, .. } => content.iter().map(Part::byte_len).sum(),
            Part::Image { .. }
            | Part::Document { .. }
            | Part::Encrypted { .. }
            | Part::Native { .. } => 0,
        }
    }
}
