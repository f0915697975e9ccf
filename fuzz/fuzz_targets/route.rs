//! From bytes to a plan, as the request path does: parse and validate, check the slugs, resolve
//! the models against the demo catalog, estimate the prompt, plan. The health of each endpoint
//! and the random draws come from the input's last bytes. A validated request must never make
//! the planner fail, and the plan must keep the request's provider preferences.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sy_routing::{EndpointHealth, EndpointRef, RequestFacts};

fn catalog() -> &'static sy_config::Config {
    static CONFIG: OnceLock<sy_config::Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        // the demo's variables: the mock's address, the simulated clouds' keys and files
        let env = |k: &str| match k {
            "SWITCHYARD_DEMO_MOCK" => Some("http://127.0.0.1:9".to_owned()),
            _ if k.starts_with("SWITCHYARD_DEMO_") => Some("fuzz".to_owned()),
            _ => None,
        };
        sy_config::load(sy_config::DEMO_TOML, "demo.toml", &env).expect("the demo catalog loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = sy_dialects::Dialect::parse(&sy_dialects::Chat, data, &[]) else {
        return;
    };
    let cfg = catalog();
    if sy_routing::check_slugs(cfg, &req.routing.prefs).is_err() {
        return;
    }
    let Ok(models) =
        sy_routing::resolve_models(cfg, &req.routing.model_ids(), req.routing.models.is_empty())
    else {
        return;
    };
    let facts = RequestFacts {
        prefs: &req.routing.prefs,
        used_parameters: &req.used_parameters,
        prompt_tokens: sy_providers::estimate_prompt_tokens(&req.conv),
        completion_tokens: req.max_tokens.unwrap_or(0),
        affinity: None,
    };
    let tail = &data[data.len().saturating_sub(8)..];
    let health = |at: EndpointRef| {
        let b = tail
            .get(at.endpoint % tail.len().max(1))
            .copied()
            .unwrap_or(0);
        EndpointHealth {
            outage: b & 1 != 0,
            unavailable: b & 2 != 0,
            latency_s: (b & 4 != 0).then_some(f64::from(b) / 10.0),
            throughput: (b & 8 != 0).then_some(f64::from(b)),
            ttft_p95_s: None,
        }
    };
    let mut draws = tail.iter().cycle().copied();
    let mut rand01 = || f64::from(draws.next().unwrap_or(0)) / 256.0;
    let plan = sy_routing::plan(cfg, &models, &facts, &health, &mut rand01);
    for (i, a) in plan.attempts.iter().enumerate() {
        let provider = &cfg.models[a.at.model].endpoints[a.at.endpoint].provider;
        assert!(
            !plan.excluded.iter().any(|x| x.at == a.at),
            "{provider} is both planned and excluded"
        );
        assert!(
            !plan.attempts[..i].iter().any(|b| b.at == a.at),
            "{provider} is planned twice"
        );
        let slug = provider.to_ascii_lowercase();
        assert!(
            !req.routing.prefs.ignore.contains(&slug),
            "ignored provider {provider} planned"
        );
        if let Some(only) = &req.routing.prefs.only {
            assert!(only.contains(&slug), "{provider} planned outside `only`");
        }
    }
});
