//! Operations: liveness, readiness, metrics, reload, and the JSON 404.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sy_api::ApiError;

use crate::respond::{json, Failed};
use crate::state::AppState;

pub async fn health() -> Response {
    json(&json!({"status": "ok"}))
}

/// Ready: a config is loaded and the store is reachable with its writer keeping up; otherwise
/// 503 saying what is wrong (the gateway still serves: finished requests wait in memory and on
/// local disk). Shows the store's state and backlog — counts only: no spend, no key.
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
    let mut code = StatusCode::OK;
    if let Some(s) = &state.storage {
        let ping = tokio::time::timeout(std::time::Duration::from_secs(2), s.store.ping()).await;
        let reachable = matches!(ping, Ok(Ok(())));
        let w = s.writer.status();
        let total = w.in_memory + w.journal_only;
        body["store"] = json!({
            "backend": s.store.backend(),
            "reachable": reachable,
            "writer_healthy": w.healthy,
            "accepting": w.accepting,
            "backlog": {"total": total, "memory": w.in_memory, "journal": w.journaled},
            "journal": if w.journal {
                json!({"records": w.journaled, "bytes": w.journal_bytes, "error": w.journal_error})
            } else {
                Value::Null
            },
            "last_error": w.last_error,
        });
        let status = if !w.accepting {
            code = StatusCode::SERVICE_UNAVAILABLE;
            format!(
                "refusing new requests: finished requests cannot be kept on local disk (the \
                 journal is full or the disk is); {total} held in memory until the store has them"
            )
        } else if !reachable || !w.healthy {
            code = StatusCode::SERVICE_UNAVAILABLE;
            format!(
                "degraded: the store is unreachable; {total} finished requests kept ({} in the \
                 local journal) and written when it returns",
                w.journaled
            )
        } else if w.journaled > 0 {
            format!(
                "degraded: writing {} finished requests from the local journal to the store",
                w.journaled
            )
        } else {
            String::new()
        };
        if !status.is_empty() {
            body["status"] = json!(status);
        }
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    crate::respond::json_bytes(code, bytes)
}

/// Prometheus text format (see `crate::metrics`). It counts every tenant's traffic and spend,
/// so with `[auth]` it needs the master key unless `[server] metrics_public` is set.
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load();
    if !snap.config.server.metrics_public {
        crate::auth::master_only(&state, &snap.config, &headers, "/metrics").await?;
    }
    let mut r = (StatusCode::OK, crate::metrics::render(&state)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
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
