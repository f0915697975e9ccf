//! The admin API on the mock's own listener: see and script providers while
//! it runs (`GET /admin/providers`, `PUT /admin/providers/{name}`, resets), and the simulated
//! Vertex AI's service account and token count.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::json;

use crate::behaviour::Behaviour;
use crate::config::valid_provider_name;
use crate::server::App;
use crate::state::ProviderInfo;

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn unknown(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, &format!("no provider {name:?}"))
}

/// `GET /admin/providers`: `{name: {behaviour, requests, active, failed, streams, fail_remaining}}`.
pub(crate) async fn list(State(app): State<Arc<App>>) -> Json<BTreeMap<String, ProviderInfo>> {
    Json(
        app.registry
            .all()
            .into_iter()
            .map(|(name, p)| (name, p.info()))
            .collect(),
    )
}

/// `GET /admin/providers/{name}`.
pub(crate) async fn show(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    match app.registry.get(&name) {
        Some(p) => Json(p.info()).into_response(),
        None => unknown(&name),
    }
}

/// `PUT /admin/providers/{name}` with a behaviour as JSON (an empty body is
/// the default behaviour): replaces it, creating the provider if missing.
pub(crate) async fn replace(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    if !valid_provider_name(&name) {
        let message = format!("{name:?} must be 1-64 characters of A-Z a-z 0-9 _ . -");
        return error(StatusCode::BAD_REQUEST, &message);
    }
    let behaviour = if body.iter().all(u8::is_ascii_whitespace) {
        Behaviour::default()
    } else {
        match serde_json::from_slice::<Behaviour>(&body) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("behaviour: {e}")),
        }
    };
    if let Err(problems) = behaviour.validate() {
        return error(StatusCode::BAD_REQUEST, &problems.join("; "));
    }
    Json(app.registry.set(&name, behaviour).info()).into_response()
}

/// `POST /admin/providers/{name}/reset`: the configured behaviour (default
/// for providers created later) and zeroed counters.
pub(crate) async fn reset(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    match app.registry.reset(&name) {
        Some(p) => Json(p.info()).into_response(),
        None => unknown(&name),
    }
}

/// `POST /admin/reset`: every provider as by its own reset.
pub(crate) async fn reset_all(State(app): State<Arc<App>>) -> Json<BTreeMap<String, ProviderInfo>> {
    let names: Vec<String> = app.registry.all().into_keys().collect();
    Json(
        names
            .iter()
            .filter_map(|name| Some((name.clone(), app.registry.reset(name)?.info())))
            .collect(),
    )
}

/// `GET /admin/providers/{name}/last_request`: the last request the provider received, as
/// `{"path", "headers", "body"}` (credentials left out).
pub(crate) async fn last_request(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Response {
    match app.registry.get(&name).and_then(|p| p.last_request()) {
        Some(r) => Json(r).into_response(),
        None => unknown(&name),
    }
}

/// `GET /admin/vertex/service_account`: the simulated Vertex AI's service-account JSON, its
/// `token_uri` this mock's token endpoint (as the request's `Host` reaches it), for SDKs and
/// gateways started outside this process (a test value: it signs nothing outside the mock).
pub(crate) async fn service_account(headers: HeaderMap) -> Response {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let json = crate::service_account::service_account_json(&format!("http://{host}/token"));
    (StatusCode::OK, [(CONTENT_TYPE, "application/json")], json).into_response()
}

/// `GET /admin/vertex/tokens`: `{"exchanges": N}`, the access tokens the token endpoint issued.
pub(crate) async fn token_exchanges(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(json!({ "exchanges": app.tokens.exchanges() }))
}
