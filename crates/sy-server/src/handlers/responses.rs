//! State of the Responses dialect (SPEC §4.7): `previous_response_id` replays the stored
//! conversation (its input items and the stored response's output) before the new input;
//! `store` (default true) keeps the finished response under the calling key; `GET` and `DELETE
//! /responses/{id}` read and remove it. Another key's response is answered as an unknown one
//! (404), so ids reveal nothing across tenants.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value};
use sy_api::ApiError;
use sy_store::StoredResponse;

use crate::auth::Caller;
use crate::respond::json;
use crate::state::AppState;

/// Request fields a response object repeats.
const ECHOED: &[&str] = &[
    "instructions",
    "metadata",
    "previous_response_id",
    "store",
    "tools",
    "tool_choice",
    "temperature",
    "top_p",
    "max_output_tokens",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "user",
];

/// What a Responses request keeps once it is answered.
pub struct Keep {
    /// Whose it is: the key's id, empty for the master key or an open gateway.
    owner: String,
    /// The conversation's input items up to this request (stored history included).
    items: Vec<Value>,
    /// The request fields the response repeats.
    echo: Map<String, Value>,
    /// `store` is not false.
    store: bool,
}

fn owner_of(caller: &Caller) -> String {
    caller.key().map_or_else(String::new, |k| k.id.clone())
}

fn unavailable(e: &sy_store::StoreError) -> ApiError {
    tracing::warn!(error = %e, "stored response lookup failed");
    ApiError::new(503, "the store is unavailable; try again shortly")
}

/// An unknown id (or another key's), named as the parameter that carried it, if any.
fn not_found(id: &str, field: Option<&str>) -> ApiError {
    let e = ApiError::new(404, format!("Response with id '{id}' not found."))
        .with("id", Value::from(id));
    match field {
        Some(f) => e.with("field", Value::from(f)),
        None => e,
    }
}

/// Reads the body's state fields; with `previous_response_id`, the body continuing the stored
/// conversation. A body that is not a JSON object goes on unchanged (the dialect refuses it).
pub async fn prepare(
    state: &AppState,
    caller: &Caller,
    bytes: axum::body::Bytes,
) -> Result<(axum::body::Bytes, Option<Keep>), ApiError> {
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&bytes) else {
        return Ok((bytes, None));
    };
    let owner = owner_of(caller);
    let mut echo = Map::new();
    for k in ECHOED {
        if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
            echo.insert((*k).to_owned(), v.clone());
        }
    }
    let store = body.get("store").and_then(Value::as_bool) != Some(false);
    let previous = match body.get("previous_response_id") {
        Some(Value::String(id)) => Some(id.clone()),
        _ => None,
    };
    let Some(id) = previous else {
        let items = sy_dialects::responses::input_items(&body);
        let keep = Keep {
            owner,
            items,
            echo,
            store,
        };
        return Ok((bytes, Some(keep)));
    };
    let found = match &state.storage {
        Some(s) => s
            .store
            .get_response(&id, &owner)
            .await
            .map_err(|e| unavailable(&e))?,
        None => None,
    };
    let Some(found) = found else {
        return Err(not_found(&id, Some("previous_response_id")));
    };
    let mut history: Vec<Value> = serde_json::from_str(&found.items).unwrap_or_default();
    let response: Value = serde_json::from_str(&found.response).unwrap_or(Value::Null);
    history.extend(sy_dialects::responses::output_items(
        &response,
        &found.provider,
    ));
    sy_dialects::responses::with_history(&mut body, history);
    let items = sy_dialects::responses::input_items(&body);
    let bytes = serde_json::to_vec(&Value::Object(body))
        .map_err(|e| ApiError::new(500, format!("cannot continue the conversation: {e}")))?;
    Ok((
        bytes.into(),
        Some(Keep {
            owner,
            items,
            echo,
            store,
        }),
    ))
}

impl Keep {
    /// The request fields a response object repeats, `store` among them.
    pub fn fields(&self) -> Map<String, Value> {
        let mut f = self.echo.clone();
        f.insert("store".to_owned(), Value::Bool(self.store));
        f
    }

    /// The response as the client sees it: the request's fields repeated.
    pub fn complete(&self, mut response: Value) -> Value {
        if let Some(o) = response.as_object_mut() {
            o.extend(self.fields());
        }
        response
    }

    /// Keeps the finished response (unless `store` is false), before the client has its end,
    /// so that a next request naming it finds it.
    pub async fn save(&self, state: &AppState, provider: &str, response: Value) {
        if !self.store {
            return;
        }
        let Some(storage) = &state.storage else {
            return;
        };
        let response = self.complete(response);
        let record = StoredResponse {
            id: response
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            owner: self.owner.clone(),
            created_at: response
                .get("created_at")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            provider: provider.to_owned(),
            items: Value::Array(self.items.clone()).to_string(),
            response: response.to_string(),
        };
        if let Err(e) = storage.store.put_response(&record).await {
            tracing::warn!(error = %e, id = %record.id, "the response could not be stored");
        }
    }
}

/// `GET /responses/{id}`.
pub async fn retrieve(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match lookup(&state, &headers, &id).await {
        Ok(r) => json(&r),
        Err(e) => crate::handlers::dialect::error_response(&sy_dialects::Responses, &e),
    }
}

async fn lookup(state: &AppState, headers: &HeaderMap, id: &str) -> Result<Value, ApiError> {
    let snap = state.snapshot.load();
    let caller = crate::auth::caller(state, &snap.config, headers).await?;
    let owner = owner_of(&caller);
    let found = match &state.storage {
        Some(s) => s
            .store
            .get_response(id, &owner)
            .await
            .map_err(|e| unavailable(&e))?,
        None => None,
    };
    let found = found.ok_or_else(|| not_found(id, None))?;
    Ok(serde_json::from_str(&found.response).unwrap_or(Value::Null))
}

/// `DELETE /responses/{id}`: `{"id", "object": "response", "deleted": true}`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let run = async {
        let snap = state.snapshot.load();
        let caller = crate::auth::caller(&state, &snap.config, &headers).await?;
        let owner = owner_of(&caller);
        let deleted = match &state.storage {
            Some(s) => s
                .store
                .delete_response(&id, &owner)
                .await
                .map_err(|e| unavailable(&e))?,
            None => false,
        };
        if !deleted {
            return Err(not_found(&id, None));
        }
        Ok::<_, ApiError>(json!({"id": id, "object": "response", "deleted": true}))
    };
    match run.await {
        Ok(v) => json(&v),
        Err(e) => crate::handlers::dialect::error_response(&sy_dialects::Responses, &e),
    }
}
