//! What one client can make the gateway spend, and what happens when code fails under it: a
//! panic in a request is caught and answered 500 in the SPEC §4.5 shape, request headers and
//! bodies are bounded in size and time, and (in `listen`) connections are bounded in number and
//! in the time their headers may take.

mod listen;

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;
use sy_api::ApiError;
use tower_http::catch_panic::CatchPanicLayer;

use crate::respond::json_bytes;

pub use listen::{serve_with_limits, ConnLimits};

/// How long a client may take to send its whole request body once its headers are in. Long
/// enough for `max_body_bytes` over a slow link; a client that stalls is answered 408 and its
/// connection closed, and only its own task ever waited.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The most header bytes (request target, names and values) a request may carry: 431 beyond.
/// hyper's own read buffer (about 400 KiB) bounds what is read before this is checked.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

static PANICS: AtomicU64 = AtomicU64::new(0);

/// Panics caught in request handling since the process started.
pub fn panics_caught() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// The layer that turns a panic in a handler (or a middleware inside it) into a logged, counted
/// 500 in the error shape, instead of a connection closed without an answer.
pub(crate) fn catch_panics() -> CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    CatchPanicLayer::custom(panic_response as fn(Box<dyn Any + Send + 'static>) -> Response)
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let count = PANICS.fetch_add(1, Ordering::Relaxed) + 1;
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(a panic without a message)");
    // the panic's text goes to the log only: it may quote request data or internals
    tracing::error!(panic = %what, panics_caught = count, "a request handler panicked; answered 500");
    let e = ApiError::new(
        500,
        "internal error: the gateway failed while handling this request",
    );
    json_bytes(StatusCode::INTERNAL_SERVER_ERROR, e.to_json())
}

/// Middleware: a request whose target and headers exceed [`MAX_HEADER_BYTES`] gets 431.
pub(crate) async fn header_limit(request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    // ": " and CRLF per header, as on the wire
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if target + headers > MAX_HEADER_BYTES {
        let e = ApiError::new(
            431,
            format!("request headers are larger than {MAX_HEADER_BYTES} bytes"),
        )
        .with("limit_bytes", Value::from(MAX_HEADER_BYTES));
        return json_bytes(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, e.to_json());
    }
    next.run(request).await
}

/// Reads a request body of at most `limit` bytes within `deadline`: larger is 413 (at once when
/// `Content-Length` says so), slower is 408, a broken body is 400.
pub(crate) async fn read_body_within(
    body: Body,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, ApiError> {
    let announced = body.size_hint().lower();
    if usize::try_from(announced).map_or(true, |n| n > limit) {
        return Err(too_large(limit));
    }
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(ApiError::new(
            408,
            format!(
                "the request body did not arrive within {} s",
                deadline.as_secs_f64()
            ),
        )),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().to_ascii_lowercase().contains("length limit");
            if too_big {
                Err(too_large(limit))
            } else {
                Err(ApiError::bad_request(format!(
                    "could not read the request body: {e}"
                )))
            }
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        413,
        format!("request body is larger than max_body_bytes ({limit} bytes)"),
    )
    .with("limit_bytes", Value::from(limit))
}

#[cfg(test)]
mod tests;
