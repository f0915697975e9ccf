//! Money survives the store being slow or down and the gateway being killed (issue 15, SPEC §8),
//! through the real binary: a locked SQLite file, a PostgreSQL cut off behind a proxy, `kill -9`,
//! SIGTERM during an outage, an in-memory queue that overflows to the journal, and a journal
//! that cannot grow. Every check reads the database itself: each answered request's record is
//! there and the key's usage is the exact sum of the answers' costs (no charge lost or doubled).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod process;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use process::faults::{Proxy, SqliteLock};
use process::{
    create_key, eventually, get_json, kill9, metric, same_usd, serve, stored, terminate, usage,
    Served, MASTER,
};
use serde_json::{json, Value};
use sy_mock::{MockConfig, MockServer};
use tokio_util::sync::CancellationToken;

/// SPEC §8: records are on local disk within one second of the answer; a kill this long after
/// the last answer must lose nothing.
const ON_DISK_WITHIN: Duration = Duration::from_millis(1100);

fn config(mock: &MockServer, storage: &str, storage_extra: &str) -> String {
    format!(
        "[auth]\nmaster_key = \"${{SY_TEST_MASTER}}\"\n\
         [storage]\nurl = \"{storage}\"\n{storage_extra}\n\
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

/// One chat request; the status and the answer.
async fn chat(http: &reqwest::Client, gw: &Served, bearer: &str, stream: bool) -> (u16, Value) {
    let r = http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .bearer_auth(bearer)
        .json(&json!({"model": "test/m", "stream": stream,
                      "messages": [{"role": "user", "content": "what does this cost"}]}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if stream && status == 200 {
        return (status, last_chunk_with_usage(&r.text().await.unwrap()));
    }
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The id and usage of a stream, from its last chunk that carries usage.
fn last_chunk_with_usage(text: &str) -> Value {
    text.lines()
        .rev()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|v| v["usage"].is_object())
        .unwrap_or(Value::Null)
}

/// Sends `n` requests (half streamed, eight at a time); the id and cost of every answer.
async fn answered(
    http: &reqwest::Client,
    gw: &Served,
    bearer: &str,
    n: usize,
) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let answers = futures_util::future::join_all(
            chunk.iter().map(|i| chat(http, gw, bearer, i % 2 == 0)),
        )
        .await;
        for (status, v) in answers {
            assert_eq!(status, 200, "{v}");
            out.push((
                v["id"].as_str().unwrap().to_owned(),
                v["usage"]["cost"].as_f64().unwrap(),
            ));
        }
    }
    out
}

/// Waits until the store holds exactly these answers for the key: every id, and a usage that
/// is both the sum of the stored costs and the sum of the answers' costs.
async fn store_holds(url: &str, key_id: &str, answers: &[(String, f64)]) {
    let want: f64 = answers.iter().map(|(_, c)| c).sum();
    let mut last = None;
    let held = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let s = stored(url, key_id).await;
            let all = answers.iter().all(|(id, _)| s.ids.contains(id));
            if all && s.records == answers.len() && same_usd(s.usage, want) {
                assert!(
                    same_usd(s.cost_sum, s.usage),
                    "usage != sum of records: {s:?}"
                );
                return;
            }
            last = Some(s);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    if held.is_err() {
        let s = last.unwrap();
        let missing = answers.iter().filter(|(id, _)| !s.ids.contains(id)).count();
        panic!(
            "the store does not hold the {} answers (USD {want}): {} records, usage {}, sum of \
             costs {}, {missing} answered requests missing",
            answers.len(),
            s.records,
            s.usage,
            s.cost_sum
        );
    }
}

async fn new_key(http: &reqwest::Client, gw: &Served) -> (String, String) {
    let created = create_key(http, gw, &json!({"label": "durable"})).await;
    (
        created["key"].as_str().unwrap().to_owned(),
        created["data"]["id"].as_str().unwrap().to_owned(),
    )
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("switchyard.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_sqlite_is_locked_loses_no_answered_request() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&mock, "sqlite://switchyard.db", "");
    let gw = serve(dir.path(), &cfg).await;
    let http = reqwest::Client::new();
    let (secret, key_id) = new_key(&http, &gw).await;
    // another process holds the write lock: nothing the gateway answers can reach the database
    let lock = SqliteLock::hold(&dir.path().join("switchyard.db")).await;
    let answers = answered(&http, &gw, &secret, 50).await;
    tokio::time::sleep(ON_DISK_WITHIN).await;
    kill9(gw);
    lock.release().await;
    let gw = serve(dir.path(), &cfg).await;
    store_holds(&sqlite_url(dir.path()), &key_id, &answers).await;
    // and the key's live figure agrees once the journal is replayed
    let want: f64 = answers.iter().map(|(_, c)| c).sum();
    assert!(same_usd(usage(&http, &gw, &secret).await, want));
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_postgres_is_cut_off_loses_no_answered_request() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let pg = process::pg_db().await;
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let via_proxy = pg.url.replace(":5432/", &format!(":{}/", proxy.port));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&mock, &via_proxy, "");
    let gw = serve(dir.path(), &cfg).await;
    let http = reqwest::Client::new();
    let (secret, key_id) = new_key(&http, &gw).await;
    let mut answers = answered(&http, &gw, &secret, 4).await;
    proxy.down();
    answers.extend(answered(&http, &gw, &secret, 40).await);
    tokio::time::sleep(ON_DISK_WITHIN).await;
    kill9(gw);
    proxy.up();
    let _gw = serve(dir.path(), &cfg).await;
    store_holds(&pg.url, &key_id, &answers).await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_store_is_down_keeps_every_record_for_the_next_start() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&mock, "sqlite://switchyard.db", "");
    let gw = serve(dir.path(), &cfg).await;
    let http = reqwest::Client::new();
    let (secret, key_id) = new_key(&http, &gw).await;
    let lock = SqliteLock::hold(&dir.path().join("switchyard.db")).await;
    let answers = answered(&http, &gw, &secret, 30).await;
    // at once: the shutdown cannot reach the store, so what it holds must go to local disk
    tokio::task::spawn_blocking(move || terminate(gw))
        .await
        .unwrap();
    lock.release().await;
    let _gw = serve(dir.path(), &cfg).await;
    store_holds(&sqlite_url(dir.path()), &key_id, &answers).await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_overflows_to_the_journal_and_every_surface_says_so() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&mock, "sqlite://switchyard.db", "max_queued_records = 10");
    let gw = serve(dir.path(), &cfg).await;
    let http = reqwest::Client::new();
    let (secret, key_id) = new_key(&http, &gw).await;
    let lock = SqliteLock::hold(&dir.path().join("switchyard.db")).await;
    // ten times what memory may hold
    let answers = answered(&http, &gw, &secret, 100).await;
    let url = gw.url.clone();
    let (http, url) = (&http, url.as_str());
    eventually(
        Duration::from_secs(20),
        "/ready reports the journal",
        || async move {
            let r = http.get(format!("{url}/ready")).send().await.unwrap();
            let code = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            code == 503
                && v["status"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("degraded"))
                && v["store"]["backlog"]["journal"].as_u64() >= Some(90)
                && v["store"]["backlog"]["total"] == 100
        },
    )
    .await;
    let journaled = metric(http, url, "switchyard_records_journaled_total").await;
    assert!(journaled >= Some(90.0), "{journaled:?}");
    assert_eq!(
        metric(http, url, "switchyard_records_queued_total").await,
        Some(100.0)
    );
    assert_eq!(
        metric(http, url, "switchyard_records_dropped_total").await,
        Some(0.0)
    );
    // the key's live figure already counts them all: its limit cannot be passed meanwhile
    let want: f64 = answers.iter().map(|(_, c)| c).sum();
    assert!(same_usd(usage(http, &gw, &secret).await, want));
    lock.release().await;
    store_holds(&sqlite_url(dir.path()), &key_id, &answers).await;
    eventually(
        Duration::from_secs(10),
        "/ready is ready again",
        || async move {
            let r = http.get(format!("{url}/ready")).send().await.unwrap();
            r.status() == 200
        },
    )
    .await;
    assert_eq!(
        metric(http, url, "switchyard_records_written_total").await,
        Some(100.0)
    );
    assert_eq!(
        metric(http, url, "switchyard_records_dropped_total").await,
        Some(0.0)
    );
    let listed = get_json(http, &format!("{url}/api/v1/keys"), MASTER).await;
    let key = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id.as_str())
        .unwrap()
        .clone();
    assert!(same_usd(key["usage"].as_f64().unwrap(), want), "{key}");
    // the journal's segments are trimmed once their records are in the store
    let journal = dir.path().join("switchyard.db.journal");
    let journal = journal.as_path();
    eventually(
        Duration::from_secs(10),
        "the journal is trimmed",
        || async move {
            std::fs::read_dir(journal)
                .unwrap()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
                .all(|e| e.metadata().unwrap().len() == 0)
        },
    )
    .await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_that_cannot_grow_refuses_new_requests_and_keeps_finished_ones() {
    let stop = CancellationToken::new();
    let mock = mock(&stop).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &mock,
        "sqlite://switchyard.db",
        "max_queued_records = 2\njournal_max_bytes = 16384",
    );
    let gw = serve(dir.path(), &cfg).await;
    let http = reqwest::Client::new();
    let (secret, key_id) = new_key(&http, &gw).await;
    let lock = SqliteLock::hold(&dir.path().join("switchyard.db")).await;
    let mut answers = Vec::new();
    let mut refusal = None;
    for _ in 0..200 {
        let (status, v) = chat(&http, &gw, &secret, false).await;
        match status {
            200 => answers.push((
                v["id"].as_str().unwrap().to_owned(),
                v["usage"]["cost"].as_f64().unwrap(),
            )),
            503 => {
                refusal = Some(v);
                break;
            }
            other => panic!("unexpected {other}: {v}"),
        }
        // the journal is written in batches; give each request's record time to reach it
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refusal = refusal.expect("a journal at its limit must refuse new requests");
    assert_eq!(refusal["error"]["code"], 503, "{refusal}");
    let message = refusal["error"]["message"].as_str().unwrap();
    assert!(message.contains("journal"), "{message}");
    assert!(answers.len() >= 2, "{} answered", answers.len());
    let r = http.get(format!("{}/ready", gw.url)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let ready: Value = r.json().await.unwrap();
    assert_eq!(ready["store"]["accepting"], false, "{ready}");
    lock.release().await;
    store_holds(&sqlite_url(dir.path()), &key_id, &answers).await;
    let (http, gw_ref, secret) = (&http, &gw, secret.as_str());
    eventually(
        Duration::from_secs(10),
        "new requests are taken again",
        || async move { chat(http, gw_ref, secret, false).await.0 == 200 },
    )
    .await;
    let url = gw.url.as_str();
    assert_eq!(
        metric(http, url, "switchyard_records_dropped_total").await,
        Some(0.0)
    );
    stop.cancel();
}
