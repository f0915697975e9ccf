//! Table tests of the planner over a small catalog built in code.

use sy_api::{Partition, ProviderPrefs, SortBy, SortSpec};
use sy_config::{Api, Config, Endpoint, Model, Provider, RoutingConfig};

use super::*;
use crate::{resolve_models, Variant};

fn provider(name: &str, zdr: bool) -> Provider {
    Provider {
        name: name.to_owned(),
        api: Api::OpenAi,
        base_url: format!("http://{name}.invalid/v1"),
        api_key: None,
        data_collection_allowed: !zdr,
        zdr,
        max_concurrency: 8,
        headers: Vec::new(),
        cloud: sy_config::Cloud::default(),
    }
}

fn endpoint(provider: &str, price: f64) -> Endpoint {
    Endpoint {
        provider: provider.to_owned(),
        upstream_model: format!("{provider}-up"),
        prompt_price: price,
        completion_price: price,
        request_price: 0.0,
        context_length: 1000,
        max_completion_tokens: None,
        quantization: "fp8".to_owned(),
        supported_parameters: vec!["temperature".to_owned()],
        supports_prefill: false,
        cache_read_price: None,
        cache_write_price: None,
        reasoning_price: None,
        dimensions: None,
    }
}

fn catalog() -> Config {
    Config {
        server: sy_config::ServerConfig::default(),
        auth: None,
        storage: sy_config::StorageConfig::default(),
        cluster: None,
        routing: RoutingConfig::default(),
        providers: vec![
            provider("alpha", false),
            provider("beta", true),
            provider("gamma", false),
        ],
        models: vec![
            Model {
                id: "m1".into(),
                name: "M1".into(),
                kind: sy_config::ModelKind::Chat,
                context_length: 1000,
                fallbacks: vec!["m2".into()],
                endpoints: vec![
                    endpoint("alpha", 1.0),
                    endpoint("beta", 2.0),
                    endpoint("gamma", 3.0),
                ],
            },
            Model {
                id: "m2".into(),
                name: "M2".into(),
                kind: sy_config::ModelKind::Chat,
                context_length: 1000,
                fallbacks: vec![],
                endpoints: vec![endpoint("gamma", 0.5)],
            },
        ],
        demo: false,
    }
}

fn providers_of(config: &Config, plan: &Plan) -> Vec<String> {
    plan.attempts
        .iter()
        .map(|a| {
            let m = &config.models[a.at.model];
            format!("{}:{}", m.id, m.endpoints[a.at.endpoint].provider)
        })
        .collect()
}

fn check(
    prefs: ProviderPrefs,
    ids: &[&str],
    health: &dyn Fn(EndpointRef) -> EndpointHealth,
    want: &[&str],
) {
    let config = catalog();
    let models = resolve_models(&config, ids, true).unwrap();
    let facts = RequestFacts {
        prefs: &prefs,
        used_parameters: &[],
        prompt_tokens: 10,
        completion_tokens: 0,
        affinity: None,
    };
    // rand 0.0 always draws the first eligible endpoint by weight order
    let p = plan(&config, &models, &facts, health, &mut || 0.0);
    assert_eq!(providers_of(&config, &p), want, "{prefs:?}");
    assert_eq!(
        p.attempts.len() + p.excluded.len(),
        models
            .iter()
            .map(|r| config.models[r.model].endpoints.len())
            .sum::<usize>()
    );
}

fn healthy(_: EndpointRef) -> EndpointHealth {
    EndpointHealth::default()
}

#[test]
fn default_order_then_fallback_model() {
    check(
        ProviderPrefs::default(),
        &["m1"],
        &healthy,
        &["m1:alpha", "m1:beta", "m1:gamma", "m2:gamma"],
    );
}

#[test]
fn order_first_and_allow_fallbacks() {
    let prefs = ProviderPrefs {
        order: vec!["gamma".into(), "beta".into()],
        ..ProviderPrefs::default()
    };
    check(
        prefs.clone(),
        &["m1"],
        &healthy,
        &["m1:gamma", "m1:beta", "m1:alpha", "m2:gamma"],
    );
    let strict = ProviderPrefs {
        allow_fallbacks: false,
        ..prefs
    };
    check(
        strict,
        &["m1"],
        &healthy,
        &["m1:gamma", "m1:beta", "m2:gamma"],
    );
}

