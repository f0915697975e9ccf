//! Reasoning and prompt-cache pricing (SPEC §4.9) and embeddings (SPEC §4.8) through the
//! gateway over loopback: cached, cache-written and reasoning tokens reported and priced with the
//! endpoint's prices to the last digit of the formula; `reasoning` mapped per protocol and
//! returned as `reasoning` and `reasoning_details`; embeddings in input order, float and base64,
//! failover inside the model and never to another one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::{Gateway, Spec};

const PRICES: &str = "cache_read_price = 0.3\ncache_write_price = 3.75\nreasoning_price = 20.0";

/// The cost formula of SPEC §4.9, written out independently of the gateway's code.
fn formula(u: &Value, prompt_price: f64, completion_price: f64) -> f64 {
    let n = |v: &Value| v.as_u64().unwrap_or(0) as f64;
    let prompt = n(&u["prompt_tokens"]);
    let completion = n(&u["completion_tokens"]);
    let cached = n(&u["prompt_tokens_details"]["cached_tokens"]);
    let written = n(&u["prompt_tokens_details"]["cache_write_tokens"]);
    let reasoning = n(&u["completion_tokens_details"]["reasoning_tokens"]);
    ((prompt - cached - written) * prompt_price
        + cached * 0.3
        + written * 3.75
        + (completion - reasoning) * completion_price
        + reasoning * 20.0)
        / 1_000_000.0
}

