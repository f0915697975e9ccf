//! `GET /generation?id=`: the record of one finished request — to the key that paid for it (or
//! the master key, or anyone on an open gateway). Another key's id is answered exactly as an
//! unknown one (404), so ids reveal nothing across tenants (SPEC §8).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};
use sy_api::ApiError;

use crate::auth::Caller;
use crate::respond::{json, Failed};
use crate::state::AppState;

pub async fn generation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load();
    let caller = crate::auth::caller(&state, &snap.config, &headers).await?;
    let Some(id) = q.get("id") else {
        return Err(ApiError::bad_request("`id` query parameter is required").into());
    };
    let sees = |owner: Option<&str>| match &caller {
        Caller::Open | Caller::Master => true,
        Caller::Key(k) => owner == Some(k.id.as_str()),
    };
    let found = match state.generations.get(id) {
        Some(found) => Some(found),
        None => match &state.storage {
            Some(s) => s.store.generation_of(id).await.map_err(|e| {
                tracing::warn!(error = %e, "generation lookup failed");
                ApiError::new(503, "the store is unavailable; try again shortly")
            })?,
            None => None,
        },
    };
    match found {
        Some((owner, rec)) if sees(owner.as_deref()) => Ok(json(
            &json!({"data": crate::handlers::views::generation(&rec)}),
        )),
        _ => Err(ApiError::new(404, format!("no generation `{id}`"))
            .with("id", Value::from(id.as_str()))
            .into()),
    }
}
