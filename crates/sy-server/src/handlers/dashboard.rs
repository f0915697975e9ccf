//! The dashboard of SPEC §9: the page at `GET /` and its assets, embedded in the binary (no build
//! step; charts by a vendored uPlot), and `GET /api/v1/dashboard`, the JSON the page polls.
//! The JSON never carries a secret: no provider key or base URL, no key secret or hash, no
//! upstream error text (which may quote a URL) — attempts show their class and status only.
//! It shows every tenant's requests and keys, so with `[auth]` only the master key reads it
//! (SPEC §8); the page itself holds no data and asks for the key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sy_api::ApiError;
use sy_config::Endpoint;
use sy_routing::{HealthSummary, SeriesPoint};

use crate::respond::{json, Failed};
use crate::state::AppState;

/// The health store's bucket width and the number of buckets in its 30-minute window.
const BUCKET_S: f64 = 10.0;
const BUCKETS: usize = 180;
const WINDOW_S: f64 = 1800.0;
/// Requests listed on the page.
const LATEST: usize = 50;
/// Records scanned for spend: the in-memory store's newest ones inside the window.
const SPEND_SCAN: usize = 2_000;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every file the page may load; anything else is 404.
const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/app.css"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/vendor/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/vendor/uPlot.min.css"),
    },
    Asset {
        name: "uPlot-LICENSE",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../../assets/vendor/LICENSE"),
    },
];

const INDEX: &str = include_str!("../../assets/index.html");

/// Same-origin only: the page makes no request elsewhere and cannot be framed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'none'";

fn with_headers(body: impl IntoResponse, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// `GET /`: the page.
pub async fn page() -> Response {
    let mut r = with_headers(INDEX, "text/html; charset=utf-8");
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    r
}

/// `GET /dashboard/assets/{file}`: one of the embedded files.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => with_headers(a.body, a.content_type),
        None => Failed(ApiError::new(404, "no such dashboard asset")).into_response(),
    }
}

/// `GET /api/v1/dashboard`: everything the page shows. With `[auth]` it needs the master key
/// (401 without a key, 403 with another one).
pub async fn data(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load_full();
    crate::auth::master_only(&state, &snap.config, &headers, "the dashboard's data").await?;
    let now_s = state.now();
    let unix_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let axis = Axis::new(now_s, unix_now);

    let records = state.generations.latest(SPEND_SCAN);
    let recent: Vec<&Value> = records
        .iter()
        .filter(|r| {
            r["created"]
                .as_f64()
                .is_some_and(|c| c >= unix_now - WINDOW_S)
        })
        .collect();
    let spend = spend_by_endpoint(&recent);
    let outage_window = snap.config.routing.outage_window_s;

    let models: Vec<Value> = snap
        .config
        .models
        .iter()
        .map(|m| {
            let eps: Vec<Value> = m
                .endpoints
                .iter()
                .map(|e| {
                    let h = state.health.summary(&m.id, &e.provider, now_s);
                    let outage = state
                        .health
                        .view(&m.id, &e.provider, now_s, outage_window)
                        .outage;
                    let s = state.health.series(&m.id, &e.provider, now_s);
                    let key = (m.id.clone(), e.provider.clone());
                    let status = status(&h, outage);
                    endpoint_json(e, &h, status, &axis.dense(&s), spend.get(&key).copied())
                })
                .collect();
            let kind = match m.kind {
                sy_config::ModelKind::Chat => "chat",
                sy_config::ModelKind::Embedding => "embedding",
            };
            json!({"id": m.id, "name": m.name, "kind": kind, "context_length": m.context_length, "endpoints": eps})
        })
        .collect();

    let providers: Vec<Value> = snap
        .config
        .providers
        .iter()
        .map(|p| json!({"name": p.name, "data_collection": if p.data_collection_allowed { "allow" } else { "deny" }, "zdr": p.zdr}))
        .collect();

    let failed = recent
        .iter()
        .filter(|r| r["status"].as_u64() != Some(200))
        .count();
    let totals = json!({
        "requests": recent.len(),
        "failed": failed,
        "streamed": recent.iter().filter(|r| r["streamed"].as_bool() == Some(true)).count(),
        "spend": recent.iter().filter_map(|r| r["cost"].as_f64()).sum::<f64>(),
    });

    let viewer = if snap.config.auth.is_some() {
        "master"
    } else {
        "open"
    };
    let keys = keys_json(&state).await;

    Ok(json(&json!({
        "generated_at": unix_now,
        "window_s": WINDOW_S,
        "bucket_s": BUCKET_S,
        "demo": snap.config.demo,
        "viewer": viewer,
        "you": Value::Null,
        "spend_basis": "sum of the costs of the requests of the last 30 minutes (at most the newest 2000), \
                        counted to the endpoint that answered",
        "totals": totals,
        "providers": providers,
        "series_t": axis.times(),
        "models": models,
        "requests": records.iter().take(LATEST).map(request_json).collect::<Vec<_>>(),
        "keys": keys,
    })))
}

