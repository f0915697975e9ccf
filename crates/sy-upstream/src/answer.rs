//! One attempt's answer, read as it arrives: the body's bytes go through the protocol's
//! decoder, typed frames come out.

use std::collections::VecDeque;
use std::sync::Arc;

use sy_api::{Event, Frame};
use sy_providers::Decode;
use sy_routing::FailureKind;

use crate::client::transport_failure;
use crate::redact::redact;

/// An upstream answer in progress.
pub struct Answer {
    /// When a rate-limit header said nothing remains: seconds until its reset (SPEC §7).
    pub rate_limit_reset_s: Option<f64>,
    resp: Option<reqwest::Response>,
    decoder: Box<dyn Decode>,
    pending: VecDeque<Frame>,
    /// Malformed events skipped so far.
    pub malformed: u32,
    secrets: Arc<[String]>,
}

impl Answer {
    pub(crate) fn new(
        resp: reqwest::Response,
        decoder: Box<dyn Decode>,
        secrets: Arc<[String]>,
        rate_limit_reset_s: Option<f64>,
    ) -> Self {
        Self {
            rate_limit_reset_s,
            resp: Some(resp),
            decoder,
            pending: VecDeque::new(),
            malformed: 0,
            secrets,
        }
    }

    /// The next frame; `None` when the upstream ended its answer (cleanly or not).
    pub async fn next(&mut self) -> Option<Result<Frame, FailureKind>> {
        let mut out = Vec::new();
        loop {
            if let Some(mut f) = self.pending.pop_front() {
                for e in &mut f.events {
                    match e {
                        Event::Malformed => self.malformed += 1,
                        Event::Error(err) => err.message = redact(&err.message, &self.secrets),
                        _ => {}
                    }
                }
                return Some(Ok(f));
            }
            let resp = self.resp.as_mut()?;
            match resp.chunk().await {
                Ok(Some(bytes)) => {
                    if let Err(e) = self.decoder.feed(&bytes, &mut out) {
                        self.resp = None;
                        return Some(Err(FailureKind::Unparsable(e)));
                    }
                }
                Ok(None) => {
                    self.resp = None;
                    if let Err(e) = self.decoder.end(&mut out) {
                        return Some(Err(FailureKind::Unparsable(e)));
                    }
                }
                Err(e) => {
                    self.resp = None;
                    return Some(Err(transport_failure(&e)));
                }
            }
            self.pending.extend(out.drain(..));
        }
    }

    /// The answer is complete: read what is left of the body (the chunked terminator, usually
    /// already in the buffer) in the background, so the connection goes back to the pool instead
    /// of being closed — a new TCP connection per request otherwise.
    pub fn release(&mut self) {
        if let Some(mut resp) = self.resp.take() {
            tokio::spawn(async move {
                let _ = tokio::time::timeout(DRAIN, async {
                    while let Ok(Some(_)) = resp.chunk().await {}
                })
                .await;
            });
        }
    }
}

/// How long the rest of a finished answer's body may take to end before its connection is given up.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(1);
