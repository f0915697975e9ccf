//! The `azure` wire protocol: Azure OpenAI. The body is OpenAI's (the `openai` protocol's
//! encoder, usage asked for), addressed to a deployment with `api-version`
//! (`/openai/deployments/{upstream_model}/chat/completions?api-version=...`) or, with
//! `api_version = "v1"` (the default), to `/openai/v1/chat/completions` with the deployment as
//! `model`. The key goes in `api-key`.
//!
//! The stream is OpenAI's with Azure's additions absorbed: the prompt-annotation chunk (empty
//! `choices`, empty `id`), asynchronous filter annotations (a choice without `delta`) and other
//! chunks that carry nothing a chat client could use are dropped whole, so every raw frame kept
//! for pass-through reads like OpenAI's. A `content_filter` finish is a refusal delivered as
//! such; a 400 `content_filter` is a request error (SPEC §4.3).

use serde_json::Value;
use sy_api::{EmbedRequest, Family, Frame, Request};

use crate::openai::ChunkHandler;
use crate::sse::{SseEvent, SseHandler};
use crate::{Auth, Call, Continue, Decode, Embeddings, Protocol, Target};

/// The `api_version` meaning the versionless v1 API.
const V1: &str = "v1";

/// Azure OpenAI.
pub struct Azure;

impl Protocol for Azure {
    fn family(&self, _upstream_model: &str) -> Family {
        Family::Chat
    }

    fn auth(&self) -> Auth {
        Auth::Header("api-key")
    }

    fn encode(
        &self,
        req: &Request,
        target: &Target<'_>,
        cont: Continue<'_>,
    ) -> Result<Call, String> {
        let path = path(target, "chat/completions");
        // the deployment form ignores `model`; the v1 form needs it (the deployment's name)
        Ok(Call {
            method: "POST",
            path,
            headers: Vec::new(),
            body: crate::openai::body(req, target, cont.prefill())?,
        })
    }

    /// OpenAI's embeddings body at the deployment's (or v1's) `/embeddings`.
    fn embed(&self, req: &EmbedRequest, target: &Target<'_>) -> Option<Call> {
        Some(Call {
            method: "POST",
            path: path(target, "embeddings"),
            headers: Vec::new(),
            body: crate::openai::embed_body(req, target),
        })
    }

    fn read_embeddings(&self, body: &[u8]) -> Result<Embeddings, String> {
        crate::openai::read_embeddings(body)
    }

    fn decoder(&self, _target: &Target<'_>, _cont: Continue<'_>, whole: bool) -> Box<dyn Decode> {
        if whole {
            Box::new(crate::sse::WholeDecode::new(crate::openai::whole_body))
        } else {
            Box::new(crate::sse::SseDecode::new(AzureChunks::default()))
        }
    }
}

/// The path of an operation (`chat/completions`, `embeddings`): the deployment form with
/// `api-version`, or the v1 form (the deployment as `model` in the body).
fn path(target: &Target<'_>, operation: &str) -> String {
    let version = target.provider.cloud.api_version.as_deref().unwrap_or(V1);
    if version == V1 {
        format!("/openai/v1/{operation}")
    } else {
        format!(
            "/openai/deployments/{}/{operation}?api-version={}",
            crate::gemini::model_segment(target.upstream_model),
            crate::gemini::model_segment(version)
        )
    }
}

/// OpenAI's chunk handler behind a filter for Azure's chunks that carry nothing for a client.
#[derive(Default)]
struct AzureChunks {
    inner: ChunkHandler,
}

/// Whether a chunk only annotates (content filtering) and says nothing a chat client uses.
fn annotation_only(v: &Value) -> bool {
    let Some(o) = v.as_object() else {
        return false;
    };
    if o.contains_key("error") || o.get("usage").is_some_and(|u| !u.is_null()) {
        return false;
    }
    match o.get("choices").and_then(Value::as_array) {
        // the prompt-annotation chunk (and any other empty one)
        Some(choices) if choices.is_empty() => true,
        // asynchronous filter annotations: choices without a delta and without a finish
        Some(choices) => choices.iter().all(|c| {
            c.get("delta").is_none_or(Value::is_null)
                && c.get("message").is_none()
                && c.get("finish_reason").is_none_or(Value::is_null)
        }),
        None => false,
    }
}

impl SseHandler for AzureChunks {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<Frame>) {
        let data = ev.data.trim();
        if data.starts_with('{') {
            if let Ok(v) = serde_json::from_str::<Value>(data) {
                if annotation_only(&v) {
                    return;
                }
            }
        }
        self.inner.event(ev, out);
    }
}

#[cfg(test)]
mod tests;
