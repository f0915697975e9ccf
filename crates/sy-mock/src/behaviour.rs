//! What one simulated provider does: reply text, pacing and faults.
//!
//! Pure data; the request handlers read one `Arc<Behaviour>` snapshot per
//! request, so a change through the admin API never tears a reply in half.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a simulated provider answers. Every field is optional in input; the
/// default answers at once with a fixed sentence.
///
/// Faults combine the way the conformance suite's fake does: `status` alone
/// answers every request with that status; with `fail_next` or `fail_rate` it
/// is only the status of those failures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// Reply text; default `"Hello from {name}. The quick brown fox jumps over the lazy dog."`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Reply `"Hello from {name}. You said: {last user text}"` instead of `text`.
    pub echo: bool,
    /// Model ids listed by `GET .../v1/models` (default: a few `mock-*` ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Delay before the response head of every answer (errors included).
    pub latency_ms: u64,
    /// Delay before the first content chunk (non-streaming: added to the wait).
    pub ttft_ms: u64,
    /// Pacing between content chunks; 0 sends them back to back.
    pub tokens_per_s: f64,
    /// Answer with this HTTP status (see the type doc for how it combines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Seconds, sent as `Retry-After` with injected error statuses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Replaces the whole JSON body of injected error statuses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_body: Option<serde_json::Value>,
    /// The next n requests fail with `status` (default 500), then answer normally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_next: Option<u32>,
    /// This fraction (0..=1) of requests fail with `status` (default 503).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_rate: Option<f64>,
    /// Read the request and never answer (until the client leaves, the
    /// behaviour changes or the server shuts down; then 504).
    pub hang: bool,
    /// Drop the connection without a response. The listener is shared, so
    /// connections are still accepted: the client sees "connection closed
    /// before message completed" rather than "connection refused".
    pub refuse: bool,
    /// End the stream after K content chunks, without a finish reason or `[DONE]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_after: Option<u32>,
    /// With `cut_after`: break the connection (chunked body never terminated)
    /// instead of ending the body cleanly. Best effort: a FIN, not a TCP RST.
    pub abort: bool,
    /// Go silent after K content chunks and keep the connection open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_after: Option<u32>,
    /// Send an in-band error event after K content chunks, then end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_after: Option<u32>,
    /// Send one broken SSE event before content chunk K, then go on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed_at: Option<u32>,
    /// No `[DONE]` (Anthropic: no `message_stop`).
    pub no_done: bool,
    /// With `no_done`: keep the connection open this long before ending the body.
    pub hold_ms: u64,
    /// Report no usage at all.
    pub no_usage: bool,
    /// Send rate-limit headers advertising this many remaining requests/tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimit_remaining: Option<u64>,
    /// Seconds until the advertised rate-limit window resets (default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimit_reset_s: Option<f64>,
    /// Which limit the headers describe (default `requests`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimit_kind: Option<RateLimitKind>,
    /// Reply with a call of `tool_name`, else the request's first tool, else `get_weather`.
    pub tool_call: bool,
    /// Name of the called tool (overrides the request's first tool).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// Arguments of the tool call (default `{"location":"Paris","unit":"celsius"}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_arguments: Option<serde_json::Value>,
    /// Prompt tokens reported as read from the prompt cache (part of the prompt tokens).
    pub cached_tokens: u64,
    /// Prompt tokens reported as written to the prompt cache (part of the prompt tokens).
    pub cache_write_tokens: u64,
    /// Reasoning text sent first when a request asks for reasoning (default: a short sentence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// End the answer the way the provider's content filter ends one, after `text` (an empty
    /// `text`: nothing said): OpenAI and Azure `finish_reason: "content_filter"`, Anthropic
    /// `stop_reason: "refusal"`, Gemini `finishReason: "SAFETY"` (with nothing said, a blocked
    /// prompt: `promptFeedback.blockReason` and no candidate), Bedrock `stopReason:
    /// "guardrail_intervened"`.
    pub content_filter: bool,
    /// Answer 400 when the last message is an assistant message.
    pub reject_prefill: bool,
    /// Answer 200 with an unparsable body / stream.
    pub garbage: bool,
    /// Answer 200 with an empty body / a stream without content.
    pub empty: bool,
    /// Extra response headers on every answer.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// Which limit the rate-limit headers describe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitKind {
    /// `x-ratelimit-*-requests` / `anthropic-ratelimit-requests-*`.
    #[default]
    Requests,
    /// `x-ratelimit-*-tokens` / `anthropic-ratelimit-tokens-*`.
    Tokens,
}

