//! One attempt: send, then read the answer under the phase timeouts of SPEC §4.3 (first token,
//! stream idle, whole request), handing every chunk to the output.

use std::time::Duration;

use sy_providers::{ChunkFacts, Encoded, Piece, UpstreamUsage};
use sy_routing::FailureKind;
use sy_upstream::ProviderClient;
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
    pub fn got_content(&self) -> bool {
        self.first_content.is_some()
    }
}

pub struct Labels<'a> {
    pub model: &'a str,
    pub provider: &'a str,
    pub attempts: usize,
}

pub async fn run(
    client: &ProviderClient,
    enc: Encoded,
    prefill: Option<&str>,
    out: &mut Out,
    mode: &mut Mode,
    labels: &Labels<'_>,
    t: &Timeouts,
) -> Report {
    let started = Instant::now();
    let first_deadline = (started + t.first_token).min(t.request_deadline);
    let mut rep = Report {
        result: Err(FailureKind::Empty),
        started,
        first_content: None,
        ended: started,
        text: String::new(),
        tool_text: String::new(),
        usage: None,
        rate_limit_reset_s: None,
        gone: false,
    };
    let timed_out = |deadline: Instant| {
        if deadline >= t.request_deadline {
            FailureKind::RequestTimeout
        } else {
            FailureKind::FirstTokenTimeout
        }
    };
    let mut attempt = match timeout_at(first_deadline, client.send(enc, prefill)).await {
        Err(_) => {
            rep.result = Err(timed_out(first_deadline));
            rep.ended = Instant::now();
            return rep;
        }
        Ok(Err(kind)) => {
            rep.result = Err(kind);
            rep.ended = Instant::now();
            return rep;
        }
        Ok(Ok(a)) => a,
    };
    rep.rate_limit_reset_s = attempt.rate_limit_reset_s;
    let mut finish: Option<String> = None;
    rep.result = loop {
        let deadline = match (rep.first_content, &finish) {
            (None, None) => first_deadline,
            _ => (Instant::now() + t.idle).min(t.request_deadline),
        };
        let next = match timeout_at(deadline, attempt.next()).await {
            Err(_) => {
                if let Some(f) = finish.take() {
                    // finished, then silence instead of [DONE]: the answer is complete
                    break Ok(f);
                }
                break Err(if rep.first_content.is_none() {
                    timed_out(deadline)
                } else if deadline >= t.request_deadline {
                    FailureKind::RequestTimeout
                } else {
                    FailureKind::IdleTimeout
                });
            }
            Ok(n) => n,
        };
        match next {
            None => {
                break match finish.take() {
                    Some(f) => Ok(f),
                    None if rep.first_content.is_some() => Err(FailureKind::Cut),
                    None if attempt.malformed > 0 => Err(FailureKind::Unparsable(
                        "no valid event in the stream".to_owned(),
                    )),
                    None => Err(FailureKind::Empty),
                };
            }
            Some(Err(kind)) => {
                if let Some(f) = finish.take() {
                    break Ok(f);
                }
                break Err(kind);
            }
            Some(Ok(Piece::Done)) => {
                break match finish.take() {
                    Some(f) => Ok(f),
                    // [DONE] after content but no finish_reason: an explicit, clean end
                    None if rep.first_content.is_some() => Ok("stop".to_owned()),
                    None => Err(FailureKind::Empty),
                };
            }
            Some(Ok(Piece::Usage(u))) => {
                rep.usage = Some(u);
                if let Some(f) = finish.take() {
                    break Ok(f); // finish reason and usage: nothing else is coming that matters
                }
            }
            Some(Ok(Piece::Error(e))) => {
                if let Some(f) = finish.take() {
                    break Ok(f);
                }
                break Err(FailureKind::InBand(e.message));
            }
            Some(Ok(Piece::Malformed)) => {}
            Some(Ok(Piece::Chunk(chunk))) => {
                let facts = ChunkFacts::of(&chunk);
                if facts.content && rep.first_content.is_none() {
                    rep.first_content = Some(Instant::now());
                }
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
    rep.ended = Instant::now();
    rep
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
