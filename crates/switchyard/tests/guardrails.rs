//! Keys as guardrails (issue 21, SPEC §8) through the real binary: allowed models and
//! providers (403 naming the guardrail, in the dialect's error shape), the key's provider
//! preferences that a request cannot loosen, expiry (401), tokens per minute (429), limits that
//! reset (402 with the period figures on `/key`), teams, `PATCH /keys/{id}`, `/models` per key,
//! bad input (400 naming the field) — on SQLite and on PostgreSQL; and two instances on one
//! database, with and without `[cluster]`, enforcing a change made on one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod process;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use process::{create_key, get_json, serve, Served, MASTER};
use serde_json::{json, Value};
use sy_mock::{Behaviour, MockConfig, MockServer};
use tokio_util::sync::CancellationToken;

fn config(mock: &MockServer, storage: &str, cluster: Option<&str>) -> String {
    let cluster = cluster
        .map(|url| format!("[cluster]\nredis_url = \"{url}\"\n"))
        .unwrap_or_default();
    format!(
        "[auth]\nmaster_key = \"${{SY_TEST_MASTER}}\"\n[storage]\nurl = \"{storage}\"\n{cluster}\
         [[providers]]\nname = \"keeps\"\nbase_url = \"{}\"\ndata_collection = \"allow\"\n\
         [[providers]]\nname = \"private\"\nbase_url = \"{}\"\ndata_collection = \"deny\"\n\
         [[models]]\nid = \"test/m\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"keeps\"\nupstream_model = \"m\"\nprompt_price = 1000.0\ncompletion_price = 2000.0\n\
         [[models.endpoints]]\nprovider = \"private\"\nupstream_model = \"m\"\nprompt_price = 3000.0\ncompletion_price = 6000.0\n\
         [[models]]\nid = \"other/x\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"keeps\"\nupstream_model = \"x\"\nprompt_price = 1000.0\ncompletion_price = 2000.0\n",
        mock.base_url("keeps"),
        mock.base_url("private"),
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
    for p in ["keeps", "private"] {
        mock.set_behaviour(
            p,
            Behaviour {
                ttft_ms: 2,
                ..Behaviour::default()
            },
        );
    }
    mock
}

fn calls(mock: &MockServer) -> u64 {
    ["keeps", "private"]
        .iter()
        .map(|p| mock.stats(p).map_or(0, |s| s.requests))
        .sum()
}

struct Answer {
    status: u16,
    provider: Option<String>,
    body: Value,
}

async fn send(
    http: &reqwest::Client,
    url: String,
    key: &str,
    body: &Value,
    anthropic: bool,
) -> Answer {
    let mut r = http.post(url).json(body);
    r = if anthropic {
        r.header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
    } else {
        r.bearer_auth(key)
    };
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let provider = r
        .headers()
        .get("x-switchyard-provider")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Answer {
        status,
        provider,
        body: r.json().await.unwrap_or(Value::Null),
    }
}

async fn chat_with(http: &reqwest::Client, gw: &Served, key: &str, extra: Value) -> Answer {
    let mut body = json!({"model": "test/m", "messages": [{"role": "user", "content": "hello"}]});
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    send(
        http,
        format!("{}/api/v1/chat/completions", gw.url),
        key,
        &body,
        false,
    )
    .await
}

async fn chat(http: &reqwest::Client, gw: &Served, key: &str) -> Answer {
    chat_with(http, gw, key, json!({})).await
}

async fn messages(http: &reqwest::Client, gw: &Served, key: &str, model: &str) -> Answer {
    let body = json!({"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hello"}]});
    send(http, format!("{}/v1/messages", gw.url), key, &body, true).await
}

