//! The limits one at a time, on a bare router or body: panics, header size, body size and time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use tower::Service;

use super::{catch_panics, header_limit, panics_caught, read_body_within, MAX_HEADER_BYTES};

fn guarded(router: Router) -> Router {
    router
        .layer(axum::middleware::from_fn(header_limit))
        .layer(catch_panics())
}

async fn call(mut app: Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.call(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn assert_error_shape(status: StatusCode, body: &Value) {
    assert_eq!(body["error"]["code"], status.as_u16(), "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    assert!(body["error"]["metadata"].is_object());
}

#[tokio::test]
async fn a_panicking_handler_is_answered_500_in_the_error_shape_and_counted() {
    let app = guarded(Router::new().route(
        "/boom",
        get(|| async {
            let secret = "sk-do-not-show";
            panic!("handler bug near {secret}");
            #[allow(unreachable_code)]
            ""
        }),
    ));
    let before = panics_caught();
    let (status, body) = call(app, Request::get("/boom").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_error_shape(status, &body);
    assert!(
        !body.to_string().contains("sk-do-not-show"),
        "the panic's text reached the client: {body}"
    );
    assert!(panics_caught() > before);
}

#[tokio::test]
async fn headers_over_the_limit_get_431() {
    let app = guarded(Router::new().route("/", get(|| async { "ok" })));
    let mut big = Request::get("/").body(Body::empty()).unwrap();
    let value = HeaderValue::from_str(&"x".repeat(MAX_HEADER_BYTES)).unwrap();
    big.headers_mut().insert("x-padding", value);
    let (status, body) = call(app.clone(), big).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_error_shape(status, &body);

    let mut fine = Request::get("/").body(Body::empty()).unwrap();
    let value = HeaderValue::from_str(&"x".repeat(MAX_HEADER_BYTES / 2)).unwrap();
    fine.headers_mut().insert("x-padding", value);
    let response = app.clone().call(fine).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let long_target = format!("/?q={}", "y".repeat(MAX_HEADER_BYTES));
    let (status, _) = call(app, Request::get(long_target).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

#[tokio::test]
async fn a_body_that_never_ends_is_cut_off_with_408() {
    let stalled = stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b"{\"model\":")) })
        .chain(stream::pending());
    let e = read_body_within(Body::from_stream(stalled), 1024, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(e.status, 408, "{e:?}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_whether_announced_or_streamed() {
    let announced = Body::from(vec![b'x'; 2048]);
    let e = read_body_within(announced, 1024, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(e.status, 413);
    assert_eq!(e.metadata["limit_bytes"], 1024);

    let chunks = (0..8).map(|_| Ok::<_, Infallible>(Bytes::from(vec![b'x'; 256])));
    let streamed = Body::from_stream(stream::iter(chunks));
    let e = read_body_within(streamed, 1024, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(e.status, 413);
}

#[tokio::test]
async fn a_body_within_the_limits_is_read_whole() {
    let chunks = (0..4).map(|_| Ok::<_, Infallible>(Bytes::from(vec![b'x'; 256])));
    let bytes = read_body_within(
        Body::from_stream(stream::iter(chunks)),
        1024,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(bytes.len(), 1024);
}
