//! Keys: created with a secret shown once, found by the secret, listed
//! without it, deleted.

use sha2::{Digest, Sha256};
use sy_store::StoreError;

use crate::common::{on_both, TestDb};

on_both!(key_lifecycle, key_limits_are_validated);

async fn key_lifecycle(db: &TestDb) {
    let store = &db.store;
    let (team, team_secret) = store.create_key("team", Some(2.5)).await.unwrap();
    let (ci, ci_secret) = store.create_key("ci", None).await.unwrap();

    for (key, secret) in [(&team, &team_secret), (&ci, &ci_secret)] {
        let random = secret.strip_prefix("sk-sy-").expect("secret prefix");
        assert_eq!(random.len(), 48);
        assert!(
            random.chars().all(|c| c.is_ascii_alphanumeric()),
            "{secret}"
        );
        let id = key.id.strip_prefix("key_").expect("id prefix");
        assert_eq!(id.len(), 16);
        assert_eq!(key.usage, 0.0);
        assert!(key.created_at > 1_600_000_000);
    }
    assert_ne!(team_secret, ci_secret);
    assert_eq!((team.label.as_str(), team.limit), ("team", Some(2.5)));
    assert_eq!((ci.label.as_str(), ci.limit), ("ci", None));

    assert_eq!(
        store.key_by_secret(&team_secret).await.unwrap(),
        Some(team.clone())
    );
    assert_eq!(
        store.key_by_secret(&ci_secret).await.unwrap(),
        Some(ci.clone())
    );
    assert_eq!(store.key_by_secret("sk-sy-nope").await.unwrap(), None);
    assert_eq!(store.key_by_secret(&team.id).await.unwrap(), None);
    assert_eq!(store.key(&ci.id).await.unwrap(), Some(ci.clone()));

    let listed = store.list_keys().await.unwrap();
    let mut ids = listed.iter().map(|k| k.id.clone()).collect::<Vec<_>>();
    ids.sort();
    let mut want = vec![team.id.clone(), ci.id.clone()];
    want.sort();
    assert_eq!(ids, want);
    let json = serde_json::to_string(&listed).unwrap();
    for secret in [&team_secret, &ci_secret] {
        let hash = hex::encode(Sha256::digest(secret.as_bytes()));
        assert!(
            !json.contains(secret.as_str()) && !json.contains(&hash),
            "{json}"
        );
    }
    assert!(
        json.contains("\"limit\":2.5") && json.contains("\"limit\":null"),
        "{json}"
    );

    assert!(store.delete_key(&team.id).await.unwrap());
    assert!(!store.delete_key(&team.id).await.unwrap());
    assert_eq!(store.key_by_secret(&team_secret).await.unwrap(), None);
    assert_eq!(store.list_keys().await.unwrap(), vec![ci]);
}

async fn key_limits_are_validated(db: &TestDb) {
    for limit in [-1.0, f64::NAN, f64::INFINITY] {
        let err = db.store.create_key("bad", Some(limit)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "limit", .. }),
            "{err:?}"
        );
    }
    let (zero, _) = db.store.create_key("zero", Some(0.0)).await.unwrap();
    assert!(zero.exhausted());
    assert_eq!(db.store.list_keys().await.unwrap(), vec![zero]);
}
