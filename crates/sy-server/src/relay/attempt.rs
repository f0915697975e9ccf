//! One attempt, in two phases: `open` sends and reads until the first content (holding what came
//! before it, so a hedge race or a failover leaves no trace with the client), then `finish`
//! writes it and the rest of the answer to the output under the stream-idle timeout. The phase
//! timeouts of SPEC §4.3 (first token, stream idle, whole request) apply throughout.

use std::collections::VecDeque;
use std::time::Duration;

use sy_providers::{ChunkFacts, Encoded, Piece, UpstreamUsage};
use sy_routing::FailureKind;
use sy_upstream::{Attempt, ProviderClient};
use tokio::time::{timeout_at, Instant};

use super::output::{ChunkResult, Mode, Out};

pub struct Timeouts {
    pub first_token: Duration,
    pub idle: Duration,
    pub request_deadline: Instant,
}

/// What one attempt did.
pub struct Report {
    /// The finish reason, or what went wrong.
    pub result: Result<String, FailureKind>,
    pub started: Instant,
    pub first_content: Option<Instant>,
    pub ended: Instant,
    /// Text this attempt generated (choice 0), for usage estimates.
    pub text: String,
    /// Tool-call argument text it generated, for usage estimates.
    pub tool_text: String,
    pub usage: Option<UpstreamUsage>,
    /// Seconds until a rate-limit reset the upstream advertised with 0 remaining.
    pub rate_limit_reset_s: Option<f64>,
    /// The client went away.
    pub gone: bool,
}

impl Report {
    fn new(started: Instant) -> Self {
        Report {
            result: Err(FailureKind::Empty),
            started,
            first_content: None,
            ended: started,
            text: String::new(),
            tool_text: String::new(),
            usage: None,
            rate_limit_reset_s: None,
            gone: false,
        }
    }

    pub fn got_content(&self) -> bool {
        self.first_content.is_some()
    }

    fn fail(mut self, kind: FailureKind) -> Self {
        self.result = Err(kind);
        self.ended = Instant::now();
        self
    }
}

pub struct Labels<'a> {
    pub model: &'a str,
    pub provider: &'a str,
    pub attempts: usize,
}

/// An attempt whose first content (or finish) has arrived and not yet been written.
pub struct Opened {
    attempt: Attempt,
    held: VecDeque<Piece>,
    pub rep: Report,
}

fn first_token_failure(deadline: Instant, t: &Timeouts) -> FailureKind {
    if deadline >= t.request_deadline {
        FailureKind::RequestTimeout
    } else {
        FailureKind::FirstTokenTimeout
    }
}

/// Phase one: send, then read until the first content-bearing chunk. `Err` carries the report
/// of an attempt that failed before producing any content.
pub async fn open(
    client: &ProviderClient,
    enc: Encoded,
    prefill: Option<&str>,
    t: &Timeouts,
) -> Result<Opened, Report> {
    let rep = Report::new(Instant::now());
    let first_deadline = (rep.started + t.first_token).min(t.request_deadline);
    let mut attempt = match timeout_at(first_deadline, client.send(enc, prefill)).await {
        Err(_) => return Err(rep.fail(first_token_failure(first_deadline, t))),
        Ok(Err(kind)) => return Err(rep.fail(kind)),
        Ok(Ok(a)) => a,
    };
    let mut rep = rep;
    rep.rate_limit_reset_s = attempt.rate_limit_reset_s;
    let mut held = VecDeque::new();
    loop {
        let next = match timeout_at(first_deadline, attempt.next()).await {
            Err(_) => return Err(rep.fail(first_token_failure(first_deadline, t))),
            Ok(n) => n,
        };
        match next {
            None if attempt.malformed > 0 => {
                return Err(rep.fail(FailureKind::Unparsable(
                    "no valid event in the stream".to_owned(),
                )))
            }
            None | Some(Ok(Piece::Done)) => return Err(rep.fail(FailureKind::Empty)),
            Some(Err(kind)) => return Err(rep.fail(kind)),
            Some(Ok(Piece::Error(e))) => return Err(rep.fail(FailureKind::InBand(e.message))),
            Some(Ok(Piece::Malformed)) => {}
            Some(Ok(Piece::Usage(u))) => held.push_back(Piece::Usage(u)),
            Some(Ok(Piece::Chunk(chunk))) => {
                let facts = ChunkFacts::of(&chunk);
                held.push_back(Piece::Chunk(chunk));
                if facts.content || facts.finish_reason.is_some() {
                    rep.first_content = Some(Instant::now());
                    return Ok(Opened { attempt, held, rep });
                }
            }
        }
    }
}

