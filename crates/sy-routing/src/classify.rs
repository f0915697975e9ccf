//! What a failed attempt means for the rest of the request (SPEC §4.3): a pure function from
//! what happened to a class, so retry and failover decisions are data.

/// What went wrong with one attempt, and in which phase.
#[derive(Debug, Clone, PartialEq)]
pub enum FailureKind {
    /// The TCP/TLS connection could not be made (refused, unreachable, DNS).
    Connect(String),
    ConnectTimeout,
    /// The connection broke while sending or receiving (reset, closed early).
    Io(String),
    /// No content-bearing chunk within `first_token_timeout_s`.
    FirstTokenTimeout,
    /// A started stream went silent past `stream_idle_timeout_s`.
    IdleTimeout,
    /// The whole request ran out of `request_timeout_s` during this attempt.
    RequestTimeout,
    /// The upstream answered with a non-2xx status.
    Status {
        status: u16,
        message: String,
        code: Option<String>,
        kind: Option<String>,
        retry_after_s: Option<f64>,
        /// The error body as the upstream sent it (scrubbed of the provider's credentials), for
        /// a client of the same wire family that reads it (SPEC §4.6).
        body: Option<String>,
    },
    /// A 2xx answer that could not be understood.
    Unparsable(String),
    /// A 2xx answer with no content at all.
    Empty,
    /// An error event inside a started stream.
    InBand(String),
    /// The stream ended without a `finish_reason`.
    Cut,
    /// A regenerated answer did not begin with the text already delivered (SPEC §4.3 splice).
    Diverged,
    /// No capacity permit in time (`max_concurrency`).
    Saturated,
    /// The endpoint's circuit is open and another request holds its probe (SPEC §6).
    CircuitOpen,
    /// The request could not be put in the endpoint's protocol.
    Unencodable(String),
    /// The gateway cancelled the attempt: the client went away, the request's time ran out
    /// during it, a hedge lost, or shutdown.
    Cancelled(&'static str),
}

/// The class of a failure (SPEC §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Try the next endpoint.
    Transient,
    /// Only endpoints with a larger context may be tried.
    ContextLength,
    /// Returned to the client at once; nothing else is tried.
    RequestError,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Transient => "transient",
            Class::ContextLength => "context_length",
            Class::RequestError => "request_error",
        }
    }
}

/// A classified failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: FailureKind,
    pub class: Class,
    /// Timed out without a word: not retried within the same request.
    pub silent: bool,
    pub rate_limited: bool,
    pub timed_out: bool,
    /// A content-policy refusal (returned as 403 when the upstream said 403, else its status).
    pub refusal: bool,
}

impl Failure {
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            FailureKind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retry_after_s(&self) -> Option<f64> {
        match &self.kind {
            FailureKind::Status { retry_after_s, .. } => *retry_after_s,
            _ => None,
        }
    }

    /// A short, human-readable description (never holds a secret: only upstream messages).
    pub fn message(&self) -> String {
        match &self.kind {
            FailureKind::Connect(e) => format!("connection failed: {e}"),
            FailureKind::ConnectTimeout => "connect timeout".to_owned(),
            FailureKind::Io(e) => format!("connection broken: {e}"),
            FailureKind::FirstTokenTimeout => "no content within first_token_timeout_s".to_owned(),
            FailureKind::IdleTimeout => "stream went silent past stream_idle_timeout_s".to_owned(),
            FailureKind::RequestTimeout => "request_timeout_s reached".to_owned(),
            FailureKind::Status {
                status, message, ..
            } => format!("upstream HTTP {status}: {message}"),
            FailureKind::Unparsable(e) => format!("unparsable answer: {e}"),
            FailureKind::Empty => "empty answer".to_owned(),
            FailureKind::InBand(e) => format!("error inside the stream: {e}"),
            FailureKind::Cut => "stream cut before its finish_reason".to_owned(),
            FailureKind::Diverged => {
                "regenerated answer differs from the text already delivered".to_owned()
            }
            FailureKind::Saturated => "provider at max_concurrency".to_owned(),
            FailureKind::CircuitOpen => {
                "circuit open: the endpoint is failing and its probe is taken".to_owned()
            }
            FailureKind::Unencodable(e) => format!("cannot be sent to this endpoint: {e}"),
            FailureKind::Cancelled(why) => format!("cancelled: {why}"),
        }
    }

