//! Keys across instances (issue 15, SPEC §8), through real processes on one PostgreSQL: without
//! `[cluster]`, a key deleted on one instance is refused by another within five seconds, and a
//! key's spend on one instance counts against its limit on the other; with `[cluster]`, a delete
//! while Redis is unreachable says that it could not be propagated (never a bare
//! `{"deleted": true}`), the other instances still refuse the key within five seconds through
//! the store, and the revocation reaches Redis once it is back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod process;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use process::faults::OwnRedis;
use process::{create_key, free_port, same_usd, serve, usage, Served, MASTER};
use serde_json::{json, Value};
use sy_mock::{Behaviour, MockConfig, MockServer};
use tokio_util::sync::CancellationToken;

/// SPEC §8: without `[cluster]`, instances sharing one database see a revocation within 5 s.
const WITHOUT_CLUSTER: Duration = Duration::from_secs(5);

fn config(mock: &MockServer, pg: &str, cluster: Option<&str>) -> String {
    let cluster = cluster
        .map(|url| format!("[cluster]\nredis_url = \"{url}\"\n"))
        .unwrap_or_default();
    format!(
        "[auth]\nmaster_key = \"${{SY_TEST_MASTER}}\"\n[storage]\nurl = \"{pg}\"\n{cluster}\
         [[providers]]\nname = \"sim\"\nbase_url = \"{}\"\n\
         [[models]]\nid = \"test/m\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"sim\"\nupstream_model = \"m\"\nprompt_price = 1000.0\ncompletion_price = 2000.0\n",
        mock.base_url("sim")
    )
}

async fn mock(stop: &CancellationToken) -> MockServer {
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
            ttft_ms: 5,
            ..Behaviour::default()
        },
    );
    mock
}

