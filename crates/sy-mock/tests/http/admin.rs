//! The admin API: listing, replacing and resetting behaviours.

use reqwest::Method;
use serde_json::json;

use crate::support::{chat, Mock};

#[tokio::test]
async fn put_replaces_the_behaviour_and_list_shows_counts() {
    let mock = Mock::start("[[providers]]\nname = \"p\"\nttft_ms = 5\n").await;
    assert_eq!(mock.openai("p", chat("x")).await.status(), 200);

    let (status, list) = mock.admin(Method::GET, "/admin/providers", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["p"]["requests"], 1);
    assert_eq!(list["p"]["active"], 0);
    assert_eq!(list["p"]["behaviour"]["ttft_ms"], 5);
    assert!(
        list.get("mock").is_some(),
        "the default provider always exists"
    );

    let (status, info) = mock
        .admin(
            Method::PUT,
            "/admin/providers/p",
            Some(json!({"status": 502, "retry_after": 3})),
        )
        .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["behaviour"]["status"], 502);
    assert_eq!(
        info["behaviour"]["ttft_ms"], 0,
        "PUT replaces, it does not merge"
    );
    let resp = mock.openai("p", chat("x")).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["retry-after"], "3");

    let (status, info) = mock
        .admin(Method::POST, "/admin/providers/p/reset", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        info["behaviour"]["ttft_ms"], 5,
        "reset restores the configured behaviour"
    );
    assert_eq!(info["requests"], 0);
    assert_eq!(mock.openai("p", chat("x")).await.status(), 200);
}

#[tokio::test]
async fn put_creates_providers_and_rejects_bad_behaviours() {
    let mock = Mock::start("").await;
    let (status, _) = mock
        .admin(
            Method::PUT,
            "/admin/providers/fresh",
            Some(json!({"text": "Fresh reply."})),
        )
        .await;
    assert_eq!(status, 200);
    let body: serde_json::Value = mock.openai("fresh", chat("x")).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Fresh reply.");
    assert_eq!(
        mock.server.behaviour("fresh").unwrap().text.as_deref(),
        Some("Fresh reply.")
    );

    let (status, err) = mock
        .admin(
            Method::PUT,
            "/admin/providers/fresh",
            Some(json!({"ttft": 1})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        err["error"].as_str().unwrap().contains("unknown field"),
        "{err}"
    );
    let (status, _) = mock
        .admin(
            Method::PUT,
            "/admin/providers/fresh",
            Some(json!({"fail_rate": 3.0})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = mock
        .admin(Method::POST, "/admin/providers/nobody/reset", None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = mock
        .admin(Method::GET, "/admin/providers/nobody", None)
        .await;
    assert_eq!(status, 404);
}
