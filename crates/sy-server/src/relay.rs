//! The relay: executes a request's plan as the failover machine (`sy_routing::failover`)
//! decides — provider failover, model fallback, the same-endpoint retry, context-length
//! narrowing, hedged first tokens, the resume of a broken stream — doing the IO only: permits,
//! probes, encoding through the serving endpoint's protocol, the call, and writing through the
//! client's dialect (passing frames through when both speak the same wire family).

mod attempt;
mod hedge;
pub mod ledger;
mod output;
mod record;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sy_api::resume::Mode;
use sy_api::{ApiError, Finish, Request, Usage};
use sy_config::Endpoint;
use sy_dialects::{Dialect, Meta};
use sy_providers::{Continue, Target};
use sy_routing::failover::{Failover, Hedge, Next, Outcome, Policy, Skip, Slot, Stop};
use sy_routing::{classify, Admit, EndpointRef, Failure, FailureKind, Plan};
use tokio::time::Instant;
use tracing::Instrument;

pub use attempt::AttemptGuard;
pub use ledger::{Ending, Ledger};
pub use output::{Head, Out, StreamSide};
pub use record::{final_error, request_error, AttemptLog};

use crate::state::{AppState, Snapshot};
use attempt::Timeouts;

/// How long a request waits for a provider's concurrency permit before rerouting (SPEC §7).
const QUEUE_WAIT: Duration = Duration::from_millis(500);

/// Everything a relay needs; one config snapshot for the whole request.
pub struct Relay {
    pub state: Arc<AppState>,
    pub snap: Arc<Snapshot>,
    pub req: Arc<Request>,
    pub plan: Arc<Plan>,
    pub dialect: &'static dyn Dialect,
    pub gen_id: String,
    pub created: u64,
    /// The request's stable-prefix key: who serves it is remembered (cache affinity).
    pub affinity_key: Option<u64>,
    /// The gateway's estimate of the prompt's tokens.
    pub prompt_estimate: u64,
    pub ledger: Arc<Ledger>,
}

/// How a relay ended.
pub struct Ended {
    /// The endpoint that finished the answer and its finish, or the error.
    pub result: Result<(EndpointRef, Option<Finish>), ApiError>,
    /// The client went away (or stopped reading): nothing more is written.
    pub gone: Option<&'static str>,
}

/// One run through the plan.
struct Run {
    fo: Failover,
    /// The last failure of each plan position, for the error that names it.
    failures: HashMap<usize, Failure>,
    answered: Option<(EndpointRef, Option<Finish>)>,
    gone: Option<&'static str>,
    deadline: Instant,
}

impl Relay {
    fn endpoint(&self, at: EndpointRef) -> (&str, &Endpoint) {
        let m = &self.snap.config.models[at.model];
        (m.id.as_str(), &m.endpoints[at.endpoint])
    }

