//! Three gateway processes on loopback sharing one real Redis (`[cluster]`) and one PostgreSQL
//! (issue 7): what one instance learns about a failing provider the others act on; a key's limit
//! holds across all three; SIGHUP changes a price with no failed request; SIGTERM lets 100 open
//! streams finish. Each test uses its own Redis database number, flushed first.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod process;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use process::faults::OwnRedis;
use process::{create_key, get_json, serve, signal, terminate, usage, Served, MASTER};
use serde_json::{json, Value};
use sy_mock::{Behaviour, MockConfig, MockServer};
use tokio_util::sync::CancellationToken;

/// An empty Redis database for one test.
async fn redis_db(db: u8) -> String {
    let url = format!("redis://127.0.0.1:6379/{db}");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis must run on 127.0.0.1:6379 (.ci/run starts it)");
    let () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
    url
}

async fn mock(stop: &CancellationToken) -> MockServer {
    MockServer::start(
        MockConfig::default(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        stop.clone(),
    )
    .await
    .unwrap()
}

/// One model on two providers: `cheap` at `cheap_price` USD per million tokens (prompt and
/// completion) and `steady` at twice that.
fn config(mock: &MockServer, pg: &str, redis: &str, cheap_price: f64) -> String {
    let steady_price = 2.0 * cheap_price;
    format!(
        "[auth]\nmaster_key = \"${{SY_TEST_MASTER}}\"\n[storage]\nurl = \"{pg}\"\n\
         [cluster]\nredis_url = \"{redis}\"\n\
         [[providers]]\nname = \"cheap\"\nbase_url = \"{}\"\n\
         [[providers]]\nname = \"steady\"\nbase_url = \"{}\"\n\
         [[models]]\nid = \"test/m\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"cheap\"\nupstream_model = \"m\"\nprompt_price = {cheap_price}\ncompletion_price = {cheap_price}\n\
         [[models.endpoints]]\nprovider = \"steady\"\nupstream_model = \"m\"\nprompt_price = {steady_price}\ncompletion_price = {steady_price}\n",
        mock.base_url("cheap"),
        mock.base_url("steady")
    )
}

struct Trio {
    gws: Vec<Served>,
    dirs: Vec<tempfile::TempDir>,
}

async fn three(config: &str) -> Trio {
    let mut gws = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        gws.push(serve(dir.path(), config).await);
        dirs.push(dir);
    }
    Trio { gws, dirs }
}

/// Cheapest first, so the `cheap` provider is every instance's first choice.
fn by_price() -> Value {
    json!({"model": "test/m", "messages": [{"role": "user", "content": "hello"}],
           "provider": {"sort": "price"}})
}

