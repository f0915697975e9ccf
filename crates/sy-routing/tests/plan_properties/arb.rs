//! Random inputs for the planner's property tests: catalogs, provider preferences, health
//! views, request ids and seeds, and how they become a `Config` and `ProviderPrefs`.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use sy_api::{DataCollection, MaxPrice, Partition, ProviderPrefs, SortBy, SortSpec};
use sy_config::{Api, Config, Endpoint, Model, Provider, RoutingConfig};
use sy_routing::{resolve_models, EndpointHealth};
pub const SLUGS: [&str; 6] = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];
pub const QUANTS: [&str; 5] = ["int4", "int8", "fp8", "bf16", "unknown"];
pub const PARAMS: [&str; 6] = [
    "temperature",
    "top_p",
    "tools",
    "seed",
    "max_tokens",
    "response_format",
];
pub const CONTEXTS: [u64; 4] = [2_000, 8_000, 32_000, 128_000];

#[derive(Debug, Clone)]
pub struct RawEndpoint {
    pub provider: Index,
    /// (prompt, completion, request) prices.
    pub prices: (f64, f64, f64),
    pub quant: Index,
    pub params: Vec<bool>,
    pub context: Index,
    pub health: EndpointHealth,
}

#[derive(Debug, Clone)]
pub struct RawModel {
    pub endpoints: Vec<RawEndpoint>,
    pub fallbacks: Vec<Index>,
}

#[derive(Debug, Clone)]
pub struct RawPrefs {
    pub order: Vec<Index>,
    pub allow_fallbacks: bool,
    pub only: Option<Vec<Index>>,
    pub ignore: Vec<Index>,
    pub require_parameters: bool,
    pub used: Vec<bool>,
    pub deny_data_collection: bool,
    pub zdr: bool,
    pub quantizations: Option<Vec<Index>>,
    /// (by: 0 price, 1 throughput, 2 latency; partition none)
    pub sort: Option<(u8, bool)>,
    pub max_price: (Option<f64>, Option<f64>, Option<f64>),
    pub preferred_min_throughput: Option<f64>,
    pub preferred_max_latency: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Case {
    /// (zdr, data_collection_allowed) for the first `providers.len()` slugs.
    pub providers: Vec<(bool, bool)>,
    pub models: Vec<RawModel>,
    /// (model, suffix: 0 none, 1 `:free`, 2 `:nitro`, 3 `:floor`)
    pub ids: Vec<(Index, u8)>,
    pub use_fallbacks: bool,
    pub prefs: RawPrefs,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// An endpoint of the first requested model that served the prompt prefix.
    pub affinity: Option<Index>,
    pub seed: u64,
}

/// Prices in USD per million tokens on a coarse grid, so ties happen; zero included.
fn price_grid() -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(0.0), 5 => (1u32..=200).prop_map(|c| f64::from(c) / 20.0)]
}

fn prices() -> impl Strategy<Value = (f64, f64, f64)> {
    let request = prop_oneof![5 => Just(0.0), 1 => (1u32..=10).prop_map(|c| f64::from(c) / 100.0)];
    prop_oneof![
        1 => Just((0.0, 0.0, 0.0)),
        4 => (price_grid(), price_grid(), request),
    ]
}

fn health() -> impl Strategy<Value = EndpointHealth> {
    (
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.15),
        prop::option::weighted(0.7, (1u32..=60).prop_map(|x| f64::from(x) / 10.0)),
        prop::option::weighted(0.7, (1u32..=30).prop_map(|x| f64::from(x * 10))),
    )
        .prop_map(
            |(outage, unavailable, latency_s, throughput)| EndpointHealth {
                outage,
                unavailable,
                latency_s,
                throughput,
                ..EndpointHealth::default()
            },
        )
}

prop_compose! {
    fn raw_endpoint()(
        provider in any::<Index>(),
        prices in prices(),
        quant in any::<Index>(),
        params in prop::collection::vec(prop::bool::weighted(0.7), PARAMS.len()),
        context in any::<Index>(),
        health in health(),
    ) -> RawEndpoint {
        RawEndpoint { provider, prices, quant, params, context, health }
    }
}

