//! Property tests of the planner (issue 3, STYLE.md): over random catalogs, provider preferences,
//! health views and seeded random sources, every plan keeps the invariants of SPEC §4.2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as ProptestConfig, RngSeed, TestCaseError, TestRunner};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sy_api::{DataCollection, Partition, ProviderPrefs, SortBy};
use sy_config::{Config, Endpoint};
use sy_routing::{plan, resolve_models, EndpointHealth, EndpointRef, Plan, RequestFacts, Variant};

#[path = "plan_properties/arb.rs"]
mod arb;

use arb::{build_config, build_prefs, case, request_ids, Case, PARAMS};

// ---------------------------------------------------------------- the oracle

fn price(ep: &Endpoint) -> f64 {
    ep.prompt_price + ep.completion_price
}

/// SPEC §4.2 step 2 written out independently: does `ep` survive every filter?
fn passes(config: &Config, variant: Variant, ep: &Endpoint, facts: &RequestFacts<'_>) -> bool {
    let prefs = facts.prefs;
    let p = config.provider(&ep.provider).unwrap();
    let slug = &ep.provider;
    let mp = &prefs.max_price;
    (variant != Variant::Free || ep.is_free())
        && prefs.only.as_ref().is_none_or(|o| o.contains(slug))
        && !prefs.ignore.contains(slug)
        && (prefs.allow_fallbacks || prefs.order.is_empty() || prefs.order.contains(slug))
        && (prefs.data_collection == DataCollection::Allow || !p.data_collection_allowed)
        && (!prefs.zdr || p.zdr)
        && prefs
            .quantizations
            .as_ref()
            .is_none_or(|q| q.contains(&ep.quantization))
        && mp.prompt.is_none_or(|c| ep.prompt_price <= c)
        && mp.completion.is_none_or(|c| ep.completion_price <= c)
        && mp.request.is_none_or(|c| ep.request_price <= c)
        && (!prefs.require_parameters
            || facts
                .used_parameters
                .iter()
                .all(|u| ep.supported_parameters.iter().any(|s| s == u)))
        && facts.prompt_tokens + facts.completion_tokens <= ep.context_length
}

/// Measured to miss a `preferred_*` threshold (unmeasured endpoints never miss).
fn misses(prefs: &ProviderPrefs, h: &EndpointHealth) -> bool {
    prefs
        .preferred_max_latency
        .is_some_and(|max| h.latency_s.is_some_and(|l| l > max))
        || prefs
            .preferred_min_throughput
            .is_some_and(|min| h.throughput.is_some_and(|t| t < min))
}

/// Strict-sort key: outage last, unmeasured after measured, then the figure (ascending).
fn sort_key(by: SortBy, ep: &Endpoint, h: &EndpointHealth) -> (bool, bool, f64) {
    match by {
        SortBy::Price => (h.outage, false, price(ep)),
        SortBy::Throughput => (
            h.outage,
            h.throughput.is_none(),
            -h.throughput.unwrap_or(0.0),
        ),
        SortBy::Latency => (h.outage, h.latency_s.is_none(), h.latency_s.unwrap_or(0.0)),
    }
}

fn non_decreasing<T>(xs: &[T], le: impl Fn(&T, &T) -> bool) -> bool {
    xs.windows(2).all(|w| le(&w[0], &w[1]))
}

// ---------------------------------------------------------------- the invariants

/// What a case exercised, so that a test can show the generator reaches every rule: a check
/// that never meets its situation cannot fail.
#[derive(Debug, Default, Clone, Copy)]
struct Coverage {
    /// At least three attempts.
    long_plan: bool,
    /// Some endpoints planned and some excluded.
    mixed: bool,
    /// A segment holding both a provider named in `order` and one that is not.
    order_effect: bool,
    /// `allow_fallbacks = false` with an `order`, and a non-empty plan.
    strict_order: bool,
    /// A `:free` model with a planned endpoint.
    free: bool,
    /// `partition: "none"` with two models' endpoints planned.
    merged: bool,
    /// A strict sort over at least two non-ordered endpoints of one segment.
    sorted: bool,
    /// In default routing, an outage and a healthy endpoint in the rest of one segment.
    outage_vs_healthy: bool,
    /// An unavailable endpoint planned after an available one.
    unavailable: bool,
    /// An endpoint moved by a preferred_* threshold.
    threshold: bool,
    /// The cache-affine endpoint placed first of its segment's rest.
    affinity: bool,
}

