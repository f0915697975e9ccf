//! Stored Responses through the real binary (SPEC §4.7), on SQLite and on PostgreSQL: a response
//! kept under its key survives a restart, continues on an endpoint of another protocol with
//! `previous_response_id`, is 404 to another key (read, continue, delete) and gone once deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod process;

use std::net::SocketAddr;

use process::{create_key, serve, terminate, Served};
use serde_json::{json, Value};
use sy_mock::{MockConfig, MockServer};
use tokio_util::sync::CancellationToken;

const TEXT: &str = "Stored and replayed elsewhere.";

fn config(mock: &MockServer, storage_url: &str) -> String {
    format!(
        "[auth]\nmaster_key = \"${{SY_TEST_MASTER}}\"\n\
         [storage]\nurl = \"{storage_url}\"\n\
         [[providers]]\nname = \"oai\"\napi = \"openai-responses\"\nbase_url = \"{}\"\n\
         [[providers]]\nname = \"claude\"\napi = \"anthropic\"\nbase_url = \"{}\"\n\
         [[models]]\nid = \"test/m\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"oai\"\nupstream_model = \"m\"\nprompt_price = 1.0\ncompletion_price = 1.0\n\
         [[models.endpoints]]\nprovider = \"claude\"\nupstream_model = \"c\"\nprompt_price = 2.0\ncompletion_price = 2.0\n",
        mock.base_url("oai"),
        mock.base_url("claude"),
    )
}

async fn post(http: &reqwest::Client, gw: &Served, key: &str, body: &Value) -> (u16, Value) {
    let r = http
        .post(format!("{}/v1/responses", gw.url))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn call(http: &reqwest::Client, method: reqwest::Method, url: String, key: &str) -> u16 {
    http.request(method, url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn run(storage_url: &str) {
    let stop = CancellationToken::new();
    let mock = MockServer::start(
        MockConfig::default(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        stop.clone(),
    )
    .await
    .unwrap();
    for p in ["oai", "claude"] {
        mock.set_behaviour(p, serde_json::from_value(json!({"text": TEXT})).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&mock, storage_url);
    let http = reqwest::Client::new();
    let gw = serve(dir.path(), &cfg).await;
    let a = create_key(&http, &gw, &json!({"label": "a"})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = create_key(&http, &gw, &json!({"label": "b"})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, first) = post(
        &http,
        &gw,
        &a,
        &json!({"model": "test/m", "input": "Remember: blue.", "provider": {"only": ["oai"]}}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    // kept across a restart
    terminate(gw);
    let gw = serve(dir.path(), &cfg).await;
    let url = format!("{}/v1/responses/{id}", gw.url);
    assert_eq!(
        call(&http, reqwest::Method::GET, url.clone(), &a).await,
        200
    );
    assert_eq!(
        call(&http, reqwest::Method::GET, url.clone(), &b).await,
        404
    );
    let next = json!({"model": "test/m", "input": "Which colour?", "previous_response_id": id,
                      "provider": {"only": ["claude"]}});
    let (status, _) = post(&http, &gw, &b, &next).await;
    assert_eq!(status, 404, "another key cannot continue it");
    let (status, second) = post(&http, &gw, &a, &next).await;
    assert_eq!(status, 200, "{second}");
    let seen = mock.last_request("claude").unwrap();
    let msgs = seen["body"]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(msgs[0].to_string().contains("Remember: blue."));
    assert!(msgs[1].to_string().contains(TEXT));
    // deleted by its key only
    assert_eq!(
        call(&http, reqwest::Method::DELETE, url.clone(), &b).await,
        404
    );
    assert_eq!(
        call(&http, reqwest::Method::DELETE, url.clone(), &a).await,
        200
    );
    assert_eq!(call(&http, reqwest::Method::GET, url, &a).await, 404);
    terminate(gw);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_responses_on_sqlite() {
    run("sqlite://switchyard.db").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_responses_on_postgres() {
    let db = process::pg_db().await;
    run(&db.url).await;
}
