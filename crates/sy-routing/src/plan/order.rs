//! Steps 3–4: ordering the survivors (SPEC §4.2): `order` first, then strict `sort` or the default
//! outage-aware inverse-square-of-price draw; `preferred_*` thresholds; cache affinity; endpoints
//! in cooldown or with an open circuit last.

use sy_api::SortBy;
use sy_config::Endpoint;

use super::{PlannedAttempt, RequestFacts};
use crate::{EndpointHealth, EndpointRef};

pub(super) struct Candidate<'a> {
    pub at: EndpointRef,
    pub ep: &'a Endpoint,
    pub health: EndpointHealth,
}

fn price(ep: &Endpoint) -> f64 {
    // prompt and completion weighted 1:1 (SPEC §4.2)
    ep.prompt_price + ep.completion_price
}

pub(super) fn order(
    mut cands: Vec<Candidate<'_>>,
    sort: Option<SortBy>,
    facts: &RequestFacts<'_>,
    rand01: &mut dyn FnMut() -> f64,
) -> Vec<PlannedAttempt> {
    let prefs = facts.prefs;
    let mut placed: Vec<(Candidate<'_>, f64, String)> = Vec::with_capacity(cands.len());
    // `order`: those providers first, in that order
    for (pos, slug) in prefs.order.iter().enumerate() {
        while let Some(i) = cands.iter().position(|c| &c.ep.provider == slug) {
            let c = cands.remove(i);
            #[allow(clippy::cast_precision_loss)]
            placed.push((
                c,
                (pos + 1) as f64,
                format!("provider.order position {}", pos + 1),
            ));
        }
    }
    let rest = match sort {
        Some(by) => sorted(cands, by),
        None => default_order(cands, facts, rand01),
    };
    placed.extend(rest);
    // preferred thresholds: endpoints measured to miss them go after the rest, order kept otherwise
    if prefs.preferred_max_latency.is_some() || prefs.preferred_min_throughput.is_some() {
        let misses = |c: &Candidate<'_>| {
            prefs
                .preferred_max_latency
                .is_some_and(|max| c.health.latency_s.is_some_and(|l| l > max))
                || prefs
                    .preferred_min_throughput
                    .is_some_and(|min| c.health.throughput.is_some_and(|t| t < min))
        };
        let (keep, late): (Vec<_>, Vec<_>) = placed.into_iter().partition(|(c, _, _)| !misses(c));
        placed = keep;
        placed.extend(
            late.into_iter()
                .map(|(c, s, w)| (c, s, format!("{w}; misses a preferred_* threshold"))),
        );
    }
    // unavailable (cooldown, open circuit) only as a last resort, whatever the mode
    let (ready, late): (Vec<_>, Vec<_>) = placed
        .into_iter()
        .partition(|(c, _, _)| !c.health.unavailable);
    ready
        .into_iter()
        .chain(late.into_iter().map(|(c, s, w)| {
            (
                c,
                s,
                format!(
                    "{w}; in cooldown or circuit open: last resort, after every available endpoint"
                ),
            )
        }))
        .map(|(c, score, why)| PlannedAttempt {
            at: c.at,
            score,
            why,
            unavailable: c.health.unavailable,
        })
        .collect()
}

fn sorted(mut cands: Vec<Candidate<'_>>, by: SortBy) -> Vec<(Candidate<'_>, f64, String)> {
    // unmeasured endpoints sort after measured ones; outage ones go last (stable)
    let key = |c: &Candidate<'_>| -> (bool, f64) {
        match by {
            SortBy::Price => (false, price(c.ep)),
            SortBy::Throughput => c.health.throughput.map_or((true, 0.0), |t| (false, -t)),
            SortBy::Latency => c.health.latency_s.map_or((true, 0.0), |l| (false, l)),
        }
    };
    cands.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        (a.health.outage, ka.0)
            .cmp(&(b.health.outage, kb.0))
            .then(ka.1.total_cmp(&kb.1))
    });
    cands
        .into_iter()
        .map(|c| {
            let (score, why) = match by {
                SortBy::Price => (
                    price(c.ep),
                    format!("sort by price: {} USD per million tokens", price(c.ep)),
                ),
                SortBy::Throughput => match c.health.throughput {
                    Some(t) => (t, format!("sort by throughput: {t:.1} tokens/s measured")),
                    None => (0.0, "sort by throughput: not measured yet".to_owned()),
                },
                SortBy::Latency => match c.health.latency_s {
                    Some(l) => (
                        l,
                        format!("sort by latency: {l:.3} s to first token measured"),
                    ),
                    None => (0.0, "sort by latency: not measured yet".to_owned()),
                },
            };
            let why = if c.health.outage {
                format!("{why}; in outage: after healthy endpoints")
            } else {
                why
            };
            (c, score, why)
        })
        .collect()
}

fn default_order<'a>(
    cands: Vec<Candidate<'a>>,
    facts: &RequestFacts<'_>,
    rand01: &mut dyn FnMut() -> f64,
) -> Vec<(Candidate<'a>, f64, String)> {
    let (mut healthy, mut outage): (Vec<_>, Vec<_>) =
        cands.into_iter().partition(|c| !c.health.outage);
    let by_price = |a: &Candidate<'_>, b: &Candidate<'_>| price(a.ep).total_cmp(&price(b.ep));
    let mut out = Vec::with_capacity(healthy.len() + outage.len());
    // cache affinity: the endpoint that served this prompt prefix recently goes first
    let affine = facts.affinity.and_then(|a| {
        healthy
            .iter()
            .position(|c| c.at == a && !c.health.unavailable)
    });
    if let Some(i) = affine {
        let c = healthy.remove(i);
        out.push((
            c,
            1.0,
            "cache affinity: served this prompt prefix in the last 10 minutes".to_owned(),
        ));
    } else if let Some((i, p)) = weighted_pick(&healthy, rand01) {
        let c = healthy.remove(i);
        out.push((
            c,
            p,
            format!("first pick: drawn with weight 1/price² (probability {p:.3})"),
        ));
    }
    healthy.sort_by(by_price);
    outage.sort_by(by_price);
    out.extend(healthy.into_iter().map(|c| {
        let p = price(c.ep);
        (c, p, format!("by price: {p} USD per million tokens"))
    }));
    out.extend(outage.into_iter().map(|c| {
        let p = price(c.ep);
        (
            c,
            p,
            format!("in outage over the last outage_window_s: after healthy endpoints (price {p})"),
        )
    }));
    out
}

/// Draws an index weighted by 1/price² among endpoints not unavailable; zero-price ones win
/// outright (their weight is unbounded). Returns the index and its probability.
fn weighted_pick(cands: &[Candidate<'_>], rand01: &mut dyn FnMut() -> f64) -> Option<(usize, f64)> {
    let eligible: Vec<usize> = (0..cands.len())
        .filter(|&i| !cands[i].health.unavailable)
        .collect();
    if eligible.is_empty() {
        return None;
    }
    let free: Vec<usize> = eligible
        .iter()
        .copied()
        .filter(|&i| price(cands[i].ep) <= 0.0)
        .collect();
    let weights: Vec<(usize, f64)> = if free.is_empty() {
        eligible
            .iter()
            .map(|&i| (i, 1.0 / price(cands[i].ep).powi(2)))
            .collect()
    } else {
        free.iter().map(|&i| (i, 1.0)).collect()
    };
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    let mut x = rand01() * total;
    for &(i, w) in &weights {
        if x < w {
            return Some((i, w / total));
        }
        x -= w;
    }
    weights.last().map(|&(i, w)| (i, w / total))
}
