//! Team management (SPEC §4, §8; master key): `POST /teams` `{name, limit?, limit_reset?}`,
//! `GET /teams`, `GET /teams/{name}` (with its keys' ids), `PATCH /teams/{name}`
//! `{limit?, limit_reset?}`, `DELETE /teams/{name}` (its keys stay, without a team). A key
//! joins a team with `team` on `POST`/`PATCH /keys`. A change reaches every instance with its
//! next read of the store (within a second).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};
use sy_api::ApiError;
use sy_store::{TeamChange, TeamRecord};

use crate::handlers::keys::{store, unavailable};
use crate::respond::{json, json_bytes, Failed};
use crate::state::AppState;
use crate::teams::TeamLive;

fn bad(field: &str, what: &str) -> ApiError {
    ApiError::bad_request(format!("`{field}` {what}")).with("field", Value::from(field))
}

fn object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

fn known(o: &Map<String, Value>, fields: &[&str]) -> Result<(), ApiError> {
    match o.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(k) => Err(bad(
            k,
            &format!("is not a team setting (known: {})", fields.join(", ")),
        )),
        None => Ok(()),
    }
}

fn limit_of(v: &Value) -> Result<Option<f64>, ApiError> {
    match v {
        Value::Null => Ok(None),
        _ => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(bad(
                "limit",
                "must be a non-negative number of USD, or null",
            )),
        },
    }
}

fn reset_of(v: &Value) -> Result<Option<String>, ApiError> {
    Ok(crate::guard::parse_reset(v, "limit_reset")?.map(|p| p.as_str().to_owned()))
}

/// A team with its spend read now (and what this instance charged its keys since, unwritten).
async fn team_json(state: &AppState, t: TeamRecord) -> Result<Value, ApiError> {
    let now = crate::keys::unix_secs();
    let st = store(state)?;
    // what this instance charged the team's keys that the store lacks yet, taken before the
    // store is read: a batch committing meanwhile is counted twice rather than missed
    let unwritten: f64 = state
        .keys
        .all()
        .iter()
        .filter(|k| k.team().as_deref() == Some(t.name.as_str()))
        .map(|k| k.unwritten())
        .sum();
    let names = [t.name.clone()];
    let live = crate::teams::read(st, &names, now)
        .await
        .and_then(|mut v| v.pop())
        .unwrap_or_else(|| TeamLive::new(t.clone(), crate::guard::PeriodBook::default()));
    let keys: Vec<String> = st
        .list_keys()
        .await
        .map_err(|e| unavailable(&e))?
        .into_iter()
        .filter(|k| k.team.as_deref() == Some(t.name.as_str()))
        .map(|k| k.id)
        .collect();
    let mut v = live.json(now, unwritten, keys.len());
    v["key_ids"] = json!(keys);
    Ok(v)
}

/// `POST /teams`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Failed> {
    let bytes = crate::handlers::admin_body(&state, request).await?;
    let o = object(&bytes)?;
    known(&o, &["name", "limit", "limit_reset"])?;
    let name = match o.get("name") {
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')) =>
        {
            s.clone()
        }
        _ => return Err(bad("name", "must be 1 to 64 letters, digits, `-`, `_` or `.`").into()),
    };
    let limit = limit_of(o.get("limit").unwrap_or(&Value::Null))?;
    let reset = reset_of(o.get("limit_reset").unwrap_or(&Value::Null))?;
    let Some(team) = store(&state)?
        .create_team(&name, limit, reset.as_deref())
        .await
        .map_err(|e| unavailable(&e))?
    else {
        return Err(ApiError::new(409, format!("team `{name}` exists"))
            .with("field", Value::from("name"))
            .into());
    };
    tracing::info!(team = %name, "team created");
    let data = team_json(&state, team).await?;
    Ok(json_bytes(
        StatusCode::CREATED,
        serde_json::to_vec(&json!({"data": data})).unwrap_or_default(),
    ))
}

/// `GET /teams`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, Failed> {
    crate::auth::admin(&state, &state.snapshot.load().config, &headers).await?;
    let teams = store(&state)?
        .list_teams()
        .await
        .map_err(|e| unavailable(&e))?;
    let mut data = Vec::with_capacity(teams.len());
    for t in teams {
        data.push(team_json(&state, t).await?);
    }
    Ok(json(&json!({"data": data})))
}

/// `GET /teams/{name}`.
pub async fn one(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, Failed> {
    crate::auth::admin(&state, &state.snapshot.load().config, &headers).await?;
    match store(&state)?
        .team(&name)
        .await
        .map_err(|e| unavailable(&e))?
    {
        Some(t) => Ok(json(&json!({"data": team_json(&state, t).await?}))),
        None => Err(ApiError::new(404, format!("no team `{name}`")).into()),
    }
}

/// `PATCH /teams/{name}` `{limit?, limit_reset?}`.
pub async fn patch(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    request: Request,
) -> Result<Response, Failed> {
    let bytes = crate::handlers::admin_body(&state, request).await?;
    let o = object(&bytes)?;
    known(&o, &["limit", "limit_reset"])?;
    let change = TeamChange {
        limit: o.get("limit").map(limit_of).transpose()?,
        limit_reset: o.get("limit_reset").map(reset_of).transpose()?,
    };
    let Some(team) = store(&state)?
        .update_team(&name, &change)
        .await
        .map_err(|e| unavailable(&e))?
    else {
        return Err(ApiError::new(404, format!("no team `{name}`")).into());
    };
    // read again at the next request here
    state.teams.forget(&name);
    tracing::info!(team = %name, "team changed");
    Ok(json(&json!({"data": team_json(&state, team).await?})))
}

/// `DELETE /teams/{name}`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, Failed> {
    crate::auth::admin(&state, &state.snapshot.load().config, &headers).await?;
    let existed = store(&state)?
        .delete_team(&name)
        .await
        .map_err(|e| unavailable(&e))?;
    if !existed {
        return Err(ApiError::new(404, format!("no team `{name}`")).into());
    }
    state.teams.forget(&name);
    for k in state.keys.all() {
        if k.team().as_deref() == Some(name.as_str()) {
            if let Some(storage) = &state.storage {
                if let Ok(Some(r)) = storage.store.key(&k.id).await {
                    k.update(&r);
                }
            }
        }
    }
    tracing::info!(team = %name, "team deleted");
    Ok(json(&json!({"deleted": true, "name": name})))
}
