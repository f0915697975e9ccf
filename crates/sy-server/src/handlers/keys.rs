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
use sy_store::{KeyChange, KeyRecord, NewKey, Store};

use crate::guard::{Guardrails, PeriodBook};

use crate::auth::Caller;
use crate::respond::{json, json_bytes, Failed};
use crate::state::AppState;

pub fn store(state: &AppState) -> Result<&Store, ApiError> {
    state
        .storage
        .as_ref()
        .map(|s| &s.store)
        .ok_or_else(|| ApiError::new(503, "no key store is configured"))
}

pub fn unavailable(e: &sy_store::StoreError) -> ApiError {
    tracing::error!(error = %e, "key store operation failed");
    ApiError::new(503, "the key store is unavailable; try again shortly")
}

/// Keys as the listing shows them (OpenRouter's members and the guardrails): a key in memory
/// with its live figures, the others from the store, with their spend per period read now.
pub async fn keys_json(state: &AppState, keys: &[KeyRecord]) -> Vec<Value> {
    let now = crate::keys::unix_secs();
    let starts = crate::guard::period_starts(now);
    let cold: Vec<String> = keys
        .iter()
        .filter(|k| state.keys.by_id(&k.id).is_none())
        .map(|k| k.id.clone())
        .collect();
    let spend = match &state.storage {
        Some(s) if !cold.is_empty() => s
            .store
            .key_spend_since(&cold, starts)
            .await
            .unwrap_or_default(),
        _ => std::collections::HashMap::new(),
    };
    keys.iter()
        .map(|k| match state.keys.by_id(&k.id) {
            Some(live) => live.json(),
            None => record_json(k, spend.get(&k.id).copied().unwrap_or_default(), now),
        })
        .collect()
}

/// A key not in memory, from its record and its spend per period.
fn record_json(k: &KeyRecord, since: [f64; 3], now: i64) -> Value {
    let g = Guardrails::parse_stored(k.guardrails.as_deref());
    let book = PeriodBook {
        starts: crate::guard::period_starts(now),
        since,
        base_total: k.usage,
    };
    let counted = book.counted(g.limit_reset, now, k.usage);
    let remaining = k.limit.map(|l| (l - counted).max(0.0));
    let mut o = json!({
        "id": k.id,
        "hash": k.id,
        "label": k.label,
        "name": k.label,
        "usage": k.usage,
        "usage_daily": since[0],
        "usage_weekly": since[1],
        "usage_monthly": since[2],
        "limit": k.limit,
        "remaining": remaining,
        "limit_remaining": remaining,
        "rpm": k.rpm,
        "team": k.team,
        "disabled": false,
        "created_at": crate::handlers::views::rfc3339(k.created_at),
        "updated_at": k.updated_at.map(crate::handlers::views::rfc3339),
    });
    crate::handlers::views::byok_none(&mut o);
    if let Some(m) = o.as_object_mut() {
        m.extend(g.json());
    }
    o
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

/// The settings of a `POST`/`PATCH /keys` body, validated (400 naming the field): applied
/// onto `base` (the key as it is, for a `PATCH`) and returned as the store's change.
async fn settings_of(
    state: &AppState,
    v: &Value,
    base: Option<&KeyRecord>,
) -> Result<KeyChange, ApiError> {
    let Value::Object(o) = v else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    const KNOWN: &[&str] = &[
        "label",
        "name",
        "limit",
        "rpm",
        "team",
        "limit_reset",
        "tpm",
        "expires_at",
        "allowed_models",
        "allowed_providers",
        "provider",
        "include_byok_in_limit",
        "disabled",
    ];
    if let Some(k) = o.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "`{k}` is not a key setting (known: {})",
            KNOWN.join(", ")
        ))
        .with("field", Value::from(k.as_str())));
    }
    let mut change = KeyChange::default();
    for field in ["label", "name"] {
        match o.get(field) {
            None => {}
            Some(Value::Null) => change.label = Some(String::new()),
            Some(Value::String(s)) if s.len() <= 200 && !s.contains('\0') => {
                change.label = Some(s.clone());
            }
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "`{field}` must be a string of at most 200 characters"
                ))
                .with("field", Value::from(field)))
            }
        }
    }
    if let Some(l) = o.get("limit") {
        change.limit = Some(match l {
            Value::Null => None,
            _ => match l.as_f64() {
                Some(x) if x.is_finite() && x >= 0.0 => Some(x),
                _ => {
                    return Err(ApiError::bad_request(
                        "`limit` must be a non-negative number of USD, or null",
                    )
                    .with("field", Value::from("limit")))
                }
            },
        });
    }
    if let Some(r) = o.get("rpm") {
        change.rpm = Some(match r {
            Value::Null => None,
            _ => match r.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) if (1..=1_000_000).contains(&n) => Some(n),
                _ => {
                    return Err(ApiError::bad_request(
                        "`rpm` must be a whole number of requests per minute, 1 to 1000000",
                    )
                    .with("field", Value::from("rpm")))
                }
            },
        });
    }
    match o.get("include_byok_in_limit") {
        None | Some(Value::Null | Value::Bool(_)) => {}
        Some(_) => {
            return Err(
                ApiError::bad_request("`include_byok_in_limit` must be a boolean")
                    .with("field", Value::from("include_byok_in_limit")),
            )
        }
    }
    match o.get("disabled") {
        None | Some(Value::Null | Value::Bool(false)) => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "`disabled` can only be false: to stop a key, delete it",
            )
            .with("field", Value::from("disabled")))
        }
    }
    if let Some(t) = o.get("team") {
        change.team = Some(match t {
            Value::Null => None,
            Value::String(name) => {
                let exists = store(state)?
                    .team(name)
                    .await
                    .map_err(|e| unavailable(&e))?
                    .is_some();
                if !exists {
                    return Err(ApiError::bad_request(format!(
                        "`team` names `{name}`, which is not a team (create it with POST /api/v1/teams)"
                    ))
                    .with("field", Value::from("team")));
                }
                Some(name.clone())
            }
            _ => {
                return Err(
                    ApiError::bad_request("`team` must be a team's name, or null")
                        .with("field", Value::from("team")),
                )
            }
        });
    }
    let guard_fields = [
        "limit_reset",
        "tpm",
        "expires_at",
        "allowed_models",
        "allowed_providers",
        "provider",
    ];
    if guard_fields.iter().any(|f| o.contains_key(*f)) {
        let mut g = Guardrails::parse_stored(base.and_then(|b| b.guardrails.as_deref()));
        g.apply(o, &state.snapshot.load().config)?;
        change.guardrails = Some(g.to_stored());
    }
    Ok(change)
}

