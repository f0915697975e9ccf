//! From a validated request to a plan: resolve the models, check the slugs, estimate the prompt,
//! read the health view, call the pure planner, leave out the endpoints whose protocol cannot
//! carry the request. Shared by every dialect and by explain.

use serde_json::{json, Value};
use sy_api::{ApiError, Request};
use sy_config::ModelKind;
use sy_routing::{EndpointRef, Exclusion, Plan, RequestFacts};

use crate::guard::Guardrails;
use crate::state::{AppState, Snapshot};

/// Prompt tokens for the context filter. A BPE token is at least one byte, so when the prompt's
/// bytes already fit every endpoint the tokenizer is skipped (it costs CPU on every request).
fn prompt_tokens(
    snap: &Snapshot,
    req: &Request,
    models: &[sy_routing::Resolved],
    completion: u64,
) -> u64 {
    let bytes = req.conv.prompt_bytes();
    let smallest = models
        .iter()
        .flat_map(|r| {
            snap.config.models[r.model]
                .endpoints
                .iter()
                .map(|e| e.context_length)
        })
        .min()
        .unwrap_or(u64::MAX);
    let bound = (bytes as u64).saturating_add(4 * req.conv.message_count() as u64);
    if bound.saturating_add(completion) <= smallest {
        return bound.min(sy_providers::estimate_text_tokens_fast(bytes));
    }
    sy_providers::estimate_prompt_tokens(&req.conv)
}

/// A planned request: the plan, the cache-affinity key of its first model (to record who
/// served it) and the prompt estimate the plan used.
pub struct Planned {
    pub plan: Plan,
    pub affinity_key: Option<u64>,
    pub prompt_estimate: u64,
}

/// The plan for a request. Endpoints whose protocol cannot carry the request (a translation
/// it has no equivalent for) are excluded with the reason, as the filters of SPEC §4.2 are.
pub fn build(state: &AppState, snap: &Snapshot, req: &Request) -> Result<Planned, ApiError> {
    build_for(state, snap, req, ModelKind::Chat)
}

/// `build` for the models of one kind: a request naming a model of the other kind is a 400
/// that names it (a chat request cannot be answered with vectors, nor the reverse). Embedding
/// models never fall back but through the request's own `models` (SPEC §4.8).
pub fn build_for(
    state: &AppState,
    snap: &Snapshot,
    req: &Request,
    kind: ModelKind,
) -> Result<Planned, ApiError> {
    let cfg = &snap.config;
    sy_routing::check_slugs(cfg, &req.routing.prefs)?;
    let ids = req.routing.model_ids();
    let use_fallbacks = req.routing.models.is_empty() && kind == ModelKind::Chat;
    let models = sy_routing::resolve_models(cfg, &ids, use_fallbacks)?;
    if let Some(other) = models
        .iter()
        .map(|r| &cfg.models[r.model])
        .find(|m| m.kind != kind)
    {
        let (is, needs) = match kind {
            ModelKind::Chat => ("an embedding model", "/embeddings"),
            ModelKind::Embedding => (
                "a chat model",
                "a chat dialect (/chat/completions, /messages)",
            ),
        };
        return Err(
            ApiError::bad_request(format!("`model` `{}` is {is}: use {needs}", other.id))
                .with("model", Value::from(other.id.as_str())),
        );
    }
    let completion = req.max_tokens.unwrap_or(0);
    let now = state.now();
    // affinity belongs to default routing: an explicit order or sort wins over it
    let prefs = &req.routing.prefs;
    let default_routing = prefs.order.is_empty() && prefs.sort.is_none();
    let key = models
        .first()
        .and_then(|r| crate::affinity::prefix_key(&cfg.models[r.model].id, req));
    let affinity = key.filter(|_| default_routing).and_then(|k| {
        let first = models.first()?;
        let provider = state.affinity.get(k, now)?;
        let endpoint = cfg.models[first.model]
            .endpoints
            .iter()
            .position(|e| e.provider == provider)?;
        Some(EndpointRef {
            model: first.model,
            endpoint,
        })
    });
    let prompt_estimate = prompt_tokens(snap, req, &models, completion);
    let facts = RequestFacts {
        prefs,
        used_parameters: &req.used_parameters,
        prompt_tokens: prompt_estimate,
        completion_tokens: completion,
        affinity,
    };
    let window = cfg.routing.outage_window_s;
    let health = |at: EndpointRef| {
        let m = &cfg.models[at.model];
        state
            .health
            .view(&m.id, &m.endpoints[at.endpoint].provider, now, window)
    };
    let mut rng = || rand::random::<f64>();
    let mut plan = sy_routing::plan(cfg, &models, &facts, &health, &mut rng);
    exclude_unserved(snap, req, &mut plan);
    Ok(Planned {
        plan,
        affinity_key: key,
        prompt_estimate,
    })
}

