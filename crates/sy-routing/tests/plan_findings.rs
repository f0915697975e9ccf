//! Planner defects found by the property tests, each as its smallest failing input; both were
//! fixed in `resolve.rs` and these tests keep them fixed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use sy_api::ProviderPrefs;
use sy_config::{Api, Config, Endpoint, Model, Provider, RoutingConfig};
use sy_routing::{plan, resolve_models, EndpointHealth, EndpointRef, Plan, RequestFacts};

fn endpoint(provider: &str, price: f64) -> Endpoint {
    Endpoint {
        provider: provider.to_owned(),
        upstream_model: format!("{provider}/m"),
        prompt_price: price,
        completion_price: price,
        request_price: 0.0,
        context_length: 1_000,
        max_completion_tokens: None,
        quantization: "fp8".to_owned(),
        supported_parameters: Vec::new(),
        supports_prefill: false,
        cache_read_price: None,
        cache_write_price: None,
        reasoning_price: None,
        dimensions: None,
    }
}

/// `m1`: a free endpoint (a) and a priced one (b), falling back to `m2`; `m2`: one priced endpoint.
fn catalog() -> Config {
    let provider = |name: &str| Provider {
        name: name.to_owned(),
        api: Api::OpenAi,
        base_url: format!("http://{name}.invalid/v1"),
        api_key: None,
        data_collection_allowed: true,
        zdr: false,
        max_concurrency: 8,
        headers: Vec::new(),
        cloud: sy_config::Cloud::default(),
    };
    Config {
        server: sy_config::ServerConfig::default(),
        auth: None,
        storage: sy_config::StorageConfig::default(),
        cluster: None,
        routing: RoutingConfig::default(),
        providers: vec![provider("a"), provider("b")],
        models: vec![
            Model {
                id: "m1".into(),
                name: "M1".into(),
                kind: sy_config::ModelKind::Chat,
                context_length: 1_000,
                fallbacks: vec!["m2".into()],
                endpoints: vec![endpoint("a", 0.0), endpoint("b", 1.0)],
            },
            Model {
                id: "m2".into(),
                name: "M2".into(),
                kind: sy_config::ModelKind::Chat,
                context_length: 1_000,
                fallbacks: Vec::new(),
                endpoints: vec![endpoint("a", 2.0)],
            },
        ],
        demo: false,
    }
}

fn plan_for(config: &Config, ids: &[&str], use_fallbacks: bool) -> Plan {
    let models = resolve_models(config, ids, use_fallbacks).unwrap();
    let prefs = ProviderPrefs::default();
    let facts = RequestFacts {
        prefs: &prefs,
        used_parameters: &[],
        prompt_tokens: 10,
        completion_tokens: 0,
        affinity: None,
    };
    plan(
        config,
        &models,
        &facts,
        &|_| EndpointHealth::default(),
        &mut || 0.5,
    )
}

/// `{"model": "m1:free"}` (no `models`, so the configured fallbacks follow) plans m2's priced
/// endpoint: `resolve_models` appends the fallbacks as `Variant::Plain`, so the `:free` filter
/// no longer applies and a request that asked for free is billed (issue 3: "`:free` never reaches
/// a priced endpoint").
#[test]

fn free_request_never_reaches_a_priced_fallback() {
    let config = catalog();
    let p = plan_for(&config, &["m1:free"], true);
    for a in &p.attempts {
        let ep = &config.models[a.at.model].endpoints[a.at.endpoint];
        assert!(
            ep.is_free(),
            "`m1:free` planned priced {:?}: {}",
            a.at,
            a.why
        );
    }
}

/// `{"model": "m1", "models": ["m1:floor"]}` resolves m1 twice (the dedup compares model and
/// variant), so every endpoint of m1 is planned twice and the plan no longer covers each
/// candidate exactly once.
#[test]

fn one_model_under_two_suffixes_plans_each_endpoint_once() {
    let config = catalog();
    let p = plan_for(&config, &["m1", "m1:floor"], false);
    let mut seen = BTreeSet::new();
    for a in &p.attempts {
        assert!(seen.insert(a.at), "{:?} planned twice", a.at);
    }
    let want: BTreeSet<EndpointRef> = (0..2)
        .map(|endpoint| EndpointRef { model: 0, endpoint })
        .collect();
    assert_eq!(seen, want);
}
