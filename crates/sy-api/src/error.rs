//! The one error shape every answer uses: `{"error": {"code", "message", "metadata"}}` (SPEC §4.5).

use serde::Serialize;
use serde_json::{Map, Value};

/// An error on its way to the client: the HTTP status, a message and structured metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub metadata: Map<String, Value>,
    /// An upstream's own error body and its wire family: a client of that family gets it
    /// unchanged (SPEC §4.6: Claude Code reads Anthropic's error bodies).
    pub native: Option<(crate::Family, String)>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            metadata: Map::new(),
            native: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    #[must_use]
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.metadata.insert(key.to_owned(), value);
        self
    }

    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: Inner {
                code: self.status,
                message: &self.message,
                metadata: &self.metadata,
            },
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body()).unwrap_or_else(|_| {
            b"{\"error\":{\"code\":500,\"message\":\"error\",\"metadata\":{}}}".to_vec()
        })
    }
}

/// Serialisable view of an [`ApiError`].
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    error: Inner<'a>,
}

#[derive(Debug, Serialize)]
struct Inner<'a> {
    code: u16,
    message: &'a str,
    metadata: &'a Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shape() {
        let e =
            ApiError::bad_request("`messages` is required").with("field", Value::from("messages"));
        let v: Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(v["error"]["code"], 400);
        assert_eq!(v["error"]["message"], "`messages` is required");
        assert_eq!(v["error"]["metadata"]["field"], "messages");
    }
}
