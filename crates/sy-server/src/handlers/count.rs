//! `POST /messages/count_tokens` (SPEC §4.6): `{"input_tokens": N}` for a Messages body, from
//! the first Anthropic-protocol endpoint of the model's plan (the body's `provider` applies) when
//! it answers within a second, else — also on its error — the tokenizer's estimate.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{json, Value};
use sy_api::ApiError;
use sy_dialects::Dialect;

use crate::handlers::dialect::error_response;
use crate::respond::json;
use crate::state::AppState;

/// How long the upstream's count may take before the estimate answers instead.
const UPSTREAM_WAIT: Duration = Duration::from_secs(1);

pub async fn count_tokens(State(state): State<Arc<AppState>>, request: Request) -> Response {
    match count(&state, request).await {
        Ok(r) => r,
        Err(e) => error_response(&sy_dialects::Messages, &e),
    }
}

async fn count(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let snap = state.snapshot.load_full();
    let (parts, body) = request.into_parts();
    crate::auth::caller(state, &snap.config, &parts.headers).await?;
    let bytes = crate::handlers::read_body(body, snap.config.server.max_body_bytes).await?;
    // a count needs no `max_tokens`: the Messages parser is given one so it checks the rest
    let mut v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        o.entry("max_tokens").or_insert(json!(1));
    }
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let req = sy_dialects::Messages.parse(&serde_json::to_vec(&v).unwrap_or_default(), &headers)?;
    let planned = crate::plan::build(state, &snap, &req)?;
    let cfg = &snap.config;
    for a in &planned.plan.attempts {
        let ep = &cfg.models[a.at.model].endpoints[a.at.endpoint];
        let (Some(provider), Some(client)) =
            (cfg.provider(&ep.provider), snap.upstreams.get(&ep.provider))
        else {
            continue;
        };
        let protocol = sy_providers::protocol(provider.api);
        let target = sy_providers::Target {
            provider,
            upstream_model: &ep.upstream_model,
            max_tokens: ep.max_completion_tokens,
            supported: &ep.supported_parameters,
        };
        let Some(call) = protocol.count_tokens(&req, &target) else {
            continue;
        };
        // only the first endpoint that can count is asked
        if let Ok(Ok((200, body))) =
            tokio::time::timeout(UPSTREAM_WAIT, client.exchange(call)).await
        {
            if let Some(n) = protocol.read_count(&body) {
                return Ok(json(&json!({ "input_tokens": n })));
            }
        }
        break;
    }
    let n = sy_providers::estimate_prompt_tokens(&req.conv);
    Ok(json(&json!({ "input_tokens": n })))
}
