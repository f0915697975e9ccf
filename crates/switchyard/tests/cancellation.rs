//! Nothing depends on a future finishing (issue 14): whatever ends a request — the client going
//! away or stopping to read, a hedge lost, a probe cancelled — its attempts are closed, their
//! slots released, their cost charged and the request recorded. Each test drives the gateway over
//! loopback HTTP against the simulated provider, and fails on the code before the fix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use support::{eventually, Gateway, Spec, MASTER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn long_text(words: usize) -> String {
    (0..words)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn body(stream: bool) -> Value {
    json!({"model": "test/m", "stream": stream, "messages": [{"role": "user", "content": "count"}]})
}

/// The first SSE data events of a streamed answer, then the client leaves.
async fn read_events_then_leave(r: reqwest::Response, n: usize) -> Vec<Value> {
    let mut stream = r.bytes_stream();
    let mut buf = String::new();
    let mut events = Vec::new();
    while events.len() < n {
        let Some(Ok(chunk)) = stream.next().await else {
            break;
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = buf.find("\n\n") {
            let block: String = buf.drain(..i + 2).collect();
            if let Some(d) = block.trim().strip_prefix("data: ") {
                if let Ok(v) = serde_json::from_str(d) {
                    events.push(v);
                }
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_mid_stream_is_charged_and_recorded() {
    let mut spec = Spec::new(&[(
        "slow",
        "openai",
        json!({"text": long_text(80), "tokens_per_s": 10}),
    )]);
    spec.keys = true;
    spec.routing = "stream_idle_timeout_s = 5".to_owned();
    let gw = Gateway::build(spec).await;
    let secret = gw.key(json!({"label": "t", "limit": 100})).await;
    let r = gw
        .http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .bearer_auth(&secret)
        .json(&body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = read_events_then_leave(r, 3).await;
    let id = events[0]["id"].as_str().unwrap().to_owned();
    // the upstream call is cancelled, the request recorded as cancelled and charged
    eventually(10, "the upstream stream to be cancelled", || async {
        (gw.stats("slow").active == 0).then_some(())
    })
    .await;
    let rec = eventually(10, "the generation record", || gw.generation(&id)).await;
    assert_eq!(rec["cancelled"], true, "{rec}");
    assert!(rec["cost"].as_f64().unwrap() > 0.0, "{rec}");
    assert_eq!(rec["attempts"][0]["class"], "cancelled", "{rec}");
    let usage = eventually(10, "the key to be charged", || async {
        let u = gw.usage(&secret).await;
        (u > 0.0).then_some(u)
    })
    .await;
    assert!((usage - rec["cost"].as_f64().unwrap()).abs() < 1e-12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_before_a_collected_answer_is_charged() {
    let mut spec = Spec::new(&[(
        "slow",
        "openai",
        json!({"text": long_text(60), "tokens_per_s": 20}),
    )]);
    spec.keys = true;
    spec.routing = "stream_idle_timeout_s = 5".to_owned();
    let gw = Gateway::build(spec).await;
    let secret = gw.key(json!({"label": "t"})).await;
    let call = gw
        .http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .bearer_auth(&secret)
        .json(&body(false))
        .send();
    // the client gives up after the upstream started answering
    let _ = tokio::time::timeout(Duration::from_millis(700), call).await;
    eventually(10, "the upstream stream to be cancelled", || async {
        (gw.stats("slow").requests == 1 && gw.stats("slow").active == 0).then_some(())
    })
    .await;
    eventually(10, "the key to be charged", || async {
        (gw.usage(&secret).await > 0.0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_probe_does_not_keep_its_endpoint_out_of_use() {
    // a long first-token timeout: only the client's leaving can end the probe in time
    let mut spec = Spec::new(&[
        ("cheap", "openai", json!({"status": 500})),
        ("dear", "openai", json!({})),
    ]);
    spec.routing = "first_token_timeout_s = 60".to_owned();
    let gw = Gateway::build(spec).await;
    let order = json!({"order": ["cheap", "dear"]});
    let ask = |stream: bool| {
        let mut b = body(stream);
        b["provider"] = order.clone();
        gw.http
            .post(format!("{}/api/v1/chat/completions", gw.url))
            .json(&b)
            .send()
    };
    // three failures open cheap's circuit
    for _ in 0..3 {
        assert_eq!(ask(false).await.unwrap().status(), 200);
    }
    // cheap now hangs; once its probe is due, the next request takes it, and its client leaves
    // in the middle of the probe
    gw.mock.set_behaviour(
        "cheap",
        serde_json::from_value(json!({"hang": true})).unwrap(),
    );
    eventually(15, "cheap's probe to be due", || async {
        let mut b = body(false);
        b["provider"] = order.clone();
        let plan: Value = gw
            .http
            .post(format!("{}/api/v1/routing/explain", gw.url))
            .json(&b)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let first = &plan["attempts"][0];
        (first["provider"] == "cheap" && !first["why"].as_str()?.contains("last resort"))
            .then_some(())
    })
    .await;
    let before = gw.stats("cheap").requests;
    let probe = tokio::spawn(ask(true));
    eventually(10, "the probe to reach cheap", || async {
        (gw.stats("cheap").requests > before).then_some(())
    })
    .await;
    probe.abort();
    // cheap heals: its probe is due again and it is back in use within seconds
    gw.mock
        .set_behaviour("cheap", serde_json::from_value(json!({})).unwrap());
    eventually(
        15,
        "cheap to serve again after its cancelled probe",
        || async {
            let v: Value = ask(false).await.ok()?.json().await.ok()?;
            (v["provider"] == "cheap").then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_is_cut_off_and_frees_its_slot() {
    // 100 000 words sent back to back (20 MB of events) fill every buffer between the gateway
    // and a client that does not read
    let mut spec = Spec::new(&[("only", "openai", json!({"text": long_text(100_000)}))]);
    spec.providers[0].3 = "max_concurrency = 1".to_owned();
    spec.routing = "first_token_timeout_s = 20".to_owned();
    let gw = Gateway::build(spec).await;
    let addr = gw.url.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let payload = body(true).to_string();
    let req = format!(
        "POST /api/v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{payload}",
        payload.len()
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut first = [0u8; 64];
    let n = conn.read(&mut first).await.unwrap();
    let head = String::from_utf8_lossy(&first[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // the client stops reading here and keeps its connection open: after stream_idle_timeout_s
    // of blocked writes the gateway cuts it off and the provider's only slot is free again
    let ok = eventually(20, "the provider's slot to be released", || async {
        let mut b = body(false);
        b["max_tokens"] = json!(3);
        let r = gw
            .http
            .post(format!("{}/api/v1/chat/completions", gw.url))
            .json(&b)
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let () = ok;
    drop(conn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_cut_in_its_arguments_is_resumed_as_one_call() {
    // the call's head and two argument pieces reach the client, then the stream is cut
    let gw = Gateway::start(
        &[
            ("cutter", json!({"tool_call": true, "cut_after": 3})),
            ("cont", json!({"tool_call": true})),
        ],
        "",
    )
    .await;
    let mut b = body(true);
    b["provider"] = json!({"order": ["cutter", "cont"]});
    b["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let events = support::sse(&gw, b).await;
    let mut ids = Vec::new();
    let mut args = String::new();
    let mut finish = None;
    for e in &events {
        for c in e["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(c["index"], 0, "one call: {e}");
            if let Some(id) = c["id"].as_str() {
                ids.push(id.to_owned());
            }
            args.push_str(c["function"]["arguments"].as_str().unwrap_or(""));
        }
        if let Some(f) = e["choices"][0]["finish_reason"].as_str() {
            finish = Some(f.to_owned());
        }
    }
    assert_eq!(ids.len(), 1, "the call started once: {ids:?}");
    let parsed: Value = serde_json::from_str(&args).expect("the arguments are one JSON text");
    assert_eq!(parsed, json!({"location": "Paris", "unit": "celsius"}));
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert_eq!(
        gw.stats("cont").requests,
        1,
        "the stream was resumed on cont"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_full_is_503_with_retry_after() {
    let mut spec = Spec::new(&[("only", "openai", json!({"hang": true}))]);
    spec.providers[0].3 = "max_concurrency = 1".to_owned();
    spec.routing = "first_token_timeout_s = 30".to_owned();
    let gw = Gateway::build(spec).await;
    let hold = tokio::spawn(
        gw.http
            .post(format!("{}/api/v1/chat/completions", gw.url))
            .json(&body(true))
            .send(),
    );
    eventually(10, "the first request to hold the slot", || async {
        (gw.stats("only").active == 1).then_some(())
    })
    .await;
    let r = gw
        .http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .json(&body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "saturation is no client error");
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 503);
    assert_eq!(v["error"]["metadata"]["attempts"][0]["kind"], "saturated");
    hold.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_hedge_releases_its_slot_at_once_and_is_billed() {
    let mut spec = Spec::new(&[
        ("slow", "openai", json!({"ttft_ms": 600})),
        (
            "fast",
            "openai",
            json!({"text": long_text(40), "tokens_per_s": 10}),
        ),
    ]);
    spec.providers[0].3 = "max_concurrency = 1".to_owned();
    spec.routing = "hedge = true\nstream_idle_timeout_s = 5\nfirst_token_timeout_s = 5".to_owned();
    spec.keys = true;
    let gw = Gateway::build(spec).await;
    let post = |b: Value| {
        gw.http
            .post(format!("{}/api/v1/chat/completions", gw.url))
            .bearer_auth(MASTER)
            .json(&b)
            .send()
    };
    // both endpoints get measured first (a hedge needs their time to first token)
    for only in ["slow", "fast"] {
        let mut b = body(false);
        b["provider"] = json!({"only": [only]});
        b["max_tokens"] = json!(2);
        assert_eq!(post(b).await.unwrap().status(), 200);
    }
    // slow first, fast hedged: fast wins and streams for about 4 s
    let mut b = body(true);
    b["provider"] = json!({"order": ["slow", "fast"]});
    let r = post(b).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], "fast");
    let mut stream = r.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    let id: String = {
        let t = String::from_utf8_lossy(&first);
        let d = t
            .trim()
            .strip_prefix("data: ")
            .unwrap()
            .split("\n\n")
            .next()
            .unwrap()
            .to_owned();
        serde_json::from_str::<Value>(&d).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // while fast still streams, slow's only slot is free for another request
    let mut b = body(false);
    b["provider"] = json!({"only": ["slow"]});
    b["max_tokens"] = json!(2);
    let r = post(b).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    while stream.next().await.is_some() {}
    // the loser is in the record, closed as a lost hedge and billed for its prompt
    let rec = eventually(10, "the hedged request's record", || gw.generation(&id)).await;
    let attempts = rec["attempts"].as_array().unwrap();
    let lost = attempts
        .iter()
        .find(|a| a["kind"] == "hedge_lost")
        .expect("the loser is logged");
    assert_eq!(lost["provider"], "slow");
    let winner_only = attempts.iter().find(|a| a["provider"] == "fast").unwrap();
    assert_eq!(winner_only["class"], "ok");
    assert!(
        rec["native_tokens_prompt"].as_u64().unwrap_or(0) > 0,
        "{rec:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_circuit_sends_requests_straight_to_the_fallback_model() {
    let mut spec = Spec::new(&[
        ("dead", "openai", json!({"status": 500})),
        ("alive", "openai", json!({})),
    ]);
    spec.models = Some(
        "[[models]]\nid = \"test/m\"\ncontext_length = 8000\nfallbacks = [\"test/backup\"]\n\
         [[models.endpoints]]\nprovider = \"dead\"\nupstream_model = \"m\"\nprompt_price = 1.0\ncompletion_price = 1.0\n\
         [[models]]\nid = \"test/backup\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"alive\"\nupstream_model = \"m\"\nprompt_price = 1.0\ncompletion_price = 1.0\n"
            .to_owned(),
    );
    let gw = Gateway::build(spec).await;
    let ask = || {
        gw.http
            .post(format!("{}/api/v1/chat/completions", gw.url))
            .json(&body(false))
            .send()
    };
    // two requests: dead fails, is retried once each (the model's last endpoint) — its circuit opens
    for _ in 0..2 {
        let v: Value = ask().await.unwrap().json().await.unwrap();
        assert_eq!(v["model"], "test/backup");
    }
    let before = gw.stats("dead").requests;
    assert!(before >= 3);
    for _ in 0..15 {
        let v: Value = ask().await.unwrap().json().await.unwrap();
        assert_eq!(v["model"], "test/backup");
    }
    let calls = gw.stats("dead").requests - before;
    // before the fix: two calls to the dead endpoint per request (30); now at most its probes
    assert!(
        calls <= 3,
        "the dead endpoint got {calls} calls in 15 requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_prompts_do_not_hold_up_health() {
    // a small context forces the tokenizer onto the prompt (bytes alone do not decide)
    let mut spec = Spec::new(&[("p", "openai", json!({}))]);
    spec.endpoint_extra = "context_length = 60000".to_owned();
    let gw = Gateway::build(spec).await;
    let hostile =
        json!({"model": "test/m", "messages": [{"role": "user", "content": "a".repeat(200_000)}]});
    let send = || {
        gw.http
            .post(format!("{}/api/v1/chat/completions", gw.url))
            .json(&hostile)
            .send()
    };
    let (a, b) = (tokio::spawn(send()), tokio::spawn(send()));
    // liveness, not speed: before the fix each such request held a runtime worker for about
    // 18 s (byte-pair encoding of one 200 KB word), and /health waited behind them
    let health = tokio::time::timeout(
        Duration::from_secs(10),
        gw.http.get(format!("{}/health", gw.url)).send(),
    )
    .await
    .expect("/health answers while hostile prompts are estimated")
    .unwrap();
    assert_eq!(health.status(), 200);
    // 200 000 bytes of one letter are estimated from their bytes (50 000 tokens): it fits
    let both = tokio::time::timeout(Duration::from_secs(10), async {
        for r in [a, b] {
            let r = r.await.unwrap().unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    })
    .await;
    assert!(
        both.is_ok(),
        "the hostile requests were not answered within 10 s"
    );
}
