//! Step 1 of routing (SPEC §4.2): model ids (with `:free`, `:nitro`, `:floor`) to catalog models,
//! the config's `fallbacks` when the request names no `models`, and the provider slugs of
//! `order`/`only`/`ignore` checked against the catalog (a typo must not silently change the route).

use serde_json::Value;
use sy_api::{ApiError, ProviderPrefs};
use sy_config::Config;

/// A model suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Plain,
    /// Zero-price endpoints only.
    Free,
    /// Sort by throughput.
    Nitro,
    /// Sort by price.
    Floor,
}

/// One model of the request, in the order it is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub model: usize,
    pub variant: Variant,
}

/// Resolves `ids` (the request's `model` then `models`). With `use_fallbacks` (the request named
/// no `models`) the first model's configured `fallbacks` follow it.
pub fn resolve_models(
    config: &Config,
    ids: &[&str],
    use_fallbacks: bool,
) -> Result<Vec<Resolved>, ApiError> {
    let mut out: Vec<Resolved> = Vec::with_capacity(ids.len() + 2);
    for id in ids {
        let r = resolve_one(config, id)?;
        // one model under two suffixes would plan its endpoints twice: the first one named wins
        if !out.iter().any(|o| o.model == r.model) {
            out.push(r);
        }
    }
    if use_fallbacks {
        if let Some(first) = out.first().copied() {
            for fb in &config.models[first.model].fallbacks {
                let Some(model) = config.models.iter().position(|m| &m.id == fb) else {
                    continue;
                };
                // `:free` never falls back to a priced endpoint: fallbacks stay free, or are left out
                let has_free = config.models[model]
                    .endpoints
                    .iter()
                    .any(sy_config::Endpoint::is_free);
                let variant = match first.variant {
                    Variant::Free if has_free => Variant::Free,
                    Variant::Free => continue,
                    _ => Variant::Plain,
                };
                if !out.iter().any(|o| o.model == model) {
                    out.push(Resolved { model, variant });
                }
            }
        }
    }
    Ok(out)
}

fn resolve_one(config: &Config, id: &str) -> Result<Resolved, ApiError> {
    let (base, variant) = match id.rsplit_once(':') {
        Some((base, "free")) => (base, Variant::Free),
        Some((base, "nitro")) => (base, Variant::Nitro),
        Some((base, "floor")) => (base, Variant::Floor),
        _ => (id, Variant::Plain),
    };
    let Some(model) = config.models.iter().position(|m| m.id == base) else {
        return Err(ApiError::bad_request(format!(
            "unknown model `{id}`: it is not in the catalog"
        ))
        .with("model", Value::from(id)));
    };
    if variant == Variant::Free
        && !config.models[model]
            .endpoints
            .iter()
            .any(sy_config::Endpoint::is_free)
    {
        return Err(ApiError::bad_request(format!(
            "model `{base}` has no zero-price endpoint, so `{id}` does not exist"
        ))
        .with("model", Value::from(id)));
    }
    Ok(Resolved { model, variant })
}

/// Every slug in `order`, `only` and `ignore` must name a configured provider (case-insensitive).
pub fn check_slugs(config: &Config, prefs: &ProviderPrefs) -> Result<(), ApiError> {
    let lists: [(&str, &[String]); 3] = [
        ("provider.order", &prefs.order),
        ("provider.only", prefs.only.as_deref().unwrap_or(&[])),
        ("provider.ignore", &prefs.ignore),
    ];
    for (field, list) in lists {
        for slug in list {
            if !config
                .providers
                .iter()
                .any(|p| p.name.eq_ignore_ascii_case(slug))
            {
                return Err(ApiError::bad_request(format!(
                    "`{field}` names `{slug}`, which is not a configured provider"
                ))
                .with("field", Value::from(field))
                .with("provider", Value::from(slug.as_str())));
            }
        }
    }
    Ok(())
}