    fn target(&self, at: EndpointRef) -> Option<Target<'_>> {
        let ep = self.endpoint(at).1;
        Some(Target {
            provider: self.snap.config.provider(&ep.provider)?,
            upstream_model: &ep.upstream_model,
            max_tokens: ep.max_completion_tokens,
            supported: &ep.supported_parameters,
        })
    }

    /// Who answers, as every chunk says.
    pub fn meta(&self, at: EndpointRef) -> Meta<'_> {
        let (model, ep) = self.endpoint(at);
        let family = self.target(at).map_or(self.dialect.family(), |t| {
            sy_providers::protocol(t.provider.api).family(t.upstream_model)
        });
        Meta {
            gen_id: &self.gen_id,
            created: self.created,
            model,
            provider: &ep.provider,
            family,
            prompt_estimate: self.prompt_estimate,
        }
    }

    fn slots(&self) -> Vec<Slot> {
        let hedge = self.snap.config.routing.hedge;
        let now = self.state.now();
        let window = self.snap.config.routing.outage_window_s;
        self.plan
            .attempts
            .iter()
            .map(|a| {
                let (m, ep) = self.endpoint(a.at);
                let view = hedge.then(|| self.state.health.view(m, &ep.provider, now, window));
                Slot {
                    at: a.at,
                    context_length: ep.context_length,
                    unavailable: a.unavailable,
                    outage: view.is_some_and(|v| v.outage),
                    ttft_p95_s: view.and_then(|v| v.ttft_p95_s),
                }
            })
            .collect()
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
        let policy = Policy {
            max_attempts: r.max_attempts,
            stream_resume: r.stream_resume,
            max_retry_wait_s: r.max_retry_wait_s,
            hedge: r.hedge,
        };
        let mut run = Run {
            fo: Failover::new(self.slots(), policy),
            failures: HashMap::new(),
            answered: None,
            gone: None,
            deadline,
        };
        loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_secs_f64();
            match run.fo.next(left) {
                Next::Stop(stop) => return self.stopped(stop, &run, out.committed),
                Next::Retry { slot, secs } => {
                    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                    self.attempt(&mut run, slot, None, out, &t).await;
                }
                Next::Call { slot, hedge, .. } => {
                    self.attempt(&mut run, slot, hedge, out, &t).await;
                }
            }
            if let Some(why) = run.gone {
                self.ledger.end(Ending::Cancelled(why));
                return Ended {
                    result: Err(ApiError::new(499, why)),
                    gone: Some(why),
                };
            }
        }
    }

    fn stopped(&self, stop: Stop, run: &Run, committed: bool) -> Ended {
        let log = self.ledger.log();
        let failure_at = |slot: usize| {
            let at = self.plan.attempts[slot].at;
            let (model, ep) = self.endpoint(at);
            (run.failures.get(&slot), model, ep.provider.as_str())
        };
        let result = match stop {
            Stop::Answered { .. } => match run.answered {
                Some(a) => Ok(a),
                None => Err(record::final_error(&log)),
            },
            Stop::Refused { slot } => match failure_at(slot) {
                (Some(f), model, provider) => Err(record::request_error(f, model, provider, &log)),
                _ => Err(record::final_error(&log)),
            },
            Stop::Broken { slot } => match failure_at(slot) {
                (Some(f), model, provider) => {
                    Err(record::broken_stream_error(f, model, provider, &log))
                }
                _ => Err(record::final_error(&log)),
            },
            Stop::Exhausted { out_of_time } => {
                if out_of_time && (log.is_empty() || !committed) {
                    if let Some(a) = self.plan.attempts.first() {
                        let (model, ep) = self.endpoint(a.at);
                        self.ledger.push(
                            AttemptLog::skipped(model, ep, &classify(FailureKind::RequestTimeout)),
                            None,
                        );
                    }
                }
                Err(record::final_error(&self.ledger.log()))
            }
        };
        match &result {
            Ok((at, finish)) => self.ledger.end(Ending::Answered {
                at: *at,
                finish: *finish,
            }),
            Err(e) => self.ledger.end(Ending::Failed(e.clone())),
        }
        Ended { result, gone: None }
    }

    /// Logs an endpoint passed over without a call and tells the machine.
    fn skip(&self, run: &mut Run, slot: usize, why: Skip, kind: FailureKind, committed: bool) {
        let (model, ep) = self.endpoint(self.plan.attempts[slot].at);
        self.ledger
            .push(AttemptLog::skipped(model, ep, &classify(kind)), None);
        run.fo.observe(
            slot,
            Outcome::Skipped(why),
            committed,
            rand::random::<f64>(),
        );
    }

    /// Everything before the call: the permit, the probe, the encoding. None: passed over.
    async fn prepare(
        &self,
        run: &mut Run,
        slot: usize,
        out: &mut Out,
    ) -> Option<(AttemptGuard, sy_providers::Call, Option<Mode>)> {
        let at = self.plan.attempts[slot].at;
        let (model, ep) = self.endpoint(at);
        let (Some(client), Some(target)) = (self.snap.upstreams.get(&ep.provider), self.target(at))
        else {
            let kind = FailureKind::Unencodable("the provider is not configured".to_owned());
            self.skip(run, slot, Skip::Unencodable, kind, out.committed);
            return None;
        };
        let left = run.deadline.saturating_duration_since(Instant::now());
        let Some(permit) = client.permit(QUEUE_WAIT.min(left)).await else {
            self.skip(
                run,
                slot,
                Skip::Saturated,
                FailureKind::Saturated,
                out.committed,
            );
            return None;
        };
        let admit = self
            .state
            .health
            .begin_attempt(model, &ep.provider, self.state.now());
        if admit == Admit::Blocked {
            self.skip(
                run,
                slot,
                Skip::CircuitOpen,
                FailureKind::CircuitOpen,
                out.committed,
            );
            return None;
        }
        let mode = out.start_attempt(ep.supports_prefill);
        let cont = continuation(mode.as_ref());
        let protocol = sy_providers::protocol(client.api);
        let call = match protocol.encode(&self.req, &target, cont) {
            Ok(c) => c,
            Err(e) => {
                if admit == Admit::Probe {
                    self.state.health.cancel_attempt(model, &ep.provider);
                }
                tracing::warn!(provider = %ep.provider, error = %e, "cannot encode the request for this endpoint");
                self.skip(
                    run,
                    slot,
                    Skip::Unencodable,
                    FailureKind::Unencodable(e),
                    out.committed,
                );
                return None;
            }
        };
        run.fo.begin(slot);
        let prefill = cont.prefill().map_or(0, sy_providers::estimate_text_tokens);
        let guard = AttemptGuard::new(
            Arc::clone(&self.ledger),
            at,
            permit,
            admit == Admit::Probe,
            prefill,
        );
        Some((guard, call, mode))
    }

    /// One call (raced by a hedge when the machine says so), and what follows from it.
    async fn attempt(
        &self,
        run: &mut Run,
        slot: usize,
        hedge: Option<Hedge>,
        out: &mut Out,
        t: &Timeouts,
    ) {
        let Some((guard, call, mode)) = self.prepare(run, slot, out).await else {
            return;
        };
        let at = self.plan.attempts[slot].at;
        let (model, ep) = self.endpoint(at);
        let span = tracing::info_span!("attempt", provider = %ep.provider, model = model, n = run.fo.made(), hedged = hedge.is_some());
        let (won, guard, result) = match hedge {
            Some(h) => {
                self.race(run, slot, h, (guard, call), out, t)
                    .instrument(span)
                    .await
            }
            None => {
                let calls = usize::try_from(run.fo.made()).unwrap_or(usize::MAX);
                let (guard, result) = self
                    .run_one(calls, slot, (guard, call), mode.as_ref(), out, t)
                    .instrument(span)
                    .await;
                (slot, guard, result)
            }
        };
        self.settle(run, won, guard, result, out.committed);
    }

    /// Calls `slot` and writes its answer.
    async fn run_one(
        &self,
        calls: usize,
        slot: usize,
        (guard, call): (AttemptGuard, sy_providers::Call),
        mode: Option<&Mode>,
        out: &mut Out,
        t: &Timeouts,
    ) -> (AttemptGuard, Result<Option<Finish>, FailureKind>) {
        let at = self.plan.attempts[slot].at;
        let Some(target) = self.target(at) else {
            return (
                guard,
                Err(FailureKind::Unencodable("no provider".to_owned())),
            );
        };
        let Some(client) = self.snap.upstreams.get(&target.provider.name) else {
            return (
                guard,
                Err(FailureKind::Unencodable("no provider".to_owned())),
            );
        };
        let cont = continuation(mode);
        let opened = attempt::open(client.open(call, &target, cont), guard, t).await;
        match opened {
            Ok(o) => {
                let pass = mode.is_none() && self.same_family(at);
                let meta = self.meta(at);
                attempt::finish(o, out, pass, &meta, calls, t).await
            }
            Err((g, kind)) => (g, Err(kind)),
        }
    }

    /// Whether the endpoint at `at` speaks the client's wire family (its frames pass through).
    fn same_family(&self, at: EndpointRef) -> bool {
        self.target(at).is_some_and(|t| {
            sy_providers::protocol(t.provider.api).family(t.upstream_model) == self.dialect.family()
        })
    }

    /// Closes the attempt and tells the machine what happened.
    fn settle(
        &self,
        run: &mut Run,
        slot: usize,
        guard: AttemptGuard,
        result: Result<Option<Finish>, FailureKind>,
        committed: bool,
    ) {
        let jitter = rand::random::<f64>();
        match result {
            Err(FailureKind::Cancelled(why)) => {
                guard.close(Err(FailureKind::Cancelled(why)));
                run.gone = Some(why);
            }
            Ok(finish) => {
                guard.close(Ok(()));
                let at = self.plan.attempts[slot].at;
                if let (Some(k), true) = (
                    self.affinity_key,
                    self.plan
                        .attempts
                        .first()
                        .is_some_and(|a| a.at.model == at.model),
                ) {
                    self.state
                        .affinity
                        .put(k, &self.endpoint(at).1.provider, self.state.now());
                }
                run.answered = Some((at, finish));
                run.fo.observe(slot, Outcome::Answered, committed, jitter);
            }
            Err(kind) => {
                if let Some(f) = guard.close(Err(kind)) {
                    run.fo.observe(slot, Outcome::Failed(&f), committed, jitter);
                    run.failures.insert(slot, f);
                }
            }
        }
    }

    /// The usage of every attempt so far.
    pub fn usage(&self) -> Usage {
        self.ledger.usage()
    }
}

fn continuation(mode: Option<&Mode>) -> Continue<'_> {
    match mode {
        None => Continue::Fresh,
        Some(Mode::Prefill(p)) => Continue::Prefill(p),
        Some(Mode::Regenerate) => Continue::Regenerate,
    }
}
