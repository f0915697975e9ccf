//! The background writer: drains on shutdown, keeps a bounded backlog while
//! the database is away and writes it when the database returns.

use std::time::Duration;

use sy_store::{Store, Writer};

use crate::common::{self, eventually, eventually_async, generation, on_both, Proxy, TestDb};

on_both!(writer_drains_on_shutdown);

async fn writer_drains_on_shutdown(db: &TestDb) {
    let (key, _) = db.store.create_key("writer", None).await.unwrap();
    let writer = Writer::start(db.store.clone(), 1000);
    let submitter = writer.clone();
    let mut sum = 0.0;
    for i in 0..300 {
        let cost = 0.001 * f64::from(i % 7 + 1);
        sum += cost;
        assert!(submitter.submit(generation(&format!("gen-w{i}"), Some(&key.id), cost)));
    }
    assert_eq!(writer.shutdown(Duration::from_secs(30)).await, 0);
    // Shut down for every clone.
    assert!(!submitter.submit(generation("gen-late", None, 0.0)));
    assert_eq!(submitter.backlog(), 0);
    assert!(submitter.healthy());
    for i in 0..300 {
        assert!(
            db.store
                .generation(&format!("gen-w{i}"))
                .await
                .unwrap()
                .is_some(),
            "gen-w{i}"
        );
    }
    let usage = db.store.key(&key.id).await.unwrap().unwrap().usage;
    assert!((usage - sum).abs() <= 1e-9 * sum, "{usage} != {sum}");
}

#[tokio::test]
async fn unreachable_database_keeps_a_bounded_backlog() {
    let port = common::closed_port().await;
    let url = format!("postgres://postgres:hunter2secret@127.0.0.1:{port}/none");
    let writer = Writer::start(Store::connect_lazy(&url).unwrap(), 5);
    assert!(writer.healthy());
    for i in 0..5 {
        assert!(writer.submit(generation(&format!("gen-u{i}"), None, 0.01)));
    }
    assert!(
        !writer.submit(generation("gen-over", None, 0.01)),
        "queue is full"
    );
    // The pool retries a refused connect until its 5 s acquire timeout.
    eventually(Duration::from_secs(20), "writer reports unhealthy", || {
        !writer.healthy()
    })
    .await;
    assert_eq!(writer.backlog(), 5);
    let error = writer.last_error().unwrap();
    assert!(!error.contains("hunter2secret"), "{error}");
    assert!(
        !writer.submit(generation("gen-over", None, 0.01)),
        "still full"
    );
    assert_eq!(writer.shutdown(Duration::from_millis(300)).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backlog_is_written_when_the_database_returns() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-yet");
    let url = format!("sqlite://{}", missing.join("switchyard.db").display());
    let writer = Writer::start(Store::connect_lazy(&url).unwrap(), 100);
    for i in 0..10 {
        assert!(writer.submit(generation(&format!("gen-s{i}"), None, 0.01)));
    }
    eventually(Duration::from_secs(20), "writer reports unhealthy", || {
        !writer.healthy()
    })
    .await;
    assert_eq!(writer.backlog(), 10);
    std::fs::create_dir(&missing).unwrap();
    eventually(Duration::from_secs(20), "backlog written", || {
        writer.healthy() && writer.backlog() == 0
    })
    .await;
    assert_eq!(writer.shutdown(Duration::from_secs(5)).await, 0);
    let store = Store::connect(&url).await.unwrap();
    for i in 0..10 {
        assert!(store
            .generation(&format!("gen-s{i}"))
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_backlog_is_written_when_the_database_returns() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let (key, _) = db.store.create_key("outage", None).await.unwrap();
    let proxy = Proxy::start(common::postgres_addr()).await;
    let base = common::postgres_url_for(db.pg_name().unwrap());
    let url = base.replacen(
        &format!(":{}/", common::postgres_addr().port()),
        &format!(":{}/", proxy.port),
        1,
    );
    assert_ne!(url, base, "proxy URL from {base}");
    let writer = Writer::start(Store::connect_lazy(&url).unwrap(), 100);
    let mut sum = 0.0;
    for i in 0..20 {
        let cost = 0.01 * f64::from(i + 1);
        sum += cost;
        assert!(writer.submit(generation(&format!("gen-p{i}"), Some(&key.id), cost)));
    }
    eventually(Duration::from_secs(20), "writer reports unhealthy", || {
        !writer.healthy()
    })
    .await;
    assert_eq!(writer.backlog(), 20);
    assert_eq!(db.store.key(&key.id).await.unwrap().unwrap().usage, 0.0);

    proxy.enable();
    eventually(Duration::from_secs(20), "backlog written", || {
        writer.healthy() && writer.backlog() == 0
    })
    .await;
    eventually_async(Duration::from_secs(5), "usage charged", || async {
        let usage = db.store.key(&key.id).await.unwrap().unwrap().usage;
        (usage - sum).abs() <= 1e-9 * sum
    })
    .await;
    assert_eq!(writer.shutdown(Duration::from_secs(5)).await, 0);
    for i in 0..20 {
        assert!(db
            .store
            .generation(&format!("gen-p{i}"))
            .await
            .unwrap()
            .is_some());
    }
}
