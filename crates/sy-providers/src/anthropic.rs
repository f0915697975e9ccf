//! The `anthropic` wire protocol (Messages API). A Messages request passes through as sent (only
//! `model` replaced, the client's `anthropic-version` and `anthropic-beta` kept); other dialects
//! are translated from the typed conversation. The event stream is decoded into typed events,
//! each frame kept raw for a Messages client; a whole `message` body becomes the stream it
//! stands for.

mod body;
pub(crate) mod encode;
mod messages;
mod stream;

use sy_api::{Family, Request};

use crate::{Auth, Call, Continue, Decode, Protocol, Target};

pub(crate) use stream::EventHandler;

/// Anthropic's Messages API.
pub struct Anthropic;

impl Protocol for Anthropic {
    fn family(&self, _upstream_model: &str) -> Family {
        Family::Messages
    }

    fn auth(&self) -> Auth {
        Auth::Header("x-api-key")
    }

    fn unsupported(&self, req: &Request, _target: &Target<'_>) -> Option<String> {
        if req.family == Family::Chat
            && req
                .body
                .get("n")
                .and_then(serde_json::Value::as_u64)
                .is_some_and(|n| n > 1)
        {
            return Some("`n` above 1: the anthropic protocol gives one choice".to_owned());
        }
        None
    }

    fn encode(
        &self,
        req: &Request,
        target: &Target<'_>,
        cont: Continue<'_>,
    ) -> Result<Call, String> {
        let body = encode::body(req, target, cont.prefill())?;
        let mut headers = vec![("anthropic-version".to_owned(), encode::VERSION.to_owned())];
        if req.family == Family::Messages {
            for (k, v) in &req.headers {
                match headers.iter_mut().find(|(h, _)| h == k) {
                    Some(h) => h.1.clone_from(v),
                    None => headers.push((k.clone(), v.clone())),
                }
            }
        }
        Ok(Call {
            method: "POST",
            path: "/messages".to_owned(),
            headers,
            body: serde_json::to_vec(&body).map_err(|e| e.to_string())?,
        })
    }

    /// `POST /messages/count_tokens` with the fields it takes (SPEC §4.6).
    fn count_tokens(&self, req: &Request, target: &Target<'_>) -> Option<Call> {
        let mut call = self.encode(req, target, Continue::Fresh).ok()?;
        let mut body: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&call.body).ok()?;
        body.retain(|k, _| {
            matches!(
                k.as_str(),
                "model"
                    | "messages"
                    | "system"
                    | "tools"
                    | "tool_choice"
                    | "thinking"
                    | "mcp_servers"
            )
        });
        call.body = serde_json::to_vec(&body).ok()?;
        call.path = "/messages/count_tokens".to_owned();
        Some(call)
    }

    fn read_count(&self, body: &[u8]) -> Option<u64> {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()?
            .get("input_tokens")?
            .as_u64()
    }

    fn decoder(&self, _target: &Target<'_>, cont: Continue<'_>, whole: bool) -> Box<dyn Decode> {
        let handler = EventHandler::resuming(cont.prefill());
        if whole {
            let mut h = handler;
            Box::new(crate::sse::WholeDecode::new(
                move |b: &[u8], out: &mut Vec<sy_api::Frame>| body::whole(b, &mut h, out),
            ))
        } else {
            Box::new(crate::sse::SseDecode::new(handler))
        }
    }
}

#[cfg(test)]
mod tests;
