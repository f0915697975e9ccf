//! Fixtures: a database per test on each backend, polling with a deadline,
//! a TCP proxy that can play an unreachable database.

use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};
use sy_store::{Generation, Store};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Runs a test body on both backends: `on_both!(name)` makes
/// `name::sqlite` and `name::postgres` calling `name(&TestDb)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = crate::common::sqlite().await;
                super::$name(&db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(db) = crate::common::postgres().await else {
                    return;
                };
                super::$name(&db).await;
            }
        }
    )*};
}
pub(crate) use on_both;

/// A migrated store on a database of its own, removed on drop.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(DropDatabase),
}

impl TestDb {
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// The database's name on PostgreSQL.
    pub fn pg_name(&self) -> Option<&str> {
        match &self._cleanup {
            Cleanup::Postgres(d) => Some(&d.name),
            Cleanup::Sqlite(_) => None,
        }
    }
}

pub fn random_lower(len: usize) -> String {
    Alphanumeric
        .sample_string(&mut rand::rng(), len)
        .to_ascii_lowercase()
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("switchyard.db").display());
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    TestDb {
        store,
        url,
        _cleanup: Cleanup::Sqlite(dir),
    }
}

pub fn skip_postgres() -> bool {
    std::env::var("SY_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

pub fn postgres_base_url() -> String {
    std::env::var("SY_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// The base URL with its database name replaced.
pub fn postgres_url_for(name: &str) -> String {
    let base = postgres_base_url();
    let cut = base.rfind('/').expect("a postgres URL ends in /DBNAME");
    format!("{}/{name}", &base[..cut])
}

/// The address the base URL points at.
pub fn postgres_addr() -> SocketAddr {
    let options = PgConnectOptions::from_str(&postgres_base_url()).unwrap();
    let host = match options.get_host() {
        "localhost" => "127.0.0.1",
        host => host,
    };
    format!("{host}:{}", options.get_port()).parse().unwrap()
}

async fn admin() -> PgConnection {
    let url = postgres_base_url();
    let options = PgConnectOptions::from_str(&url).unwrap();
    match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "PostgreSQL not reachable at {url}: {e}. Start it, or set SY_SKIP_POSTGRES=1 to skip the PostgreSQL tests"
        ),
        Err(_) => panic!(
            "PostgreSQL at {url} did not answer in 5 s. Start it, or set SY_SKIP_POSTGRES=1 to skip the PostgreSQL tests"
        ),
    }
}

/// A fresh database, or `None` when `SY_SKIP_POSTGRES=1`.
pub async fn postgres() -> Option<TestDb> {
    if skip_postgres() {
        eprintln!("SY_SKIP_POSTGRES=1: PostgreSQL test skipped");
        return None;
    }
    let name = create_database().await;
    let url = postgres_url_for(&name.name);
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    Some(TestDb {
        store,
        url,
        _cleanup: Cleanup::Postgres(name),
    })
}

/// Creates an empty database (no migrations), dropped when the guard goes.
pub async fn create_database() -> DropDatabase {
    let name = format!("sy_test_{}", random_lower(16));
    let mut admin = admin().await;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    admin.close().await.unwrap();
    DropDatabase { name }
}

pub struct DropDatabase {
    pub name: String,
}

impl Drop for DropDatabase {
    // Drop is sync and may run inside a runtime (or after a panic): do the
    // async cleanup on a thread with a runtime of its own.
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut admin = admin().await;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// Polls `check` every 10 ms until it holds; panics naming `what` after `within`.
pub async fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Like [`eventually`] for an async check.
pub async fn eventually_async<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A generation record as the server might build it.
pub fn generation(id: &str, key_id: Option<&str>, cost: f64) -> Generation {
    Generation {
        id: id.to_owned(),
        key_id: key_id.map(str::to_owned),
        created_at: 1_700_000_000,
        cost,
        record: serde_json::json!({
            "id": id,
            "model": "openai/gpt-4o-mini",
            "provider": "openai",
            "streamed": true,
            "finish_reason": "stop",
            "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46, "cost": cost},
            "attempts": [
                {"provider": "azure", "class": "timeout", "status": null, "latency_ms": 10000, "cost": 0.0},
                {"provider": "openai", "class": "ok", "status": 200, "latency_ms": 812, "cost": cost}
            ]
        })
        .to_string(),
    }
}

/// A local TCP port nothing listens on (bound, then released).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Forwards TCP to `target` while enabled; while disabled it accepts and
/// hangs up at once, as a database that is down behind a load balancer.
pub struct Proxy {
    pub port: u16,
    enabled: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let enabled = Arc::new(AtomicBool::new(false));
        let on = Arc::clone(&enabled);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !on.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Proxy {
            port,
            enabled,
            task,
        }
    }

    pub fn enable(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