struct World<'a> {
    config: &'a Config,
    facts: &'a RequestFacts<'a>,
    health: &'a dyn Fn(EndpointRef) -> EndpointHealth,
}

impl World<'_> {
    fn ep(&self, at: EndpointRef) -> &Endpoint {
        &self.config.models[at.model].endpoints[at.endpoint]
    }

    /// Position of the endpoint's provider in `order`, `usize::MAX` when it is not named.
    fn rank(&self, at: EndpointRef) -> usize {
        let slug = &self.ep(at).provider;
        self.facts
            .prefs
            .order
            .iter()
            .position(|s| s == slug)
            .unwrap_or(usize::MAX)
    }
}

fn check_case(case: &Case) -> Result<Coverage, TestCaseError> {
    let config = build_config(case);
    let prefs = build_prefs(&case.prefs, case.providers.len());
    let used: Vec<&'static str> = PARAMS
        .iter()
        .zip(&case.prefs.used)
        .filter(|(_, &on)| on)
        .map(|(p, _)| *p)
        .collect();
    let ids = request_ids(case, &config)?;
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let resolved = resolve_models(&config, &id_refs, case.use_fallbacks).unwrap();
    let health_of = |at: EndpointRef| case.models[at.model].endpoints[at.endpoint].health;
    let first = resolved[0].model;
    let affinity = case.affinity.map(|i| EndpointRef {
        model: first,
        endpoint: i.index(config.models[first].endpoints.len()),
    });
    let facts = RequestFacts {
        prefs: &prefs,
        used_parameters: &used,
        prompt_tokens: case.prompt_tokens,
        completion_tokens: case.completion_tokens,
        affinity,
    };
    let run = || {
        let mut rng = StdRng::seed_from_u64(case.seed);
        plan(&config, &resolved, &facts, &health_of, &mut || {
            rng.random::<f64>()
        })
    };
    let p = run();
    prop_assert_eq!(&p, &run(), "same inputs and seed, same plan");
    let world = World {
        config: &config,
        facts: &facts,
        health: &health_of,
    };
    let mut cov = Coverage::default();
    check_plan(&world, &resolved, &p, &mut cov)?;
    Ok(cov)
}

