//! The relay: runs a request's plan attempt by attempt (SPEC §4.3) — provider failover, model
//! fallback, the same-endpoint retry before leaving a model, context-length narrowing, attempt and
//! time budgets, and the resume of a stream broken after its first content.

mod attempt;
mod output;
mod record;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sy_api::{ApiError, ChatRequest, Usage};
use sy_config::Endpoint;
use sy_routing::{classify, Class, EndpointRef, Failure, FailureKind, Outcome, OutcomeKind, Plan};
use tokio::time::Instant;

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

impl Relay {
    fn endpoint(&self, at: EndpointRef) -> (&str, &Endpoint) {
        let m = &self.snap.config.models[at.model];
        (m.id.as_str(), &m.endpoints[at.endpoint])
    }

    /// Is `pos` the last endpoint of its model still to be tried?
    fn last_of_model(&self, pos: usize, ctx_floor: Option<u64>) -> bool {
        let model = self.plan.attempts[pos].at.model;
        !self.plan.attempts[pos + 1..].iter().any(|a| {
            a.at.model == model
                && ctx_floor.is_none_or(|c| self.endpoint(a.at).1.context_length > c)
        })
    }

    /// Runs the plan, writing the answer into `out`.
    pub async fn drive(&self, out: &mut Out) -> Ended {
        let cfg = &self.snap.config;
        let r = &cfg.routing;
        let deadline = Instant::now() + Duration::from_secs_f64(r.request_timeout_s);
        let timeouts = Timeouts {
            first_token: Duration::from_secs_f64(r.first_token_timeout_s),
            idle: Duration::from_secs_f64(r.stream_idle_timeout_s),
            request_deadline: deadline,
        };
        let max_attempts = usize::try_from(r.max_attempts).unwrap_or(usize::MAX);
        let mut ended = Ended {
            result: Err(ApiError::new(503, "no endpoint was tried")),
            usage: Usage::default(),
            log: Vec::new(),
            made: 0,
            gone: false,
        };
        let mut tries: HashMap<EndpointRef, u32> = HashMap::new();
        let mut retried: HashSet<usize> = HashSet::new();
        let mut ctx_floor: Option<u64> = None;
        let mut broken: Option<Broken> = None;
        let mut pos = 0usize;
        while pos < self.plan.attempts.len() {
            let at = self.plan.attempts[pos].at;
            let (model_id, ep) = self.endpoint(at);
            if ctx_floor.is_some_and(|c| ep.context_length <= c)
                || tries.get(&at).copied().unwrap_or(0) >= 2
            {
                pos += 1;
                continue;
            }
            if ended.made >= max_attempts {
                break;
            }
            if Instant::now() >= deadline {
                if ended.log.is_empty() || !out.committed {
                    ended.log.push(AttemptLog::skipped(
                        model_id,
                        ep,
                        &classify(FailureKind::RequestTimeout),
                    ));
                }
                break;
            }
            let Some(client) = self.snap.upstreams.get(&ep.provider) else {
                pos += 1;
                continue;
            };
            let Some(permit) = client
                .permit(QUEUE_WAIT.min(deadline.saturating_duration_since(Instant::now())))
                .await
            else {
                ended.log.push(AttemptLog::skipped(
                    model_id,
                    ep,
                    &classify(FailureKind::Saturated),
                ));
                pos += 1;
                continue;
            };
            let mut mode = Mode::Fresh;
            let mut prefill = None;
            if out.committed {
                if ep.supports_prefill {
                    mode = Mode::Prefill;
                    prefill = Some(out.delivered.clone());
                } else {
                    mode = Mode::Regenerate {
                        prefix: out.delivered.clone(),
                        matched: 0,
                    };
                }
            }
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
                    ended.log.push(AttemptLog::skipped(
                        model_id,
                        ep,
                        &classify(FailureKind::Unparsable(e)),
                    ));
                    pos += 1;
                    continue;
                }
            };
            let now = self.state.now();
            self.state.health.begin_attempt(model_id, &ep.provider, now);
            ended.made += 1;
            *tries.entry(at).or_default() += 1;
            let labels = Labels {
                model: model_id,
                provider: &ep.provider,
                attempts: ended.made,
            };
            let rep = attempt::run(
                client,
                enc,
                prefill.as_deref(),
                out,
                &mut mode,
                &labels,
                &timeouts,
            )
            .await;
            drop(permit);
            if rep.gone {
                ended.gone = true;
                return ended;
            }
            let now = self.state.now();
            if let Some(s) = rep.rate_limit_reset_s {
                self.state.health.cooldown(model_id, &ep.provider, now + s);
            }
            if rep.got_content() {
                ended
                    .usage
                    .add(&self.attempt_usage(&rep, ep, prefill.as_deref()));
            }
            let duration = rep.ended.duration_since(rep.started).as_secs_f64();
            match &rep.result {
                Ok(finish) => {
                    self.state
                        .health
                        .record(model_id, &ep.provider, now, success(&rep));
                    ended.log.push(AttemptLog::ok(model_id, ep, duration));
                    if let (Some(k), true) = (
                        self.affinity_key,
                        at.model == self.plan.attempts[0].at.model,
                    ) {
                        self.state.affinity.put(k, &ep.provider, now);
                    }
                    ended.result = Ok((at, finish.clone()));
                    return ended;
                }
                Err(kind) => {
                    let failure = classify(kind.clone());
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
                    if let (Some(ra), Some(429 | 503)) = (failure.retry_after_s(), failure.status())
                    {
                        self.state.health.cooldown(model_id, &ep.provider, now + ra);
                    }
                    ended
                        .log
                        .push(AttemptLog::failed(model_id, ep, &failure, duration));
                    if out.committed {
                        let refusal = failure.refusal;
                        broken.get_or_insert(Broken { failure, at });
                        if !r.stream_resume || refusal {
                            break;
                        }
                        pos += 1;
                        continue;
                    }
                    out.discard_uncommitted();
                    match failure.class {
                        Class::RequestError => {
                            ended.result = Err(record::request_error(
                                &failure,
                                model_id,
                                &ep.provider,
                                &ended.log,
                            ));
                            return ended;
                        }
                        Class::ContextLength => {
                            ctx_floor = Some(
                                ctx_floor.map_or(ep.context_length, |c| c.max(ep.context_length)),
                            );
                            pos += 1;
                        }
                        Class::Transient => {
                            if let Some(wait) = self
                                .retry_wait(&failure, pos, ctx_floor, &tries, &retried, deadline)
                            {
                                retried.insert(at.model);
                                tokio::time::sleep(wait).await;
                            } else {
                                pos += 1;
                            }
                        }
                    }
                }
            }
        }
        ended.result = Err(match &broken {
            Some(b) => {
                let (model_id, ep) = self.endpoint(b.at);
                record::broken_stream_error(&b.failure, model_id, &ep.provider, &ended.log)
            }
            None => record::final_error(&ended.log),
        });
        ended
    }

    /// SPEC §4.3: before the plan leaves a model, a transient failure of its last endpoint is
    /// retried once — after `Retry-After` when it is at most `max_retry_wait_s`, else after about
    /// half a second — except a silent endpoint. A longer `Retry-After` is a cooldown: no retry.
    fn retry_wait(
        &self,
        failure: &Failure,
        pos: usize,
        ctx_floor: Option<u64>,
        tries: &HashMap<EndpointRef, u32>,
        retried: &HashSet<usize>,
        deadline: Instant,
    ) -> Option<Duration> {
        let at = self.plan.attempts[pos].at;
        if failure.silent
            || retried.contains(&at.model)
            || tries.get(&at).copied().unwrap_or(0) >= 2
            || !self.last_of_model(pos, ctx_floor)
        {
            return None;
        }
        let secs = match failure.retry_after_s() {
            Some(ra) if ra <= self.snap.config.routing.max_retry_wait_s => ra,
            Some(_) => return None,
            None => 0.4 + 0.2 * rand::random::<f64>(),
        };
        let wait = Duration::from_secs_f64(secs);
        (Instant::now() + wait < deadline).then_some(wait)
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
