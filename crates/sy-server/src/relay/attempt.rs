//! One attempt, in two phases: `open` sends and reads until the first content (holding what came
//! before it, so a hedge race or a failover leaves no trace with the client), then `finish`
//! writes it and the rest of the answer to the output under the stream-idle timeout. The phase
//! timeouts of SPEC §4.3 (first token, stream idle, whole request) apply throughout.
//!
//! Every attempt is an `AttemptGuard` from the moment its call is made: closed with its outcome
//! (health, metrics, usage, the log), or — when it is dropped unclosed, whatever dropped it —
//! closed as cancelled: its probe released, its concurrency slot released, and charged for what
//! the provider produced (the reported usage, else the estimated prompt plus the output
//! received, marked estimated).

use std::sync::Arc;
use std::time::Duration;

use sy_api::{Event, Finish, Frame, UpstreamUsage, Usage};
use sy_config::Endpoint;
use sy_dialects::Meta;
use sy_routing::{classify, Class, EndpointRef, Failure, FailureKind, Outcome, OutcomeKind};
use sy_upstream::{Answer, Permit};
use tokio::time::{timeout_at, Instant};

use super::ledger::Ledger;
use super::output::{Halt, Out};
use super::record::AttemptLog;

pub struct Timeouts {
    pub first_token: Duration,
    pub idle: Duration,
    pub request_deadline: Instant,
}

/// An attempt in flight.
pub struct AttemptGuard {
    ledger: Arc<Ledger>,
    pub at: EndpointRef,
    _permit: Option<Permit>,
    /// This attempt holds its endpoint's half-open probe.
    probe: bool,
    started: Instant,
    first_content: Option<Instant>,
    /// Text and tool-call text this attempt generated, for usage estimates.
    text: String,
    tool_text: String,
    /// Reasoning text (also in `text`), for reasoning tokens a provider does not report.
    reasoning: String,
    usage: Option<UpstreamUsage>,
    rate_limit_reset_s: Option<f64>,
    /// Tokens of a prefill sent with the prompt.
    prefill_tokens: u64,
    cancel_reason: &'static str,
    /// Set by a hedge race when this attempt lost it.
    lost: Arc<std::sync::atomic::AtomicBool>,
    closed: bool,
}

impl AttemptGuard {
    pub fn new(
        ledger: Arc<Ledger>,
        at: EndpointRef,
        permit: Permit,
        probe: bool,
        prefill_tokens: u64,
    ) -> Self {
        Self {
            ledger,
            at,
            _permit: Some(permit),
            probe,
            started: Instant::now(),
            first_content: None,
            text: String::new(),
            tool_text: String::new(),
            reasoning: String::new(),
            usage: None,
            rate_limit_reset_s: None,
            prefill_tokens,
            cancel_reason: "the request ended before the attempt did",
            lost: Arc::default(),
            closed: false,
        }
    }

    fn endpoint(&self) -> (&str, &Endpoint) {
        let m = &self.ledger.snap.config.models[self.at.model];
        (m.id.as_str(), &m.endpoints[self.at.endpoint])
    }

    pub fn got_content(&self) -> bool {
        self.first_content.is_some()
    }

    /// Notes what an event says about the attempt's output.
    fn note(&mut self, e: &Event) {
        match e {
            Event::Text(t) | Event::Refusal(t) => self.text.push_str(t),
            Event::Reasoning(t) => {
                self.text.push_str(t);
                self.reasoning.push_str(t);
            }
            Event::ToolStart { name, .. } => self.tool_text.push_str(name),
            Event::ToolArgs { delta, .. } => self.tool_text.push_str(delta),
            Event::Usage(u) => self.usage = Some(*u),
            _ => {}
        }
    }

