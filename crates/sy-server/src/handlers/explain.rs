//! `POST /routing/explain`: the plan a chat body would get, calling no upstream (SPEC §4) —
//! for a user key, under its guardrails (a model or provider outside them is the same 403).

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
    let caller = crate::auth::caller(&state, &snap.config, &parts.headers).await?;
    let bytes = crate::handlers::read_body(body, snap.config.server.max_body_bytes).await?;
    let mut req = sy_dialects::Dialect::parse(&sy_dialects::Chat, &bytes, &[])?;
    let guard = caller.key().map(|k| k.guard());
    if let Some(g) = &guard {
        crate::plan::hold(&mut req, g, &snap.config)?;
    }
    let mut planned = crate::plan::build(&state, &snap, &req)?;
    if let Some(g) = &guard {
        crate::plan::exclude_outside(&snap, g, &mut planned.plan);
    }
    Ok(json(&crate::plan::to_json(&snap, &planned.plan)))
}
