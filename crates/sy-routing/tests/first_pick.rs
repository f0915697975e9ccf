//! The default routing's first pick, measured: with a seeded random source over many draws, the
//! share of each endpoint converges to the inverse square of its price (SPEC §4.2), endpoints in
//! outage or unavailable are never drawn, and zero-price endpoints win outright.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sy_api::ProviderPrefs;
use sy_config::{Api, Config, Endpoint, Model, Provider, RoutingConfig};
use sy_routing::{plan, resolve_models, EndpointHealth, EndpointRef, RequestFacts};

/// Draws per test. With N = 40,000 the standard deviation of a share is at most
/// sqrt(0.25 / N) = 0.0025, so 5 sigma is at most 1.25 percentage points.
const DRAWS: u32 = 40_000;
/// Allowed deviation of each count, in standard deviations of its binomial count. Under the
/// right distribution P(|Z| > 5) = 5.7e-7 per category, so a correct planner fails no seed in
/// practice; `distinguishes_the_usual_mistakes` shows the bound still rejects 1/price, 1/price³
/// and a uniform draw by a wide margin.
const SIGMAS: f64 = 5.0;

fn endpoint(provider: &str, total_price: f64) -> Endpoint {
    Endpoint {
        provider: provider.to_owned(),
        upstream_model: format!("{provider}/m"),
        // split unevenly: the planner must weigh prompt + completion 1:1
        prompt_price: total_price * 0.25,
        completion_price: total_price * 0.75,
        request_price: 0.0,
        context_length: 8_000,
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

/// One provider per endpoint, named `p0`, `p1`, ...; model `mK` has the prices of `models[K]`.
fn catalog(models: &[&[f64]]) -> Config {
    let most = models.iter().map(|m| m.len()).max().unwrap_or(0);
    Config {
        server: sy_config::ServerConfig::default(),
        auth: None,
        storage: sy_config::StorageConfig::default(),
        cluster: None,
        routing: RoutingConfig::default(),
        providers: (0..most)
            .map(|i| Provider {
                name: format!("p{i}"),
                api: Api::OpenAi,
                base_url: format!("http://p{i}.invalid/v1"),
                api_key: None,
                data_collection_allowed: true,
                zdr: false,
                max_concurrency: 8,
                headers: Vec::new(),
                cloud: sy_config::Cloud::default(),
            })
            .collect(),
        models: models
            .iter()
            .enumerate()
            .map(|(k, prices)| Model {
                id: format!("m{k}"),
                name: format!("M{k}"),
                kind: sy_config::ModelKind::Chat,
                context_length: 8_000,
                fallbacks: Vec::new(),
                endpoints: prices
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| endpoint(&format!("p{i}"), p))
                    .collect(),
            })
            .collect(),
        demo: false,
    }
}

/// Counts, per model, which endpoint comes first among that model's attempts.
fn first_picks(
    config: &Config,
    health: &dyn Fn(EndpointRef) -> EndpointHealth,
    seed: u64,
) -> Vec<Vec<u32>> {
    let ids: Vec<&str> = config.models.iter().map(|m| m.id.as_str()).collect();
    let models = resolve_models(config, &ids, false).unwrap();
    let prefs = ProviderPrefs::default();
    let facts = RequestFacts {
        prefs: &prefs,
        used_parameters: &[],
        prompt_tokens: 100,
        completion_tokens: 0,
        affinity: None,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut counts: Vec<Vec<u32>> = config
        .models
        .iter()
        .map(|m| vec![0; m.endpoints.len()])
        .collect();
    for _ in 0..DRAWS {
        let p = plan(config, &models, &facts, health, &mut || rng.random::<f64>());
        for (k, c) in counts.iter_mut().enumerate() {
            let first = p.attempts.iter().find(|a| a.at.model == k).unwrap();
            c[first.at.endpoint] += 1;
        }
    }
    counts
}

/// Expected shares: weight 1/price² among `drawable` endpoints, normalised.
fn inverse_power(prices: &[f64], drawable: &[bool], power: i32) -> Vec<f64> {
    let w: Vec<f64> = prices
        .iter()
        .zip(drawable)
        .map(|(&p, &d)| if d { p.powi(-power) } else { 0.0 })
        .collect();
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

/// The largest deviation of `counts` from `shares`, in binomial standard deviations (an expected
/// share of zero demands a count of zero).
fn worst_sigma(counts: &[u32], shares: &[f64]) -> f64 {
    let n = f64::from(DRAWS);
    counts
        .iter()
        .zip(shares)
        .map(|(&c, &p)| {
            let dev = (f64::from(c) - n * p).abs();
            if p == 0.0 {
                if c == 0 {
                    0.0
                } else {
                    f64::INFINITY
                }
            } else {
                dev / (n * p * (1.0 - p)).sqrt().max(f64::MIN_POSITIVE)
            }
        })
        .fold(0.0, f64::max)
}

const M0: [f64; 7] = [1.0, 1.5, 2.0, 3.0, 5.0, 0.5, 0.25];
const M1: [f64; 3] = [2.0, 4.0, 8.0];

/// Model 0: endpoint 5 (the cheapest but one) is in outage, endpoint 6 (the cheapest) is
/// unavailable; neither may ever be the first pick. Model 1 is drawn independently.
fn health(at: EndpointRef) -> EndpointHealth {
    EndpointHealth {
        outage: at.model == 0 && at.endpoint == 5,
        unavailable: at.model == 0 && at.endpoint == 6,
        ..EndpointHealth::default()
    }
}

fn expected() -> [Vec<f64>; 2] {
    [
        inverse_power(&M0, &[true, true, true, true, true, false, false], 2),
        inverse_power(&M1, &[true; 3], 2),
    ]
}

#[test]
fn first_pick_converges_to_inverse_square_of_price() {
    let config = catalog(&[&M0, &M1]);
    for seed in [0x5917_0001, 0x5917_0002] {
        let counts = first_picks(&config, &health, seed);
        for (k, (c, want)) in counts.iter().zip(expected()).enumerate() {
            let s = worst_sigma(c, &want);
            assert!(
                s <= SIGMAS,
                "model {k} seed {seed:#x}: counts {c:?}, expected shares {want:?}, {s:.1} sigma off"
            );
        }
        assert_eq!(counts[0][5], 0, "an endpoint in outage was drawn first");
        assert_eq!(counts[0][6], 0, "an unavailable endpoint was drawn first");
    }
}

/// The tolerance is tight enough to fail the plausible wrong weightings: with the expected counts
/// of 1/price, 1/price³ or a uniform draw, the test above would be more than 2 × SIGMAS off.
#[test]
fn distinguishes_the_usual_mistakes() {
    let drawable = [true, true, true, true, true, false, false];
    let right = inverse_power(&M0, &drawable, 2);
    for (name, wrong) in [
        ("1/price", inverse_power(&M0, &drawable, 1)),
        ("1/price^3", inverse_power(&M0, &drawable, 3)),
        ("uniform", inverse_power(&M0, &drawable, 0)),
    ] {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let counts: Vec<u32> = wrong
            .iter()
            .map(|p| (p * f64::from(DRAWS)).round() as u32)
            .collect();
        let s = worst_sigma(&counts, &right);
        assert!(s > 2.0 * SIGMAS, "{name} is only {s:.1} sigma off");
    }
}

#[test]
fn zero_price_endpoints_win_outright() {
    let prices = [0.0, 3.0, 0.0, 0.5];
    let config = catalog(&[&prices]);
    let counts = first_picks(&config, &|_| EndpointHealth::default(), 0x5917_0003);
    let want = [0.5, 0.0, 0.5, 0.0];
    let s = worst_sigma(&counts[0], &want);
    assert!(s <= SIGMAS, "counts {:?}, {s:.1} sigma off", counts[0]);
}
