//! Injected faults: statuses, failures, broken and silent streams.

use futures_util::StreamExt;
use serde_json::{json, Value};
use sy_mock::Behaviour;

use crate::support::{chat, chat_stream, events, eventually, openai_text, Mock};

#[tokio::test]
async fn cut_after_ends_the_stream_without_finish_or_done() {
    let mock = Mock::start("[[providers]]\nname = \"cut\"\ncut_after = 3\n").await;
    let resp = mock.openai("cut", chat_stream("x")).await;
    assert_eq!(resp.status(), 200);
    let ev = events(&resp.text().await.unwrap());
    assert_eq!(ev.len(), 4, "role chunk + 3 content chunks: {ev:#?}");
    assert_eq!(openai_text(&ev), "Hello from cut.");
    assert!(ev
        .iter()
        .all(|e| e.data != "[DONE]" && e.json()["choices"][0]["finish_reason"].is_null()));

    let ev = events(
        &mock
            .anthropic("cut", chat_stream("x"))
            .await
            .text()
            .await
            .unwrap(),
    );
    let names: Vec<_> = ev.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(names.last(), Some(&"content_block_delta"));
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "content_block_delta")
            .count(),
        3
    );
}

#[tokio::test]
async fn abort_breaks_the_connection_mid_body() {
    let mock = Mock::start("").await;
    mock.server.set_behaviour(
        "broken",
        Behaviour {
            cut_after: Some(2),
            abort: true,
            ..Behaviour::default()
        },
    );
    let resp = mock.openai("broken", chat_stream("x")).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut received = Vec::new();
    let mut failed = false;
    while let Some(frame) = body.next().await {
        match frame {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(
        failed,
        "the body must end in an error, got {:?}",
        String::from_utf8_lossy(&received)
    );
    assert_eq!(
        openai_text(&events(&String::from_utf8(received).unwrap())),
        "Hello from"
    );
}

#[tokio::test]
async fn status_answers_every_request_with_retry_after() {
    let mock = Mock::start(
        "[[providers]]\nname = \"down\"\nstatus = 503\nretry_after = 7\n\
         [[providers]]\nname = \"busy\"\nstatus = 529\n",
    )
    .await;
    for _ in 0..2 {
        let resp = mock.openai("down", chat_stream("x")).await;
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "7");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["type"], "server_error");
        assert!(body["error"]["message"].as_str().unwrap().contains("503"));
        assert!(body["error"].get("param").is_some() && body["error"].get("code").is_some());
    }
    let resp = mock.anthropic("busy", chat("x")).await;
    assert_eq!(resp.status(), 529);
    assert!(resp.headers().get("retry-after").is_none());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "overloaded_error");
    assert_eq!(mock.server.stats("down").unwrap().failed, 2);
}

#[tokio::test]
async fn fail_next_fails_n_requests_then_answers() {
    let mock =
        Mock::start("[[providers]]\nname = \"f\"\nfail_next = 2\nstatus = 429\nretry_after = 1\n")
            .await;
    for _ in 0..2 {
        let resp = mock.openai("f", chat("x")).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "1");
    }
    assert_eq!(mock.openai("f", chat("x")).await.status(), 200);
    assert_eq!(mock.server.stats("f").unwrap().fail_remaining, 0);
    // Without a status, fail_next fails with 500.
    mock.server.set_behaviour(
        "f",
        Behaviour {
            fail_next: Some(1),
            ..Behaviour::default()
        },
    );
    assert_eq!(mock.anthropic("f", chat("x")).await.status(), 500);
    assert_eq!(mock.anthropic("f", chat("x")).await.status(), 200);
}

#[tokio::test]
async fn fail_rate_extremes() {
    let mock = Mock::start("[[providers]]\nname = \"always\"\nfail_rate = 1.0\n[[providers]]\nname = \"never\"\nfail_rate = 0.0\nstatus = 500\n").await;
    for _ in 0..5 {
        assert_eq!(mock.openai("always", chat("x")).await.status(), 503);
        assert_eq!(mock.openai("never", chat("x")).await.status(), 200);
    }
}

#[tokio::test]
async fn refuse_drops_the_connection_without_a_response() {
    let mock = Mock::start("[[providers]]\nname = \"gone\"\nrefuse = true\n").await;
    let err = mock
        .client
        .post(mock.url("gone", "/chat/completions"))
        .json(&chat("x"))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status(), "{err:?}");
    assert_eq!(mock.server.stats("gone").unwrap().failed, 1);
    // Other providers on the same listener still answer.
    assert_eq!(mock.openai("alpha", chat("x")).await.status(), 200);
}

#[tokio::test]
async fn hang_holds_the_request_until_the_behaviour_changes() {
    let mock = Mock::start("[[providers]]\nname = \"h\"\nhang = true\n").await;
    let request = mock
        .client
        .post(mock.url("h", "/chat/completions"))
        .json(&chat("x"))
        .send();
    let pending = tokio::spawn(request);
    eventually("the request to arrive", || {
        mock.server.stats("h").unwrap().active == 1
    })
    .await;
    assert!(!pending.is_finished());
    mock.server.set_behaviour("h", Behaviour::default());
    let resp = pending.await.unwrap().unwrap();
    assert_eq!(resp.status(), 504);
    assert_eq!(mock.openai("h", chat("x")).await.status(), 200);
}