impl RateLimitKind {
    /// The word used in header names.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::Tokens => "tokens",
        }
    }
}

/// Which injected failure, if any, a request gets before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureSource {
    /// `status` alone: every request.
    Always,
    /// `fail_next`: counted down per request.
    Next,
    /// `fail_rate`: drawn per request.
    Rate,
}

impl Behaviour {
    /// Checks ranges that serde cannot: statuses, rates, speeds, header names.
    ///
    /// # Errors
    /// Every problem found, one per entry.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if let Some(s) = self.status {
            if !(100..=599).contains(&s) {
                errors.push(format!("status: {s} is not an HTTP status (100..=599)"));
            }
        }
        if let Some(r) = self.fail_rate {
            if !(0.0..=1.0).contains(&r) {
                errors.push(format!("fail_rate: {r} is not within 0..=1"));
            }
        }
        if !self.tokens_per_s.is_finite() || self.tokens_per_s < 0.0 {
            errors.push(format!(
                "tokens_per_s: {} must be a finite number >= 0",
                self.tokens_per_s
            ));
        }
        if let Some(r) = self.ratelimit_reset_s {
            if !r.is_finite() || r < 0.0 {
                errors.push(format!(
                    "ratelimit_reset_s: {r} must be a finite number >= 0"
                ));
            }
        }
        for (name, value) in &self.headers {
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                errors.push(format!("headers: {name:?} is not a valid header name"));
            }
            if axum::http::HeaderValue::from_str(value).is_err() {
                errors.push(format!("headers.{name}: not a valid header value"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The delay before the first content chunk.
    pub(crate) fn ttft(&self) -> Duration {
        Duration::from_millis(self.ttft_ms)
    }

    /// The delay between two content chunks.
    pub(crate) fn per_token(&self) -> Duration {
        if self.tokens_per_s > 0.0 && self.tokens_per_s.is_finite() {
            Duration::from_secs_f64(1.0 / self.tokens_per_s)
        } else {
            Duration::ZERO
        }
    }

    /// How injected failures apply: `status` is the code of `fail_next` /
    /// `fail_rate` failures when either is set, else the answer to everything.
    pub(crate) fn failure_source(&self) -> Option<FailureSource> {
        if self.fail_next.is_some() {
            Some(FailureSource::Next)
        } else if self.fail_rate.is_some() {
            Some(FailureSource::Rate)
        } else if self.status.is_some() {
            Some(FailureSource::Always)
        } else {
            None
        }
    }

    /// The status of an injected failure from `source`.
    pub(crate) fn failure_status(&self, source: FailureSource) -> u16 {
        let default = match source {
            FailureSource::Next | FailureSource::Always => 500,
            FailureSource::Rate => 503,
        };
        self.status.unwrap_or(default)
    }

    /// The tool-call arguments as compact JSON text.
    pub(crate) fn tool_arguments_json(&self) -> String {
        match &self.tool_arguments {
            Some(v) => v.to_string(),
            None => r#"{"location":"Paris","unit":"celsius"}"#.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_alone_fails_everything_but_only_the_counted_ones_with_fail_next() {
        let always = Behaviour {
            status: Some(429),
            ..Behaviour::default()
        };
        assert_eq!(always.failure_source(), Some(FailureSource::Always));
        assert_eq!(always.failure_status(FailureSource::Always), 429);

        let next = Behaviour {
            fail_next: Some(2),
            ..Behaviour::default()
        };
        assert_eq!(next.failure_source(), Some(FailureSource::Next));
        assert_eq!(next.failure_status(FailureSource::Next), 500);

        let rate = Behaviour {
            fail_rate: Some(0.3),
            ..Behaviour::default()
        };
        assert_eq!(rate.failure_status(FailureSource::Rate), 503);
        assert_eq!(Behaviour::default().failure_source(), None);
    }

    #[test]
    fn validate_reports_every_problem() {
        let b = Behaviour {
            status: Some(42),
            fail_rate: Some(1.5),
            tokens_per_s: -1.0,
            ..Behaviour::default()
        };
        let errors = b.validate().unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(Behaviour::default().validate().is_ok());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<Behaviour>(r#"{"ttft": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `ttft`"), "{err}");
    }
}
