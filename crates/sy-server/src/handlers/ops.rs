//! Operations: liveness, readiness, metrics, reload, and the JSON 404.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sy_api::ApiError;

use crate::respond::{json, Failed};
use crate::state::AppState;

pub async fn health() -> Response {
    json(&json!({"status": "ok"}))
}

/// Ready: a config is loaded and the store is reachable with its writer keeping up; otherwise
/// 503 saying what is wrong (the gateway still serves, queueing records).
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let snap = state.snapshot.load();
    let mut body = json!({
        "status": "ready",
        "models": snap.config.models.len(),
        "providers": snap.config.providers.len(),
        "demo": snap.config.demo,
    });
    // Redis away is reported but not 503: the instance serves on local state, and a 503 would
    // take every instance out of the load balancer at once.
    if let Some(c) = &state.cluster {
        body["cluster"] = c.status();
        if !c.up() {
            body["status"] = json!("degraded: redis is unreachable; serving on local state");
        }
    }
    if let Some(s) = &state.storage {
        let ping = tokio::time::timeout(std::time::Duration::from_secs(2), s.store.ping()).await;
        let reachable = matches!(ping, Ok(Ok(())));
        body["store"] = json!({
            "backend": s.store.backend(),
            "reachable": reachable,
            "writer_healthy": s.writer.healthy(),
            "backlog": s.writer.backlog(),
            "last_error": s.writer.last_error(),
        });
        if !reachable || !s.writer.healthy() {
            body["status"] = json!("degraded: the store is unreachable; records are queued");
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            return crate::respond::json_bytes(StatusCode::SERVICE_UNAVAILABLE, bytes);
        }
    }
    json(&body)
}

/// Prometheus text format (see `crate::metrics`).
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut r = (StatusCode::OK, crate::metrics::render(&state)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

pub async fn admin_reload(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, Failed> {
    crate::auth::admin(&state, &state.snapshot.load().config, &headers).await?;
    crate::reload::reload(&state)?;
    Ok(json(&json!({"reloaded": true})))
}

pub async fn not_found(uri: Uri) -> Failed {
    Failed(ApiError::new(404, format!("no such path: {}", uri.path())))
}
