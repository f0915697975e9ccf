//! The one place an `ApiError` becomes an HTTP answer (SPEC §4.5), and JSON answers.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sy_api::ApiError;

/// Wrapper giving `ApiError` an `IntoResponse`.
pub struct Failed(pub ApiError);

impl From<ApiError> for Failed {
    fn from(e: ApiError) -> Self {
        Failed(e)
    }
}

impl IntoResponse for Failed {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_GATEWAY);
        if status.is_server_error() {
            tracing::warn!(status = self.0.status, message = %self.0.message, "request failed");
        } else {
            tracing::debug!(status = self.0.status, message = %self.0.message, "request refused");
        }
        json_bytes(status, self.0.to_json())
    }
}

pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub fn json(value: &serde_json::Value) -> Response {
    json_bytes(
        StatusCode::OK,
        serde_json::to_vec(value).unwrap_or_default(),
    )
}
