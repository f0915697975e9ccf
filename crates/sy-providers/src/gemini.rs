//! The `gemini` wire protocol: Google AI Studio's `generateContent` (also Gemini on Vertex AI,
//! which takes the same body). Requests are translated from the typed conversation (no inbound
//! dialect speaks Gemini, but a Gemini body would pass through); answers are the SSE stream of
//! `?alt=sse`, every event a whole `GenerateContentResponse` holding only the new parts.
//!
//! Gemini gives function calls no ids: the decoder mints them and the encoder maps a tool result
//! back to its function's name through the conversation's earlier tool call of that id.

mod decode;
mod encode;

use sy_api::{EmbedRequest, Family, Request, UpstreamError};

use crate::{Auth, Call, Continue, Decode, Embeddings, Protocol, Target};

pub(crate) use decode::{parse_google_error, ResponseHandler};
pub(crate) use encode::body;

/// Google AI Studio's Gemini API.
pub struct Gemini;

impl Protocol for Gemini {
    fn family(&self, _upstream_model: &str) -> Family {
        Family::Gemini
    }

    fn auth(&self) -> Auth {
        // a header, not `?key=`: a URL can end up in a log, a header is marked sensitive
        Auth::Header("x-goog-api-key")
    }

    fn encode(
        &self,
        req: &Request,
        target: &Target<'_>,
        cont: Continue<'_>,
    ) -> Result<Call, String> {
        Ok(Call {
            method: "POST",
            path: format!(
                "/models/{}:streamGenerateContent?alt=sse",
                model_segment(target.upstream_model)
            ),
            headers: Vec::new(),
            body: body(req, target, cont.prefill())?,
        })
    }

    fn decoder(&self, _target: &Target<'_>, _cont: Continue<'_>, whole: bool) -> Box<dyn Decode> {
        decoder(whole)
    }

    fn parse_error(&self, status: u16, body: &[u8]) -> UpstreamError {
        parse_google_error(status, body)
    }

    fn embed(&self, req: &EmbedRequest, target: &Target<'_>) -> Option<Call> {
        Some(Call {
            method: "POST",
            path: format!(
                "/models/{}:batchEmbedContents",
                model_segment(target.upstream_model)
            ),
            headers: Vec::new(),
            body: crate::cloud_embed::gemini_body(req, target.upstream_model)?,
        })
    }

    fn read_embeddings(&self, body: &[u8]) -> Result<Embeddings, String> {
        crate::cloud_embed::gemini_read(body)
    }
}

/// A decoder for a Gemini answer: SSE, or (an upstream that ignored `alt=sse`) one JSON
/// response or an array of them.
pub(crate) fn decoder(whole: bool) -> Box<dyn Decode> {
    if whole {
        let mut h = ResponseHandler::default();
        Box::new(crate::sse::WholeDecode::new(
            move |b: &[u8], out: &mut Vec<sy_api::Frame>| decode::whole(b, &mut h, out),
        ))
    } else {
        Box::new(crate::sse::SseDecode::new(ResponseHandler::default()))
    }
}

/// A model id as a path segment: Google's ids (`gemini-2.5-flash`, `models/...` stripped) need
/// no escaping, but a configured id with reserved characters must not change the path.
pub(crate) fn model_segment(model: &str) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    let mut out = String::with_capacity(model.len());
    for b in model.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