async fn chat(http: &reqwest::Client, gw: &Served, bearer: &str) -> (u16, Value) {
    let r = http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .bearer_auth(bearer)
        .json(&json!({"model": "test/m", "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn delete(http: &reqwest::Client, gw: &Served, id: &str) -> (u16, Value) {
    let r = http
        .delete(format!("{}/api/v1/keys/{id}", gw.url))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Polls `gw` with the key until it is refused with 401; how long that took.
async fn refused_within(http: &reqwest::Client, gw: &Served, secret: &str, within: Duration) {
    let since = Instant::now();
    loop {
        let (status, v) = chat(http, gw, secret).await;
        if status == 401 {
            assert_eq!(v["error"]["code"], 401, "{v}");
            return;
        }
        assert_eq!(status, 200, "{v}");
        assert!(
            since.elapsed() < within,
            "{}: a deleted key still served after {within:?}",
            gw.url
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cluster_a_key_deleted_on_one_instance_is_refused_by_the_other_within_5_s() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve(da.path(), &config(&mock, &pg.url, None)).await;
    let b = serve(db.path(), &config(&mock, &pg.url, None)).await;
    let http = reqwest::Client::new();
    let created = create_key(&http, &a, &json!({"label": "leaked"})).await;
    let secret = created["key"].as_str().unwrap();
    // B knows the key (cached) before A deletes it
    assert_eq!(chat(&http, &b, secret).await.0, 200);
    let (status, v) = delete(&http, &a, created["data"]["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        chat(&http, &a, secret).await.0,
        401,
        "at once where it was deleted"
    );
    refused_within(&http, &b, secret, WITHOUT_CLUSTER).await;
    // every path refuses it, not only chat
    let r = http
        .get(format!("{}/api/v1/key", b.url))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cluster_spend_on_one_instance_counts_against_the_limit_on_the_other() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve(da.path(), &config(&mock, &pg.url, None)).await;
    let b = serve(db.path(), &config(&mock, &pg.url, None)).await;
    let http = reqwest::Client::new();
    // about 0.03 USD a request: the limit is reached after a handful
    let created = create_key(&http, &a, &json!({"label": "shared", "limit": 0.2})).await;
    let secret = created["key"].as_str().unwrap();
    let (status, first) = chat(&http, &b, secret).await;
    assert_eq!(status, 200);
    let mut spent = first["usage"]["cost"].as_f64().unwrap();
    loop {
        let (status, v) = chat(&http, &a, secret).await;
        if status == 402 {
            break;
        }
        assert_eq!(status, 200, "{v}");
        spent += v["usage"]["cost"].as_f64().unwrap();
        assert!(spent < 1.0, "A never refused the key");
    }
    // B has spent one request's worth itself; A's spend reaches it through the store
    let since = Instant::now();
    loop {
        let (status, v) = chat(&http, &b, secret).await;
        if status == 402 {
            break;
        }
        assert_eq!(status, 200, "{v}");
        spent += v["usage"]["cost"].as_f64().unwrap();
        assert!(
            since.elapsed() < WITHOUT_CLUSTER,
            "B still serves a key at its limit after {WITHOUT_CLUSTER:?}: spent {spent}"
        );
    }
    let deadline = Instant::now() + WITHOUT_CLUSTER;
    for gw in [&a, &b] {
        loop {
            let u = usage(&http, gw, secret).await;
            if same_usd(u, spent) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: usage {u} != {spent}",
                gw.url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    stop.cancel();
}

async fn redis_field(url: &str, key: &str, field: &str) -> Option<String> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    redis::cmd("HGET")
        .arg(key)
        .arg(field)
        .query_async(&mut conn)
        .await
        .ok()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cluster_a_delete_while_redis_is_down_says_so_and_still_reaches_everyone() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    let redis = OwnRedis::start(free_port());
    let url = redis.url(0);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve(da.path(), &config(&mock, &pg.url, Some(&url))).await;
    let b = serve(db.path(), &config(&mock, &pg.url, Some(&url))).await;
    let http = reqwest::Client::new();
    let created = create_key(&http, &a, &json!({"label": "leaked"})).await;
    let secret = created["key"].as_str().unwrap();
    let id = created["data"]["id"].as_str().unwrap();
    assert_eq!(chat(&http, &b, secret).await.0, 200);
    let port = redis.stop();
    let (status, v) = delete(&http, &a, id).await;
    assert_ne!(
        v,
        json!({"deleted": true, "id": id}),
        "a delete redis never heard of was answered as if every instance knew"
    );
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], 503, "the SPEC's error shape: {v}");
    assert_eq!(v["error"]["metadata"]["deleted"], true, "{v}");
    assert_eq!(v["error"]["metadata"]["propagated"], false, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("redis"), "{message}");
    assert!(!message.contains(&url), "{message}");
    // the key is gone from the shared store: B refuses it within 5 s without Redis
    assert_eq!(chat(&http, &a, secret).await.0, 401);
    refused_within(&http, &b, secret, WITHOUT_CLUSTER).await;
    // and when Redis is back, the revocation is sent there too
    let _redis = OwnRedis::start(port);
    let hash = format!("switchyard:key:{id}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis_field(&url, &hash, "revoked").await.is_none() {
        assert!(
            Instant::now() < deadline,
            "the revocation never reached redis"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(chat(&http, &b, secret).await.0, 401);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cluster_a_delete_reaches_every_instance_within_a_second() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    let redis = OwnRedis::start(free_port());
    let url = redis.url(0);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve(da.path(), &config(&mock, &pg.url, Some(&url))).await;
    let b = serve(db.path(), &config(&mock, &pg.url, Some(&url))).await;
    let http = reqwest::Client::new();
    let created = create_key(&http, &a, &json!({"label": "leaked"})).await;
    let secret = created["key"].as_str().unwrap();
    assert_eq!(chat(&http, &b, secret).await.0, 200);
    let (status, v) = delete(&http, &a, created["data"]["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["deleted"], true);
    refused_within(&http, &b, secret, Duration::from_secs(1)).await;
    stop.cancel();
}