/// Holds a request to its key's guardrails (SPEC §8) before planning: a model outside
/// `allowed_models` or a provider it names outside `allowed_providers` is 403 naming the
/// guardrail; the key's provider preferences are merged with the request's so that the
/// stricter wins, and `allowed_providers` narrows `only`.
pub fn hold(req: &mut Request, g: &Guardrails, cfg: &sy_config::Config) -> Result<(), ApiError> {
    let prefs = &req.routing.prefs;
    let named = prefs
        .order
        .iter()
        .chain(prefs.only.iter().flatten())
        .find(|slug| !g.allows_provider(slug));
    if let Some(slug) = named {
        return Err(ApiError::new(
            403,
            format!("provider `{slug}` is outside this key's `allowed_providers`"),
        )
        .with("guardrail", Value::from("allowed_providers"))
        .with("provider", Value::from(slug.as_str())));
    }
    for id in req.routing.model_ids() {
        // the id as asked and the model it resolves to (without a `:variant` suffix)
        let base = sy_routing::resolve_models(cfg, &[id], false)
            .ok()
            .and_then(|r| r.first().map(|r| cfg.models[r.model].id.clone()));
        let mut names = vec![id];
        if let Some(b) = base.as_deref() {
            names.push(b);
        }
        if !g.allows_model(&names) {
            return Err(ApiError::new(
                403,
                format!("model `{id}` is outside this key's `allowed_models`"),
            )
            .with("guardrail", Value::from("allowed_models"))
            .with("model", Value::from(id)));
        }
    }
    let mut merged = match &g.prefs {
        Some(key) => req.routing.prefs.under(key),
        None => req.routing.prefs.clone(),
    };
    if !g.allowed_providers.is_empty() {
        merged.only = Some(match merged.only.take() {
            Some(only) => only.into_iter().filter(|s| g.allows_provider(s)).collect(),
            None => g.allowed_providers.clone(),
        });
    }
    req.routing.prefs = merged;
    Ok(())
}

/// Moves out of the plan the endpoints a key may not use (a configured fallback outside its
/// `allowed_models`), with the reason.
pub fn exclude_outside(snap: &Snapshot, g: &Guardrails, plan: &mut Plan) {
    let cfg = &snap.config;
    let mut kept = Vec::with_capacity(plan.attempts.len());
    for a in std::mem::take(&mut plan.attempts) {
        let m = &cfg.models[a.at.model];
        let provider = &m.endpoints[a.at.endpoint].provider;
        if !g.allows_model(&[m.id.as_str()]) {
            plan.excluded.push(Exclusion {
                at: a.at,
                reason: "outside the key's allowed_models".into(),
            });
        } else if !g.allows_provider(provider) {
            plan.excluded.push(Exclusion {
                at: a.at,
                reason: "outside the key's allowed_providers".into(),
            });
        } else {
            kept.push(a);
        }
    }
    plan.attempts = kept;
}

/// Moves the endpoints whose protocol cannot serve the request out of the plan, with the reason.
fn exclude_unserved(snap: &Snapshot, req: &Request, plan: &mut Plan) {
    let cfg = &snap.config;
    let mut kept = Vec::with_capacity(plan.attempts.len());
    for a in std::mem::take(&mut plan.attempts) {
        let ep = &cfg.models[a.at.model].endpoints[a.at.endpoint];
        let why = cfg.provider(&ep.provider).and_then(|provider| {
            let target = sy_providers::Target {
                provider,
                upstream_model: &ep.upstream_model,
                max_tokens: ep.max_completion_tokens,
                supported: &ep.supported_parameters,
            };
            sy_providers::unsupported(req, &target)
        });
        match why {
            Some(reason) => plan.excluded.push(Exclusion { at: a.at, reason }),
            None => kept.push(a),
        }
    }
    plan.attempts = kept;
}

/// The plan as JSON (the explain endpoint and `switchyard explain`).
pub fn to_json(snap: &Snapshot, plan: &Plan) -> Value {
    let cfg = &snap.config;
    let ep = |at: EndpointRef| {
        (
            &cfg.models[at.model],
            &cfg.models[at.model].endpoints[at.endpoint],
        )
    };
    let attempts: Vec<Value> = plan
        .attempts
        .iter()
        .map(|a| {
            let (m, e) = ep(a.at);
            json!({"model": m.id, "provider": e.provider, "endpoint": format!("{}/{}", e.provider, e.upstream_model),
                   "score": if a.score.is_finite() { json!(a.score) } else { Value::Null }, "why": a.why})
        })
        .collect();
    json!({"attempts": attempts, "excluded": excluded_json(snap, plan)})
}

pub fn excluded_json(snap: &Snapshot, plan: &Plan) -> Value {
    let cfg = &snap.config;
    Value::Array(
        plan.excluded
            .iter()
            .map(|x| {
                let m = &cfg.models[x.at.model];
                json!({"model": m.id, "provider": m.endpoints[x.at.endpoint].provider, "reason": x.reason})
            })
            .collect(),
    )
}

/// Nothing left after the filters: 503 with every reason (SPEC §4.2 step 5).
pub fn nothing_left(snap: &Snapshot, plan: &Plan) -> ApiError {
    let reasons: Vec<String> = plan
        .excluded
        .iter()
        .map(|x| {
            let m = &snap.config.models[x.at.model];
            format!(
                "{} via {}: {}",
                m.id, m.endpoints[x.at.endpoint].provider, x.reason
            )
        })
        .collect();
    ApiError::new(
        503,
        format!(
            "no endpoint meets the request's requirements ({})",
            reasons.join("; ")
        ),
    )
    .with("excluded", excluded_json(snap, plan))
}