fn check_plan(
    w: &World<'_>,
    resolved: &[sy_routing::Resolved],
    p: &Plan,
    cov: &mut Coverage,
) -> Result<(), TestCaseError> {
    let prefs = w.facts.prefs;
    cov.long_plan = p.attempts.len() >= 3;
    cov.mixed = !p.attempts.is_empty() && !p.excluded.is_empty();
    let variant_of: HashMap<usize, Variant> =
        resolved.iter().map(|r| (r.model, r.variant)).collect();
    prop_assert_eq!(variant_of.len(), resolved.len(), "models resolved twice");

    // exclusions plus plan cover every candidate exactly once
    let mut seen: BTreeMap<EndpointRef, usize> = BTreeMap::new();
    for at in p
        .attempts
        .iter()
        .map(|a| a.at)
        .chain(p.excluded.iter().map(|e| e.at))
    {
        *seen.entry(at).or_default() += 1;
    }
    let candidates: Vec<EndpointRef> = resolved
        .iter()
        .flat_map(|r| {
            (0..w.config.models[r.model].endpoints.len()).map(move |endpoint| EndpointRef {
                model: r.model,
                endpoint,
            })
        })
        .collect();
    prop_assert_eq!(
        seen.len(),
        candidates.len(),
        "plan + excluded != candidates"
    );
    for c in &candidates {
        prop_assert_eq!(seen.get(c).copied(), Some(1), "{:?} not exactly once", c);
    }

    // a plan never contains an endpoint a filter rejects, and every exclusion is justified
    for a in &p.attempts {
        let ok = passes(w.config, variant_of[&a.at.model], w.ep(a.at), w.facts);
        prop_assert!(ok, "planned {:?} fails a filter", a);
        prop_assert!(a.score.is_finite(), "non-finite score {:?}", a);
    }
    for e in &p.excluded {
        let ok = passes(w.config, variant_of[&e.at.model], w.ep(e.at), w.facts);
        prop_assert!(!ok, "excluded {:?} passes every filter", e);
        prop_assert!(!e.reason.is_empty());
    }

    // allow_fallbacks = false with an order: nobody outside it
    if !prefs.allow_fallbacks && !prefs.order.is_empty() {
        cov.strict_order |= !p.attempts.is_empty();
        for a in &p.attempts {
            prop_assert!(w.rank(a.at) != usize::MAX, "{:?} not in order", a);
        }
    }

    // :free never plans a priced endpoint
    for a in &p.attempts {
        if variant_of[&a.at.model] == Variant::Free {
            cov.free = true;
            prop_assert!(w.ep(a.at).is_free(), ":free planned priced {:?}", a);
        }
    }

    // models: partition "model" keeps each model's endpoints together, in request order
    let partition_none = prefs.sort.is_some_and(|s| s.partition == Partition::None);
    let groups: Vec<(Option<SortBy>, Vec<EndpointRef>)> = if partition_none {
        cov.merged = p
            .attempts
            .iter()
            .any(|a| a.at.model != p.attempts[0].at.model);
        vec![(
            prefs.sort.map(|s| s.by),
            p.attempts.iter().map(|a| a.at).collect(),
        )]
    } else {
        // SPEC §6: unavailable endpoints of every model come after all available ones; each
        // part keeps the models together, in request order
        let pos = |at: EndpointRef| resolved.iter().position(|r| r.model == at.model);
        let split = p
            .attempts
            .iter()
            .position(|a| a.unavailable)
            .unwrap_or(p.attempts.len());
        prop_assert!(
            p.attempts[split..].iter().all(|a| a.unavailable),
            "an available endpoint after an unavailable one: {:?}",
            p.attempts
        );
        for part in [&p.attempts[..split], &p.attempts[split..]] {
            let positions: Vec<_> = part.iter().map(|a| pos(a.at)).collect();
            prop_assert!(
                non_decreasing(&positions, |a, b| a <= b),
                "models interleaved: {positions:?}"
            );
        }
        resolved
            .iter()
            .map(|r| {
                let sort = prefs.sort.map(|s| s.by).or(match r.variant {
                    Variant::Nitro => Some(SortBy::Throughput),
                    Variant::Floor => Some(SortBy::Price),
                    _ => None,
                });
                let ats = p
                    .attempts
                    .iter()
                    .map(|a| a.at)
                    .filter(|at| at.model == r.model)
                    .collect();
                (sort, ats)
            })
            .collect()
    };
    for (sort, group) in &groups {
        check_group(w, *sort, group, cov)?;
    }
    Ok(())
}

