//! `POST /embeddings` (SPEC §4.8): the endpoints of `kind = "embedding"` models, routed, limited
//! and charged like chat; failover within the model (and through an explicit `models` list only:
//! vectors of different models cannot be mixed). The same failover machine decides; an answer
//! is one JSON body, so there is nothing to resume.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use sy_api::{ApiError, Conversation, Family, Part, Role, Turn, UpstreamUsage};
use sy_config::ModelKind;
use sy_routing::failover::{Failover, Next, Outcome, Policy, Skip, Slot, Stop};
use sy_routing::{classify, Admit, Failure, FailureKind};
use tokio::time::Instant;

use crate::handlers::dialect::{error_response, gen_id, unix_now};
use crate::relay::{AttemptGuard, AttemptLog, Ending, Ledger};
use crate::respond::json_bytes;
use crate::state::{AppState, Snapshot};

/// How long a permit is waited for before the next endpoint (as chat's queue).
const QUEUE_WAIT: Duration = Duration::from_millis(500);

pub async fn embeddings(State(state): State<Arc<AppState>>, request: Request) -> Response {
    match run(state, request).await {
        Ok(r) => r,
        Err(e) => error_response(&sy_dialects::Chat, &e),
    }
}

async fn run(state: Arc<AppState>, request: Request) -> Result<Response, ApiError> {
    let snap = state.snapshot.load_full();
    let (parts, body) = request.into_parts();
    let caller = crate::auth::caller(&state, &snap.config, &parts.headers).await?;
    let now = crate::keys::unix_secs();
    if let Some(k) = caller.key() {
        k.admit(state.cluster.as_deref()).await?;
        crate::teams::check(&state, k, now).await?;
    }
    let bytes = crate::handlers::read_body(body, snap.config.server.max_body_bytes).await?;
    let ereq = sy_dialects::embeddings::parse(&bytes)?;
    let guard = caller.key().map(|k| k.guard());
    // the inputs as one user turn: what the planner estimates and the ledger records
    let conv = Conversation {
        turns: vec![Turn {
            role: Role::User,
            parts: vec![Part::text(ereq.text())],
        }],
        ..Conversation::default()
    };
    let mut req = sy_api::Request::new(Family::Chat, ereq.routing.clone(), conv);
    if let Some(g) = &guard {
        crate::plan::hold(&mut req, g, &snap.config)?;
    }
    let req = Arc::new(req);
    let mut planned = crate::plan::build_for(&state, &snap, &req, ModelKind::Embedding)?;
    if let Some(g) = &guard {
        crate::plan::exclude_outside(&snap, g, &mut planned.plan);
    }
    if planned.plan.attempts.is_empty() {
        return Err(crate::plan::nothing_left(&snap, &planned.plan));
    }
    let reservation = match caller.key() {
        Some(k) => {
            k.reserve_tokens(state.cluster.as_deref(), now, planned.prompt_estimate)
                .await?
        }
        None => None,
    };
    let plan = Arc::new(planned.plan);
    let gen_id = gen_id();
    let ledger = Ledger::new(
        Arc::clone(&state),
        Arc::clone(&snap),
        Arc::clone(&plan),
        req,
        gen_id.clone(),
        unix_now(),
        caller.key().cloned(),
        false,
        "embeddings",
    );
    if let Some(r) = reservation {
        ledger.reserved_tokens(r);
    }
    let r = &snap.config.routing;
    let deadline = Instant::now() + Duration::from_secs_f64(r.request_timeout_s);
    let answer_wait = Duration::from_secs_f64(r.first_token_timeout_s);
    let slots = plan
        .attempts
        .iter()
        .map(|a| Slot {
            at: a.at,
            context_length: snap.config.models[a.at.model].endpoints[a.at.endpoint].context_length,
            unavailable: a.unavailable,
            outage: false,
            ttft_p95_s: None,
        })
        .collect();
    let mut fo = Failover::new(
        slots,
        Policy {
            max_attempts: r.max_attempts,
            stream_resume: false,
            max_retry_wait_s: r.max_retry_wait_s,
            hedge: false,
        },
    );
    let mut failures: Vec<(usize, Failure)> = Vec::new();
    let mut vectors = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let slot = match fo.next(left.as_secs_f64()) {
            Next::Stop(stop) => {
                return finish(&snap, &ledger, &plan, stop, &failures, &vectors, &ereq);
            }
            Next::Retry { slot, secs } => {
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                slot
            }
            Next::Call { slot, .. } => slot,
        };
        let at = plan.attempts[slot].at;
        let m = &snap.config.models[at.model];
        let ep = &m.endpoints[at.endpoint];
        let skip = |fo: &mut Failover, why: Skip, kind: FailureKind| {
            ledger.push(AttemptLog::skipped(&m.id, ep, &classify(kind)), None);
            fo.observe(slot, Outcome::Skipped(why), false, rand::random::<f64>());
        };
        let (Some(provider), Some(client)) = (
            snap.config.provider(&ep.provider),
            snap.upstreams.get(&ep.provider),
        ) else {
            skip(
                &mut fo,
                Skip::Unencodable,
                FailureKind::Unencodable("no provider".into()),
            );
            continue;
        };
        let target = sy_providers::Target {
            provider,
            upstream_model: &ep.upstream_model,
            max_tokens: None,
            supported: &ep.supported_parameters,
        };
        let protocol = sy_providers::protocol(provider.api);
        let Some(call) = protocol.embed(&ereq, &target) else {
            let why = format!(
                "the {} protocol serves no embeddings here",
                provider.api.as_str()
            );
            skip(&mut fo, Skip::Unencodable, FailureKind::Unencodable(why));
            continue;
        };
        let Some(permit) = client.permit(QUEUE_WAIT.min(left)).await else {
            skip(&mut fo, Skip::Saturated, FailureKind::Saturated);
            continue;
        };
        let admit = state.health.begin_attempt(&m.id, &ep.provider, state.now());
        if admit == Admit::Blocked {
            skip(&mut fo, Skip::CircuitOpen, FailureKind::CircuitOpen);
            continue;
        }
        fo.begin(slot);
        let mut guard =
            AttemptGuard::new(Arc::clone(&ledger), at, permit, admit == Admit::Probe, 0);
        let wait = answer_wait.min(left);
        let result = match tokio::time::timeout(wait, client.fetch(call)).await {
            Err(_) if wait < answer_wait => Err(FailureKind::RequestTimeout),
            Err(_) => Err(FailureKind::FirstTokenTimeout),
            Ok(Err(kind)) => Err(kind),
            Ok(Ok(body)) => protocol
                .read_embeddings(&body)
                .map_err(FailureKind::Unparsable)
                .and_then(|e| {
                    if e.vectors.len() == ereq.inputs.len() {
                        Ok(e)
                    } else {
                        Err(FailureKind::Unparsable(format!(
                            "{} embeddings for {} inputs",
                            e.vectors.len(),
                            ereq.inputs.len()
                        )))
                    }
                }),
        };
        match result {
            Ok(e) => {
                let prompt = e
                    .prompt_tokens
                    .unwrap_or_else(|| ledger.prompt_tokens() + ereq.given_tokens());
                guard.answered(Some(UpstreamUsage {
                    prompt_tokens: prompt,
                    ..UpstreamUsage::default()
                }));
                guard.close(Ok(()));
                vectors = e.vectors;
                fo.observe(slot, Outcome::Answered, false, 0.0);
            }
            Err(kind) => {
                if let Some(f) = guard.close(Err(kind)) {
                    fo.observe(slot, Outcome::Failed(&f), false, rand::random::<f64>());
                    failures.push((slot, f));
                }
            }
        }
    }
}

