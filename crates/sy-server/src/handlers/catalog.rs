//! The catalog (SPEC §4), in OpenRouter's published shapes so its SDKs parse it: `GET /models`
//! (paged by `offset`/`limit`), `/models/count`, `/models/user`, one model (`/models/{id}` as
//! OpenAI's `models.retrieve` reads it, `/model/{author}/{slug}` as OpenRouter's SDKs call it),
//! and `/models/{id}/endpoints` with live health figures. Prices per token as decimal strings.
//! Switchyard's additions are extra members, never missing or retyped ones.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value};
use sy_api::ApiError;
use sy_config::{Endpoint, Model, ModelKind};
use sy_routing::{per_token_decimal, HealthSummary};

use crate::respond::{json, Failed};
use crate::state::{AppState, Snapshot};

/// OpenRouter's pricing object: USD per token as decimal strings; cache and reasoning prices
/// only where the endpoint sets them (an absent member, never `null`).
fn pricing(e: Option<&Endpoint>) -> Value {
    let Some(e) = e else {
        return json!({"prompt": "0", "completion": "0", "request": "0"});
    };
    let mut p = Map::new();
    p.insert(
        "prompt".into(),
        Value::from(per_token_decimal(e.prompt_price)),
    );
    p.insert(
        "completion".into(),
        Value::from(per_token_decimal(e.completion_price)),
    );
    p.insert(
        "request".into(),
        Value::from(sy_routing::plain_decimal(e.request_price)),
    );
    for (k, v) in [
        ("input_cache_read", e.cache_read_price),
        ("input_cache_write", e.cache_write_price),
        ("internal_reasoning", e.reasoning_price),
    ] {
        if let Some(v) = v {
            p.insert(k.into(), Value::from(per_token_decimal(v)));
        }
    }
    Value::Object(p)
}

fn architecture(m: &Model) -> Value {
    let output = match m.kind {
        ModelKind::Chat => "text",
        ModelKind::Embedding => "embeddings",
    };
    json!({
        "modality": format!("text->{output}"),
        "input_modalities": ["text"],
        "output_modalities": [output],
        "tokenizer": "Other",
        "instruct_type": null,
    })
}

/// A model as OpenRouter lists it; its price is its cheapest endpoint's.
fn model_entry(snap: &Snapshot, m: &Model) -> Value {
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
    let max_completion = m
        .endpoints
        .iter()
        .filter_map(|e| e.max_completion_tokens)
        .max();
    json!({
        "id": m.id,
        "canonical_slug": m.id,
        "name": m.name,
        "created": snap.loaded_at,
        "description": m.name,
        "context_length": m.context_length,
        "architecture": architecture(m),
        "pricing": pricing(cheapest),
        "top_provider": {"is_moderated": false, "context_length": m.context_length, "max_completion_tokens": max_completion},
        "per_request_limits": null,
        "supported_parameters": params,
        "default_parameters": null,
        "supported_voices": null,
        "hugging_face_id": null,
        "links": {"details": format!("/api/v1/models/{}/endpoints", m.id)},
        "kind": match m.kind { ModelKind::Chat => "chat", ModelKind::Embedding => "embedding" },
        "endpoints": m.endpoints.len(),
    })
}

/// Which models the caller may use: every one, but for a key with guardrails those its
/// `allowed_models` match and that have an endpoint of a provider it may reach (SPEC §8:
/// `/models` with a user key lists only what that key may use).
fn visible(caller: &crate::auth::Caller) -> impl Fn(&Model) -> bool {
    let guard = caller.key().map(|k| k.guard());
    move |m: &Model| {
        let Some(g) = &guard else {
            return true;
        };
        let reachable = |provider: &str| {
            g.allows_provider(provider)
                && g.prefs.as_ref().is_none_or(|p| {
                    p.only
                        .as_ref()
                        .is_none_or(|o| o.iter().any(|s| s.eq_ignore_ascii_case(provider)))
                        && !p.ignore.iter().any(|s| s.eq_ignore_ascii_case(provider))
                })
        };
        g.allows_model(&[m.id.as_str()]) && m.endpoints.iter().any(|e| reachable(&e.provider))
    }
}

