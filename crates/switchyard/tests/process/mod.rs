//! Gateways as real processes: the release-style binary started on a free loopback port with a
//! config file, stopped by SIGTERM or killed by SIGKILL; and the faults the tests inject around
//! them (`faults`: a database cut off behind a proxy, an SQLite file locked by another writer, a
//! Redis or PostgreSQL server of the test's own that can be restarted).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod faults;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const MASTER: &str = "sk-master-process-test";

pub struct Served {
    pub child: Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn serve(dir: &Path, config: &str) -> Served {
    std::fs::write(dir.join("switchyard.toml"), config).unwrap();
    let port = free_port();
    // SWITCHYARD_TEST_BIN runs the tests against another build (e.g. an older commit's, to
    // see a test fail before a change)
    let bin = std::env::var("SWITCHYARD_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_switchyard").to_owned());
    let child = Command::new(bin)
        .args([
            "serve",
            "--config",
            "switchyard.toml",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env("SY_TEST_MASTER", MASTER)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if reqwest::get(format!("{url}/health"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the gateway did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Served { child, url }
}

pub fn terminate(mut s: Served) {
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = s.child.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM should end the gateway cleanly: {status}"
    );
}

/// Ends a gateway with SIGKILL, as a crash would: no drain, no flush, nothing written on the way
/// out.
pub fn kill9(mut s: Served) {
    signal(&s, "KILL");
    let _ = s.child.wait();
}

/// Polls `check` until it returns true; panics naming `what` after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One line of `/metrics` (`name value`), read with the master key.
pub async fn metric(http: &reqwest::Client, url: &str, name: &str) -> Option<f64> {
    let text = http
        .get(format!("{url}/metrics"))
        .bearer_auth(MASTER)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// Sends a signal (`HUP`, `TERM`, ...) to a served gateway.
pub fn signal(s: &Served, sig: &str) {
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args([&format!("-{sig}"), &pid])
        .status()
        .unwrap()
        .success());
}

/// `GET url` with a bearer key, read as JSON.
pub async fn get_json(http: &reqwest::Client, url: &str, bearer: &str) -> serde_json::Value {
    http.get(url)
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `POST /api/v1/keys` with the master key: the answer, whose `key` is the secret (shown once).
pub async fn create_key(
    http: &reqwest::Client,
    gw: &Served,
    body: &serde_json::Value,
) -> serde_json::Value {
    http.post(format!("{}/api/v1/keys", gw.url))
        .bearer_auth(MASTER)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The calling key's usage in USD, as `GET /api/v1/key` reports it.
pub async fn usage(http: &reqwest::Client, gw: &Served, secret: &str) -> f64 {
    let v = get_json(http, &format!("{}/api/v1/key", gw.url), secret).await;
    v["data"]["usage"].as_f64().unwrap()
}

/// What the store holds for one key, read straight from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// `keys.usage_usd`: the durable charge.
    pub usage: f64,
    /// Generation records of the key, and the sum of their costs.
    pub records: usize,
    pub cost_sum: f64,
    pub ids: std::collections::HashSet<String>,
}

/// Reads a key's usage and generation records from `url` (`sqlite://PATH` or `postgres://...`).
pub async fn stored(url: &str, key_id: &str) -> Stored {
    use sqlx::{Connection, Row};
    let usage_sql = "SELECT usage_usd FROM keys WHERE id = $1";
    let gens_sql = "SELECT id, cost FROM generations WHERE key_id = $1";
    let (usage, rows): (f64, Vec<(String, f64)>) = if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        let usage = sqlx::query(usage_sql)
            .bind(key_id)
            .fetch_one(&mut c)
            .await
            .unwrap()
            .get(0);
        let rows = sqlx::query(gens_sql)
            .bind(key_id)
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        (usage, rows)
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        let usage = sqlx::query(usage_sql)
            .bind(key_id)
            .fetch_one(&mut c)
            .await
            .unwrap()
            .get(0);
        let rows = sqlx::query(gens_sql)
            .bind(key_id)
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        (usage, rows)
    };
    Stored {
        usage,
        records: rows.len(),
        cost_sum: rows.iter().map(|(_, c)| c).sum(),
        ids: rows.into_iter().map(|(id, _)| id).collect(),
    }
}

/// Relative equality for sums of USD figures (float additions in another order).
pub fn same_usd(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

/// A PostgreSQL database of the test's own on the shared server (127.0.0.1:5432), dropped at
/// the end: other branches' tests use that server too, and their migrations must not meet ours
/// in one database.
pub struct PgDb {
    pub url: String,
    name: String,
}

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub async fn pg_db() -> PgDb {
    use sqlx::{Connection, Executor};
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("sy_proc_{}_{nanos}_{seq}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(PG_ADMIN)
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (.ci/run starts it)");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let _ = admin.close().await;
    PgDb {
        url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
        name,
    }
}

impl Drop for PgDb {
    // Drop is sync and may run inside a runtime: a thread with a runtime of its own.
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            use sqlx::{Connection, Executor};
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(PG_ADMIN).await {
                    let _ = admin
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}
