//! Step 2: the filters, each with the reason it gives (SPEC §4.2).

use sy_api::DataCollection;
use sy_config::{Endpoint, Provider};

use super::RequestFacts;
use crate::Variant;

/// Why `ep` is left out, or None when it survives every filter.
pub(super) fn reason(
    ep: &Endpoint,
    provider: Option<&Provider>,
    variant: Variant,
    facts: &RequestFacts<'_>,
) -> Option<String> {
    let prefs = facts.prefs;
    let slug = ep.provider.as_str();
    if variant == Variant::Free && !ep.is_free() {
        return Some(":free: not a zero-price endpoint".to_owned());
    }
    if let Some(only) = &prefs.only {
        if !only.iter().any(|s| s == slug) {
            return Some(format!(
                "provider.only (allow-list) does not include {slug}"
            ));
        }
    }
    if prefs.ignore.iter().any(|s| s == slug) {
        return Some(format!("provider.ignore (deny-list) includes {slug}"));
    }
    if !prefs.allow_fallbacks && !prefs.order.is_empty() && !prefs.order.iter().any(|s| s == slug) {
        return Some(format!(
            "provider.allow_fallbacks is false and provider.order does not name {slug}"
        ));
    }
    if let Some(p) = provider {
        if prefs.data_collection == DataCollection::Deny && p.data_collection_allowed {
            return Some(
                "data_collection: deny, but this provider may store or train on prompts".to_owned(),
            );
        }
        if prefs.zdr && !p.zdr {
            return Some("zdr: the provider is not zero-data-retention".to_owned());
        }
    }
    if let Some(q) = &prefs.quantizations {
        if !q.iter().any(|x| x == &ep.quantization) {
            return Some(format!(
                "quantization {} is not in provider.quantizations {q:?}",
                ep.quantization
            ));
        }
    }
    let mp = &prefs.max_price;
    for (what, cap, price) in [
        ("prompt", mp.prompt, ep.prompt_price),
        ("completion", mp.completion, ep.completion_price),
        ("request", mp.request, ep.request_price),
    ] {
        if let Some(cap) = cap {
            if price > cap {
                let unit = if what == "request" {
                    "USD per request"
                } else {
                    "USD per million tokens"
                };
                return Some(format!(
                    "max_price: {what} price {price} exceeds {cap} {unit}"
                ));
            }
        }
    }
    if prefs.require_parameters {
        let missing: Vec<&str> = facts
            .used_parameters
            .iter()
            .copied()
            .filter(|p| !ep.supported_parameters.iter().any(|s| s == p))
            .collect();
        if !missing.is_empty() {
            return Some(format!(
                "require_parameters: the endpoint does not support the parameters {}",
                missing.join(", ")
            ));
        }
    }
    let need = facts.prompt_tokens.saturating_add(facts.completion_tokens);
    if need > ep.context_length {
        return Some(format!(
            "context length {} is too small for ~{} prompt tokens plus {} completion tokens",
            ep.context_length, facts.prompt_tokens, facts.completion_tokens
        ));
    }
    None
}