/// The shared time axis of the charts: the window's buckets on the server clock, labelled in
/// Unix seconds.
struct Axis {
    first_s: f64,
    offset: f64,
}

impl Axis {
    fn new(now_s: f64, unix_now: f64) -> Self {
        let last = (now_s / BUCKET_S).floor() * BUCKET_S;
        Self {
            first_s: last - BUCKET_S * (BUCKETS as f64 - 1.0),
            offset: unix_now - now_s,
        }
    }

    fn times(&self) -> Vec<f64> {
        (0..BUCKETS)
            .map(|i| (self.offset + self.first_s + BUCKET_S * i as f64).round())
            .collect()
    }

    /// The endpoint's sparse buckets spread over the whole axis (no traffic: 0 and null).
    fn dense(&self, points: &[SeriesPoint]) -> Value {
        let mut ok = vec![0u32; BUCKETS];
        let mut failed = vec![0u32; BUCKETS];
        let mut ttft: Vec<Option<f64>> = vec![None; BUCKETS];
        let mut tps: Vec<Option<f64>> = vec![None; BUCKETS];
        for p in points {
            let i = ((p.start_s - self.first_s) / BUCKET_S).round();
            if !(0.0..BUCKETS as f64).contains(&i) {
                continue;
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = i as usize;
            ok[i] = p.successes;
            failed[i] = p.failures;
            ttft[i] = p.ttft_p50_s.map(|s| round1(s * 1000.0));
            tps[i] = p.throughput_p50.map(round1);
        }
        json!({"successes": ok, "failures": failed, "ttft_p50_ms": ttft, "throughput_p50": tps})
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

type EndpointKey = (String, String);

/// Spend and answered requests per (model, provider). A resumed stream's cost, which several
/// endpoints shared, counts to the one that finished it.
fn spend_by_endpoint(records: &[&Value]) -> HashMap<EndpointKey, (f64, u64)> {
    let mut out: HashMap<EndpointKey, (f64, u64)> = HashMap::new();
    for r in records {
        let (Some(model), Some(provider)) = (r["model"].as_str(), r["provider"].as_str()) else {
            continue;
        };
        let e = out
            .entry((model.to_owned(), provider.to_owned()))
            .or_default();
        e.0 += r["cost"].as_f64().unwrap_or(0.0);
        e.1 += 1;
    }
    out
}

fn pair(p: Option<[f64; 5]>, scale: f64) -> Value {
    p.map_or(
        Value::Null,
        |p| json!({"p50": round1(p[0] * scale), "p95": round1(p[3] * scale)}),
    )
}

/// The endpoint's state as routing sees it: the circuit and cooldown first, then whether its
/// recent failures make it an outage (routed after the healthy ones), then traffic.
fn status(h: &HealthSummary, outage: bool) -> &'static str {
    match (h.circuit, h.cooldown_s > 0.0) {
        ("open", _) => "circuit_open",
        ("half_open", _) => "probing",
        (_, true) => "cooldown",
        _ if outage => "outage",
        _ if h.requests == 0 => "idle",
        _ => "ok",
    }
}

fn endpoint_json(
    e: &Endpoint,
    h: &HealthSummary,
    status: &str,
    series: &Value,
    spend: Option<(f64, u64)>,
) -> Value {
    let (spend, answered) = spend.unwrap_or_default();
    json!({
        "provider": e.provider,
        "upstream_model": e.upstream_model,
        "quantization": e.quantization,
        "pricing": {"prompt": e.prompt_price, "completion": e.completion_price, "request": e.request_price},
        "status": status,
        "circuit": h.circuit,
        "cooldown_s": round1(h.cooldown_s),
        "uptime_pct": h.uptime_pct.map(round1),
        "latency_ms": pair(h.latency_s, 1000.0),
        "throughput": pair(h.throughput, 1.0),
        "requests": h.requests,
        "failures": h.failures,
        "answered": answered,
        "spend": spend,
        "series": series,
    })
}

/// A generation record cut down to what the table shows: attempts keep their route and outcome
/// class, not the upstream's message.
fn request_json(r: &Value) -> Value {
    let attempts: Vec<Value> = r["attempts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    json!({
                        "provider": t["provider"], "model": t["model"], "class": t["class"],
                        "kind": t["kind"], "status": t["status"], "duration_ms": t["duration_ms"],
                        "called": t["called"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": r["id"], "created": r["created"], "model": r["model"], "provider": r["provider"],
        "status": r["status"], "streamed": r["streamed"], "finish_reason": r["finish_reason"],
        "tokens_prompt": r["tokens_prompt"], "tokens_completion": r["tokens_completion"],
        "estimated": r["usage"]["estimated"], "cost": r["cost"], "latency_ms": r["latency_ms"],
        "attempts": attempts,
    })
}

/// Every key with its usage (the live figure when this instance charged it), its spend per
/// period and its guardrails, never a secret.
async fn keys_json(state: &AppState) -> Value {
    let Some(storage) = &state.storage else {
        return json!({"available": false, "reason": "no key store is configured", "data": []});
    };
    match tokio::time::timeout(Duration::from_secs(2), storage.store.list_keys()).await {
        Ok(Ok(keys)) => {
            // with the guardrails and the spend per period (SPEC §9)
            let mut data = crate::handlers::keys::keys_json(state, &keys).await;
            // OpenRouter's `hash` (the key's id again) is for its SDKs; the page names keys by
            // id and carries no member that even sounds like a secret
            for k in data.iter_mut().filter_map(Value::as_object_mut) {
                k.remove("hash");
            }
            json!({"available": true, "data": data})
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "dashboard: listing keys failed");
            json!({"available": false, "reason": "the key store is unavailable", "data": []})
        }
        Err(_) => {
            json!({"available": false, "reason": "the key store did not answer in time", "data": []})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(start_s: f64, successes: u32, ttft: Option<f64>) -> SeriesPoint {
        SeriesPoint {
            start_s,
            successes,
            failures: 1,
            ttft_p50_s: ttft,
            throughput_p50: Some(42.04),
        }
    }

    #[test]
    fn the_axis_spans_the_window_in_unix_seconds() {
        let axis = Axis::new(2005.0, 1_700_000_005.0);
        let t = axis.times();
        assert_eq!(t.len(), BUCKETS);
        assert_eq!(
            t[BUCKETS - 1],
            1_700_000_000.0,
            "the newest bucket holds now"
        );
        assert!(t.windows(2).all(|w| (w[1] - w[0] - BUCKET_S).abs() < 1e-9));
    }

    #[test]
    fn sparse_buckets_land_on_their_slot_and_old_ones_are_dropped() {
        let axis = Axis::new(2005.0, 1_700_000_005.0);
        let first = 2000.0 - BUCKET_S * (BUCKETS as f64 - 1.0);
        let v = axis.dense(&[
            point(first - BUCKET_S, 9, None),
            point(first, 3, Some(0.25)),
            point(2000.0, 5, None),
        ]);
        let ok = v["successes"].as_array().map(Vec::len);
        assert_eq!(ok, Some(BUCKETS));
        assert_eq!(v["successes"][0], 3);
        assert_eq!(v["failures"][0], 1);
        assert_eq!(v["ttft_p50_ms"][0], 250.0);
        assert_eq!(v["throughput_p50"][0], 42.0);
        assert_eq!(v["successes"][BUCKETS - 1], 5);
        assert_eq!(v["ttft_p50_ms"][BUCKETS - 1], Value::Null);
        assert_eq!(v["successes"][1], 0, "no traffic is 0, not missing");
    }

    #[test]
    fn status_follows_circuit_then_cooldown_then_outage_then_traffic() {
        let h = |circuit, cooldown_s, requests| HealthSummary {
            circuit,
            cooldown_s,
            requests,
            ..HealthSummary::default()
        };
        let cases = [
            (h("open", 5.0, 3), true, "circuit_open"),
            (h("half_open", 0.0, 3), false, "probing"),
            (h("closed", 2.0, 3), true, "cooldown"),
            (h("closed", 0.0, 3), true, "outage"),
            (h("closed", 0.0, 0), false, "idle"),
            (h("closed", 0.0, 3), false, "ok"),
        ];
        for (summary, outage, want) in cases {
            assert_eq!(
                status(&summary, outage),
                want,
                "{summary:?} outage={outage}"
            );
        }
    }

    #[test]
    fn a_request_keeps_its_route_but_not_upstream_messages() {
        let record = json!({
            "id": "gen-1", "created": 1, "model": "m", "provider": "b", "status": 200,
            "cost": 0.5, "usage": {"estimated": true},
            "attempts": [
                {"provider": "a", "model": "m", "endpoint": "a/x", "class": "transient", "kind": "server_error",
                 "status": 503, "message": "upstream HTTP 503 at http://secret.example/v1", "duration_ms": 4, "called": true},
                {"provider": "b", "model": "m", "class": "ok", "kind": "ok", "status": 200, "duration_ms": 90, "called": true},
            ],
        });
        let v = request_json(&record);
        assert_eq!(v["attempts"][0]["provider"], "a");
        assert_eq!(v["attempts"][0]["status"], 503);
        assert_eq!(v["attempts"][1]["class"], "ok");
        assert_eq!(v["estimated"], true);
        assert!(!v.to_string().contains("secret.example"));
    }

    #[test]
    fn spend_counts_recent_records_to_the_endpoint_that_answered() {
        let a = json!({"model": "m", "provider": "a", "cost": 0.25});
        let b = json!({"model": "m", "provider": "a", "cost": 0.5});
        let c = json!({"model": "m", "provider": "b"});
        let s = spend_by_endpoint(&[&a, &b, &c]);
        assert_eq!(s.get(&("m".into(), "a".into())), Some(&(0.75, 2)));
        assert_eq!(s.get(&("m".into(), "b".into())), Some(&(0.0, 1)));
    }

    #[tokio::test]
    async fn assets_are_a_fixed_list() {
        let r = asset(Path("uPlot.iife.min.js".to_owned())).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers().get(header::CONTENT_TYPE),
            Some(&HeaderValue::from_static("text/javascript; charset=utf-8"))
        );
        for name in ["index.html", "../Cargo.toml", "vendor/LICENSE", ""] {
            assert_eq!(
                asset(Path(name.to_owned())).await.status(),
                StatusCode::NOT_FOUND
            );
        }
        let page = page().await;
        assert!(page
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .is_some());
    }
}
