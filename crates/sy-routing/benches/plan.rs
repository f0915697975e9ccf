//! Planning cost on a large catalog (issue 3): 500 models × 8 endpoints, a request naming one
//! model plus two fallback models, timed from model ids to the finished plan (slug check, model
//! resolution, filter, order) as the gateway calls it per request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sy_api::{DataCollection, MaxPrice, Partition, ProviderPrefs, SortBy, SortSpec};
use sy_config::{Api, Config, Endpoint, Model, Provider, RoutingConfig};
use sy_routing::{check_slugs, plan, resolve_models, EndpointHealth, EndpointRef, RequestFacts};

const MODELS: usize = 500;
const ENDPOINTS: usize = 8;
const PROVIDERS: [&str; 8] = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
];
const QUANTS: [&str; 4] = ["fp8", "bf16", "int8", "fp16"];
const PARAMS: [&str; 6] = [
    "temperature",
    "top_p",
    "tools",
    "tool_choice",
    "seed",
    "response_format",
];

/// A deterministic catalog: prices, quantizations, parameters and context lengths vary by a
/// seeded generator, so filters and sorts have real work to do.
fn catalog() -> Config {
    let mut rng = StdRng::seed_from_u64(500);
    let providers = PROVIDERS
        .iter()
        .enumerate()
        .map(|(i, name)| Provider {
            name: (*name).to_owned(),
            api: Api::OpenAi,
            base_url: format!("http://{name}.invalid/v1"),
            api_key: None,
            data_collection_allowed: i % 3 != 0,
            zdr: i % 2 == 0,
            max_concurrency: 64,
            headers: Vec::new(),
            cloud: sy_config::Cloud::default(),
        })
        .collect();
    let models = (0..MODELS)
        .map(|m| Model {
            id: format!("vendor{}/model-{m}", m % 20),
            name: format!("Model {m}"),
            kind: sy_config::ModelKind::Chat,
            context_length: 131_072,
            fallbacks: Vec::new(),
            endpoints: (0..ENDPOINTS)
                .map(|e| {
                    let prompt = f64::from(rng.random_range(1u32..=400)) / 20.0;
                    Endpoint {
                        provider: PROVIDERS[(m + e) % PROVIDERS.len()].to_owned(),
                        upstream_model: format!("upstream/model-{m}-{e}"),
                        prompt_price: prompt,
                        completion_price: prompt * 3.0,
                        request_price: 0.0,
                        context_length: [32_768, 65_536, 131_072][rng.random_range(0..3)],
                        max_completion_tokens: None,
                        quantization: QUANTS[rng.random_range(0..QUANTS.len())].to_owned(),
                        supported_parameters: PARAMS
                            .iter()
                            .filter(|_| rng.random_bool(0.8))
                            .map(|p| (*p).to_owned())
                            .collect(),
                        supports_prefill: false,
                        cache_read_price: None,
                        cache_write_price: None,
                        reasoning_price: None,
                        dimensions: None,
                    }
                })
                .collect(),
        })
        .collect();
    Config {
        server: sy_config::ServerConfig::default(),
        auth: None,
        storage: sy_config::StorageConfig::default(),
        cluster: None,
        routing: RoutingConfig::default(),
        providers,
        models,
        demo: false,
    }
}

/// A health view with measured figures everywhere, some outages and some cooldowns.
fn health_table() -> Vec<[EndpointHealth; ENDPOINTS]> {
    let mut rng = StdRng::seed_from_u64(8);
    (0..MODELS)
        .map(|_| {
            std::array::from_fn(|_| EndpointHealth {
                outage: rng.random_bool(0.1),
                unavailable: rng.random_bool(0.05),
                latency_s: Some(rng.random_range(0.1..3.0)),
                throughput: Some(rng.random_range(20.0..300.0)),
                ..EndpointHealth::default()
            })
        })
        .collect()
}

/// The three model ids of every case: one model, then two fallbacks, spread over the catalog.
fn ids(config: &Config) -> [&str; 3] {
    [
        config.models[417].id.as_str(),
        config.models[3].id.as_str(),
        config.models[250].id.as_str(),
    ]
}

fn bench_case(c: &mut Criterion, name: &str, prefs: &ProviderPrefs, used: &[&'static str]) {
    let config = catalog();
    let table = health_table();
    let health = |at: EndpointRef| table[at.model][at.endpoint];
    let ids = ids(&config);
    let mut rng = StdRng::seed_from_u64(1);
    c.bench_function(name, |b| {
        b.iter(|| {
            check_slugs(&config, prefs).unwrap();
            let models = resolve_models(&config, black_box(&ids), false).unwrap();
            let facts = RequestFacts {
                prefs,
                used_parameters: used,
                prompt_tokens: black_box(1_200),
                completion_tokens: 1_000,
                affinity: None,
            };
            let p = plan(&config, &models, &facts, &health, &mut || {
                rng.random::<f64>()
            });
            assert!(!p.attempts.is_empty());
            black_box(p)
        });
    });
}

fn plans(c: &mut Criterion) {
    bench_case(
        c,
        "plan/default, 1 model + 2 fallbacks",
        &ProviderPrefs::default(),
        &[],
    );
    bench_case(
        c,
        "plan/sort price, partition none, 3 models",
        &ProviderPrefs {
            sort: Some(SortSpec {
                by: SortBy::Price,
                partition: Partition::None,
            }),
            ..ProviderPrefs::default()
        },
        &[],
    );
    bench_case(
        c,
        "plan/filters + order + thresholds, 3 models",
        &ProviderPrefs {
            order: vec!["delta".into(), "alpha".into()],
            ignore: vec!["theta".into()],
            require_parameters: true,
            data_collection: DataCollection::Deny,
            quantizations: Some(vec!["fp8".into(), "bf16".into(), "fp16".into()]),
            max_price: MaxPrice {
                prompt: Some(15.0),
                completion: Some(45.0),
                request: None,
            },
            preferred_min_throughput: Some(50.0),
            preferred_max_latency: Some(2.0),
            ..ProviderPrefs::default()
        },
        &["temperature", "tools"],
    );
}

criterion_group! {
    name = benches;
    // short enough for a shared 2-core machine
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = plans
}
criterion_main!(benches);