    /// A low-cardinality label for metrics and health.
    pub fn label(&self) -> &'static str {
        match &self.kind {
            FailureKind::Connect(_) | FailureKind::Io(_) => "network",
            FailureKind::ConnectTimeout
            | FailureKind::FirstTokenTimeout
            | FailureKind::IdleTimeout
            | FailureKind::RequestTimeout => "timeout",
            FailureKind::Status { status: 429, .. } => "rate_limit",
            FailureKind::Status { status, .. } if *status >= 500 => "server_error",
            FailureKind::Status { .. } if self.class == Class::Transient => "upstream_auth",
            FailureKind::Status { .. } => "client_error",
            FailureKind::Unparsable(_) | FailureKind::Empty | FailureKind::Diverged => "bad_answer",
            FailureKind::InBand(_) | FailureKind::Cut => "stream_broken",
            FailureKind::Saturated => "saturated",
            FailureKind::CircuitOpen => "circuit_open",
            FailureKind::Unencodable(_) => "unencodable",
            FailureKind::Cancelled(_) => "cancelled",
        }
    }
}

const CONTEXT_MARKERS: &[&str] = &[
    "context_length_exceeded",
    "context length",
    "context_length",
    "context window",
    "maximum context",
    "prompt is too long",
    "too many tokens",
    "input is too long",
    "string_above_max_length",
];

const POLICY_MARKERS: &[&str] = &[
    "content_policy",
    "content_filter",
    "content policy",
    "moderation",
    "flagged",
    "safety system",
    "responsible ai",
];

/// Classifies one failure (SPEC §4.3).
pub fn classify(kind: FailureKind) -> Failure {
    let mut f = Failure {
        class: Class::Transient,
        silent: false,
        rate_limited: false,
        timed_out: false,
        refusal: false,
        kind,
    };
    match &f.kind {
        FailureKind::ConnectTimeout
        | FailureKind::FirstTokenTimeout
        | FailureKind::RequestTimeout => {
            f.silent = true;
            f.timed_out = true;
        }
        FailureKind::IdleTimeout => f.timed_out = true,
        FailureKind::Status {
            status,
            message,
            code,
            kind,
            ..
        } => {
            let text = format!(
                "{message} {} {}",
                code.as_deref().unwrap_or(""),
                kind.as_deref().unwrap_or("")
            )
            .to_ascii_lowercase();
            let policy = POLICY_MARKERS.iter().any(|m| text.contains(m));
            match *status {
                408 => f.timed_out = true,
                429 => f.rate_limited = true,
                400..=499 if policy && matches!(*status, 400 | 403 | 422) => {
                    f.class = Class::RequestError;
                    f.refusal = true;
                }
                401..=403 | 409 | 425 => {}
                400 | 413 | 422 if CONTEXT_MARKERS.iter().any(|m| text.contains(m)) => {
                    f.class = Class::ContextLength;
                }
                400..=499 => f.class = Class::RequestError,
                _ => {}
            }
            // Anthropic's overloaded_error arrives as 529 or inside a 200 stream: transient either way.
        }
        _ => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, message: &str, err_code: Option<&str>) -> FailureKind {
        FailureKind::Status {
            status: code,
            message: message.to_owned(),
            code: err_code.map(str::to_owned),
            kind: None,
            retry_after_s: None,
            body: None,
        }
    }

    #[test]
    fn classes() {
        let cases: Vec<(FailureKind, Class)> = vec![
            (status(408, "timeout", None), Class::Transient),
            (status(409, "conflict", None), Class::Transient),
            (status(425, "early", None), Class::Transient),
            (status(429, "slow down", None), Class::Transient),
            (status(500, "boom", None), Class::Transient),
            (status(529, "Overloaded", None), Class::Transient),
            (status(401, "bad key", None), Class::Transient),
            (status(402, "no credit", None), Class::Transient),
            (status(403, "forbidden", None), Class::Transient),
            (
                status(403, "rejected", Some("content_policy_violation")),
                Class::RequestError,
            ),
            (
                status(400, "rejected by our safety system", Some("content_filter")),
                Class::RequestError,
            ),
            (
                status(400, "temperature too high", Some("invalid_value")),
                Class::RequestError,
            ),
            (status(422, "unprocessable", None), Class::RequestError),
            (status(404, "no such model", None), Class::RequestError),
            (
                status(
                    400,
                    "This model's maximum context length is 8000 tokens",
                    None,
                ),
                Class::ContextLength,
            ),
            (
                status(400, "x", Some("context_length_exceeded")),
                Class::ContextLength,
            ),
            (
                status(
                    400,
                    "prompt is too long: 210000 tokens > 200000 maximum",
                    None,
                ),
                Class::ContextLength,
            ),
            (FailureKind::Empty, Class::Transient),
            (FailureKind::Unparsable("x".into()), Class::Transient),
            (FailureKind::Connect("refused".into()), Class::Transient),
            (FailureKind::FirstTokenTimeout, Class::Transient),
        ];
        for (kind, want) in cases {
            let got = classify(kind.clone());
            assert_eq!(got.class, want, "{kind:?}");
        }
        assert!(classify(FailureKind::FirstTokenTimeout).silent);
        assert!(!classify(FailureKind::IdleTimeout).silent);
        assert!(classify(status(429, "x", None)).rate_limited);
    }
}