fn finish(
    snap: &Snapshot,
    ledger: &Ledger,
    plan: &sy_routing::Plan,
    stop: Stop,
    failures: &[(usize, Failure)],
    vectors: &[Vec<f32>],
    ereq: &sy_api::EmbedRequest,
) -> Result<Response, ApiError> {
    let failure_of = |slot: usize| {
        failures
            .iter()
            .rev()
            .find(|(s, _)| *s == slot)
            .map(|(_, f)| f)
    };
    let result = match stop {
        Stop::Answered { slot } => {
            let at = plan.attempts[slot].at;
            let m = &snap.config.models[at.model];
            let provider = &m.endpoints[at.endpoint].provider;
            ledger.end(Ending::Answered { at, finish: None });
            let usage = ledger.usage();
            let body = sy_dialects::embeddings::body(
                vectors,
                ereq.encoding,
                &ledger.gen_id,
                &m.id,
                provider,
                &usage,
            );
            let mut r = json_bytes(StatusCode::OK, body);
            let h = r.headers_mut();
            if let Ok(v) = provider.parse() {
                h.insert("x-switchyard-provider", v);
            }
            if let Ok(v) = m.id.parse() {
                h.insert("x-switchyard-model", v);
            }
            h.insert("x-switchyard-attempts", ledger.calls().into());
            return Ok(r);
        }
        Stop::Refused { slot } | Stop::Broken { slot } => match failure_of(slot) {
            Some(f) => {
                let at = plan.attempts[slot].at;
                let m = &snap.config.models[at.model];
                crate::relay::request_error(
                    f,
                    &m.id,
                    &m.endpoints[at.endpoint].provider,
                    &ledger.log(),
                )
            }
            None => crate::relay::final_error(&ledger.log()),
        },
        Stop::Exhausted { .. } => crate::relay::final_error(&ledger.log()),
    };
    ledger.end(Ending::Failed(result.clone()));
    Err(result)
}