#[tokio::test]
async fn stall_after_goes_silent_until_released() {
    let mock = Mock::start("[[providers]]\nname = \"s\"\nstall_after = 2\n").await;
    let resp = mock.openai("s", chat_stream("x")).await;
    let mut body = resp.bytes_stream();
    let mut received = String::new();
    while events_in(&received) < 3 {
        let bytes = body.next().await.unwrap().unwrap();
        received.push_str(std::str::from_utf8(&bytes).unwrap());
    }
    assert_eq!(openai_text(&events(&received)), "Hello from");
    assert_eq!(mock.server.stats("s").unwrap().active, 1);
    let reader = tokio::spawn(async move {
        let mut rest = Vec::new();
        while let Some(frame) = body.next().await {
            rest.extend_from_slice(&frame.unwrap());
        }
        rest
    });
    mock.server.set_behaviour("s", Behaviour::default());
    assert!(reader.await.unwrap().is_empty(), "nothing after the stall");
    eventually("the stream to end", || {
        mock.server.stats("s").unwrap().active == 0
    })
    .await;
}

fn events_in(text: &str) -> usize {
    text.matches("\n\n").count()
}

#[tokio::test]
async fn error_after_sends_an_in_band_error() {
    let mock = Mock::start("[[providers]]\nname = \"e\"\nerror_after = 1\n").await;
    let ev = events(
        &mock
            .openai("e", chat_stream("x"))
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[2].json()["error"]["type"], "server_error");
    let ev = events(
        &mock
            .anthropic("e", chat_stream("x"))
            .await
            .text()
            .await
            .unwrap(),
    );
    let last = ev.last().unwrap();
    assert_eq!(last.name.as_deref(), Some("error"));
    assert_eq!(
        last.json(),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "mock e: Overloaded"}})
    );
}

#[tokio::test]
async fn malformed_at_and_no_done() {
    let mock = Mock::start("[[providers]]\nname = \"m\"\nmalformed_at = 1\nno_done = true\n").await;
    let ev = events(
        &mock
            .openai("m", chat_stream("x"))
            .await
            .text()
            .await
            .unwrap(),
    );
    let broken: Vec<_> = ev
        .iter()
        .filter(|e| serde_json::from_str::<Value>(&e.data).is_err())
        .collect();
    assert_eq!(broken.len(), 1, "{ev:#?}");
    assert!(ev.iter().all(|e| e.data != "[DONE]"));
    assert_eq!(
        ev[2].data, broken[0].data,
        "the broken event comes before content chunk 1"
    );
    let ev = events(
        &mock
            .anthropic("m", chat_stream("x"))
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(ev.last().unwrap().name.as_deref(), Some("message_delta"));
}

#[tokio::test]
async fn reject_prefill_garbage_and_empty() {
    let mock = Mock::start(
        "[[providers]]\nname = \"r\"\nreject_prefill = true\n\
         [[providers]]\nname = \"g\"\ngarbage = true\n\
         [[providers]]\nname = \"z\"\nempty = true\n",
    )
    .await;
    let prefilled = json!({"model": "m", "messages": [
        {"role": "user", "content": "x"}, {"role": "assistant", "content": "Hello"}]});
    let resp = mock.openai("r", prefilled).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("PREFILL_REJECTED"));
    assert_eq!(mock.openai("r", chat("x")).await.status(), 200);
    let resp = mock.openai("g", chat("x")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.json::<Value>().await.is_err());
    assert_eq!(
        mock.openai("z", chat_stream("x"))
            .await
            .text()
            .await
            .unwrap(),
        "data: [DONE]\n\n"
    );
    assert_eq!(
        mock.anthropic("z", chat("x")).await.text().await.unwrap(),
        ""
    );
}

#[tokio::test]
async fn shutdown_ends_held_streams_and_stops_the_server() {
    let config =
        sy_mock::MockConfig::from_toml("[[providers]]\nname = \"s\"\nstall_after = 0\n").unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server =
        sy_mock::MockServer::start(config, "127.0.0.1:0".parse().unwrap(), shutdown.clone())
            .await
            .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}/chat/completions", server.base_url("s"));
    let resp = client
        .post(&url)
        .json(&chat_stream("x"))
        .send()
        .await
        .unwrap();
    shutdown.cancel();
    let ev = events(&resp.text().await.unwrap());
    assert_eq!(ev.len(), 1, "only the role chunk: {ev:#?}");
    tokio::time::timeout(std::time::Duration::from_secs(10), server.wait())
        .await
        .expect("the server stops")
        .unwrap();
    assert!(client.post(&url).json(&chat("x")).send().await.is_err());
}

#[tokio::test]
async fn a_client_that_leaves_ends_a_hanging_request() {
    let mock = Mock::start("[[providers]]\nname = \"h\"\nhang = true\n").await;
    let request = mock
        .client
        .post(mock.url("h", "/chat/completions"))
        .json(&chat("x"))
        .send();
    let pending = tokio::spawn(request);
    eventually("the request to arrive", || {
        mock.server.stats("h").unwrap().active == 1
    })
    .await;
    pending.abort();
    eventually("the server to notice", || {
        mock.server.stats("h").unwrap().active == 0
    })
    .await;
}
