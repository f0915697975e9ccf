//! Operations: liveness, readiness, metrics, the dashboard page, reload, and the JSON 404.

use std::fmt::Write as _;
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

/// Prometheus text format: per-endpoint health figures (the full metric set arrives with the
/// operator-visibility work).
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let snap = state.snapshot.load();
    let now = state.now();
    let mut out = String::new();
    out.push_str("# HELP switchyard_up The gateway is serving.\n# TYPE switchyard_up gauge\nswitchyard_up 1\n");
    out.push_str("# HELP switchyard_endpoint_attempts Attempts over the last 30 minutes.\n# TYPE switchyard_endpoint_attempts gauge\n");
    let mut fails = String::from("# HELP switchyard_endpoint_failures Failed attempts over the last 30 minutes.\n# TYPE switchyard_endpoint_failures gauge\n");
    for m in &snap.config.models {
        for e in &m.endpoints {
            let s = state.health.summary(&m.id, &e.provider, now);
            let labels = format!(
                "model=\"{}\",provider=\"{}\"",
                escape(&m.id),
                escape(&e.provider)
            );
            let _ = writeln!(
                out,
                "switchyard_endpoint_attempts{{{labels}}} {}",
                s.requests
            );
            let _ = writeln!(
                fails,
                "switchyard_endpoint_failures{{{labels}}} {}",
                s.failures
            );
        }
    }
    out.push_str(&fails);
    let mut r = (StatusCode::OK, out).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn dashboard() -> Response {
    let mut r = (StatusCode::OK, DASHBOARD).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

const DASHBOARD: &str = include_str!("dashboard.html");

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