    /// The attempt's usage: the upstream's figures, else an estimate.
    fn usage_now(&self) -> Usage {
        let ep = self.endpoint().1;
        let (prompt, completion, estimated, u) = match self.usage {
            Some(u) => (u.prompt_tokens, u.completion_tokens, false, u),
            None => {
                let completion = sy_providers::estimate_text_tokens(&self.text)
                    + sy_providers::estimate_text_tokens(&self.tool_text);
                // an answer that said anything said at least one token
                let said = !self.text.is_empty() || !self.tool_text.is_empty();
                let completion = if said { completion.max(1) } else { completion };
                let prompt = self.ledger.prompt_tokens() + self.prefill_tokens;
                (prompt, completion, true, UpstreamUsage::default())
            }
        };
        let cached = u.cached_tokens.unwrap_or(0);
        let written = u.cache_write_tokens.unwrap_or(0);
        // SPEC §4.9: reasoning tokens are part of the completion, counted with the tokenizer
        // when the provider does not report them
        let reasoning = u
            .reasoning_tokens
            .unwrap_or_else(|| sy_providers::estimate_text_tokens(&self.reasoning).min(completion));
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            cached_tokens: cached,
            cache_write_tokens: written,
            reasoning_tokens: reasoning,
            cost: sy_routing::cost_usd(
                ep,
                &sy_routing::Tokens {
                    prompt,
                    completion,
                    cached,
                    cache_write: written,
                    reasoning,
                },
            ),
            estimated,
        }
    }

    fn success(&self, ended: Instant) -> Outcome {
        let ttft_s = self
            .first_content
            .map(|f| f.duration_since(self.started).as_secs_f64());
        let throughput = self.first_content.and_then(|f| {
            let tokens = self.usage.map_or_else(
                || sy_providers::estimate_text_tokens(&self.text),
                |u| u.completion_tokens,
            );
            // generation speed after the first token; an answer that came whole is timed from the start
            let mut secs = ended.duration_since(f).as_secs_f64();
            if secs < 0.001 {
                secs = ended.duration_since(self.started).as_secs_f64().max(0.001);
            }
            #[allow(clippy::cast_precision_loss)]
            (tokens >= 2).then(|| (tokens - 1) as f64 / secs)
        });
        Outcome {
            kind: OutcomeKind::Success,
            ttft_s,
            throughput,
        }
    }

    /// Closes the attempt with its outcome — health, metrics, cooldowns, usage, the log — and
    /// returns the classified failure, if it failed. A cancellation closes it as cancelled.
    pub fn close(mut self, result: Result<(), FailureKind>) -> Option<Failure> {
        if let Err(FailureKind::Cancelled(why)) = result {
            self.cancel_reason = why;
            return None; // Drop closes it as cancelled
        }
        self.closed = true;
        let state = Arc::clone(&self.ledger.state);
        let ended = Instant::now();
        let (model_id, ep) = self.endpoint();
        let now = state.now();
        if let Some(s) = self.rate_limit_reset_s {
            state.health.cooldown(model_id, &ep.provider, now + s);
        }
        let usage = self.got_content().then(|| self.usage_now());
        if let Some(u) = &usage {
            crate::metrics::spend(model_id, &ep.provider, u.cost);
        }
        let duration = ended.duration_since(self.started).as_secs_f64();
        match result {
            Ok(()) => {
                let outcome = self.success(ended);
                crate::metrics::attempt(model_id, &ep.provider, "ok");
                crate::metrics::success(&ep.provider, outcome.ttft_s, outcome.throughput);
                state.health.record(model_id, &ep.provider, now, outcome);
                self.ledger
                    .push(AttemptLog::ok(model_id, ep, duration), usage.as_ref());
                None
            }
            Err(kind) => {
                let failure = classify(kind);
                crate::metrics::attempt(model_id, &ep.provider, failure.label());
                let kind = match failure.class {
                    Class::Transient => OutcomeKind::Failure(failure.label()),
                    Class::ContextLength | Class::RequestError => OutcomeKind::ClientError,
                };
                state.health.record(
                    model_id,
                    &ep.provider,
                    now,
                    Outcome {
                        kind,
                        ttft_s: None,
                        throughput: None,
                    },
                );
                if let (Some(ra), Some(429 | 503)) = (failure.retry_after_s(), failure.status()) {
                    state.health.cooldown(model_id, &ep.provider, now + ra);
                }
                self.ledger.push(
                    AttemptLog::failed(model_id, ep, &failure, duration),
                    usage.as_ref(),
                );
                Some(failure)
            }
        }
    }

    /// A whole answer arrived (an embeddings list): its content, and the usage the upstream
    /// reported, if any.
    pub fn answered(&mut self, usage: Option<UpstreamUsage>) {
        self.first_content = Some(Instant::now());
        self.usage = usage;
    }

    /// The flag a hedge race sets when this attempt loses it.
    pub fn lost_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        Arc::clone(&self.lost)
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        if self.lost.load(std::sync::atomic::Ordering::Relaxed) {
            self.cancel_reason = super::record::HEDGE_LOST;
        }
        let state = Arc::clone(&self.ledger.state);
        let (model_id, ep) = self.endpoint();
        if self.probe {
            state.health.cancel_attempt(model_id, &ep.provider);
        }
        // the provider was called: it processed the prompt and what it sent is billed
        let usage = self.usage_now();
        crate::metrics::attempt(model_id, &ep.provider, "cancelled");
        crate::metrics::spend(model_id, &ep.provider, usage.cost);
        let duration = self.started.elapsed().as_secs_f64();
        self.ledger.push(
            AttemptLog::cancelled(model_id, ep, self.cancel_reason, duration),
            Some(&usage),
        );
    }
}

/// An attempt whose first content (or finish) has arrived and not yet been written.
pub struct Opened {
    answer: Answer,
    held: Vec<Frame>,
    pub guard: AttemptGuard,
}

