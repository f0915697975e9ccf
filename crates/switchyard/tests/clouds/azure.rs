//! `api = "azure"`: Azure OpenAI, deployment and v1 forms.

use serde_json::{json, Value};

use crate::common::{body, check_usage, streamed_text, streamed_usage, tool_body};
use crate::support::{chat, sse, Gateway, Spec};

const HELLO: &str = "Hello from az. The quick brown fox jumps over the lazy dog.";

async fn gateway(behaviour: Value, extra: &str) -> Gateway {
    let mut spec = Spec::new(&[("az", "azure", behaviour)]);
    spec.providers[0].3 = format!("api_key = \"azure-secret-key-1\"\n{extra}");
    Gateway::build(spec).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_both_forms_whole_and_streamed_with_usage_and_cost() {
    for extra in ["", "api_version = \"2024-10-21\""] {
        let gw = gateway(json!({}), extra).await;
        let r = chat(&gw, body(false)).await;
        assert_eq!(r.status(), 200, "{extra}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], HELLO);
        check_usage(&v["usage"], 4, 12, 1.0);
        // the prompt-annotation chunk never reaches the client, whose stream is OpenAI's
        let events = sse(&gw, body(true)).await;
        assert_eq!(streamed_text(&events), HELLO);
        check_usage(&streamed_usage(&events), 4, 12, 1.0);
        assert!(
            events
                .iter()
                .all(|e| e.get("prompt_filter_results").is_none()
                    && e["id"] != ""
                    && e["provider"] == "az"),
            "{events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_tool_call_and_content_filter_refusal() {
    let gw = gateway(json!({"tool_call": true}), "").await;
    let events = sse(&gw, tool_body(true)).await;
    let call = events
        .iter()
        .find_map(|e| e["choices"][0]["delta"]["tool_calls"][0]["function"]["name"].as_str());
    assert_eq!(call, Some("get_weather"), "{events:?}");

    // a filtered prompt is a request error: returned at once with Azure's reason, nothing else tried
    let filtered = json!({"status": 400, "error_body": {"error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        "type": null, "param": "prompt", "code": "content_filter", "status": 400,
        "innererror": {"code": "ResponsibleAIPolicyViolation"}}}});
    let mut spec = Spec::new(&[("az", "azure", filtered), ("other", "openai", json!({}))]);
    spec.providers[0].3 = "api_key = \"azure-secret-key-1\"".to_owned();
    let gw = Gateway::build(spec).await;
    let r = chat(&gw, body(false)).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("content policy"),
        "{v}"
    );
    assert_eq!(
        v["error"]["metadata"]["attempts"].as_array().unwrap().len(),
        1
    );
    assert_eq!(gw.stats("other").requests, 0);
}