prop_compose! {
    fn raw_model()(
        endpoints in prop::collection::vec(raw_endpoint(), 1..=8),
        fallbacks in prop::collection::vec(any::<Index>(), 0..=2),
    ) -> RawModel {
        RawModel { endpoints, fallbacks }
    }
}

fn slug_list(min: usize, max: usize) -> impl Strategy<Value = Vec<Index>> {
    prop::collection::vec(any::<Index>(), min..=max)
}

prop_compose! {
    fn raw_prefs()(
        (order, allow_fallbacks, only, ignore) in (
            prop_oneof![1 => Just(Vec::new()), 1 => slug_list(1, 4)],
            prop::bool::weighted(0.7),
            prop::option::weighted(0.25, slug_list(1, 4)),
            prop_oneof![3 => Just(Vec::new()), 1 => slug_list(1, 2)],
        ),
        (require_parameters, used, deny_data_collection, zdr) in (
            prop::bool::weighted(0.3),
            prop::collection::vec(prop::bool::weighted(0.3), PARAMS.len()),
            prop::bool::weighted(0.25),
            prop::bool::weighted(0.2),
        ),
        quantizations in prop::option::weighted(0.25, slug_list(1, 3)),
        sort in prop::option::weighted(0.5, (0u8..3, any::<bool>())),
        max_price in (
            prop::option::weighted(0.2, price_grid()),
            prop::option::weighted(0.2, price_grid()),
            prop::option::weighted(0.1, prop_oneof![Just(0.0), Just(0.05)]),
        ),
        preferred_min_throughput in prop::option::weighted(0.2, (1u32..=30).prop_map(|x| f64::from(x * 10))),
        preferred_max_latency in prop::option::weighted(0.2, (1u32..=60).prop_map(|x| f64::from(x) / 10.0)),
    ) -> RawPrefs {
        RawPrefs {
            order, allow_fallbacks, only, ignore, require_parameters, used, deny_data_collection,
            zdr, quantizations, sort, max_price, preferred_min_throughput, preferred_max_latency,
        }
    }
}

prop_compose! {
    pub fn case()(
        providers in prop::collection::vec((prop::bool::weighted(0.4), any::<bool>()), 2..=SLUGS.len()),
        models in prop::collection::vec(raw_model(), 1..=5),
        ids in prop::collection::vec((any::<Index>(), prop_oneof![3 => Just(0u8), 1 => 1u8..4]), 1..=3),
        use_fallbacks in any::<bool>(),
        prefs in raw_prefs(),
        prompt_tokens in prop_oneof![
            3 => 0u64..3_000,
            1 => prop::sample::select(vec![1_999u64, 2_000, 2_001, 7_999, 8_000, 8_001]),
        ],
        completion_tokens in prop_oneof![Just(0u64), 1u64..4_000],
        affinity in prop::option::weighted(0.5, any::<Index>()),
        seed in any::<u64>(),
    ) -> Case {
        Case {
            providers, models, ids, use_fallbacks, prefs, prompt_tokens, completion_tokens,
            affinity, seed,
        }
    }
}

// ---------------------------------------------------------------- building the inputs

pub fn model_id(i: usize) -> String {
    format!("vendor/m{i}")
}

