//! The `openai` wire protocol: any OpenAI-compatible chat-completions server. A chat request
//! passes through with unknown fields intact (only `model` set, streaming with usage asked for,
//! OpenRouter's `reasoning` as `reasoning_effort`); other dialects are translated from the typed
//! conversation. Answers are decoded chunk by chunk, each kept raw for a chat client.

mod decode;
mod embed;
mod encode;

use sy_api::{EmbedRequest, Family, Request};

use crate::{Auth, Call, Continue, Decode, Embeddings, Protocol, Target};

pub(crate) use decode::{whole_body, ChunkHandler};
pub(crate) use embed::{body as embed_body, read as read_embeddings};
pub(crate) use encode::body;

/// OpenAI-compatible chat completions.
pub struct OpenAi;

impl Protocol for OpenAi {
    fn family(&self, _upstream_model: &str) -> Family {
        Family::Chat
    }

    fn auth(&self) -> Auth {
        Auth::Bearer
    }

    fn encode(
        &self,
        req: &Request,
        target: &Target<'_>,
        cont: Continue<'_>,
    ) -> Result<Call, String> {
        let body = encode::body(req, target, cont.prefill())?;
        Ok(Call {
            method: "POST",
            path: "/chat/completions".to_owned(),
            headers: Vec::new(),
            body,
        })
    }

    fn embed(&self, req: &EmbedRequest, target: &Target<'_>) -> Option<Call> {
        Some(Call {
            method: "POST",
            path: "/embeddings".to_owned(),
            headers: Vec::new(),
            body: embed::body(req, target),
        })
    }

    fn read_embeddings(&self, body: &[u8]) -> Result<Embeddings, String> {
        embed::read(body)
    }

    fn decoder(&self, _target: &Target<'_>, _cont: Continue<'_>, whole: bool) -> Box<dyn Decode> {
        if whole {
            Box::new(crate::sse::WholeDecode::new(decode::whole_body))
        } else {
            Box::new(crate::sse::SseDecode::new(ChunkHandler::default()))
        }
    }
}

#[cfg(test)]
mod tests;