async fn admin(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = http.request(method, url).bearer_auth(MASTER);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn patch_key(http: &reqwest::Client, gw: &Served, id: &str, body: Value) -> Value {
    let (status, v) = admin(
        http,
        reqwest::Method::PATCH,
        format!("{}/api/v1/keys/{id}", gw.url),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v
}

/// A key: (secret, id).
async fn key(http: &reqwest::Client, gw: &Served, body: Value) -> (String, String) {
    let v = create_key(http, gw, &body).await;
    let secret = v["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_owned();
    (secret, v["data"]["id"].as_str().unwrap().to_owned())
}

fn message(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Until `f` holds, polling every 50 ms; how long it took (fails after `within`).
async fn until<F, Fut>(within: Duration, what: &str, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let since = Instant::now();
    loop {
        if f().await {
            return since.elapsed();
        }
        assert!(since.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every guardrail on one instance with its store at `storage`.
async fn every_guardrail(storage: &str) {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = serve(dir.path(), &config(&mock, storage, None)).await;
    let http = reqwest::Client::new();

    // -- bad input is a 400 naming the field
    for (body, field) in [
        (json!({"limit_reset": "hourly"}), "limit_reset"),
        (json!({"limit_reset": 7}), "limit_reset"),
        (json!({"expires_at": "tomorrow"}), "expires_at"),
        (json!({"expires_at": "2026-02-30T00:00:00Z"}), "expires_at"),
        (json!({"allowed_models": ["nothing/*"]}), "allowed_models"),
        (json!({"allowed_models": "test/m"}), "allowed_models"),
        (
            json!({"allowed_providers": ["nobody"]}),
            "allowed_providers",
        ),
        (json!({"tpm": "lots"}), "tpm"),
        (json!({"tpm": 0}), "tpm"),
        (json!({"rpm": -1}), "rpm"),
        (json!({"limit": "ten"}), "limit"),
        (json!({"team": "ghosts"}), "team"),
        (
            json!({"provider": {"data_collection": "maybe"}}),
            "provider.data_collection",
        ),
        (json!({"alowed_models": ["test/m"]}), "alowed_models"),
    ] {
        let (status, v) = admin(
            &http,
            reqwest::Method::POST,
            format!("{}/api/v1/keys", gw.url),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"]["metadata"]["field"], field, "{body}: {v}");
        assert!(message(&v).contains(field), "{body}: {v}");
    }
    for (body, field) in [
        (
            json!({"name": "t1", "limit_reset": "yearly"}),
            "limit_reset",
        ),
        (json!({"name": "t1", "limit": -1}), "limit"),
        (json!({"name": "no spaces"}), "name"),
        (json!({"name": "t1", "budget": 3}), "budget"),
    ] {
        let (status, v) = admin(
            &http,
            reqwest::Method::POST,
            format!("{}/api/v1/teams", gw.url),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"]["metadata"]["field"], field, "{body}: {v}");
    }

    // -- allowed_models: 403 naming it before any upstream call, in each dialect's shape
    let (only_test, only_test_id) = key(
        &http,
        &gw,
        json!({"label": "models", "allowed_models": ["test/*"]}),
    )
    .await;
    assert_eq!(chat(&http, &gw, &only_test).await.status, 200);
    let before = calls(&mock);
    let a = chat_with(&http, &gw, &only_test, json!({"model": "other/x"})).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(message(&a.body).contains("allowed_models"), "{}", a.body);
    assert_eq!(a.body["error"]["metadata"]["guardrail"], "allowed_models");
    let a = messages(&http, &gw, &only_test, "other/x").await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(
        a.body["type"], "error",
        "Anthropic's shape on /messages: {}",
        a.body
    );
    assert!(a.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allowed_models"));
    let a = send(
        &http,
        format!("{}/v1/embeddings", gw.url),
        &only_test,
        &json!({"model": "other/x", "input": "hi"}),
        false,
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(
        a.body["error"]["metadata"]["guardrail"], "allowed_models",
        "{}",
        a.body
    );
    assert_eq!(calls(&mock), before, "refused before any upstream call");
    // x-api-key is a key like a bearer one, on /messages and on /key
    assert_eq!(messages(&http, &gw, &only_test, "test/m").await.status, 200);
    let r = http
        .get(format!("{}/api/v1/key", gw.url))
        .header("x-api-key", &only_test)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // /models lists what the key may use
    let listed = get_json(&http, &format!("{}/api/v1/models", gw.url), &only_test).await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["test/m"], "{listed}");
    // Anthropic's clients (Claude Code's model discovery): x-api-key and Anthropic's list
    let r = http
        .get(format!("{}/v1/models", gw.url))
        .header("x-api-key", &only_test)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let listed: Value = r.json().await.unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["test/m"], "{listed}");
    let all = get_json(&http, &format!("{}/v1/models", gw.url), MASTER).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    // PATCH widens it, without a new secret
    let v = patch_key(
        &http,
        &gw,
        &only_test_id,
        json!({"allowed_models": ["test/m", "other/*"], "label": "models2"}),
    )
    .await;
    assert_eq!(v["data"]["label"], "models2", "{v}");
    assert_eq!(
        chat_with(&http, &gw, &only_test, json!({"model": "other/x"}))
            .await
            .status,
        200
    );

    // -- allowed_providers and the key's provider preferences: the stricter wins
    let (private_only, _) = key(&http, &gw, json!({"allowed_providers": ["private"]})).await;
    let a = chat_with(
        &http,
        &gw,
        &private_only,
        json!({"provider": {"only": ["keeps"]}}),
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(message(&a.body).contains("allowed_providers"), "{}", a.body);
    for _ in 0..5 {
        let a = chat(&http, &gw, &private_only).await;
        assert_eq!(
            (a.status, a.provider.as_deref()),
            (200, Some("private")),
            "{}",
            a.body
        );
    }
    let (no_keeping, _) = key(&http, &gw, json!({"provider": {"data_collection": "deny"}})).await;
    for _ in 0..5 {
        // the body asks for the cheaper provider that keeps data, and allows collection: not so
        let a = chat_with(
            &http,
            &gw,
            &no_keeping,
            json!({"provider": {"data_collection": "allow", "order": ["keeps"], "sort": "price"}}),
        )
        .await;
        assert_eq!(
            (a.status, a.provider.as_deref()),
            (200, Some("private")),
            "{}",
            a.body
        );
    }
    let before = calls(&mock);
    let a = chat_with(
        &http,
        &gw,
        &no_keeping,
        json!({"provider": {"only": ["keeps"]}}),
    )
    .await;
    assert_eq!(
        a.status, 503,
        "key preferences that leave no endpoint: {}",
        a.body
    );
    assert_eq!(calls(&mock), before);

    // the explain endpoint shows the route under the key's preferences
    let r = http
        .post(format!("{}/api/v1/routing/explain", gw.url))
        .bearer_auth(&no_keeping)
        .json(&json!({"model": "test/m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let plan: Value = r.json().await.unwrap();
    let providers: Vec<&str> = plan["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, vec!["private"], "{plan}");

    // -- expiry: 401 afterwards, on every path
    let (expiring, expiring_id) = key(
        &http,
        &gw,
        json!({"expires_at": "2099-01-01T00:00:00+01:00"}),
    )
    .await;
    let info = get_json(&http, &format!("{}/api/v1/key", gw.url), &expiring).await;
    assert_eq!(info["data"]["expires_at"], "2098-12-31T23:00:00Z", "{info}");
    assert_eq!(chat(&http, &gw, &expiring).await.status, 200);
    patch_key(
        &http,
        &gw,
        &expiring_id,
        json!({"expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    let a = chat(&http, &gw, &expiring).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(message(&a.body).contains("expired"), "{}", a.body);
    assert_eq!(messages(&http, &gw, &expiring, "test/m").await.status, 401);
    let r = http
        .get(format!("{}/api/v1/key", gw.url))
        .bearer_auth(&expiring)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // -- tokens per minute: 429 before the call once the minute's tokens are used
    let (tpm, _) = key(&http, &gw, json!({"tpm": 200})).await;
    let mut served = 0;
    let refused = loop {
        let before = calls(&mock);
        let a = chat(&http, &gw, &tpm).await;
        if a.status == 429 {
            assert_eq!(calls(&mock), before, "429 before any upstream call");
            break a;
        }
        assert_eq!(a.status, 200, "{}", a.body);
        served += 1;
        assert!(served < 100, "tpm never refused");
    };
    assert!(
        message(&refused.body).contains("tokens per minute"),
        "{}",
        refused.body
    );
    assert_eq!(refused.body["error"]["metadata"]["guardrail"], "tpm");
    let a = messages(&http, &gw, &tpm, "test/m").await;
    assert_eq!(
        (a.status, a.body["type"].as_str()),
        (429, Some("error")),
        "{}",
        a.body
    );
    // one request whose estimate alone exceeds the minute: 429 at once
    let (small, _) = key(&http, &gw, json!({"tpm": 50})).await;
    let long = "lorem ipsum dolor sit amet ".repeat(100);
    let a = chat_with(
        &http,
        &gw,
        &small,
        json!({"messages": [{"role": "user", "content": long}]}),
    )
    .await;
    assert_eq!(a.status, 429, "{}", a.body);

    // -- a limit that resets daily: the period figures on /key, 402 at the limit
    let (daily, daily_id) = key(&http, &gw, json!({"limit": 0.05, "limit_reset": "daily"})).await;
    let mut n = 0;
    loop {
        let a = chat(&http, &gw, &daily).await;
        if a.status == 402 {
            assert!(message(&a.body).contains("daily"), "{}", a.body);
            break;
        }
        assert_eq!(a.status, 200, "{}", a.body);
        n += 1;
        assert!(n < 200, "the daily limit never refused");
    }
    let info = get_json(&http, &format!("{}/api/v1/key", gw.url), &daily).await;
    let d = &info["data"];
    assert_eq!(d["limit_reset"], "daily", "{info}");
    assert_eq!(d["limit_remaining"], 0.0, "{info}");
    let usage = d["usage"].as_f64().unwrap();
    assert!(usage >= 0.05, "{info}");
    for p in ["usage_daily", "usage_weekly", "usage_monthly"] {
        assert!((d[p].as_f64().unwrap() - usage).abs() < 1e-9, "{p}: {info}");
    }
    // the listing shows the same figures and the guardrails
    let listed = get_json(&http, &format!("{}/api/v1/keys/{daily_id}", gw.url), MASTER).await;
    assert_eq!(listed["data"]["limit_reset"], "daily", "{listed}");
    assert!(
        listed["data"]["usage_daily"].as_f64().unwrap() >= 0.05,
        "{listed}"
    );
    assert!(listed["data"]["created_at"].is_string(), "{listed}");
    // a larger limit admits it again at once
    patch_key(&http, &gw, &daily_id, json!({"limit": 100.0})).await;
    assert_eq!(chat(&http, &gw, &daily).await.status, 200);

    // -- teams: a team at its limit refuses every key of it
    let (status, v) = admin(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/teams", gw.url),
        Some(json!({"name": "eng", "limit": 0.05, "limit_reset": "monthly"})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (status, _) = admin(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/teams", gw.url),
        Some(json!({"name": "eng"})),
    )
    .await;
    assert_eq!(status, 409);
    let (spender, _) = key(&http, &gw, json!({"team": "eng"})).await;
    let (idle, idle_id) = key(&http, &gw, json!({"label": "idle"})).await;
    patch_key(&http, &gw, &idle_id, json!({"team": "eng"})).await;
    let mut n = 0;
    loop {
        let a = chat(&http, &gw, &spender).await;
        if a.status == 402 {
            assert!(message(&a.body).contains("team `eng`"), "{}", a.body);
            break;
        }
        assert_eq!(a.status, 200, "{}", a.body);
        n += 1;
        assert!(n < 200, "the team limit never refused");
    }
    let a = chat(&http, &gw, &idle).await;
    assert_eq!(a.status, 402, "the team's other key: {}", a.body);
    let a = messages(&http, &gw, &idle, "test/m").await;
    assert_eq!(
        (a.status, a.body["type"].as_str()),
        (402, Some("error")),
        "{}",
        a.body
    );
    let team = get_json(&http, &format!("{}/api/v1/teams/eng", gw.url), MASTER).await;
    assert_eq!(team["data"]["keys"], 2, "{team}");
    assert!(
        team["data"]["usage_monthly"].as_f64().unwrap() >= 0.05,
        "{team}"
    );
    assert_eq!(team["data"]["limit_remaining"], 0.0, "{team}");
    // a user key may not manage teams
    let r = http
        .get(format!("{}/api/v1/teams", gw.url))
        .bearer_auth(&idle)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // raising the team's limit admits its keys again
    let (status, v) = admin(
        &http,
        reqwest::Method::PATCH,
        format!("{}/api/v1/teams/eng", gw.url),
        Some(json!({"limit": 50.0})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(chat(&http, &gw, &idle).await.status, 200);
    // a deleted team's keys keep working without it
    let (status, _) = admin(
        &http,
        reqwest::Method::DELETE,
        format!("{}/api/v1/teams/eng", gw.url),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let v = get_json(&http, &format!("{}/api/v1/key", gw.url), &idle).await;
    assert_eq!(v["data"]["team"], Value::Null, "{v}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_guardrail_holds_on_sqlite() {
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db.path().join("keys.db").display());
    every_guardrail(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_guardrail_holds_on_postgres() {
    let pg = process::pg_db().await;
    every_guardrail(&pg.url).await;
}

/// Two instances on one PostgreSQL (`cluster`: and one Redis): a `PATCH` of a key and a
/// change of a team's limit made on A are enforced by B; with a limit that resets, spend on
/// A counts on B. Returns how long B took to enforce the PATCH.
async fn two_instances(cluster: Option<&str>, within: Duration) -> Duration {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve(da.path(), &config(&mock, &pg.url, cluster)).await;
    let b = serve(db.path(), &config(&mock, &pg.url, cluster)).await;
    let http = reqwest::Client::new();
    let (secret, id) = key(&http, &a, json!({"label": "shared"})).await;
    // B knows the key before A changes it
    assert_eq!(
        chat_with(&http, &b, &secret, json!({"model": "other/x"}))
            .await
            .status,
        200
    );
    patch_key(&http, &a, &id, json!({"allowed_models": ["test/m"]})).await;
    assert_eq!(
        chat_with(&http, &a, &secret, json!({"model": "other/x"}))
            .await
            .status,
        403,
        "at once where it was changed"
    );
    let took = until(within, "B enforcing A's PATCH", || async {
        chat_with(&http, &b, &secret, json!({"model": "other/x"}))
            .await
            .status
            == 403
    })
    .await;
    assert_eq!(chat(&http, &b, &secret).await.status, 200);

    // a team made on A, its limit lowered on A: B refuses the key
    let (status, v) = admin(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/teams", a.url),
        Some(json!({"name": "ops", "limit": 100.0})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    patch_key(&http, &a, &id, json!({"team": "ops"})).await;
    let (status, _) = admin(
        &http,
        reqwest::Method::PATCH,
        format!("{}/api/v1/teams/ops", a.url),
        Some(json!({"limit": 0.0})),
    )
    .await;
    assert_eq!(status, 200);
    until(within, "B enforcing A's team limit", || async {
        chat(&http, &b, &secret).await.status == 402
    })
    .await;

    // a daily limit: spend on A counts on B
    let (daily, _) = key(&http, &a, json!({"limit": 0.05, "limit_reset": "daily"})).await;
    assert_eq!(chat(&http, &b, &daily).await.status, 200, "B knows the key");
    let mut n = 0;
    while chat(&http, &a, &daily).await.status == 200 {
        n += 1;
        assert!(n < 200, "the daily limit never refused on A");
    }
    until(
        within,
        "B refusing a key that reached its daily limit on A",
        || async { chat(&http, &b, &daily).await.status == 402 },
    )
    .await;
    let info = get_json(&http, &format!("{}/api/v1/key", b.url), &daily).await;
    assert_eq!(info["data"]["limit_remaining"], 0.0, "{info}");
    stop.cancel();
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cluster_a_change_on_one_instance_is_enforced_by_the_other_within_5_s() {
    let took = two_instances(None, Duration::from_secs(5)).await;
    eprintln!("B enforced A's PATCH after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cluster_a_change_on_one_instance_is_enforced_by_the_other_within_1_s() {
    let db = 11;
    let url = format!("redis://127.0.0.1:6379/{db}");
    let took = two_instances(Some(&url), Duration::from_secs(1)).await;
    eprintln!("B enforced A's PATCH after {took:?}");
}

/// With `[cluster]`, a key's tokens per minute are one allowance for every instance: requests
/// alternating between two instances are refused once their tokens together reach it (each
/// instance alone would have let through the whole allowance again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cluster_tokens_per_minute_are_shared_by_the_instances() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    let redis = "redis://127.0.0.1:6379/11";
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve(da.path(), &config(&mock, &pg.url, Some(redis))).await;
    let b = serve(db.path(), &config(&mock, &pg.url, Some(redis))).await;
    let http = reqwest::Client::new();
    let tpm = 300u64;
    let (secret, _) = key(&http, &a, json!({"tpm": tpm})).await;
    let (mut used, mut largest, mut refused_in_a_row) = (0u64, 0u64, 0);
    for i in 0..200 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let r = chat(&http, gw, &secret).await;
        match r.status {
            200 => {
                let t = r.body["usage"]["total_tokens"].as_u64().unwrap();
                used += t;
                largest = largest.max(t);
                refused_in_a_row = 0;
            }
            429 => {
                refused_in_a_row += 1;
                if refused_in_a_row == 2 {
                    break;
                }
            }
            s => panic!("{s}: {}", r.body),
        }
    }
    assert_eq!(refused_in_a_row, 2, "never refused on both instances");
    eprintln!("tokens served across both instances before 429: {used} (tpm {tpm}, largest request {largest})");
    assert!(
        used <= tpm + largest,
        "{used} tokens served for a tpm of {tpm}: the instances did not share the minute"
    );
    stop.cancel();
}