/// One ordered unit (a model, or all models under `partition: "none"`). Its attempts must be the
/// concatenation of four segments keyed (unavailable, misses a preferred_* threshold):
/// (no, no) (no, yes) (yes, no) (yes, yes) — unavailable endpoints come last, threshold misses
/// after the rest. Within each segment (the base order, kept):
/// - `order`: providers named in it come first, in its order (order rank non-decreasing);
/// - the others ("rest"): with a sort, the sort key (outage, unmeasured, figure) is
///   non-decreasing — so no outage endpoint precedes a healthy one; in default routing, no
///   outage endpoint precedes a healthy one, the healthy ones after the segment's first are in
///   price order (the first may be the weighted pick or the cache-affine endpoint), and the
///   outage ones are in price order (in an unavailable segment the healthy ones are all in
///   price order: neither the weighted pick nor cache affinity chooses an unavailable endpoint);
/// - in default routing a planned affine endpoint that is healthy, available and not named in
///   `order` is the first of the rest of its segment.
fn check_group(
    w: &World<'_>,
    sort: Option<SortBy>,
    group: &[EndpointRef],
    cov: &mut Coverage,
) -> Result<(), TestCaseError> {
    let prefs = w.facts.prefs;
    let class = |at: &EndpointRef| {
        let h = (w.health)(*at);
        (h.unavailable, misses(prefs, &h))
    };
    let classes: Vec<_> = group.iter().map(class).collect();
    prop_assert!(
        non_decreasing(&classes, |a, b| a <= b),
        "unavailable/threshold segments out of order: {classes:?}"
    );
    cov.unavailable |= classes.first().is_some_and(|c| !c.0) && classes.iter().any(|c| c.0);
    cov.threshold |= classes.iter().any(|c| c.1);
    for seg in group.chunk_by(|a, b| class(a) == class(b)) {
        let ranks: Vec<usize> = seg.iter().map(|&at| w.rank(at)).collect();
        prop_assert!(
            non_decreasing(&ranks, |a, b| a <= b),
            "order not respected: {ranks:?}"
        );
        let rest: Vec<EndpointRef> = seg
            .iter()
            .copied()
            .filter(|&at| w.rank(at) == usize::MAX)
            .collect();
        cov.order_effect |= !rest.is_empty() && rest.len() < seg.len();
        let outage: Vec<bool> = rest.iter().map(|&at| (w.health)(at).outage).collect();
        prop_assert!(
            non_decreasing(&outage, |a, b| a <= b),
            "outage before healthy: {outage:?}"
        );
        match sort {
            Some(by) => {
                cov.sorted |= rest.len() >= 2;
                let keys: Vec<_> = rest
                    .iter()
                    .map(|&at| sort_key(by, w.ep(at), &(w.health)(at)))
                    .collect();
                prop_assert!(
                    non_decreasing(&keys, |a, b| (a.0, a.1) < (b.0, b.1)
                        || ((a.0, a.1) == (b.0, b.1) && a.2 <= b.2)),
                    "not sorted by {by:?}: {keys:?}"
                );
            }
            None => {
                let (healthy, out): (Vec<EndpointRef>, Vec<EndpointRef>) =
                    rest.iter().partition(|&&at| !(w.health)(at).outage);
                let by_price = |v: &[EndpointRef]| -> Vec<f64> {
                    v.iter().map(|&at| price(w.ep(at))).collect()
                };
                // the weighted pick and the affine endpoint are never unavailable, so in an
                // unavailable segment the healthy ones are in price order from the first
                let skip = usize::from(!class(&seg[0]).0);
                let tail = by_price(healthy.get(skip..).unwrap_or(&[]));
                prop_assert!(
                    non_decreasing(&tail, |a, b| a <= b),
                    "healthy not by price: {tail:?}"
                );
                let out = by_price(&out);
                prop_assert!(
                    non_decreasing(&out, |a, b| a <= b),
                    "outage not by price: {out:?}"
                );
                cov.outage_vs_healthy |= !out.is_empty() && !healthy.is_empty();
                if let Some(a) = w.facts.affinity {
                    let h = (w.health)(a);
                    if !h.outage && !h.unavailable && rest.contains(&a) {
                        prop_assert_eq!(rest[0], a, "affine endpoint not first");
                        cov.affinity = true;
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2_000,
        rng_seed: RngSeed::Fixed(0x5917_c4ad_0003),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn plan_keeps_its_invariants(case in case()) {
        check_case(&case)?;
    }
}

/// The generator reaches every situation the invariants speak of, many times over (counts from a
/// fixed seed; each must reach 2 % of the cases).
#[test]
fn generator_reaches_every_rule() {
    const CASES: usize = 2_000;
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..CASES {
        let c = strategy.new_tree(&mut runner).unwrap().current();
        let cov = check_case(&c).unwrap();
        for (name, hit) in [
            ("long_plan", cov.long_plan),
            ("mixed", cov.mixed),
            ("order_effect", cov.order_effect),
            ("strict_order", cov.strict_order),
            ("free", cov.free),
            ("merged", cov.merged),
            ("sorted", cov.sorted),
            ("outage_vs_healthy", cov.outage_vs_healthy),
            ("unavailable", cov.unavailable),
            ("threshold", cov.threshold),
            ("affinity", cov.affinity),
        ] {
            *counts.entry(name).or_default() += usize::from(hit);
        }
    }
    eprintln!("coverage over {CASES} cases: {counts:?}");
    for (name, n) in &counts {
        assert!(
            *n >= CASES / 50,
            "only {n} of {CASES} cases reach {name}: {counts:?}"
        );
    }
}
