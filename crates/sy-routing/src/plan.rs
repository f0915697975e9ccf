//! Steps 2–5 of routing (SPEC §4.2): filter every endpoint of the resolved models, keeping each
//! exclusion's reason, then order the survivors. The plan is a pure function of the catalog, the
//! health view, the request's facts and a random source.

mod filter;
mod order;

use sy_api::ProviderPrefs;
use sy_config::Config;

use crate::{EndpointHealth, EndpointRef, Resolved};

/// What the planner needs to know about the request.
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    pub prefs: &'a ProviderPrefs,
    pub used_parameters: &'a [&'static str],
    /// Estimated prompt tokens (tokenizer).
    pub prompt_tokens: u64,
    /// Requested completion tokens (`max_tokens`), 0 when not given.
    pub completion_tokens: u64,
    /// The endpoint that last served this request's stable prefix (cache affinity).
    pub affinity: Option<EndpointRef>,
}

/// One position of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAttempt {
    pub at: EndpointRef,
    /// The figure that placed it (probability of the weighted draw, price, throughput, latency...).
    pub score: f64,
    pub why: String,
    /// In cooldown or with an open circuit: after every available endpoint of every model.
    pub unavailable: bool,
}

/// An endpoint left out, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Exclusion {
    pub at: EndpointRef,
    pub reason: String,
}

/// The ordered endpoints a request will try, plus every endpoint left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub attempts: Vec<PlannedAttempt>,
    pub excluded: Vec<Exclusion>,
}

/// Builds the plan. `health` gives the routing view of an endpoint; `rand01` returns uniform
/// numbers in [0, 1) for the weighted first pick.
pub fn plan(
    config: &Config,
    models: &[Resolved],
    facts: &RequestFacts<'_>,
    health: &dyn Fn(EndpointRef) -> EndpointHealth,
    rand01: &mut dyn FnMut() -> f64,
) -> Plan {
    let mut out = Plan::default();
    let mut groups: Vec<Vec<order::Candidate<'_>>> = Vec::with_capacity(models.len());
    for r in models {
        let model = &config.models[r.model];
        let mut group = Vec::with_capacity(model.endpoints.len());
        for (i, ep) in model.endpoints.iter().enumerate() {
            let at = EndpointRef {
                model: r.model,
                endpoint: i,
            };
            let provider = config.provider(&ep.provider);
            match filter::reason(ep, provider, r.variant, facts) {
                Some(reason) => out.excluded.push(Exclusion { at, reason }),
                None => group.push(order::Candidate {
                    at,
                    ep,
                    health: health(at),
                }),
            }
        }
        groups.push(group);
    }
    let partition_none = facts
        .prefs
        .sort
        .is_some_and(|s| s.partition == sy_api::Partition::None);
    if partition_none {
        let all: Vec<_> = groups.into_iter().flatten().collect();
        let sort = facts.prefs.sort.map(|s| s.by);
        out.attempts = order::order(all, sort, facts, rand01);
    } else {
        for (r, group) in models.iter().zip(groups) {
            let sort = facts.prefs.sort.map(|s| s.by).or(match r.variant {
                crate::Variant::Nitro => Some(sy_api::SortBy::Throughput),
                crate::Variant::Floor => Some(sy_api::SortBy::Price),
                _ => None,
            });
            out.attempts
                .extend(order::order(group, sort, facts, rand01));
        }
    }
    // SPEC §6: an unavailable endpoint goes after every available endpoint of every model, so
    // while a model's only provider is down its requests go straight to the fallback model
    let (ready, late): (Vec<_>, Vec<_>) = std::mem::take(&mut out.attempts)
        .into_iter()
        .partition(|a| !a.unavailable);
    out.attempts = ready;
    out.attempts.extend(late);
    out
}

#[cfg(test)]
mod tests;