/// Phase two: writes the held pieces and the rest of the answer to `out`.
pub async fn finish(
    opened: Opened,
    out: &mut Out,
    mode: &mut Mode,
    labels: &Labels<'_>,
    t: &Timeouts,
) -> Report {
    let Opened {
        mut attempt,
        mut held,
        mut rep,
    } = opened;
    let mut finish: Option<String> = None;
    rep.result = loop {
        let next = if let Some(p) = held.pop_front() {
            Some(Ok(p))
        } else {
            let deadline = (Instant::now() + t.idle).min(t.request_deadline);
            match timeout_at(deadline, attempt.next()).await {
                // finished, then silence instead of [DONE]: the answer is complete
                Err(_) if finish.is_some() => break Ok(finish.take().unwrap_or_default()),
                Err(_) if deadline >= t.request_deadline => break Err(FailureKind::RequestTimeout),
                Err(_) => break Err(FailureKind::IdleTimeout),
                Ok(n) => n,
            }
        };
        match next {
            None => break finish.take().ok_or(FailureKind::Cut),
            // a finished answer is complete, whatever the connection does afterwards
            Some(Err(_) | Ok(Piece::Error(_))) if finish.is_some() => {
                break Ok(finish.take().unwrap_or_default())
            }
            Some(Err(kind)) => break Err(kind),
            Some(Ok(Piece::Error(e))) => break Err(FailureKind::InBand(e.message)),
            // [DONE] after content without a finish_reason is still an explicit, clean end
            Some(Ok(Piece::Done)) => break Ok(finish.take().unwrap_or_else(|| "stop".to_owned())),
            Some(Ok(Piece::Malformed)) => {}
            Some(Ok(Piece::Usage(u))) => {
                rep.usage = Some(u);
                if let Some(f) = finish.take() {
                    break Ok(f); // finish reason and usage: nothing else is coming that matters
                }
            }
            Some(Ok(Piece::Chunk(chunk))) => {
                let facts = ChunkFacts::of(&chunk);
                rep.text.push_str(&facts.text);
                if facts.tool_calls {
                    collect_tool_text(&chunk, &mut rep.tool_text);
                }
                match out
                    .chunk(chunk, mode, labels.model, labels.provider, labels.attempts)
                    .await
                {
                    ChunkResult::Ok => {}
                    ChunkResult::Diverged => break Err(FailureKind::Diverged),
                    ChunkResult::Gone => {
                        rep.gone = true;
                        break Err(FailureKind::Io("client went away".to_owned()));
                    }
                }
                if let Some(f) = facts.finish_reason {
                    finish = Some(f);
                }
            }
        }
    };
    if rep.result.is_ok() {
        attempt.release(); // what is left of the body (e.g. `[DONE]`) drains, the connection is reused
    }
    rep.ended = Instant::now();
    rep
}

/// Both phases, for an attempt that races no one.
pub async fn run(
    client: &ProviderClient,
    enc: Encoded,
    prefill: Option<&str>,
    out: &mut Out,
    mode: &mut Mode,
    labels: &Labels<'_>,
    t: &Timeouts,
) -> Report {
    match open(client, enc, prefill, t).await {
        Ok(opened) => finish(opened, out, mode, labels, t).await,
        Err(rep) => rep,
    }
}

fn collect_tool_text(chunk: &serde_json::Value, out: &mut String) {
    let calls = chunk
        .pointer("/choices/0/delta/tool_calls")
        .and_then(serde_json::Value::as_array);
    for c in calls.into_iter().flatten() {
        if let Some(a) = c
            .pointer("/function/arguments")
            .and_then(serde_json::Value::as_str)
        {
            out.push_str(a);
        }
        if let Some(n) = c
            .pointer("/function/name")
            .and_then(serde_json::Value::as_str)
        {
            out.push_str(n);
        }
    }
}
