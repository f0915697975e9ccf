//! Tenancy through the real binary (issue 15, SPEC §8): a key sees only its own generation
//! records — another key's id is 404, exactly as an unknown one, in memory and from the store;
//! the dashboard's data endpoint and `/metrics` need the master key when `[auth]` is on
//! (`[server] metrics_public` opens `/metrics` only); `/health` and `/ready` reveal no spend or
//! key data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod process;

use std::net::SocketAddr;

use process::{create_key, serve, terminate, Served, MASTER};
use serde_json::{json, Value};
use sy_mock::{MockConfig, MockServer};
use tokio_util::sync::CancellationToken;

fn config(mock: &MockServer, extra_server: &str) -> String {
    format!(
        "[server]\n{extra_server}\n[auth]\nmaster_key = \"${{SY_TEST_MASTER}}\"\n\
         [storage]\nurl = \"sqlite://switchyard.db\"\n\
         [[providers]]\nname = \"sim\"\nbase_url = \"{}\"\n\
         [[models]]\nid = \"test/m\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"sim\"\nupstream_model = \"m\"\nprompt_price = 1000.0\ncompletion_price = 2000.0\n",
        mock.base_url("sim")
    )
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

async fn chat(http: &reqwest::Client, gw: &Served, bearer: &str) -> Value {
    let r = http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .bearer_auth(bearer)
        .json(&json!({"model": "test/m", "messages": [{"role": "user", "content": "mine"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn generation(http: &reqwest::Client, gw: &Served, id: &str, bearer: &str) -> (u16, Value) {
    let r = http
        .get(format!("{}/api/v1/generation?id={id}", gw.url))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn status(http: &reqwest::Client, url: &str, bearer: Option<&str>) -> u16 {
    let mut r = http.get(url);
    if let Some(b) = bearer {
        r = r.bearer_auth(b);
    }
    r.send().await.unwrap().status().as_u16()
}

/// Another key's generation is 404 with the same body as an id that never existed, from memory
/// and, after a restart, from the store; its owner and the master key read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_sees_only_its_own_generation_records() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&mock, "");
    let gw = serve(dir.path(), &cfg).await;
    let http = reqwest::Client::new();
    let a = create_key(&http, &gw, &json!({"label": "team-a"})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = create_key(&http, &gw, &json!({"label": "team-b"})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = chat(&http, &gw, &a).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    only_its_owner_reads(&http, &gw, &id, &a, &b).await;
    // from the store this time: a restart empties the in-memory records
    terminate(gw);
    let gw = serve(dir.path(), &cfg).await;
    only_its_owner_reads(&http, &gw, &id, &a, &b).await;
    stop.cancel();
}

async fn only_its_owner_reads(http: &reqwest::Client, gw: &Served, id: &str, a: &str, b: &str) {
    let (own, rec) = generation(http, gw, id, a).await;
    assert_eq!(own, 200, "{rec}");
    assert_eq!(rec["data"]["id"], id);
    assert_eq!(generation(http, gw, id, MASTER).await.0, 200);
    let (other, body) = generation(http, gw, id, b).await;
    assert_eq!(other, 404, "key B read key A's record: {body}");
    assert_eq!(body["error"]["code"], 404, "{body}");
    let unknown_id = "gen-neverexisted000000000000";
    let (_, unknown) = generation(http, gw, unknown_id, b).await;
    let message = |v: &Value, id: &str| v["error"]["message"].as_str().unwrap().replace(id, "ID");
    assert_eq!(
        message(&body, id),
        message(&unknown, unknown_id),
        "another key's id must look exactly like an unknown one"
    );
    assert!(!body.to_string().contains("team-a"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_data_and_metrics_need_the_master_key() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(dir.path(), &config(&mock, "")).await;
    let http = reqwest::Client::new();
    let user = create_key(&http, &gw, &json!({"label": "team-a"})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    chat(&http, &gw, MASTER).await;
    for path in ["/api/v1/dashboard", "/v1/dashboard", "/metrics"] {
        let url = format!("{}{path}", gw.url);
        assert_eq!(status(&http, &url, None).await, 401, "{path} without a key");
        assert_eq!(
            status(&http, &url, Some(&user)).await,
            403,
            "{path} with a user key"
        );
        assert_eq!(status(&http, &url, Some(MASTER)).await, 200, "{path}");
    }
    let r = http
        .get(format!("{}/api/v1/dashboard", gw.url))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], 403, "the SPEC's error shape: {body}");
    // the page itself carries no data and stays public: it asks for the key
    assert_eq!(status(&http, &format!("{}/", gw.url), None).await, 200);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_public_opens_metrics_only() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(dir.path(), &config(&mock, "metrics_public = true")).await;
    let http = reqwest::Client::new();
    chat(&http, &gw, MASTER).await;
    let text = http
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("switchyard_requests_total"), "{text}");
    let dashboard = format!("{}/api/v1/dashboard", gw.url);
    assert_eq!(status(&http, &dashboard, None).await, 401);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_ready_reveal_no_spend_or_key_data() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(dir.path(), &config(&mock, "")).await;
    let http = reqwest::Client::new();
    let created = create_key(&http, &gw, &json!({"label": "secret-team", "limit": 7.25})).await;
    let secret = created["key"].as_str().unwrap().to_owned();
    let key_id = created["data"]["id"].as_str().unwrap().to_owned();
    let answer = chat(&http, &gw, &secret).await;
    let cost = answer["usage"]["cost"].as_f64().unwrap();
    for path in ["/health", "/ready"] {
        for bearer in [None, Some(secret.as_str()), Some(MASTER)] {
            let mut r = http.get(format!("{}{path}", gw.url));
            if let Some(b) = bearer {
                r = r.bearer_auth(b);
            }
            let text = r.send().await.unwrap().text().await.unwrap();
            for leak in [
                key_id.as_str(),
                "secret-team",
                "7.25",
                &cost.to_string(),
                "usage",
                "spend",
                "cost",
                "sk-",
            ] {
                assert!(!text.contains(leak), "{path} shows {leak:?}: {text}");
            }
        }
    }
    stop.cancel();
}
