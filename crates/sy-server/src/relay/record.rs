//! The attempt log of a request (for `error.metadata.attempts` and the generation record) and
//! the errors built from it (SPEC §4.3, §4.5).

use serde::Serialize;
use serde_json::Value;
use sy_api::ApiError;
use sy_config::Endpoint;
use sy_routing::{Class, Failure};

/// Why a hedged attempt was cancelled.
pub const HEDGE_LOST: &str = "another endpoint produced the first token first";

/// One attempt as the client and the generation record see it.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptLog {
    pub provider: String,
    pub model: String,
    pub endpoint: String,
    /// `ok`, `transient`, `context_length`, `request_error`.
    pub class: &'static str,
    /// Low-cardinality label: ok, network, timeout, rate_limit, server_error, ...
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub duration_ms: u64,
    /// False when no upstream call was made (capacity full, out of time).
    pub called: bool,
    #[serde(skip)]
    pub timed_out: bool,
    #[serde(skip)]
    pub rate_limited: bool,
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn ms(secs: f64) -> u64 {
    (secs * 1000.0).round() as u64
}

impl AttemptLog {
    fn new(model: &str, ep: &Endpoint, duration_s: f64) -> Self {
        Self {
            provider: ep.provider.clone(),
            model: model.to_owned(),
            endpoint: format!("{}/{}", ep.provider, ep.upstream_model),
            class: "ok",
            kind: "ok",
            status: None,
            message: None,
            duration_ms: ms(duration_s),
            called: true,
            timed_out: false,
            rate_limited: false,
        }
    }

    pub fn ok(model: &str, ep: &Endpoint, duration_s: f64) -> Self {
        Self {
            status: Some(200),
            ..Self::new(model, ep, duration_s)
        }
    }

    pub fn failed(model: &str, ep: &Endpoint, f: &Failure, duration_s: f64) -> Self {
        Self {
            class: f.class.as_str(),
            kind: f.label(),
            status: f.status(),
            message: Some(f.message()),
            timed_out: f.timed_out,
            rate_limited: f.rate_limited,
            ..Self::new(model, ep, duration_s)
        }
    }

    /// An attempt the gateway cancelled (a hedge that lost, the client gone, the request's
    /// time up, shutdown): closed, charged for what it produced, never the endpoint's fault.
    pub fn cancelled(model: &str, ep: &Endpoint, why: &'static str, duration_s: f64) -> Self {
        Self {
            class: "cancelled",
            kind: if why == HEDGE_LOST {
                "hedge_lost"
            } else {
                "cancelled"
            },
            message: Some(format!("cancelled: {why}")),
            ..Self::new(model, ep, duration_s)
        }
    }

    pub fn skipped(model: &str, ep: &Endpoint, f: &Failure) -> Self {
        Self {
            called: false,
            ..Self::failed(model, ep, f, 0.0)
        }
    }
}

fn attempts_value(log: &[AttemptLog]) -> Value {
    serde_json::to_value(log).unwrap_or(Value::Array(Vec::new()))
}

/// A request error returned at once (SPEC §4.3): the upstream's status (a content-policy refusal
/// sent as 403 stays 403) and its reason in `metadata`.
pub fn request_error(f: &Failure, model: &str, provider: &str, log: &[AttemptLog]) -> ApiError {
    let status = match f.status() {
        Some(s) if (400..500).contains(&s) => s,
        _ => 400,
    };
    let what = if f.refusal {
        "refused the request (content policy)"
    } else {
        "rejected the request"
    };
    ApiError::new(
        status,
        format!("provider {provider} {what}: {}", f.message()),
    )
    .with("provider", Value::from(provider))
    .with("model", Value::from(model))
    .with("reason", Value::from(f.message()))
    .with("attempts", attempts_value(log))
}

/// The error chunk's error when a committed stream broke and nothing could continue it: it
/// names the original failure, never a later refusal of the continuation.
pub fn broken_stream_error(
    f: &Failure,
    model: &str,
    provider: &str,
    log: &[AttemptLog],
) -> ApiError {
    ApiError::new(
        502,
        format!(
            "the stream from provider {provider} broke and could not be resumed: {}",
            f.message()
        ),
    )
    .with("provider", Value::from(provider))
    .with("model", Value::from(model))
    .with("attempts", attempts_value(log))
}

/// Every attempt failed: the most telling upstream error as 502, or 429 when all were rate
/// limits, 408 when all timed out (SPEC §4.3).
pub fn final_error(log: &[AttemptLog]) -> ApiError {
    let failed: Vec<&AttemptLog> = log
        .iter()
        .filter(|a| a.class != "ok" && a.class != "cancelled")
        .collect();
    if failed.is_empty() {
        return ApiError::new(503, "no endpoint could be tried")
            .with("attempts", attempts_value(log));
    }
    // SPEC §4.5: nothing was called because every eligible endpoint was full (or its circuit
    // open): the gateway is saturated, a 503 the client may retry, never a 4xx
    if failed.iter().all(|a| !a.called)
        && failed
            .iter()
            .any(|a| a.kind == "saturated" || a.kind == "circuit_open")
    {
        let full = failed.iter().any(|a| a.kind == "saturated");
        let what = if full {
            "every eligible endpoint is at its max_concurrency"
        } else {
            "every eligible endpoint is failing (circuit open, its probe taken)"
        };
        return ApiError::new(503, format!("{what}; retry shortly"))
            .with("retry_after_s", Value::from(1))
            .with("attempts", attempts_value(log));
    }
    let status = if failed.iter().all(|a| a.rate_limited) {
        429
    } else if failed.iter().all(|a| a.timed_out) {
        408
    } else if failed
        .iter()
        .all(|a| a.class == Class::ContextLength.as_str() || !a.called)
    {
        400
    } else {
        502
    };
    // most telling: an upstream's own words (a status error) over a timeout or a broken connection
    let telling = failed
        .iter()
        .rev()
        .find(|a| a.class == Class::ContextLength.as_str())
        .or_else(|| failed.iter().rev().find(|a| a.status.is_some()))
        .or_else(|| failed.last())
        .copied();
    let detail = telling.map_or_else(String::new, |a| {
        format!(
            "; {} ({}): {}",
            a.provider,
            a.kind,
            a.message.as_deref().unwrap_or("failed")
        )
    });
    let n = failed.iter().filter(|a| a.called).count();
    ApiError::new(
        status,
        format!("every attempt failed ({n} upstream calls){detail}"),
    )
    .with("attempts", attempts_value(log))
}
