//! `GET /generation?id=`: the record of one finished request.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};
use sy_api::ApiError;

use crate::respond::{json, Failed};
use crate::state::AppState;

pub async fn generation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load();
    crate::auth::caller(&state, &snap.config, &headers).await?;
    let Some(id) = q.get("id") else {
        return Err(ApiError::bad_request("`id` query parameter is required").into());
    };
    if let Some(rec) = state.generations.get(id) {
        return Ok(json(
            &json!({"data": crate::handlers::views::generation(&rec)}),
        ));
    }
    if let Some(s) = &state.storage {
        match s.store.generation(id).await {
            Ok(Some(rec)) => {
                return Ok(json(
                    &json!({"data": crate::handlers::views::generation(&rec)}),
                ))
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "generation lookup failed");
                return Err(
                    ApiError::new(503, "the store is unavailable; try again shortly").into(),
                );
            }
        }
    }
    Err(ApiError::new(404, format!("no generation `{id}`"))
        .with("id", Value::from(id.as_str()))
        .into())
}
