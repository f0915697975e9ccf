//! `GET /models` and `GET /models/{id}/endpoints` (SPEC §4): the catalog, prices per token as
//! decimal strings like OpenRouter, and live health figures per endpoint.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};
use sy_api::ApiError;
use sy_config::{Endpoint, Model};
use sy_routing::{per_token_decimal, HealthSummary};

use crate::respond::{json, Failed};
use crate::state::AppState;

fn pricing(prompt: f64, completion: f64, request: f64) -> Value {
    json!({
        "prompt": per_token_decimal(prompt),
        "completion": per_token_decimal(completion),
        "request": sy_routing::plain_decimal(request),
    })
}

/// A model's listed price: its cheapest endpoint's.
fn model_entry(m: &Model) -> Value {
    let cheapest = m.endpoints.iter().min_by(|a, b| {
        (a.prompt_price + a.completion_price).total_cmp(&(b.prompt_price + b.completion_price))
    });
    let mut params: Vec<&str> = m
        .endpoints
        .iter()
        .flat_map(|e| e.supported_parameters.iter().map(String::as_str))
        .collect();
    params.sort_unstable();
    params.dedup();
    json!({
        "id": m.id,
        "name": m.name,
        "context_length": m.context_length,
        "pricing": cheapest.map_or(Value::Null, |e| pricing(e.prompt_price, e.completion_price, e.request_price)),
        "supported_parameters": params,
        "endpoints": m.endpoints.len(),
        "architecture": {"modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"]},
    })
}

pub async fn models(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load();
    crate::auth::caller(&state, &snap.config, &headers).await?;
    let data: Vec<Value> = snap.config.models.iter().map(model_entry).collect();
    Ok(json(&json!({"data": data})))
}

fn percentiles(p: Option<[f64; 5]>, scale: f64) -> Value {
    p.map_or(Value::Null, |p| {
        json!({"p50": p[0] * scale, "p75": p[1] * scale, "p90": p[2] * scale, "p95": p[3] * scale, "p99": p[4] * scale})
    })
}

fn endpoint_entry(m: &Model, e: &Endpoint, h: &HealthSummary) -> Value {
    let status = match (h.circuit, h.cooldown_s > 0.0) {
        ("open", _) => "circuit_open",
        ("half_open", _) => "probing",
        (_, true) => "cooldown",
        _ => "ok",
    };
    json!({
        "name": format!("{} | {}", e.provider, e.upstream_model),
        "model_name": m.name,
        "provider_name": e.provider,
        "tag": e.provider,
        "context_length": e.context_length,
        "pricing": pricing(e.prompt_price, e.completion_price, e.request_price),
        "quantization": e.quantization,
        "max_completion_tokens": e.max_completion_tokens,
        "supported_parameters": e.supported_parameters,
        "supports_prefill": e.supports_prefill,
        "status": status,
        "circuit": h.circuit,
        "uptime_last_30m": h.uptime_pct,
        "latency_last_30m": percentiles(h.latency_s, 1000.0),
        "throughput_last_30m": percentiles(h.throughput, 1.0),
        "requests_last_30m": h.requests,
        "failures_last_30m": h.failures,
    })
}

/// `{*rest}` is `{id}/endpoints`, where the id may itself contain `/`.
pub async fn endpoints(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(rest): Path<String>,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load();
    crate::auth::caller(&state, &snap.config, &headers).await?;
    let Some(id) = rest.strip_suffix("/endpoints") else {
        return Err(ApiError::new(404, format!("no such path: /models/{rest}")).into());
    };
    let Some(m) = snap.config.model(id) else {
        return Err(ApiError::new(404, format!("unknown model `{id}`"))
            .with("model", Value::from(id))
            .into());
    };
    let now = state.now();
    let eps: Vec<Value> = m
        .endpoints
        .iter()
        .map(|e| endpoint_entry(m, e, &state.health.summary(&m.id, &e.provider, now)))
        .collect();
    Ok(json(
        &json!({"data": {"id": m.id, "name": m.name, "context_length": m.context_length, "endpoints": eps}}),
    ))
}
