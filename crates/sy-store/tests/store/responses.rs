//! Stored Responses: kept under their owner, read and deleted only by it, replaced on a second
//! write of the same id.

use sy_store::StoredResponse;

use crate::common::{on_both, TestDb};

on_both!(responses_belong_to_their_owner);

async fn responses_belong_to_their_owner(db: &TestDb) {
    let store = &db.store;
    let mut r = StoredResponse {
        id: "gen-1".to_owned(),
        owner: "key_a".to_owned(),
        created_at: 1_700_000_000,
        provider: "oai".to_owned(),
        items: r#"[{"role":"user","content":"hi"}]"#.to_owned(),
        response: r#"{"id":"gen-1","output":[]}"#.to_owned(),
    };
    store.put_response(&r).await.unwrap();
    assert_eq!(
        store.get_response("gen-1", "key_a").await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(store.get_response("gen-1", "key_b").await.unwrap(), None);
    assert_eq!(store.get_response("gen-1", "").await.unwrap(), None);
    assert_eq!(store.get_response("gen-2", "key_a").await.unwrap(), None);
    r.response = r#"{"id":"gen-1","output":[1]}"#.to_owned();
    store.put_response(&r).await.unwrap();
    assert_eq!(
        store
            .get_response("gen-1", "key_a")
            .await
            .unwrap()
            .unwrap()
            .response,
        r.response
    );
    assert!(!store.delete_response("gen-1", "key_b").await.unwrap());
    assert!(store.delete_response("gen-1", "key_a").await.unwrap());
    assert!(!store.delete_response("gen-1", "key_a").await.unwrap());
    assert_eq!(store.get_response("gen-1", "key_a").await.unwrap(), None);
}
