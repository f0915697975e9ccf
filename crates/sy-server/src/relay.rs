//! The relay: runs a request's plan attempt by attempt (SPEC §4.3) — provider failover, model
//! fallback, the same-endpoint retry before leaving a model, context-length narrowing, attempt and
//! time budgets, hedged first tokens (SPEC §7), and the resume of a stream broken after its
//! first content.

mod attempt;
mod hedge;
mod output;
mod record;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sy_api::{ApiError, ChatRequest, Usage};
use sy_config::Endpoint;
use sy_routing::{classify, Class, EndpointRef, Failure, FailureKind, Outcome, OutcomeKind, Plan};
use tokio::time::Instant;
use tracing::Instrument;

pub use output::{Head, Out, StreamSide};
pub use record::AttemptLog;

use crate::state::{AppState, Snapshot};
use attempt::{Labels, Report, Timeouts};
use output::Mode;

/// How long a request waits for a provider's concurrency permit before rerouting (SPEC §7).
const QUEUE_WAIT: Duration = Duration::from_millis(500);

/// Everything a relay needs; one config snapshot for the whole request.
pub struct Relay {
    pub state: Arc<AppState>,
    pub snap: Arc<Snapshot>,
    pub req: ChatRequest,
    pub plan: Plan,
    pub gen_id: String,
    pub created: u64,
    /// The request's stable-prefix key: who serves it is remembered (cache affinity).
    pub affinity_key: Option<u64>,
    /// The calling key, charged when the request finishes.
    pub key: Option<Arc<crate::keys::LiveKey>>,
}

/// How a relay ended.
pub struct Ended {
    /// The endpoint that finished the answer and its finish reason, or the error.
    pub result: Result<(EndpointRef, String), ApiError>,
    pub usage: Usage,
    pub log: Vec<AttemptLog>,
    /// Upstream calls made.
    pub made: usize,
    /// The client went away.
    pub gone: bool,
}

struct Broken {
    failure: Failure,
    at: EndpointRef,
}

/// The state of one run through the plan.
struct Run {
    ended: Ended,
    tries: HashMap<EndpointRef, u32>,
    retried: HashSet<usize>,
    ctx_floor: Option<u64>,
    broken: Option<Broken>,
    pos: usize,
    deadline: Instant,
}

impl Run {
    fn tries(&self, at: EndpointRef) -> u32 {
        self.tries.get(&at).copied().unwrap_or(0)
    }
}

enum Step {
    Continue,
    Done,
}

impl Relay {
    fn endpoint(&self, at: EndpointRef) -> (&str, &Endpoint) {
        let m = &self.snap.config.models[at.model];
        (m.id.as_str(), &m.endpoints[at.endpoint])
    }

    /// May plan position `pos` still be tried?
    fn eligible(&self, run: &Run, pos: usize) -> bool {
        let at = self.plan.attempts[pos].at;
        run.ctx_floor
            .is_none_or(|c| self.endpoint(at).1.context_length > c)
            && run.tries(at) < 2
    }

    /// Is `pos` the last endpoint of its model still to be tried?
    fn last_of_model(&self, run: &Run, pos: usize) -> bool {
        let model = self.plan.attempts[pos].at.model;
        !(pos + 1..self.plan.attempts.len())
            .any(|q| self.plan.attempts[q].at.model == model && self.eligible(run, q))
    }