async fn chat(gw: &Gateway, body: Value) -> Value {
    let r = gw
        .http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_written_and_reasoning_tokens_are_priced_by_the_endpoint() {
    let behaviour =
        json!({"cached_tokens": 4000, "cache_write_tokens": 1000, "text": "Forty-two."});
    for api in ["openai", "anthropic"] {
        let mut spec = Spec::new(&[("p", api, behaviour.clone())]);
        spec.endpoint_extra = PRICES.to_owned();
        let gw = Gateway::build(spec).await;
        let body = json!({"model": "test/m", "reasoning": {"effort": "high"}, "max_tokens": 2000,
            "messages": [{"role": "user", "content": "What is six times seven?"}]});
        let v = chat(&gw, body).await;
        let u = &v["usage"];
        assert_eq!(
            u["prompt_tokens_details"]["cached_tokens"], 4000,
            "{api}: {u}"
        );
        assert_eq!(
            u["prompt_tokens_details"]["cache_write_tokens"], 1000,
            "{api}: {u}"
        );
        let reasoning = u["completion_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap();
        assert!(reasoning > 0, "{api}: reasoning tokens counted: {u}");
        // reported by the OpenAI-protocol provider; counted with the tokenizer for Anthropic,
        // which does not report them apart (never more than the completion)
        assert!(
            reasoning <= u["completion_tokens"].as_u64().unwrap(),
            "{api}: {u}"
        );
        // prompt_price 1.0 and completion_price 1.0 (the single provider's prices)
        let want = formula(u, 1.0, 1.0);
        let got = u["cost"].as_f64().unwrap();
        assert_eq!(format!("{got:.15e}"), format!("{want:.15e}"), "{api}: {u}");
        // the reasoning is the answer's `reasoning` and `reasoning_details`
        let m = &v["choices"][0]["message"];
        assert!(
            m["reasoning"].as_str().unwrap().contains("step by step"),
            "{api}: {m}"
        );
        assert_eq!(m["content"], "Forty-two.");
        // the setting reached the upstream in its protocol's terms
        let sent = gw.mock.last_request("p").unwrap()["body"].clone();
        match api {
            "openai" => assert_eq!(sent["reasoning_effort"], "high", "{sent}"),
            _ => {
                assert_eq!(sent["thinking"]["type"], "enabled", "{sent}");
                assert_eq!(
                    sent["thinking"]["budget_tokens"], 1600,
                    "80% of max_tokens: {sent}"
                );
            }
        }
        assert!(
            sent.get("reasoning").is_none(),
            "OpenRouter's field never goes upstream"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_signatures_come_back_in_reasoning_details_and_go_back_upstream() {
    let gw = Gateway::start_with(&[("claude", "anthropic", json!({"text": "Done."}))], "").await;
    let ask = json!([{"role": "user", "content": "Think first."}]);
    let v = chat(&gw, json!({"model": "test/m", "reasoning": {"max_tokens": 1024}, "max_tokens": 4000, "messages": ask})).await;
    let m = &v["choices"][0]["message"];
    let details = m["reasoning_details"]
        .as_array()
        .expect("reasoning_details");
    let text: String = details.iter().filter_map(|d| d["text"].as_str()).collect();
    let sig: String = details
        .iter()
        .filter_map(|d| d["signature"].as_str())
        .collect();
    assert!(!text.is_empty() && sig.starts_with("EqMockSig"), "{m}");
    assert!(details.iter().all(|d| d["format"] == "anthropic-claude-v1"));
    // sent back in a later turn (a tool loop with thinking), the signature reaches Anthropic
    // intact: the simulated Anthropic refuses a wrong one
    let next = json!({"model": "test/m", "reasoning": {"max_tokens": 1024}, "max_tokens": 4000, "messages": [
        {"role": "user", "content": "Think first."},
        {"role": "assistant", "content": "Done.", "reasoning_details": [
            {"type": "reasoning.text", "text": text, "signature": sig, "format": "anthropic-claude-v1"}]},
        {"role": "user", "content": "Again."}]});
    chat(&gw, next).await;
    let sent = gw.mock.last_request("claude").unwrap()["body"].clone();
    assert_eq!(
        sent["messages"][1]["content"][0]["type"], "thinking",
        "{sent}"
    );
    assert_eq!(sent["messages"][1]["content"][0]["signature"], json!(sig));
}

fn embedding_spec(providers: &[(&str, Value)]) -> Spec {
    let list: Vec<(&str, &str, Value)> = providers
        .iter()
        .map(|(n, b)| (*n, "openai", b.clone()))
        .collect();
    let mut spec = Spec::new(&list);
    let mut models = String::from(
        "[[models]]\nid = \"test/embed\"\nkind = \"embedding\"\ncontext_length = 8000\n",
    );
    for (i, (name, _)) in providers.iter().enumerate() {
        models.push_str(&format!(
            "[[models.endpoints]]\nprovider = \"{name}\"\nupstream_model = \"e\"\nprompt_price = {}.0\ndimensions = 8\n",
            i + 1
        ));
    }
    models.push_str(
        "[[models]]\nid = \"test/other-embed\"\nkind = \"embedding\"\ncontext_length = 8000\n",
    );
    models.push_str(&format!(
        "[[models.endpoints]]\nprovider = \"{}\"\nupstream_model = \"e2\"\nprompt_price = 1.0\n",
        providers[providers.len() - 1].0
    ));
    models.push_str("[[models]]\nid = \"test/chat\"\ncontext_length = 8000\n");
    models.push_str(&format!(
        "[[models.endpoints]]\nprovider = \"{}\"\nupstream_model = \"c\"\nprompt_price = 1.0\ncompletion_price = 1.0\n",
        providers[0].0
    ));
    spec.models = Some(models);
    spec
}

async fn embed(gw: &Gateway, body: Value) -> reqwest::Response {
    gw.http
        .post(format!("{}/v1/embeddings", gw.url))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_fail_over_inside_the_model_and_never_to_another() {
    let gw = Gateway::build(embedding_spec(&[
        ("down", json!({"status": 503})),
        ("up", json!({})),
    ]))
    .await;
    let r = embed(&gw, json!({"model": "test/embed", "input": ["alpha", "beta gamma"], "provider": {"order": ["down", "up"]}})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], "up");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "test/embed");
    assert_eq!(v["data"][0]["index"], 0);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 8);
    // three words at the second endpoint's price of 2 USD per million
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert!((v["usage"]["cost"].as_f64().unwrap() - 3.0 * 2.0 / 1e6).abs() < 1e-18);
    // every endpoint of the model down: an error, never vectors of another model
    gw.mock.set_behaviour(
        "up",
        serde_json::from_value(json!({"status": 500})).unwrap(),
    );
    let r = embed(&gw, json!({"model": "test/embed", "input": "alpha"})).await;
    assert_eq!(r.status(), 502);
    assert_eq!(gw.mock.last_request("up").unwrap()["body"]["model"], "e");
    // unless the request names the other model itself
    gw.mock
        .set_behaviour("up", serde_json::from_value(json!({})).unwrap());
    gw.mock.set_behaviour(
        "down",
        serde_json::from_value(json!({"status": 500})).unwrap(),
    );
    let r = embed(&gw, json!({"models": ["test/embed", "test/other-embed"], "input": "alpha", "provider": {"only": ["down"]}})).await;
    // 502 (down's failure), or 503 once down's circuit is open: an error either way
    assert!(
        [502, 503].contains(&r.status().as_u16()),
        "provider.only leaves test/other-embed nothing: no silent move; got {}",
        r.status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_base64_and_kinds_are_checked() {
    let gw = Gateway::build(embedding_spec(&[("up", json!({}))])).await;
    let float: Value = embed(&gw, json!({"model": "test/embed", "input": "alpha"}))
        .await
        .json()
        .await
        .unwrap();
    let b64: Value = embed(
        &gw,
        json!({"model": "test/embed", "input": "alpha", "encoding_format": "base64"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let decoded =
        sy_dialects::embeddings::from_base64(b64["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
    let floats: Vec<f32> = float["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(decoded, floats);
    // a chat model is no embedding model, and the reverse
    let r = embed(&gw, json!({"model": "test/chat", "input": "x"})).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("test/chat"));
    let r = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "test/embed", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
