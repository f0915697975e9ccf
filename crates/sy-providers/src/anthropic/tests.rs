//! Golden tests: recorded Anthropic SSE captures and message bodies in, events out (one per
//! line); chat and Messages requests in, Messages bodies out.

mod events;
mod message;
mod request;

use sy_api::Frame;
use sy_config::Api;

use super::*;
use crate::testing::{assert_golden, provider, render, target};

/// A capture through the stream decoder (resuming after `prefill` when given).
fn stream(capture: &str, prefill: Option<&str>) -> Vec<Frame> {
    let p = provider(Api::Anthropic);
    let cont = prefill.map_or(Continue::Fresh, Continue::Prefill);
    let mut d = Anthropic.decoder(&target(&p), cont, false);
    let mut out = Vec::new();
    for piece in capture.as_bytes().chunks(5) {
        d.feed(piece, &mut out).expect("framing");
    }
    d.end(&mut out).expect("end");
    out
}

/// A whole body through the whole-answer decoder.
fn whole(body: &str) -> Result<Vec<Frame>, String> {
    crate::testing::decode(&Anthropic, Api::Anthropic, body, true)
}