async fn chat(http: &reqwest::Client, gw: &Served, auth: &str, body: &Value) -> (u16, Value) {
    let r = http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .bearer_auth(auth)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn circuit(http: &reqwest::Client, gw: &Served, provider: &str) -> String {
    let v = get_json(
        http,
        &format!("{}/api/v1/models/test/m/endpoints", gw.url),
        MASTER,
    )
    .await;
    v["data"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["provider_name"] == provider)
        .unwrap()["circuit"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_failing_behind_one_instance_is_avoided_by_the_others() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    let redis = redis_db(11).await;
    let trio = three(&config(&mock, &pg.url, &redis, 1.0)).await;
    let (a, b, c) = (&trio.gws[0], &trio.gws[1], &trio.gws[2]);
    let http = reqwest::Client::new();
    mock.set_behaviour(
        "cheap",
        Behaviour {
            status: Some(503),
            ..Behaviour::default()
        },
    );
    // A meets three failures (each answered by failing over to `steady`): its circuit opens
    for _ in 0..3 {
        let (status, _) = chat(&http, a, MASTER, &by_price()).await;
        assert_eq!(status, 200);
    }
    let learned = Instant::now();
    assert_eq!(circuit(&http, a, "cheap").await, "open");
    for gw in [b, c] {
        loop {
            if circuit(&http, gw, "cheap").await == "open" {
                break;
            }
            assert!(
                learned.elapsed() < Duration::from_secs(2),
                "{} did not learn of the failures within 2 s",
                gw.url
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // B and C, which never called `cheap`, now go straight to `steady`; one half-open probe may
    // fall due meanwhile (and is shared too), so at most one call reaches `cheap`
    let before = mock.stats("cheap").unwrap().requests;
    for gw in [b, c] {
        for _ in 0..5 {
            let (status, v) = chat(&http, gw, MASTER, &by_price()).await;
            assert_eq!(status, 200, "{v}");
            assert_eq!(v["provider"], "steady", "{v}");
        }
    }
    let reached = mock.stats("cheap").unwrap().requests - before;
    assert!(
        reached <= 1,
        "{reached} of 10 requests on B and C still reached the failing provider"
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_limit_holds_across_three_instances_under_concurrent_load() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    mock.set_behaviour(
        "cheap",
        Behaviour {
            ttft_ms: 50,
            ..Behaviour::default()
        },
    );
    let redis = redis_db(12).await;
    // about 0.03 USD a request
    let trio = three(&config(&mock, &pg.url, &redis, 1000.0)).await;
    let http = reqwest::Client::new();
    let limit = 0.5;
    let created = create_key(
        &http,
        &trio.gws[0],
        &json!({"label": "shared", "limit": limit}),
    )
    .await;
    let secret = created["key"].as_str().unwrap().to_owned();
    // three clients per instance, each sending until refused
    let mut workers = Vec::new();
    for gw in &trio.gws {
        for _ in 0..3 {
            let (http, secret) = (http.clone(), secret.clone());
            workers.push(async move {
                let mut costs = Vec::new();
                for _ in 0..100 {
                    let (status, v) = chat(&http, gw, &secret, &by_price()).await;
                    match status {
                        200 => costs.push(v["usage"]["cost"].as_f64().unwrap()),
                        402 => return costs,
                        other => panic!("unexpected {other}: {v}"),
                    }
                }
                panic!("the limit never stopped this client");
            });
        }
    }
    let costs: Vec<f64> = futures_util::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let spent: f64 = costs.iter().sum();
    let most = costs.iter().copied().fold(0.0, f64::max);
    // admitted only while the shared spend was under the limit: at most the nine requests in
    // flight when it was reached go past it (each instance alone would have let ~3x through)
    assert!(spent >= limit, "spent {spent} never reached the limit");
    assert!(
        spent <= limit + 9.0 * most + 1e-9,
        "spent {spent} is past the limit {limit} by more than the requests in flight"
    );
    // every instance reports the same spend, the exact sum of the answers' costs
    for gw in &trio.gws {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let u = usage(&http, gw, &secret).await;
            if (u - spent).abs() <= 1e-9 * spent {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: usage {u} != sum of costs {spent}",
                gw.url
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // and refuses the key before any upstream call
    let before = calls(&mock);
    for gw in &trio.gws {
        assert_eq!(chat(&http, gw, &secret, &by_price()).await.0, 402);
    }
    let after = calls(&mock);
    assert_eq!(after, before, "a 402 must not reach a provider");
    // a key deleted on one instance is refused by the others at once
    let id = created["data"]["id"].as_str().unwrap();
    let r = http
        .delete(format!("{}/api/v1/keys/{id}", trio.gws[0].url))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for gw in &trio.gws[1..] {
        assert_eq!(chat(&http, gw, &secret, &by_price()).await.0, 401);
    }
    stop.cancel();
}

/// Chat requests the providers received.
fn calls(mock: &MockServer) -> u64 {
    ["cheap", "steady"]
        .iter()
        .map(|p| mock.stats(p).map_or(0, |s| s.requests))
        .sum()
}

/// The cost of an answer at a price of `p` USD per million tokens, prompt and completion.
fn cost_at(v: &Value, p: f64) -> f64 {
    let u = &v["usage"];
    let tokens = u["prompt_tokens"].as_f64().unwrap() + u["completion_tokens"].as_f64().unwrap();
    tokens * p / 1e6
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_changed_price_takes_effect_with_no_failed_request() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    mock.set_behaviour(
        "cheap",
        Behaviour {
            ttft_ms: 30,
            ..Behaviour::default()
        },
    );
    let redis = redis_db(13).await;
    let (old, new) = (1000.0, 3000.0);
    let trio = three(&config(&mock, &pg.url, &redis, old)).await;
    let http = reqwest::Client::new();
    let stop_load = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for gw in &trio.gws {
        for _ in 0..2 {
            let (http, stop_load) = (http.clone(), Arc::clone(&stop_load));
            load.push(async move {
                let mut answers = Vec::new();
                while !stop_load.load(Ordering::Relaxed) {
                    answers.push(chat(&http, gw, MASTER, &by_price()).await);
                }
                answers
            });
        }
    }
    let watcher = async {
        // some traffic on the old price, then the new config and SIGHUP on every instance
        tokio::time::sleep(Duration::from_millis(300)).await;
        for (gw, dir) in trio.gws.iter().zip(&trio.dirs) {
            write_config(dir.path(), &config(&mock, &pg.url, &redis, new));
            signal(gw, "HUP");
        }
        // each instance answers at the new price within a few seconds
        for gw in &trio.gws {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let (status, v) = chat(&http, gw, MASTER, &by_price()).await;
                assert_eq!(status, 200, "{v}");
                if (v["usage"]["cost"].as_f64().unwrap() - cost_at(&v, new)).abs() < 1e-12 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{}: the new price never applied",
                    gw.url
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        stop_load.store(true, Ordering::Relaxed);
    };
    let (answers, ()) = tokio::join!(futures_util::future::join_all(load), watcher);
    let answers: Vec<(u16, Value)> = answers.into_iter().flatten().collect();
    assert!(answers.len() > 10, "too little load: {}", answers.len());
    let (mut at_old, mut at_new) = (0, 0);
    for (status, v) in &answers {
        assert_eq!(*status, 200, "a request failed across the reload: {v}");
        let cost = v["usage"]["cost"].as_f64().unwrap();
        // each request is priced whole by the config it started with, never a mix
        if (cost - cost_at(v, old)).abs() < 1e-12 {
            at_old += 1;
        } else if (cost - cost_at(v, new)).abs() < 1e-12 {
            at_new += 1;
        } else {
            panic!("cost {cost} matches neither price: {v}");
        }
    }
    assert!(at_old > 0 && at_new > 0, "old {at_old}, new {at_new}");
    stop.cancel();
}

fn write_config(dir: &Path, config: &str) {
    std::fs::write(dir.join("switchyard.toml"), config).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_100_open_streams_completes_all_of_them() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    // ~13 chunks at 10 a second: each stream lasts over a second
    mock.set_behaviour(
        "cheap",
        Behaviour {
            tokens_per_s: 10.0,
            ..Behaviour::default()
        },
    );
    let redis = redis_db(14).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(dir.path(), &config(&mock, &pg.url, &redis, 1.0)).await;
    let http = reqwest::Client::new();
    let started = Arc::new(AtomicUsize::new(0));
    let mut body = by_price();
    body["stream"] = json!(true);
    let streams: Vec<_> = (0..100)
        .map(|_| {
            let (http, started, body) = (http.clone(), Arc::clone(&started), body.clone());
            let url = format!("{}/api/v1/chat/completions", gw.url);
            tokio::spawn(async move {
                let r = http
                    .post(url)
                    .bearer_auth(MASTER)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                started.fetch_add(1, Ordering::SeqCst);
                r.text().await.unwrap()
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while started.load(Ordering::SeqCst) < 100 {
        assert!(
            Instant::now() < deadline,
            "the 100 streams did not all start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        mock.stats("cheap").unwrap().active > 0,
        "streams should still be open"
    );
    // waits for the process: it must exit 0 once the streams have ended
    tokio::task::spawn_blocking(move || terminate(gw))
        .await
        .unwrap();
    for s in streams {
        let text = s.await.unwrap();
        assert!(
            text.contains(r#""finish_reason":"stop""#) && text.trim_end().ends_with("data: [DONE]"),
            "a stream was cut by the shutdown: {text}"
        );
    }
    stop.cancel();
}

async fn ready(http: &reqwest::Client, gw: &Served) -> Value {
    http.get(format!("{}/ready", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn metric(http: &reqwest::Client, gw: &Served, name: &str) -> Option<String> {
    let text = http
        .get(format!("{}/metrics", gw.url))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_an_instance_serves_on_local_state_reports_it_and_rejoins() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    let redis = OwnRedis::start(process::free_port());
    let url = format!("redis://127.0.0.1:{}/0", redis.port);
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(dir.path(), &config(&mock, &pg.url, &url, 1.0)).await;
    let http = reqwest::Client::new();
    assert_eq!(chat(&http, &gw, MASTER, &by_price()).await.0, 200);
    assert_eq!(ready(&http, &gw).await["cluster"]["redis"], "connected");
    let port = redis.stop();
    // requests go on; the first ones find Redis gone, and every surface says so
    for _ in 0..5 {
        let (status, v) = chat(&http, &gw, MASTER, &by_price()).await;
        assert_eq!(status, 200, "{v}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = ready(&http, &gw).await;
        if r["cluster"]["redis"] == "unreachable" {
            assert!(r["status"].as_str().unwrap().contains("redis"), "{r}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/ready never said redis was away: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        metric(&http, &gw, "switchyard_cluster_redis_up")
            .await
            .as_deref(),
        Some("0")
    );
    // Redis returns on the same port: the instance rejoins by itself
    let _redis = OwnRedis::start(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if ready(&http, &gw).await["cluster"]["redis"] == "connected" {
            break;
        }
        assert!(Instant::now() < deadline, "the instance did not rejoin");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        metric(&http, &gw, "switchyard_cluster_redis_up")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(chat(&http, &gw, MASTER, &by_price()).await.0, 200);
    stop.cancel();
}
