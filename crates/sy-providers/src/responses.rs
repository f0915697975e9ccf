//! The `openai-responses` wire protocol (SPEC §5, §4.7): `POST {base_url}/responses`. A
//! Responses request passes through as sent (only `model` replaced, streaming turned on; stored
//! reasoning items go only to the provider that issued their `encrypted_content`); other dialects
//! are translated from the typed conversation into `input` items. Answers are the semantic event
//! stream (or one `response` object), read into typed events.

mod decode;
mod encode;

use sy_api::{Family, Request};

use crate::{Auth, Call, Continue, Decode, Protocol, Target};

/// OpenAI's Responses API.
pub struct OpenAiResponses;

impl Protocol for OpenAiResponses {
    fn family(&self, _upstream_model: &str) -> Family {
        Family::Responses
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
        Ok(Call {
            method: "POST",
            path: "/responses".to_owned(),
            headers: Vec::new(),
            body: encode::body(req, target, cont.prefill())?,
        })
    }

    fn decoder(&self, _target: &Target<'_>, _cont: Continue<'_>, whole: bool) -> Box<dyn Decode> {
        if whole {
            Box::new(crate::sse::WholeDecode::new(decode::whole_body))
        } else {
            Box::new(crate::sse::SseDecode::new(decode::EventHandler::default()))
        }
    }
}

#[cfg(test)]
mod tests;
