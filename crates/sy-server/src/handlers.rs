//! Thin axum handlers: extract, call into the core, answer.

pub mod catalog;
pub mod chat;
pub mod explain;
pub mod generation;
pub mod keys;
pub mod ops;

use axum::body::{Body, Bytes};
use sy_api::ApiError;

/// Reads a request body up to `limit` bytes: larger is 413 (SPEC §3 `max_body_bytes`).
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().to_ascii_lowercase().contains("length limit");
        if too_large {
            ApiError::new(
                413,
                format!("request body is larger than max_body_bytes ({limit} bytes)"),
            )
        } else {
            ApiError::bad_request(format!("could not read the request body: {e}"))
        }
    })
}
