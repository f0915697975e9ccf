//! Content-filter refusals and context-length errors of the clouds, classified as SPEC §4.3 says:
//! a refusal reaches the client as the refusal it is (`finish_reason: "content_filter"`, or the
//! provider's 400 with its reason) and is never laundered through another provider; a prompt
//! that does not fit goes only to an endpoint with a longer context.

use serde_json::{json, Value};

use crate::bedrock::sigv4_keys;
use crate::common::streamed_text;
use crate::support::{chat, sse, Gateway, Spec};
use crate::vertex::VERTEX;

/// A gateway whose `test/m` is served by `cloud` (protocol `api`, behaving as `behaviour`)
/// first and a plain OpenAI-protocol provider `other` second.
async fn with_fallback(api: &str, upstream: &str, behaviour: Value) -> Gateway {
    let mut spec = Spec::new(&[("cloud", api, behaviour), ("other", "openai", json!({}))]);
    spec.providers[0].3 = match api {
        "bedrock" => sigv4_keys(),
        "vertex" => VERTEX.to_owned(),
        "gemini" => "api_key = \"AIza-test-key\"".to_owned(),
        _ => "api_key = \"azure-secret-key-1\"".to_owned(),
    };
    spec.models = Some(format!(
        "[[models]]\nid = \"test/m\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"cloud\"\nupstream_model = \"{upstream}\"\nprompt_price = 1.0\ncompletion_price = 1.0\n\
         [[models.endpoints]]\nprovider = \"other\"\nupstream_model = \"m\"\nprompt_price = 2.0\ncompletion_price = 1.0\n"
    ));
    Gateway::build(spec).await
}

/// A chat body that asks `cloud` first (the plan otherwise draws the first endpoint by price).
fn body(stream: bool) -> Value {
    let mut b = crate::common::body(stream);
    b["provider"] = json!({"order": ["cloud", "other"]});
    b
}

/// Every cloud's content filter, with something said first and with nothing said.
const CLOUDS: [(&str, &str); 5] = [
    ("gemini", "gemini-2.5-flash"),
    ("vertex", "google/gemini-2.5-flash"),
    ("bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
    ("vertex", "anthropic/claude-sonnet-4@20250514"),
    ("azure", "gpt-4o"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_filter_refusals_reach_the_client_and_nothing_else_is_tried() {
    for (api, upstream) in CLOUDS {
        for said in ["", "I cannot help with"] {
            // Gemini: finishReason SAFETY (with nothing said: a blocked prompt, promptFeedback);
            // Bedrock: stopReason guardrail_intervened; Claude on Vertex: stop_reason refusal;
            // Azure: finish_reason content_filter
            let filtered = json!({"text": said, "content_filter": true});
            let gw = with_fallback(api, upstream, filtered).await;
            let case = format!("{api} {upstream} {said:?}");
            let r = chat(&gw, body(false)).await;
            assert_eq!(r.status(), 200, "{case}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["provider"], "cloud", "{case}: {v}");
            assert_eq!(
                v["choices"][0]["finish_reason"], "content_filter",
                "{case}: {v}"
            );
            let content = v["choices"][0]["message"]["content"].as_str().unwrap_or("");
            assert_eq!(content, said, "{case}: {v}");

            let events = sse(&gw, body(true)).await;
            assert_eq!(streamed_text(&events), said, "{case}: {events:?}");
            assert!(
                events
                    .iter()
                    .any(|e| e["choices"][0]["finish_reason"] == "content_filter"),
                "{case}: {events:?}"
            );
            assert!(events.iter().all(|e| e.get("error").is_none()), "{case}");
            assert_eq!(
                gw.stats("other").requests,
                0,
                "{case}: a refusal is not laundered"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardrail_refusal_reads_as_a_refusal_in_the_messages_dialect() {
    let gw = with_fallback(
        "bedrock",
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        json!({"text": "Sorry, the model cannot answer this question.", "content_filter": true}),
    )
    .await;
    let r = gw
        .http
        .post(format!("{}/v1/messages", gw.url))
        .json(&json!({"model": "test/m", "max_tokens": 50,
            "provider": {"order": ["cloud", "other"]},
            "messages": [{"role": "user", "content": "Say hello"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["stop_reason"], "refusal", "{v}");
    assert_eq!(gw.stats("other").requests, 0);
}

/// Each cloud's own words for a prompt that does not fit.
fn too_long(api: &str, upstream: &str) -> Value {
    match (api, upstream.split('/').next()) {
        ("gemini", _) | ("vertex", Some("google")) => {
            json!({"status": 400, "error_body": {"error": {
            "code": 400, "status": "INVALID_ARGUMENT",
            "message": "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576)."}}})
        }
        ("bedrock", _) => json!({"status": 400,
            "error_body": {"message": "Input is too long for requested model."}}),
        ("vertex", _) => json!({"status": 400, "error_body": {"type": "error", "error": {
            "type": "invalid_request_error", "message": "prompt is too long: 215000 tokens > 200000 maximum"}}}),
        _ => json!({"status": 400, "error_body": {"error": {
            "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_length_errors_are_classified_on_every_cloud() {
    for (api, upstream) in CLOUDS {
        let gw = with_fallback(api, upstream, too_long(api, upstream)).await;
        let r = chat(&gw, body(false)).await;
        let v: Value = r.json().await.unwrap();
        let attempts = v["error"]["metadata"]["attempts"]
            .as_array()
            .unwrap_or_else(|| panic!("{api} {upstream}: {v}"));
        assert_eq!(
            attempts[0]["class"], "context_length",
            "{api} {upstream}: {v}"
        );
        // `other` has the same context length: not tried
        assert_eq!(gw.stats("other").requests, 0, "{api} {upstream}: {v}");
    }
}
