//! One attempt's answer, decoded into pieces as it arrives.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use sy_config::Api;
use sy_providers::{Decoder, Piece};
use sy_routing::FailureKind;

use crate::headers::{rate_limit_reset_s, retry_after_s};
use crate::redact::redact;

/// Error bodies are read up to this size; the rest is not needed to classify them.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A whole (non-streamed) answer larger than this is refused as unparsable.
const MAX_WHOLE_BODY: usize = 32 * 1024 * 1024;

type EventStream =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// An upstream answer in progress.
pub struct Attempt {
    /// When a rate-limit header said nothing remains: seconds until its reset (SPEC §7).
    pub rate_limit_reset_s: Option<f64>,
    events: Option<EventStream>,
    decoder: Decoder,
    pending: VecDeque<Piece>,
    /// Malformed events skipped so far.
    pub malformed: u32,
    secrets: Arc<[String]>,
}

impl Attempt {
    pub(crate) async fn start(
        api: Api,
        resp: reqwest::Response,
        secrets: Arc<[String]>,
        prefill: Option<&str>,
    ) -> Result<Self, FailureKind> {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        if !(200..300).contains(&status) {
            let body = read_capped(resp, MAX_ERROR_BODY).await.unwrap_or_default();
            let e = sy_providers::parse_error(api, status, &body);
            return Err(FailureKind::Status {
                status,
                message: redact(&e.message, &secrets),
                code: e.code,
                kind: e.kind,
                retry_after_s: retry_after_s(&headers),
            });
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut attempt = Attempt {
            rate_limit_reset_s: rate_limit_reset_s(&headers, now),
            events: None,
            decoder: Decoder::resuming(api, prefill),
            pending: VecDeque::new(),
            malformed: 0,
            secrets,
        };
        let ctype = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if ctype.contains("json") {
            // the upstream ignored `stream: true`: a whole answer (absorbed, SPEC §4.3 quirks)
            let body = read_capped(resp, MAX_WHOLE_BODY)
                .await
                .map_err(FailureKind::Io)?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(FailureKind::Empty);
            }
            let mut out = Vec::new();
            sy_providers::decode_body(api, &body, &mut out).map_err(FailureKind::Unparsable)?;
            attempt.pending.extend(out);
        } else {
            attempt.events = Some(Box::pin(resp.bytes_stream().eventsource()));
        }
        Ok(attempt)
    }

    /// The next piece; `None` when the upstream ended its answer (cleanly or not).
    pub async fn next(&mut self) -> Option<Result<Piece, FailureKind>> {
        loop {
            if let Some(p) = self.pending.pop_front() {
                match p {
                    Piece::Malformed => self.malformed += 1,
                    Piece::Error(mut e) => {
                        e.message = redact(&e.message, &self.secrets);
                        return Some(Ok(Piece::Error(e)));
                    }
                    Piece::Done => {
                        self.release();
                        return Some(Ok(Piece::Done));
                    }
                    p => return Some(Ok(p)),
                }
                continue;
            }
            let events = self.events.as_mut()?;
            match events.next().await {
                None => {
                    self.events = None;
                    return None;
                }
                Some(Err(EventStreamError::Transport(e))) => {
                    self.events = None;
                    return Some(Err(crate::client::transport_failure(&e)));
                }
                Some(Err(_)) => self.malformed += 1,
                Some(Ok(ev)) => {
                    let mut out = Vec::new();
                    self.decoder.event(&ev.event, &ev.data, &mut out);
                    self.pending.extend(out);
                }
            }
        }
    }
}

/// How long the rest of a finished answer's body may take to end before its connection is given up.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(1);

impl Attempt {
    /// The answer is complete: read what is left of the body (the chunked terminator, usually
    /// already in the buffer) in the background, so the connection goes back to the pool instead
    /// of being closed — a new TCP connection per request otherwise.
    pub fn release(&mut self) {
        if let Some(mut events) = self.events.take() {
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(DRAIN, async { while events.next().await.is_some() {} })
                        .await;
            });
        }
    }
}

async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| crate::client::transport_failure(&e))
        .map_err(|f| format!("{f:?}"))?
    {
        if buf.len() + chunk.len() > cap {
            buf.extend_from_slice(&chunk[..cap - buf.len()]);
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}
