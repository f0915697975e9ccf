//! `POST /routing/explain`: the plan a chat body would get, calling no upstream (SPEC §4).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;

use crate::respond::{json, Failed};
use crate::state::AppState;

pub async fn explain(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load_full();
    let (parts, body) = request.into_parts();
    crate::auth::caller(&state, &snap.config, &parts.headers).await?;
    let bytes = crate::handlers::read_body(body, snap.config.server.max_body_bytes).await?;
    let req = sy_dialects::Dialect::parse(&sy_dialects::Chat, &bytes, &[])?;
    let planned = crate::plan::build(&state, &snap, &req)?;
    Ok(json(&crate::plan::to_json(&snap, &planned.plan)))
}