fn first_token_failure(deadline: Instant, t: &Timeouts) -> FailureKind {
    if deadline >= t.request_deadline {
        FailureKind::RequestTimeout
    } else {
        FailureKind::FirstTokenTimeout
    }
}

/// Phase one: the call's answer, read until the first content-bearing frame. `Err` carries the
/// guard of an attempt that failed before producing any content, and why.
pub async fn open(
    call: impl std::future::Future<Output = Result<Answer, FailureKind>>,
    mut guard: AttemptGuard,
    t: &Timeouts,
) -> Result<Opened, (AttemptGuard, FailureKind)> {
    let first_deadline = (guard.started + t.first_token).min(t.request_deadline);
    let mut answer = match timeout_at(first_deadline, call).await {
        Err(_) => return Err((guard, first_token_failure(first_deadline, t))),
        Ok(Err(kind)) => return Err((guard, kind)),
        Ok(Ok(a)) => a,
    };
    guard.rate_limit_reset_s = answer.rate_limit_reset_s;
    let mut held = Vec::new();
    loop {
        let next = match timeout_at(first_deadline, answer.next()).await {
            Err(_) => return Err((guard, first_token_failure(first_deadline, t))),
            Ok(n) => n,
        };
        let frame = match next {
            None if answer.malformed > 0 => {
                let e = FailureKind::Unparsable("no valid event in the stream".to_owned());
                return Err((guard, e));
            }
            None => return Err((guard, FailureKind::Empty)),
            Some(Err(kind)) => return Err((guard, kind)),
            Some(Ok(f)) => f,
        };
        for e in &frame.events {
            match e {
                Event::Error(err) => {
                    return Err((guard, FailureKind::InBand(err.message.clone())));
                }
                Event::Done if !frame.commits() => return Err((guard, FailureKind::Empty)),
                e => guard.note(e),
            }
        }
        let commits = frame.commits();
        held.push(frame);
        if commits {
            guard.first_content = Some(Instant::now());
            return Ok(Opened {
                answer,
                held,
                guard,
            });
        }
    }
}

/// Phase two: writes the held frames and the rest of the answer to `out` (`calls`: the upstream
/// calls made so far, for the response head). Returns the guard and how the answer ended (its
/// finish, or what went wrong).
pub async fn finish(
    opened: Opened,
    out: &mut Out,
    pass: bool,
    meta: &Meta<'_>,
    calls: usize,
    t: &Timeouts,
) -> (AttemptGuard, Result<Option<Finish>, FailureKind>) {
    let Opened {
        mut answer,
        held,
        mut guard,
    } = opened;
    let mut finish: Option<Finish> = None;
    let mut done = false;
    let mut held = held.into_iter();
    let result = loop {
        let frame = if let Some(f) = held.next() {
            f
        } else {
            let deadline = (Instant::now() + t.idle).min(t.request_deadline);
            match timeout_at(deadline, answer.next()).await {
                // finished, then silence instead of the end: the answer is complete
                Err(_) if finish.is_some() => break Ok(finish),
                Err(_) if deadline >= t.request_deadline => break Err(FailureKind::RequestTimeout),
                Err(_) => break Err(FailureKind::IdleTimeout),
                Ok(None) if finish.is_some() || done => break Ok(finish),
                Ok(None) => break Err(FailureKind::Cut),
                // a finished answer is complete, whatever the connection does afterwards
                Ok(Some(Err(_))) if finish.is_some() => break Ok(finish),
                Ok(Some(Err(kind))) => break Err(kind),
                Ok(Some(Ok(f))) => f,
            }
        };
        let mut failed = None;
        for e in &frame.events {
            match e {
                Event::Error(err) if finish.is_none() => {
                    failed = Some(FailureKind::InBand(err.message.clone()));
                }
                Event::Finish(f) => finish = Some(*f),
                Event::Done => done = true,
                e => guard.note(e),
            }
        }
        if let Some(kind) = failed {
            break Err(kind);
        }
        let had_usage = frame.events.iter().any(|e| matches!(e, Event::Usage(_)));
        match out.frame(frame, pass, meta, || calls).await {
            Ok(()) => {}
            Err(Halt::Diverged) => break Err(FailureKind::Diverged),
            Err(Halt::Gone(g)) => break Err(FailureKind::Cancelled(g.why())),
        }
        // [DONE] after content without a finish_reason is still an explicit, clean end
        if done {
            break Ok(finish.or(Some(Finish::Stop)));
        }
        // finish reason and usage: nothing else is coming that matters
        if finish.is_some() && had_usage {
            break Ok(finish);
        }
    };
    if result.is_ok() {
        answer.release(); // what is left of the body drains; the connection is reused
    }
    (guard, result)
}
