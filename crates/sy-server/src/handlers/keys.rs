//! Key management (SPEC §4, §8): the master key creates, lists and deletes keys; any key reads
//! its own usage at `GET /key`. A key's secret is shown once, in the creation answer.
//!
//! A delete takes effect in the store (shared by the instances) and on this instance at once;
//! with `[cluster]` it is also flagged on Redis, which every instance reads at admission. When
//! Redis cannot take the flag the answer says so — 503 in the error shape, with
//! `metadata.deleted: true` and `metadata.propagated: false` — rather than a bare success: the
//! other instances then refuse the key only once they read the store (within five seconds when
//! they share it), and the flag is sent to Redis as soon as it answers.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use sy_api::ApiError;
use sy_store::{KeyRecord, Store};

use crate::auth::Caller;
use crate::respond::{json, json_bytes, Failed};
use crate::state::AppState;

fn store(state: &AppState) -> Result<&Store, ApiError> {
    state
        .storage
        .as_ref()
        .map(|s| &s.store)
        .ok_or_else(|| ApiError::new(503, "no key store is configured"))
}

fn unavailable(e: &sy_store::StoreError) -> ApiError {
    tracing::error!(error = %e, "key store operation failed");
    ApiError::new(503, "the key store is unavailable; try again shortly")
}

fn key_json(state: &AppState, k: &KeyRecord) -> Value {
    let usage = state.keys.live_usage(&k.id).unwrap_or(k.usage);
    json!({
        "id": k.id,
        "label": k.label,
        "limit": k.limit,
        "usage": usage,
        "remaining": k.limit.map(|l| (l - usage).max(0.0)),
        "created_at": k.created_at,
        "rpm": k.rpm,
    })
}

/// `GET /key`: the calling key.
pub async fn current(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load();
    let caller = crate::auth::caller(&state, &snap.config, &headers).await?;
    let management = !matches!(caller, Caller::Key(_));
    let data = match caller {
        Caller::Key(k) => {
            if let Some(c) = &state.cluster {
                k.refresh(c).await;
            }
            k.json()
        }
        Caller::Master => {
            json!({"label": "master key", "usage": 0.0, "limit": null, "remaining": null, "is_master": true})
        }
        Caller::Open => {
            json!({"label": "open gateway (no [auth])", "usage": 0.0, "limit": null, "remaining": null})
        }
    };
    Ok(json(
        &json!({"data": crate::handlers::views::key(data, management)}),
    ))
}

/// `POST /keys` `{label, limit?}`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load_full();
    let (parts, body) = request.into_parts();
    crate::auth::admin(&state, &snap.config, &parts.headers).await?;
    let bytes = crate::handlers::read_body(body, 64 * 1024).await?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
    let label = match v.get("label") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.len() <= 200 => s.clone(),
        Some(_) => {
            return Err(
                ApiError::bad_request("`label` must be a string of at most 200 characters").into(),
            )
        }
    };
    let limit = match v.get("limit") {
        None | Some(Value::Null) => None,
        Some(l) => match l.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Some(x),
            _ => {
                return Err(
                    ApiError::bad_request("`limit` must be a non-negative number of USD").into(),
                )
            }
        },
    };
    let rpm = match v.get("rpm") {
        None | Some(Value::Null) => None,
        Some(r) => match r.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if (1..=1_000_000).contains(&n) => Some(n),
            _ => {
                return Err(ApiError::bad_request(
                    "`rpm` must be a whole number of requests per minute, 1 to 1000000",
                )
                .into())
            }
        },
    };
    let (rec, secret) = store(&state)?
        .create_key_with(&label, limit, rpm)
        .await
        .map_err(|e| unavailable(&e))?;
    tracing::info!(key_id = %rec.id, label = %rec.label, "key created");
    let mut data = key_json(&state, &rec);
    data["key"] = Value::from(secret.as_str());
    let body = json!({"data": data, "key": secret});
    Ok(json_bytes(
        StatusCode::CREATED,
        serde_json::to_vec(&body).unwrap_or_default(),
    ))
}

/// `GET /keys`: every key, never a secret.
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, Failed> {
    crate::auth::admin(&state, &state.snapshot.load().config, &headers).await?;
    let keys = store(&state)?
        .list_keys()
        .await
        .map_err(|e| unavailable(&e))?;
    let data: Vec<Value> = keys.iter().map(|k| key_json(&state, k)).collect();
    Ok(json(&json!({"data": data})))
}

/// `GET /keys/{id}`.
pub async fn one(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failed> {
    crate::auth::admin(&state, &state.snapshot.load().config, &headers).await?;
    match store(&state)?.key(&id).await.map_err(|e| unavailable(&e))? {
        Some(k) => Ok(json(&json!({"data": key_json(&state, &k)}))),
        None => Err(ApiError::new(404, format!("no key `{id}`")).into()),
    }
}

/// `DELETE /keys/{id}`: the key is refused from the next request on.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failed> {
    crate::auth::admin(&state, &state.snapshot.load().config, &headers).await?;
    let existed = store(&state)?
        .delete_key(&id)
        .await
        .map_err(|e| unavailable(&e))?;
    if let Some(s) = &state.storage {
        s.writer.key_deleted(&id);
        state.keys.forget(&id, &s.writer);
    }
    if !existed {
        return Err(ApiError::new(404, format!("no key `{id}`")).into());
    }
    tracing::info!(key_id = %id, "key deleted");
    if let Some(c) = &state.cluster {
        if !c.revoke(&id).await {
            tracing::warn!(key_id = %id, "key deleted, but redis is unreachable: other instances learn it from the store; the revocation is sent to redis when it answers");
            return Err(ApiError::new(
                503,
                format!(
                    "key `{id}` is deleted from the store and refused here, but redis is \
                     unreachable, so the other instances were not told at once: they refuse it \
                     once they read the store (within 5 s when they share it); the revocation \
                     is sent to redis as soon as it answers"
                ),
            )
            .with("id", Value::from(id.as_str()))
            .with("deleted", Value::Bool(true))
            .with("propagated", Value::Bool(false))
            .with("reason", Value::from("redis_unreachable"))
            .into());
        }
    }
    Ok(json(&json!({"deleted": true, "id": id})))
}
