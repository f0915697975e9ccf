//! Keys, spend and generation records through the real binary, on SQLite and on PostgreSQL
//! (issue 6): concurrent requests on a key past its limit are charged exactly, later ones get
//! 402 without reaching a provider, and a restart loses no generation record.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use serde_json::{json, Value};
use sy_mock::{Behaviour, MockConfig, MockServer};
use tokio_util::sync::CancellationToken;

mod process;

use process::{create_key, free_port, get_json, serve, terminate, usage, MASTER};

fn config(mock: &MockServer, storage: &str) -> String {
    format!(
        "[auth]\nmaster_key = \"${{SY_TEST_MASTER}}\"\n[storage]\nurl = \"{storage}\"\n\
         [[providers]]\nname = \"sim\"\nbase_url = \"{}\"\n\
         [[models]]\nid = \"test/m\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"sim\"\nupstream_model = \"m\"\nprompt_price = 1000.0\ncompletion_price = 2000.0\n",
        mock.base_url("sim")
    )
}

async fn start_mock(stop: &CancellationToken, ttft_ms: u64) -> MockServer {
    let mock = MockServer::start(
        MockConfig::default(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        stop.clone(),
    )
    .await
    .unwrap();
    mock.set_behaviour(
        "sim",
        Behaviour {
            ttft_ms,
            ..Behaviour::default()
        },
    );
    mock
}

fn chat_body() -> Value {
    json!({"model": "test/m", "messages": [{"role": "user", "content": "count my cost"}]})
}

async fn limit_holds_under_concurrency(storage: &str) {
    let stop = CancellationToken::new();
    let mock = start_mock(&stop, 200).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(dir.path(), &config(&mock, storage)).await;
    let http = reqwest::Client::new();
    let created = create_key(&http, &gw, &json!({"label": "burst", "limit": 0.05})).await;
    let secret = created["key"].as_str().unwrap().to_owned();
    // each request costs ~0.03 USD: the limit is passed, but all 40 are already in flight
    let answers = futures_util::future::join_all((0..40).map(|_| {
        let http = http.clone();
        let url = format!("{}/api/v1/chat/completions", gw.url);
        let secret = secret.clone();
        async move {
            let r = http
                .post(url)
                .bearer_auth(secret)
                .json(&chat_body())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    }))
    .await;
    let spent: f64 = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, v)| v["usage"]["cost"].as_f64().unwrap())
        .sum();
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 402),
        "{answers:?}"
    );
    assert!(spent > 0.05, "the burst should pass the limit: {spent}");
    let usage = usage(&http, &gw, &secret).await;
    assert!(
        (usage - spent).abs() <= 1e-9 * spent,
        "usage {usage} != sum of costs {spent}"
    );
    let before = mock.stats("sim").unwrap().requests;
    let r = http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .bearer_auth(&secret)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 402);
    assert_eq!(
        mock.stats("sim").unwrap().requests,
        before,
        "a 402 must not reach a provider"
    );
    // the store agrees once the writer has caught up, even after a restart
    terminate(gw);
    let gw = serve(dir.path(), &config(&mock, storage)).await;
    let listed = get_json(&http, &format!("{}/api/v1/keys", gw.url), MASTER).await;
    let stored = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "burst" && k["id"] == created["data"]["id"])
        .unwrap()["usage"]
        .as_f64()
        .unwrap();
    assert!(
        (stored - spent).abs() <= 1e-9 * spent,
        "stored usage {stored} != sum of costs {spent}"
    );
    stop.cancel();
}

async fn restart_keeps_every_record(storage: &str) {
    let stop = CancellationToken::new();
    let mock = start_mock(&stop, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(dir.path(), &config(&mock, storage)).await;
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for _ in 0..50 {
        let v: Value = http
            .post(format!("{}/api/v1/chat/completions", gw.url))
            .bearer_auth(MASTER)
            .json(&chat_body())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    terminate(gw); // at once: records still queued must be flushed on the way out
    let gw = serve(dir.path(), &config(&mock, storage)).await;
    for id in &ids {
        let r = http
            .get(format!("{}/api/v1/generation?id={id}", gw.url))
            .bearer_auth(MASTER)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "generation {id} lost across the restart");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["data"]["id"], id.as_str());
        assert!(v["data"]["cost"].as_f64().unwrap() > 0.0);
    }
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_limit_holds_under_concurrency() {
    limit_holds_under_concurrency("sqlite://switchyard.db").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_limit_holds_under_concurrency() {
    let pg = process::pg_db().await;
    limit_holds_under_concurrency(&pg.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restart_keeps_every_record() {
    restart_keeps_every_record("sqlite://switchyard.db").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_keeps_every_record() {
    let pg = process::pg_db().await;
    restart_keeps_every_record(&pg.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_is_reported_and_serving_goes_on() {
    let stop = CancellationToken::new();
    let mock = start_mock(&stop, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let closed = free_port(); // nothing listens there
    let cfg = format!(
        "[storage]\nurl = \"postgres://postgres@127.0.0.1:{closed}/none\"\n\
         [[providers]]\nname = \"sim\"\nbase_url = \"{}\"\n\
         [[models]]\nid = \"test/m\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"sim\"\nupstream_model = \"m\"\nprompt_price = 1.0\ncompletion_price = 1.0\n",
        mock.base_url("sim")
    );
    let gw = serve(dir.path(), &cfg).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the gateway keeps serving without its store"
    );
    let r = http.get(format!("{}/ready", gw.url)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["store"]["reachable"], false, "{v}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_rate_gets_429_before_any_upstream_call() {
    let stop = CancellationToken::new();
    let mock = start_mock(&stop, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(dir.path(), &config(&mock, "sqlite://switchyard.db")).await;
    let http = reqwest::Client::new();
    let created = create_key(&http, &gw, &json!({"label": "slow-lane", "rpm": 3})).await;
    assert_eq!(created["data"]["rpm"], 3);
    let secret = created["key"].as_str().unwrap().to_owned();
    let url = format!("{}/api/v1/chat/completions", gw.url);
    for i in 0..3 {
        let r = http
            .post(&url)
            .bearer_auth(&secret)
            .json(&chat_body())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "request {i} is within 3 per minute");
    }
    let before = mock.stats("sim").unwrap().requests;
    let r = http
        .post(&url)
        .bearer_auth(&secret)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 429);
    assert!(v["error"]["metadata"]["retry_after_s"].as_f64().unwrap() > 0.0);
    assert_eq!(
        mock.stats("sim").unwrap().requests,
        before,
        "a rate-limited request must not reach a provider"
    );
    // other keys are not affected
    let r = http
        .post(&url)
        .bearer_auth(MASTER)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bad = http
        .post(format!("{}/api/v1/keys", gw.url))
        .bearer_auth(MASTER)
        .json(&json!({"label": "x", "rpm": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    stop.cancel();
}
