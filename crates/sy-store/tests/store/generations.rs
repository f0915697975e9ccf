//! Recording finished requests: charged atomically under concurrency, at
//! most once per id, and fetched back as stored.

use sy_store::{Store, StoreError};

use crate::common::{self, generation, on_both, TestDb};

on_both!(
    concurrent_records_charge_exactly,
    same_id_charges_once,
    concurrent_duplicates_charge_once,
    generation_roundtrip,
    batch_counts_new_records,
    invalid_records_are_refused,
);

fn assert_close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(f64::MIN_POSITIVE),
        "got {got}, want {want}"
    );
}

async fn concurrent_records_charge_exactly(db: &TestDb) {
    let (key, _) = db.store.create_key("busy", Some(0.01)).await.unwrap();
    let costs = (0..40)
        .map(|i| 0.000_123_4 * f64::from(i + 1) + 1e-7 * f64::from(i * i))
        .collect::<Vec<_>>();
    let tasks = costs
        .iter()
        .enumerate()
        .map(|(i, &cost)| {
            let store = db.store.clone();
            let rec = generation(&format!("gen-{i}"), Some(&key.id), cost);
            tokio::spawn(async move { store.record(&rec).await })
        })
        .collect::<Vec<_>>();
    for task in tasks {
        assert!(task.await.unwrap().unwrap(), "every record is new");
    }
    let sum: f64 = costs.iter().sum();
    let after = db.store.key(&key.id).await.unwrap().unwrap();
    assert_close(after.usage, sum);
    // The limit was overshot (as SPEC allows for requests in flight) and now shows.
    assert!(after.exhausted());
    assert_eq!(after.remaining(), Some(0.0));
    for i in 0..40 {
        assert!(db
            .store
            .generation(&format!("gen-{i}"))
            .await
            .unwrap()
            .is_some());
    }
}

async fn same_id_charges_once(db: &TestDb) {
    let (key, _) = db.store.create_key("retry", None).await.unwrap();
    let first = generation("gen-retried", Some(&key.id), 0.25);
    assert!(db.store.record(&first).await.unwrap());
    let mut retry = first.clone();
    retry.cost = 0.5;
    assert!(!db.store.record(&retry).await.unwrap());
    assert!(!db.store.record(&first).await.unwrap());
    assert_eq!(db.store.key(&key.id).await.unwrap().unwrap().usage, 0.25);
    assert_eq!(
        db.store.generation("gen-retried").await.unwrap(),
        Some(serde_json::from_str::<serde_json::Value>(&first.record).unwrap())
    );
}

async fn concurrent_duplicates_charge_once(db: &TestDb) {
    let (key, _) = db.store.create_key("dup", None).await.unwrap();
    let tasks = (0..10)
        .map(|_| {
            let store = db.store.clone();
            let rec = generation("gen-dup", Some(&key.id), 0.125);
            tokio::spawn(async move { store.record(&rec).await })
        })
        .collect::<Vec<_>>();
    let mut inserted = 0;
    for task in tasks {
        inserted += usize::from(task.await.unwrap().unwrap());
    }
    assert_eq!(inserted, 1);
    assert_eq!(db.store.key(&key.id).await.unwrap().unwrap().usage, 0.125);
}

async fn generation_roundtrip(db: &TestDb) {
    let mut rec = generation("gen-anon", None, 0.003);
    let mut v: serde_json::Value = serde_json::from_str(&rec.record).unwrap();
    v["note"] = serde_json::json!("nul \u{0} and ünïcödé and \"quotes\"");
    rec.record = v.to_string();
    assert!(db.store.record(&rec).await.unwrap());
    assert_eq!(
        db.store.generation("gen-anon").await.unwrap(),
        Some(serde_json::from_str::<serde_json::Value>(&rec.record).unwrap())
    );
    assert_eq!(db.store.generation("gen-missing").await.unwrap(), None);

    // A key deleted while its request ran: the record is kept, nothing is charged.
    let (gone, _) = db.store.create_key("gone", None).await.unwrap();
    assert!(db.store.delete_key(&gone.id).await.unwrap());
    let orphan = generation("gen-orphan", Some(&gone.id), 1.0);
    assert!(db.store.record(&orphan).await.unwrap());
    assert_eq!(
        db.store.generation("gen-orphan").await.unwrap(),
        Some(serde_json::from_str::<serde_json::Value>(&orphan.record).unwrap())
    );
    assert!(db.store.list_keys().await.unwrap().is_empty());
}

async fn batch_counts_new_records(db: &TestDb) {
    let (key, _) = db.store.create_key("batch", None).await.unwrap();
    let a = generation("gen-a", Some(&key.id), 0.5);
    let b = generation("gen-b", Some(&key.id), 0.25);
    let c = generation("gen-c", Some(&key.id), 0.125);
    assert!(db.store.record(&a).await.unwrap());
    let batch = [a.clone(), b, c, a];
    assert_eq!(db.store.record_batch(&batch).await.unwrap(), 2);
    assert_eq!(db.store.key(&key.id).await.unwrap().unwrap().usage, 0.875);
    assert_eq!(db.store.record_batch(&[]).await.unwrap(), 0);
}

async fn invalid_records_are_refused(db: &TestDb) {
    let (key, _) = db.store.create_key("strict", None).await.unwrap();
    let good = generation("gen-good", Some(&key.id), 0.5);
    for (field, rec) in [
        ("cost", generation("gen-nan", Some(&key.id), f64::NAN)),
        ("cost", generation("gen-neg", Some(&key.id), -1.0)),
        ("id", generation("", Some(&key.id), 1.0)),
        ("key_id", generation("gen-nul", Some("key_\0"), 1.0)),
    ] {
        let err = db
            .store
            .record_batch(&[good.clone(), rec])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: f, .. } if f == field),
            "{err:?}"
        );
    }
    // Nothing of a refused batch was written.
    assert_eq!(db.store.generation("gen-good").await.unwrap(), None);
    assert_eq!(db.store.key(&key.id).await.unwrap().unwrap().usage, 0.0);
}

/// Two instances' writers charging the same keys, their batches naming the keys in opposite
/// orders: every batch commits at once. (Charging in batch order let each transaction hold
/// one key's row while waiting for the other's — a deadlock PostgreSQL breaks after a second
/// by failing one of them, which stalled both writers.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_charging_the_same_keys_never_deadlock() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let (a, _) = db.store.create_key("a", None).await.unwrap();
    let (b, _) = db.store.create_key("b", None).await.unwrap();
    let other = Store::connect(&db.url).await.unwrap();
    let run = |store: Store, first: String, second: String, tag: &'static str| {
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            for i in 0..60 {
                let batch = [
                    generation(&format!("gen-{tag}{i}a"), Some(&first), 0.001),
                    generation(&format!("gen-{tag}{i}b"), Some(&second), 0.001),
                ];
                store.record_batch(&batch).await.unwrap();
            }
            started.elapsed()
        })
    };
    let one = run(db.store.clone(), a.id.clone(), b.id.clone(), "x");
    let two = run(other, b.id.clone(), a.id.clone(), "y");
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    assert!(
        one < std::time::Duration::from_secs(5) && two < std::time::Duration::from_secs(5),
        "writers stalled: {one:?}, {two:?}"
    );
    for k in [&a, &b] {
        let usage = db.store.key(&k.id).await.unwrap().unwrap().usage;
        assert!((usage - 0.12).abs() < 1e-9, "{usage}");
    }
}