#[test]
fn filters() {
    check(
        ProviderPrefs {
            zdr: true,
            ..ProviderPrefs::default()
        },
        &["m1"],
        &healthy,
        &["m1:beta"],
    );
    check(
        ProviderPrefs {
            ignore: vec!["alpha".into()],
            ..ProviderPrefs::default()
        },
        &["m1"],
        &healthy,
        &["m1:beta", "m1:gamma", "m2:gamma"],
    );
    let capped = ProviderPrefs {
        max_price: sy_api::MaxPrice {
            prompt: Some(1.5),
            ..Default::default()
        },
        ..ProviderPrefs::default()
    };
    check(capped, &["m1"], &healthy, &["m1:alpha", "m2:gamma"]);
}

#[test]
fn sort_partition_none_merges_models() {
    let prefs = ProviderPrefs {
        sort: Some(SortSpec {
            by: SortBy::Price,
            partition: Partition::None,
        }),
        ..ProviderPrefs::default()
    };
    check(
        prefs,
        &["m1", "m2"],
        &healthy,
        &["m2:gamma", "m1:alpha", "m1:beta", "m1:gamma"],
    );
}

#[test]
fn outage_and_unavailable_go_last() {
    let h = |at: EndpointRef| EndpointHealth {
        outage: at.model == 0 && at.endpoint == 0,
        unavailable: at.model == 0 && at.endpoint == 1,
        ..EndpointHealth::default()
    };
    check(
        ProviderPrefs::default(),
        &["m1"],
        &h,
        // SPEC §6: the unavailable m1:beta goes after every available endpoint of every model
        &["m1:gamma", "m1:alpha", "m2:gamma", "m1:beta"],
    );
    let sorted = ProviderPrefs {
        sort: Some(SortSpec {
            by: SortBy::Price,
            partition: Partition::Model,
        }),
        ..ProviderPrefs::default()
    };
    check(
        sorted,
        &["m1"],
        &h,
        // SPEC §6: the unavailable m1:beta goes after every available endpoint of every model
        &["m1:gamma", "m1:alpha", "m2:gamma", "m1:beta"],
    );
}

#[test]
fn free_variant_keeps_only_zero_price() {
    let mut config = catalog();
    config.models[0].endpoints[1].prompt_price = 0.0;
    config.models[0].endpoints[1].completion_price = 0.0;
    let r = resolve_models(&config, &["m1:free"], false).unwrap();
    assert_eq!(r[0].variant, Variant::Free);
    assert!(resolve_models(&catalog(), &["m1:free"], false).is_err());
    assert!(resolve_models(&catalog(), &["nope"], false)
        .unwrap_err()
        .message
        .contains("nope"));
}

#[test]
fn weighted_first_pick_follows_inverse_square_of_price() {
    let config = catalog();
    let models = resolve_models(&config, &["m1"], false).unwrap();
    let prefs = ProviderPrefs::default();
    let facts = RequestFacts {
        prefs: &prefs,
        used_parameters: &[],
        prompt_tokens: 1,
        completion_tokens: 0,
        affinity: None,
    };
    let mut firsts = [0u32; 3];
    let n = 10_000;
    for i in 0..n {
        let x = (f64::from(i) + 0.5) / f64::from(n);
        let p = plan(&config, &models, &facts, &healthy, &mut || x);
        firsts[p.attempts[0].at.endpoint] += 1;
    }
    // weights 1/4, 1/16, 1/36 (prices 2, 4, 6)
    let total = 1.0 / 4.0 + 1.0 / 16.0 + 1.0 / 36.0;
    let share = f64::from(firsts[0]) / f64::from(n);
    assert!((share - (1.0 / 4.0) / total).abs() < 0.01, "{firsts:?}");
}