pub fn build_config(case: &Case) -> Config {
    let n = case.providers.len();
    let providers = case
        .providers
        .iter()
        .zip(SLUGS)
        .map(|(&(zdr, data_collection_allowed), name)| Provider {
            name: name.to_owned(),
            api: Api::OpenAi,
            base_url: format!("http://{name}.invalid/v1"),
            api_key: None,
            data_collection_allowed,
            zdr,
            max_concurrency: 8,
            headers: Vec::new(),
            cloud: sy_config::Cloud::default(),
        })
        .collect();
    let m = case.models.len();
    let models = case
        .models
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let mut fallbacks: Vec<String> = Vec::new();
            for f in &raw.fallbacks {
                let f = f.index(m);
                if f != i && !fallbacks.contains(&model_id(f)) {
                    fallbacks.push(model_id(f));
                }
            }
            Model {
                id: model_id(i),
                name: format!("M{i}"),
                kind: sy_config::ModelKind::Chat,
                context_length: 128_000,
                fallbacks,
                endpoints: raw
                    .endpoints
                    .iter()
                    .map(|e| {
                        let provider = SLUGS[e.provider.index(n)].to_owned();
                        Endpoint {
                            upstream_model: format!("{provider}/m{i}"),
                            provider,
                            prompt_price: e.prices.0,
                            completion_price: e.prices.1,
                            request_price: e.prices.2,
                            context_length: CONTEXTS[e.context.index(CONTEXTS.len())],
                            max_completion_tokens: None,
                            quantization: QUANTS[e.quant.index(QUANTS.len())].to_owned(),
                            supported_parameters: PARAMS
                                .iter()
                                .zip(&e.params)
                                .filter(|(_, &on)| on)
                                .map(|(p, _)| (*p).to_owned())
                                .collect(),
                            supports_prefill: false,
                            cache_read_price: None,
                            cache_write_price: None,
                            reasoning_price: None,
                            dimensions: None,
                        }
                    })
                    .collect(),
            }
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

pub fn build_prefs(raw: &RawPrefs, n_providers: usize) -> ProviderPrefs {
    let slugs = |v: &[Index]| -> Vec<String> {
        v.iter()
            .map(|i| SLUGS[i.index(n_providers)].to_owned())
            .collect()
    };
    ProviderPrefs {
        order: slugs(&raw.order),
        allow_fallbacks: raw.allow_fallbacks,
        only: raw.only.as_deref().map(slugs),
        ignore: slugs(&raw.ignore),
        require_parameters: raw.require_parameters,
        data_collection: if raw.deny_data_collection {
            DataCollection::Deny
        } else {
            DataCollection::Allow
        },
        zdr: raw.zdr,
        quantizations: raw.quantizations.as_ref().map(|q| {
            q.iter()
                .map(|i| QUANTS[i.index(QUANTS.len())].to_owned())
                .collect()
        }),
        sort: raw.sort.map(|(by, none)| SortSpec {
            by: [SortBy::Price, SortBy::Throughput, SortBy::Latency][usize::from(by)],
            partition: if none {
                Partition::None
            } else {
                Partition::Model
            },
        }),
        max_price: MaxPrice {
            prompt: raw.max_price.0,
            completion: raw.max_price.1,
            request: raw.max_price.2,
        },
        preferred_min_throughput: raw.preferred_min_throughput,
        preferred_max_latency: raw.preferred_max_latency,
    }
}

/// The request's model ids: distinct models, so every endpoint is a candidate at most once (one
/// model under two suffixes plans its endpoints twice: see `plan_findings.rs`).
/// A `:free` suffix on a model without a zero-price endpoint must be a 400 naming the id; such an
/// id is then requested without the suffix.
pub fn request_ids(case: &Case, config: &Config) -> Result<Vec<String>, TestCaseError> {
    let mut seen = Vec::new();
    let mut ids = Vec::new();
    for (i, suffix) in &case.ids {
        let m = i.index(config.models.len());
        if seen.contains(&m) {
            continue;
        }
        seen.push(m);
        let base = model_id(m);
        let id = match suffix {
            1 => format!("{base}:free"),
            2 => format!("{base}:nitro"),
            3 => format!("{base}:floor"),
            _ => base.clone(),
        };
        let has_free = config.models[m].endpoints.iter().any(Endpoint::is_free);
        match resolve_models(config, &[id.as_str()], false) {
            Err(e) if *suffix == 1 && !has_free => {
                prop_assert!(e.message.contains(&id), "error must name {id}: {e:?}");
                ids.push(base);
            }
            Err(e) => return Err(TestCaseError::fail(format!("{id} did not resolve: {e:?}"))),
            Ok(_) if *suffix == 1 && !has_free => {
                return Err(TestCaseError::fail(format!(
                    "{id} resolved, but the model has no zero-price endpoint"
                )))
            }
            Ok(_) => ids.push(id),
        }
    }
    Ok(ids)
}