    /// Runs the plan, writing the answer into `out`.
    pub async fn drive(&self, out: &mut Out) -> Ended {
        let r = &self.snap.config.routing;
        let deadline = Instant::now() + Duration::from_secs_f64(r.request_timeout_s);
        let t = Timeouts {
            first_token: Duration::from_secs_f64(r.first_token_timeout_s),
            idle: Duration::from_secs_f64(r.stream_idle_timeout_s),
            request_deadline: deadline,
        };
        let max_attempts = usize::try_from(r.max_attempts).unwrap_or(usize::MAX);
        let mut run = Run {
            ended: Ended {
                result: Err(ApiError::new(503, "no endpoint was tried")),
                usage: Usage::default(),
                log: Vec::new(),
                made: 0,
                gone: false,
            },
            tries: HashMap::new(),
            retried: HashSet::new(),
            ctx_floor: None,
            broken: None,
            pos: 0,
            deadline,
        };
        while run.pos < self.plan.attempts.len() {
            let pos = run.pos;
            let at = self.plan.attempts[pos].at;
            let (model_id, ep) = self.endpoint(at);
            if !self.eligible(&run, pos) {
                run.pos += 1;
                continue;
            }
            if run.ended.made >= max_attempts {
                break;
            }
            if Instant::now() >= deadline {
                if run.ended.log.is_empty() || !out.committed {
                    run.ended.log.push(AttemptLog::skipped(
                        model_id,
                        ep,
                        &classify(FailureKind::RequestTimeout),
                    ));
                }
                break;
            }
            let Some(client) = self.snap.upstreams.get(&ep.provider) else {
                run.pos += 1;
                continue;
            };
            let Some(permit) = client
                .permit(QUEUE_WAIT.min(deadline.saturating_duration_since(Instant::now())))
                .await
            else {
                run.ended.log.push(AttemptLog::skipped(
                    model_id,
                    ep,
                    &classify(FailureKind::Saturated),
                ));
                run.pos += 1;
                continue;
            };
            let (mut mode, prefill) = match (out.committed, ep.supports_prefill) {
                (false, _) => (Mode::Fresh, None),
                (true, true) => (Mode::Prefill, Some(out.delivered.clone())),
                (true, false) => (
                    Mode::Regenerate {
                        prefix: out.delivered.clone(),
                        matched: 0,
                    },
                    None,
                ),
            };
            let enc = match sy_providers::encode(
                client.api,
                &self.req,
                &ep.upstream_model,
                prefill.as_deref(),
                ep.max_completion_tokens,
            ) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(provider = %ep.provider, error = %e, "cannot encode the request for this endpoint");
                    run.ended.log.push(AttemptLog::skipped(
                        model_id,
                        ep,
                        &classify(FailureKind::Unparsable(e)),
                    ));
                    run.pos += 1;
                    continue;
                }
            };
            self.begin(&mut run, at);
            let partner = if r.hedge && !out.committed && run.ended.made < max_attempts {
                self.hedge_partner(&run, pos)
            } else {
                None
            };
            let (won, rep) = match partner {
                Some((q, delay)) => {
                    let span = tracing::info_span!("attempt", provider = %ep.provider, model = model_id, n = run.ended.made, hedged = true);
                    self.race(&mut run, pos, q, delay, (client, enc), out, &t)
                        .instrument(span)
                        .await
                }
                None => {
                    let labels = Labels {
                        model: model_id,
                        provider: &ep.provider,
                        attempts: run.ended.made,
                    };
                    (
                        pos,
                        attempt::run(client, enc, prefill.as_deref(), out, &mut mode, &labels, &t)
                            .instrument(tracing::info_span!("attempt", provider = %ep.provider, model = model_id, n = run.ended.made))
                            .await,
                    )
                }
            };
            drop(permit);
            run.pos = won;
            match self
                .settle(&mut run, won, rep, out, prefill.as_deref())
                .await
            {
                Step::Done => return run.ended,
                Step::Continue => {}
            }
        }
        run.ended.result = Err(match &run.broken {
            Some(b) => {
                let (model_id, ep) = self.endpoint(b.at);
                record::broken_stream_error(&b.failure, model_id, &ep.provider, &run.ended.log)
            }
            None => record::final_error(&run.ended.log),
        });
        run.ended
    }

    /// An upstream call starts at `at`.
    fn begin(&self, run: &mut Run, at: EndpointRef) {
        let (model_id, ep) = self.endpoint(at);
        self.state
            .health
            .begin_attempt(model_id, &ep.provider, self.state.now());
        run.ended.made += 1;
        *run.tries.entry(at).or_default() += 1;
    }

    /// Books what an attempt did — health, cooldowns, usage, the log — without deciding anything.
    fn book(
        &self,
        run: &mut Run,
        at: EndpointRef,
        rep: &Report,
        prefill: Option<&str>,
    ) -> Option<Failure> {
        let (model_id, ep) = self.endpoint(at);
        let now = self.state.now();
        if let Some(s) = rep.rate_limit_reset_s {
            self.state.health.cooldown(model_id, &ep.provider, now + s);
        }
        if rep.got_content() {
            let usage = self.attempt_usage(rep, ep, prefill);
            crate::metrics::spend(model_id, &ep.provider, usage.cost);
            run.ended.usage.add(&usage);
        }
        let duration = rep.ended.duration_since(rep.started).as_secs_f64();
        match &rep.result {
            Ok(_) => {
                let outcome = success(rep);
                crate::metrics::attempt(model_id, &ep.provider, "ok");
                crate::metrics::success(&ep.provider, outcome.ttft_s, outcome.throughput);
                self.state
                    .health
                    .record(model_id, &ep.provider, now, outcome);
                run.ended.log.push(AttemptLog::ok(model_id, ep, duration));
                None
            }
            Err(kind) => {
                let failure = classify(kind.clone());
                crate::metrics::attempt(model_id, &ep.provider, failure.label());
                let outcome = match failure.class {
                    Class::Transient => OutcomeKind::Failure(failure.label()),
                    Class::ContextLength | Class::RequestError => OutcomeKind::ClientError,
                };
                self.state.health.record(
                    model_id,
                    &ep.provider,
                    now,
                    Outcome {
                        kind: outcome,
                        ttft_s: None,
                        throughput: None,
                    },
                );
                if let (Some(ra), Some(429 | 503)) = (failure.retry_after_s(), failure.status()) {
                    self.state.health.cooldown(model_id, &ep.provider, now + ra);
                }
                run.ended
                    .log
                    .push(AttemptLog::failed(model_id, ep, &failure, duration));
                Some(failure)
            }
        }
    }

    /// Decides what follows the attempt at plan position `pos`.
    async fn settle(
        &self,
        run: &mut Run,
        pos: usize,
        rep: Report,
        out: &mut Out,
        prefill: Option<&str>,
    ) -> Step {
        let at = self.plan.attempts[pos].at;
        if rep.gone {
            run.ended.gone = true;
            return Step::Done;
        }
        let Some(failure) = self.book(run, at, &rep, prefill) else {
            if let (Some(k), true) = (
                self.affinity_key,
                at.model == self.plan.attempts[0].at.model,
            ) {
                self.state
                    .affinity
                    .put(k, &self.endpoint(at).1.provider, self.state.now());
            }
            run.ended.result = Ok((at, rep.result.unwrap_or_default()));
            return Step::Done;
        };
        if out.committed {
            let stop = !self.snap.config.routing.stream_resume || failure.refusal;
            run.broken.get_or_insert(Broken { failure, at });
            if stop {
                run.pos = self.plan.attempts.len();
            } else {
                run.pos = pos + 1;
            }
            return Step::Continue;
        }
        out.discard_uncommitted();
        let (model_id, ep) = self.endpoint(at);
        match failure.class {
            Class::RequestError => {
                run.ended.result = Err(record::request_error(
                    &failure,
                    model_id,
                    &ep.provider,
                    &run.ended.log,
                ));
                return Step::Done;
            }
            Class::ContextLength => {
                run.ctx_floor = Some(
                    run.ctx_floor
                        .map_or(ep.context_length, |c| c.max(ep.context_length)),
                );
                run.pos = pos + 1;
            }
            Class::Transient => match self.retry_wait(run, &failure, pos) {
                Some(wait) => {
                    run.retried.insert(at.model);
                    tokio::time::sleep(wait).await;
                }
                None => run.pos = pos + 1,
            },
        }
        Step::Continue
    }

    /// SPEC §4.3: before the plan leaves a model, a transient failure of its last endpoint is
    /// retried once — after `Retry-After` when it is at most `max_retry_wait_s`, else after about
    /// half a second — except a silent endpoint. A longer `Retry-After` is a cooldown: no retry.
    fn retry_wait(&self, run: &Run, failure: &Failure, pos: usize) -> Option<Duration> {
        let at = self.plan.attempts[pos].at;
        if failure.silent
            || run.retried.contains(&at.model)
            || run.tries(at) >= 2
            || !self.last_of_model(run, pos)
        {
            return None;
        }
        let secs = match failure.retry_after_s() {
            Some(ra) if ra <= self.snap.config.routing.max_retry_wait_s => ra,
            Some(_) => return None,
            None => 0.4 + 0.2 * rand::random::<f64>(),
        };
        let wait = Duration::from_secs_f64(secs);
        (Instant::now() + wait < run.deadline).then_some(wait)
    }

    /// Usage of an attempt that produced tokens: the upstream's figures, else an estimate.
    fn attempt_usage(&self, rep: &Report, ep: &Endpoint, prefill: Option<&str>) -> Usage {
        let (prompt, completion, estimated) = match rep.usage {
            Some(u) => (u.prompt_tokens, u.completion_tokens, false),
            None => {
                let mut prompt = sy_providers::estimate_prompt_tokens(
                    self.req.messages(),
                    self.req.body.get("tools"),
                );
                if let Some(p) = prefill {
                    prompt += sy_providers::estimate_text_tokens(p);
                }
                let completion = sy_providers::estimate_text_tokens(&rep.text)
                    + sy_providers::estimate_text_tokens(&rep.tool_text);
                (prompt, completion.max(1), true)
            }
        };
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            cost: sy_routing::cost_usd(ep, prompt, completion),
            estimated,
        }
    }
}

fn success(rep: &Report) -> Outcome {
    let ttft_s = rep
        .first_content
        .map(|f| f.duration_since(rep.started).as_secs_f64());
    let throughput = rep.first_content.and_then(|f| {
        let tokens = rep.usage.map_or_else(
            || sy_providers::estimate_text_tokens(&rep.text),
            |u| u.completion_tokens,
        );
        // generation speed after the first token; an answer that came whole is timed from the start
        let mut secs = rep.ended.duration_since(f).as_secs_f64();
        if secs < 0.001 {
            secs = rep
                .ended
                .duration_since(rep.started)
                .as_secs_f64()
                .max(0.001);
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
