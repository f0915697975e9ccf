//! The `bedrock` wire protocol: Amazon Bedrock's Converse API. Requests are translated from the
//! typed conversation into a Converse body (`cache_control` marks become `cachePoint` blocks,
//! thinking goes in `additionalModelRequestFields`) and sent to
//! `/model/{upstream_model}/converse-stream`, the model id (or inference profile ARN)
//! percent-encoded as one path segment. The answer is an AWS event stream (binary frames with
//! CRCs, decoded with `aws-smithy-eventstream`); `/converse`'s whole JSON body is read too.
//!
//! Signing is `sy-upstream`'s: SigV4 over the final request with the provider's AWS keys, or a
//! Bedrock API key as Bearer.

mod decode;
mod encode;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sy_api::{EmbedRequest, Family, Request, UpstreamError};

use crate::{Auth, Call, Continue, Decode, Embeddings, Protocol, Target};

/// What botocore leaves unencoded in a path label: the unreserved characters.
const LABEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Amazon Bedrock (Converse).
pub struct Bedrock;

impl Protocol for Bedrock {
    fn family(&self, _upstream_model: &str) -> Family {
        Family::Converse
    }

    fn auth(&self) -> Auth {
        Auth::SigV4 { service: "bedrock" }
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
                "/model/{}/converse-stream",
                utf8_percent_encode(target.upstream_model, LABEL)
            ),
            headers: Vec::new(),
            body: encode::body(&req.conv, target, cont.prefill())?,
        })
    }

    fn decoder(&self, _target: &Target<'_>, _cont: Continue<'_>, whole: bool) -> Box<dyn Decode> {
        if whole {
            Box::new(crate::sse::WholeDecode::new(decode::whole))
        } else {
            Box::new(decode::EventStream::default())
        }
    }

    fn parse_error(&self, status: u16, body: &[u8]) -> UpstreamError {
        decode::parse_error(status, body)
    }

    /// Titan and Cohere embedding models through InvokeModel.
    fn embed(&self, req: &EmbedRequest, target: &Target<'_>) -> Option<Call> {
        Some(Call {
            method: "POST",
            path: format!(
                "/model/{}/invoke",
                utf8_percent_encode(target.upstream_model, LABEL)
            ),
            headers: vec![("accept".to_owned(), "application/json".to_owned())],
            body: crate::cloud_embed::bedrock_body(req, target.upstream_model)?,
        })
    }

    fn read_embeddings(&self, body: &[u8]) -> Result<Embeddings, String> {
        crate::cloud_embed::bedrock_read(body)
    }
}

#[cfg(test)]
mod tests;