/// Anthropic's model list, for Anthropic clients (Claude Code's model discovery): the chat
/// models, newest first as Anthropic lists them (here: in catalog order).
fn anthropic_list(snap: &Snapshot, visible: &dyn Fn(&Model) -> bool) -> Value {
    let created = crate::handlers::views::rfc3339(i64::try_from(snap.loaded_at).unwrap_or(0));
    let data: Vec<Value> = snap
        .config
        .models
        .iter()
        .filter(|m| m.kind == ModelKind::Chat && visible(m))
        .map(
            |m| json!({"type": "model", "id": m.id, "display_name": m.name, "created_at": created}),
        )
        .collect();
    let first = data.first().map(|m| m["id"].clone()).unwrap_or(Value::Null);
    let last = data.last().map(|m| m["id"].clone()).unwrap_or(Value::Null);
    json!({"data": data, "has_more": false, "first_id": first, "last_id": last})
}

/// `GET /models` (and `/models/user`): `offset` and `limit` page it as OpenRouter's SDKs ask; a
/// client that says it speaks Anthropic's API (`anthropic-version`) gets Anthropic's list.
pub async fn models(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load();
    let caller = crate::auth::caller(&state, &snap.config, &headers).await?;
    let visible = visible(&caller);
    if headers.contains_key("anthropic-version") {
        return Ok(json(&anthropic_list(&snap, &visible)));
    }
    let listed: Vec<&Model> = snap.config.models.iter().filter(|m| visible(m)).collect();
    let total = listed.len();
    let number = |k: &str| -> Result<Option<usize>, ApiError> {
        q.get(k)
            .map(|v| {
                v.parse::<usize>().map_err(|_| {
                    ApiError::bad_request(format!("`{k}` must be a non-negative integer"))
                        .with("field", Value::from(k))
                })
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0).min(total);
    let limit = number("limit")?.unwrap_or(total.max(1));
    let data: Vec<Value> = listed
        .iter()
        .skip(offset)
        .take(limit)
        .map(|m| model_entry(&snap, m))
        .collect();
    let end = offset + data.len();
    let next = (end < total).then(|| format!("/api/v1/models?offset={end}&limit={limit}"));
    Ok(json(
        &json!({"data": data, "links": {"next": next}, "total_count": total}),
    ))
}

/// `GET /models/count`.
pub async fn count(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load();
    let caller = crate::auth::caller(&state, &snap.config, &headers).await?;
    let visible = visible(&caller);
    let count = snap.config.models.iter().filter(|m| visible(m)).count();
    Ok(json(&json!({"data": {"count": count}})))
}

/// The status code OpenRouter gives an endpoint (0 healthy, negative degraded); Switchyard's
/// own word goes beside it as `health`.
fn status(h: &HealthSummary) -> (i64, &'static str) {
    match (h.circuit, h.cooldown_s > 0.0) {
        ("open", _) => (-5, "circuit_open"),
        ("half_open", _) => (-1, "probing"),
        (_, true) => (-2, "cooldown"),
        _ => (0, "ok"),
    }
}

fn percentiles(p: Option<[f64; 5]>, scale: f64) -> Value {
    p.map_or(Value::Null, |p| {
        json!({"p50": p[0] * scale, "p75": p[1] * scale, "p90": p[2] * scale, "p95": p[3] * scale, "p99": p[4] * scale})
    })
}

fn endpoint_entry(m: &Model, e: &Endpoint, h: &HealthSummary) -> Value {
    let (code, word) = status(h);
    let tool_choice = e.supported_parameters.is_empty()
        || e.supported_parameters.iter().any(|p| p == "tool_choice");
    json!({
        "name": format!("{} | {}", e.provider, e.upstream_model),
        "model_id": m.id,
        "model_name": m.name,
        "provider_name": e.provider,
        "tag": e.provider,
        "context_length": e.context_length,
        "pricing": pricing(Some(e)),
        "quantization": e.quantization,
        "max_completion_tokens": e.max_completion_tokens,
        "max_prompt_tokens": null,
        "supported_parameters": e.supported_parameters,
        "status": code,
        "health": word,
        "uptime_last_30m": h.uptime_pct,
        "uptime_last_5m": h.uptime_5m_pct,
        // health is kept for 30 minutes: a day's figure is not known
        "uptime_last_1d": null,
        "latency_last_30m": percentiles(h.latency_s, 1000.0),
        "throughput_last_30m": percentiles(h.throughput, 1.0),
        "supports_implicit_caching": false,
        "supports_tool_choice": {"auto": tool_choice, "function": tool_choice, "none": tool_choice, "required": tool_choice},
        "native_tools": {},
        "service_tier": null,
        "supports_diarization": false,
        "supports_prefill": e.supports_prefill,
        "dimensions": e.dimensions,
        "circuit": h.circuit,
        "requests_last_30m": h.requests,
        "failures_last_30m": h.failures,
    })
}

fn unknown_model(id: &str) -> Failed {
    ApiError::new(404, format!("unknown model `{id}`"))
        .with("model", Value::from(id))
        .into()
}

fn endpoints_of(state: &AppState, snap: &Snapshot, m: &Model) -> Value {
    let now = state.now();
    let eps: Vec<Value> = m
        .endpoints
        .iter()
        .map(|e| endpoint_entry(m, e, &state.health.summary(&m.id, &e.provider, now)))
        .collect();
    json!({"data": {
        "id": m.id, "name": m.name, "created": snap.loaded_at, "description": m.name,
        "architecture": architecture(m), "context_length": m.context_length, "endpoints": eps,
    }})
}

/// `GET /models/{*rest}`: `{id}/endpoints` (the id may itself contain `/`), or one model as
/// OpenAI's `models.retrieve` reads it (with `object` and `owned_by`). `count` and `user` are
/// OpenRouter's listings.
pub async fn model_path(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(rest): Path<String>,
    query: Query<HashMap<String, String>>,
) -> Result<Response, Failed> {
    match rest.as_str() {
        "count" => return count(State(state), headers).await,
        "user" => return models(State(state), headers, query).await,
        _ => {}
    }
    let snap = state.snapshot.load();
    let caller = crate::auth::caller(&state, &snap.config, &headers).await?;
    let visible = visible(&caller);
    if let Some(id) = rest.strip_suffix("/endpoints") {
        let m = snap
            .config
            .model(id)
            .filter(|m| visible(m))
            .ok_or_else(|| unknown_model(id))?;
        return Ok(json(&endpoints_of(&state, &snap, m)));
    }
    let m = snap
        .config
        .model(&rest)
        .filter(|m| visible(m))
        .ok_or_else(|| unknown_model(&rest))?;
    let mut entry = model_entry(&snap, m);
    if let Some(o) = entry.as_object_mut() {
        o.insert("object".into(), Value::from("model"));
        let owner = m.id.split_once('/').map_or("switchyard", |(a, _)| a);
        o.insert("owned_by".into(), Value::from(owner));
    }
    Ok(json(&entry))
}

/// `GET /model/{author}/{slug}`: one model as OpenRouter's SDKs read it (`{data: Model}`).
pub async fn model(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load();
    let caller = crate::auth::caller(&state, &snap.config, &headers).await?;
    let visible = visible(&caller);
    let m = snap
        .config
        .model(&id)
        .filter(|m| visible(m))
        .ok_or_else(|| unknown_model(&id))?;
    Ok(json(&json!({"data": model_entry(&snap, m)})))
}
