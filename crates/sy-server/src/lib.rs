//! The HTTP server: the axum router of SPEC §4, authentication, the handlers, the relay that runs
//! a request's attempts, hot reload, and the in-memory health and generation stores.

mod accounting;
mod affinity;
mod auth;
mod cluster;
mod generations;
mod guard;
mod handlers;
mod health;
mod keys;
mod limits;
mod metrics;
mod plan;
mod relay;
mod reload;
mod respond;
mod state;
mod teams;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use limits::{panics_caught, serve_with_limits, ConnLimits};
pub use metrics::install as install_metrics;
pub use reload::{load_file, reload};
pub use state::{AppState, Clock, ConfigSource, EnvLookup, Snapshot, Storage};

/// The API routes, mounted under both `/api/v1` (OpenRouter's) and `/v1` (OpenAI's).
fn api(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/chat/completions", post(handlers::dialect::chat))
        .route("/messages", post(handlers::dialect::messages))
        .route("/responses", post(handlers::dialect::responses))
        .route("/embeddings", post(handlers::embeddings::embeddings))
        // every path that makes a generation: refused while finished ones cannot be kept
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(state),
            accounting::refuse_when_full,
        ))
        .route(
            "/messages/count_tokens",
            post(handlers::count::count_tokens),
        )
        .route("/models", get(handlers::catalog::models))
        .route("/models/{*rest}", get(handlers::catalog::model_path))
        .route("/model/{*id}", get(handlers::catalog::model))
        .route(
            "/responses/{id}",
            get(handlers::responses::retrieve).delete(handlers::responses::delete),
        )
        .route("/routing/explain", post(handlers::explain::explain))
        .route("/generation", get(handlers::generation::generation))
        .route("/dashboard", get(handlers::dashboard::data))
        .route("/key", get(handlers::keys::current))
        .route(
            "/keys",
            post(handlers::keys::create).get(handlers::keys::list),
        )
        .route(
            "/keys/{id}",
            get(handlers::keys::one)
                .patch(handlers::keys::patch)
                .delete(handlers::keys::delete),
        )
        .route(
            "/teams",
            post(handlers::teams::create).get(handlers::teams::list),
        )
        .route(
            "/teams/{name}",
            get(handlers::teams::one)
                .patch(handlers::teams::patch)
                .delete(handlers::teams::delete),
        )
}

/// The whole router. A panic anywhere inside is answered 500 in the error shape (outermost
/// layer); oversized headers are refused before any handler runs.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .nest("/api/v1", api(&state))
        .nest("/v1", api(&state))
        .route("/health", get(handlers::ops::health))
        .route("/ready", get(handlers::ops::ready))
        .route("/metrics", get(handlers::ops::metrics))
        .route("/", get(handlers::dashboard::page))
        .route("/dashboard/assets/{file}", get(handlers::dashboard::asset))
        .route("/admin/reload", post(handlers::ops::admin_reload))
        .fallback(handlers::ops::not_found)
        .method_not_allowed_fallback(handlers::ops::not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn(limits::header_limit))
        .layer(limits::catch_panics())
}

/// Starts the background upkeep of a serving instance (keys: deleted ones forgotten, charges
/// and revocations Redis did not confirm sent again); it ends with `stop`.
pub fn start_background(state: &Arc<AppState>, stop: tokio_util::sync::CancellationToken) {
    tokio::spawn(keys::maintain(Arc::clone(state), stop));
}

/// The plan for a request body against a config, as `switchyard explain` prints it: the same
/// planner as the explain endpoint, with no health history.
pub fn explain_offline(
    config: sy_config::Config,
    body: &[u8],
) -> Result<serde_json::Value, sy_api::ApiError> {
    let snap = Snapshot::new(config).map_err(|e| sy_api::ApiError::new(500, e))?;
    let state = AppState::new(snap, ConfigSource::Demo, Box::new(|_| None), None);
    let snap = state.snapshot.load_full();
    let req = sy_dialects::Dialect::parse(&sy_dialects::Chat, body, &[])?;
    let planned = plan::build(&state, &snap, &req)?;
    Ok(plan::to_json(&snap, &planned.plan))
}
