//! The `vertex` wire protocol: Google Vertex AI, addressed as
//! `/v1/projects/{project}/locations/{region}/publishers/{publisher}/models/{model}:{method}`
//! with `upstream_model = "publisher/model"`. Claude (`anthropic/...`) is the Messages API
//! through `:streamRawPredict` — the Anthropic body without `model`, with
//! `anthropic_version = "vertex-2023-10-16"`, so the Messages family passes through (SPEC §4.6);
//! Gemini (`google/...`) is `generateContent` through `:streamGenerateContent?alt=sse`.
//! The access token (from the provider's service account) is `sy-upstream`'s.

use serde_json::Value;
use sy_api::{EmbedRequest, Family, Request, UpstreamError};

use crate::anthropic::EventHandler;
use crate::{Auth, Call, Continue, Decode, Embeddings, Protocol, Target};

/// The Messages version Vertex documents for Claude.
const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// Google Vertex AI.
pub struct Vertex;

/// `(publisher, model)` of an upstream model; a bare id is Google's.
fn split(upstream_model: &str) -> (&str, &str) {
    upstream_model
        .split_once('/')
        .unwrap_or(("google", upstream_model))
}

impl Protocol for Vertex {
    fn family(&self, upstream_model: &str) -> Family {
        match split(upstream_model).0 {
            "anthropic" => Family::Messages,
            _ => Family::Gemini,
        }
    }

    fn auth(&self) -> Auth {
        Auth::GoogleServiceAccount
    }

    fn unsupported(&self, req: &Request, target: &Target<'_>) -> Option<String> {
        let (publisher, _) = split(target.upstream_model);
        if publisher == "anthropic" {
            return crate::anthropic::Anthropic.unsupported(req, target);
        }
        None
    }

    fn encode(
        &self,
        req: &Request,
        target: &Target<'_>,
        cont: Continue<'_>,
    ) -> Result<Call, String> {
        let (publisher, _) = split(target.upstream_model);
        let base = model_path(target);
        if publisher != "anthropic" {
            return Ok(Call {
                method: "POST",
                path: format!("{base}:streamGenerateContent?alt=sse"),
                headers: Vec::new(),
                body: crate::gemini::body(req, target, cont.prefill())?,
            });
        }
        let mut body = crate::anthropic::encode::body(req, target, cont.prefill())?;
        if let Some(o) = body.as_object_mut() {
            o.remove("model");
            o.insert(
                "anthropic_version".to_owned(),
                Value::from(ANTHROPIC_VERSION),
            );
        }
        // betas go as the header, as Google's and Anthropic's SDKs send them; the version is
        // in the body
        let headers = if req.family == Family::Messages {
            req.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("anthropic-beta"))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        Ok(Call {
            method: "POST",
            path: format!("{base}:streamRawPredict"),
            headers,
            body: serde_json::to_vec(&body).map_err(|e| e.to_string())?,
        })
    }

    fn decoder(&self, target: &Target<'_>, cont: Continue<'_>, whole: bool) -> Box<dyn Decode> {
        if split(target.upstream_model).0 != "anthropic" {
            return crate::gemini::decoder(whole);
        }
        let handler = EventHandler::resuming(cont.prefill());
        if whole {
            crate::anthropic::Anthropic.decoder(target, cont, true)
        } else {
            Box::new(crate::sse::SseDecode::new(handler))
        }
    }

    fn parse_error(&self, status: u16, body: &[u8]) -> UpstreamError {
        // Google's shape (quota, auth), else Anthropic's (the model's own errors)
        crate::gemini::parse_google_error(status, body)
    }

    /// Google's embedding models (`google/text-embedding-005`, `google/gemini-embedding-001`)
    /// through `:predict`.
    fn embed(&self, req: &EmbedRequest, target: &Target<'_>) -> Option<Call> {
        if split(target.upstream_model).0 != "google" {
            return None;
        }
        Some(Call {
            method: "POST",
            path: format!("{}:predict", model_path(target)),
            headers: Vec::new(),
            body: crate::cloud_embed::vertex_body(req)?,
        })
    }

    fn read_embeddings(&self, body: &[u8]) -> Result<Embeddings, String> {
        crate::cloud_embed::vertex_read(body)
    }
}

/// `/v1/projects/{project}/locations/{region}/publishers/{publisher}/models/{model}`.
fn model_path(target: &Target<'_>) -> String {
    let c = &target.provider.cloud;
    let (publisher, model) = split(target.upstream_model);
    format!(
        "/v1/projects/{}/locations/{}/publishers/{}/models/{}",
        c.project.as_deref().unwrap_or_default(),
        c.region.as_deref().unwrap_or_default(),
        crate::gemini::model_segment(publisher),
        crate::gemini::model_segment(model)
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sy_config::Api;
    use sy_dialects::Dialect;

    use super::*;
    use crate::testing::{provider, target};

    #[test]
    fn claude_and_gemini_on_vertex() {
        let mut p = provider(Api::Vertex);
        p.cloud.project = Some("proj".to_owned());
        p.cloud.region = Some("us-east5".to_owned());
        let req = sy_dialects::Messages
            .parse(
                json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
                       "x_extra": 1})
                .to_string()
                .as_bytes(),
                &[("anthropic-beta", "context-1m-2025-08-07")],
            )
            .unwrap();
        let t = Target {
            upstream_model: "anthropic/claude-sonnet-4@20250514",
            ..target(&p)
        };
        assert_eq!(Vertex.family(t.upstream_model), Family::Messages);
        let call = Vertex.encode(&req, &t, Continue::Fresh).unwrap();
        assert_eq!(
            call.path,
            "/v1/projects/proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict"
        );
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body.get("model"), None);
        assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
        assert_eq!(body["x_extra"], 1, "the Messages body passes through");
        assert_eq!(call.headers.len(), 1);
        let t = Target {
            upstream_model: "google/gemini-2.5-flash",
            ..target(&p)
        };
        assert_eq!(Vertex.family(t.upstream_model), Family::Gemini);
        let call = Vertex.encode(&req, &t, Continue::Fresh).unwrap();
        assert!(call
            .path
            .ends_with("/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"));
        let e = Vertex.parse_error(429, br#"[{"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com","status":"RESOURCE_EXHAUSTED"}}]"#);
        assert_eq!(e.kind.as_deref(), Some("RESOURCE_EXHAUSTED"));
        let e = Vertex.parse_error(400, br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long"}}"#);
        assert_eq!(e.message, "prompt is too long");
    }
}
