//! Thin axum handlers: extract, call into the core, answer.

pub mod catalog;
pub mod count;
pub mod dashboard;
pub mod dialect;
pub mod embeddings;
pub mod explain;
pub mod generation;
pub mod keys;
pub mod ops;
pub mod responses;
pub mod teams;
pub mod views;

use axum::body::{Body, Bytes};
use sy_api::ApiError;

/// Reads a request body up to `limit` bytes: larger is 413 (SPEC §3 `max_body_bytes`), slower
/// than `limits::BODY_READ_TIMEOUT` is 408.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    crate::limits::read_body_within(body, limit, crate::limits::BODY_READ_TIMEOUT).await
}

/// The body of a key- or team-management call (64 KiB at most), once the caller is known to
/// hold the master key (or the gateway is open).
pub async fn admin_body(
    state: &crate::state::AppState,
    request: axum::extract::Request,
) -> Result<Bytes, ApiError> {
    let snap = state.snapshot.load_full();
    let (parts, body) = request.into_parts();
    crate::auth::admin(state, &snap.config, &parts.headers).await?;
    read_body(body, 64 * 1024).await
}