fn parse_body(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))
}

/// `POST /keys` `{label, limit?, rpm?, limit_reset?, tpm?, expires_at?, allowed_models?,
/// allowed_providers?, provider?, team?}`: 201 with the secret, shown this once.
pub async fn create(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Failed> {
    let bytes = crate::handlers::admin_body(&state, request).await?;
    let v = parse_body(&bytes)?;
    let change = settings_of(&state, &v, None).await?;
    let new = NewKey {
        label: change.label.unwrap_or_default(),
        limit: change.limit.flatten(),
        rpm: change.rpm.flatten(),
        guardrails: change.guardrails.flatten(),
        team: change.team.flatten(),
    };
    let (rec, secret) = store(&state)?
        .create_key_new(&new)
        .await
        .map_err(|e| unavailable(&e))?;
    tracing::info!(key_id = %rec.id, label = %rec.label, "key created");
    let mut data = record_json(&rec, [0.0; 3], crate::keys::unix_secs());
    data["key"] = Value::from(secret.as_str());
    let body = json!({"data": data, "key": secret});
    Ok(json_bytes(
        StatusCode::CREATED,
        serde_json::to_vec(&body).unwrap_or_default(),
    ))
}

/// `PATCH /keys/{id}`: changes the key's settings, never its secret; this instance applies
/// the change at once, the others with their next read of the store (within a second).
pub async fn patch(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Failed> {
    let bytes = crate::handlers::admin_body(&state, request).await?;
    let v = parse_body(&bytes)?;
    let st = store(&state)?;
    let Some(before) = st.key(&id).await.map_err(|e| unavailable(&e))? else {
        return Err(ApiError::new(404, format!("no key `{id}`")).into());
    };
    let change = settings_of(&state, &v, Some(&before)).await?;
    let Some(rec) = st
        .update_key(&id, &change)
        .await
        .map_err(|e| unavailable(&e))?
    else {
        return Err(ApiError::new(404, format!("no key `{id}`")).into());
    };
    if let Some(live) = state.keys.by_id(&id) {
        live.update(&rec);
    }
    tracing::info!(key_id = %rec.id, "key changed");
    let data = keys_json(&state, std::slice::from_ref(&rec)).await;
    Ok(json(&json!({"data": data.into_iter().next()})))
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
    let data = keys_json(&state, &keys).await;
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
        Some(k) => {
            let data = keys_json(&state, std::slice::from_ref(&k)).await;
            Ok(json(&json!({"data": data.into_iter().next()})))
        }
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
