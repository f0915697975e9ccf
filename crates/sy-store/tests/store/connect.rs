//! Connecting: URL schemes, migrations applied once (and concurrently),
//! SQLite in WAL mode, no password in any error.

use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};
use sy_store::{Store, StoreError};

use crate::common::{self, on_both, TestDb};

on_both!(reconnect_keeps_data);

async fn reconnect_keeps_data(db: &TestDb) {
    db.store.ping().await.unwrap();
    let (key, _) = db.store.create_key("kept", None).await.unwrap();
    // A second store on the same database finds the migrations applied.
    let again = Store::connect(&db.url).await.unwrap();
    assert_eq!(again.backend(), db.backend());
    assert_eq!(again.list_keys().await.unwrap(), vec![key]);
    again.close().await;
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    assert!(!path.exists());
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(path.exists());
    store.close().await;
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let (key, secret) = store.create_key("mem", Some(1.0)).await.unwrap();
    assert_eq!(store.key_by_secret(&secret).await.unwrap(), Some(key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_instances_migrate_concurrently() {
    if common::skip_postgres() {
        return;
    }
    let db = common::create_database().await;
    let url = common::postgres_url_for(&db.name);
    let connects = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { Store::connect(&url).await })
    });
    for connect in connects {
        let store = connect.await.unwrap().unwrap();
        assert!(store.list_keys().await.unwrap().is_empty());
        store.close().await;
    }
}

#[tokio::test]
async fn errors_never_show_the_password() {
    let port = common::closed_port().await;
    let url = format!("postgres://postgres:hunter2secret@127.0.0.1:{port}/x");
    let err = Store::connect(&url).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("hunter2secret"), "{text}");
    }
    let lazy = Store::connect_lazy(&url).unwrap();
    assert!(!format!("{lazy:?}").contains("hunter2secret"));

    let err = Store::connect("mysql://root:hunter2secret@db/x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2secret"), "{err}");
    assert!(err.to_string().contains("mysql"), "{err}");
}

/// A database a newer build has migrated further (during a rolling upgrade, instances of both
/// versions share it) still serves this build: unknown applied migrations are ignored.
#[tokio::test]
async fn a_migration_from_a_newer_build_is_ignored() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from a newer build', true, '\\x00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let again = Store::connect(&db.url).await.unwrap();
    again.ping().await.unwrap();
    assert!(again.create_key("still", None).await.is_ok());
    again.close().await;
}
