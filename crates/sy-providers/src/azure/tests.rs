//! Recorded Azure streams in, events and pass-through frames out; the two address forms.

use serde_json::json;
use sy_config::Api;
use sy_dialects::Dialect;

use super::*;
use crate::testing::{assert_golden, decode, provider, render, target};

#[test]
fn annotations_and_empty_choices_are_absorbed() {
    let capture = r#"data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}

data: {"choices":[{"content_filter_results":{},"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":0}],"created":1,"id":"chatcmpl-1","model":"gpt-4o","object":"chat.completion.chunk"}

data: {"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":{"content":"Hi"},"finish_reason":null,"index":0}],"created":1,"id":"chatcmpl-1","model":"gpt-4o","object":"chat.completion.chunk"}

data: {"choices":[{"index":0,"finish_reason":null,"content_filter_results":{"violence":{"filtered":false}},"content_filter_offsets":{"check_offset":0,"start_offset":0,"end_offset":2}}],"created":0,"id":"","model":"","object":""}

data: {"choices":[{"delta":{},"finish_reason":"stop","index":0}],"created":1,"id":"chatcmpl-1","model":"gpt-4o","object":"chat.completion.chunk"}

data: {"choices":[],"created":1,"id":"chatcmpl-1","model":"gpt-4o","object":"chat.completion.chunk","usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}

data: [DONE]

"#;
    let frames = decode(&Azure, Api::Azure, capture, false).unwrap();
    assert_golden(
        &render(&frames),
        r#"
        text "Hi"
        finish stop
        usage prompt=5 completion=1 cached=- write=- reasoning=-
        done
        "#,
    );
    // no frame a chat client receives comes from an annotation
    let raws: Vec<&str> = frames
        .iter()
        .filter_map(|f| f.raw.as_ref().map(|r| r.data.as_str()))
        .collect();
    assert_eq!(raws.len(), 4, "{raws:?}");
    assert!(raws.iter().all(|r| !r.contains("\"id\":\"\"")));
    let filtered = "data: {\"choices\":[{\"index\":0,\"finish_reason\":\"content_filter\",\"content_filter_results\":{\"protected_material_text\":{\"detected\":true,\"filtered\":true}}}],\"id\":\"\"}\n\n";
    assert_golden(
        &render(&decode(&Azure, Api::Azure, filtered, false).unwrap()),
        "finish content_filter",
    );
}

#[test]
fn deployment_and_v1_addresses() {
    let req = sy_dialects::Chat
        .parse(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
                .to_string()
                .as_bytes(),
            &[],
        )
        .unwrap();
    let mut p = provider(Api::Azure);
    let call = Azure.encode(&req, &target(&p), Continue::Fresh).unwrap();
    assert_eq!(call.path, "/openai/v1/chat/completions");
    let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(body["model"], "up-model");
    assert_eq!(body["stream_options"]["include_usage"], true);
    p.cloud.api_version = Some("2024-10-21".to_owned());
    let call = Azure.encode(&req, &target(&p), Continue::Fresh).unwrap();
    assert_eq!(
        call.path,
        "/openai/deployments/up-model/chat/completions?api-version=2024-10-21"
    );
    // Azure's content-filter refusal reads as a policy refusal
    let e = Azure.parse_error(400, br#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}"#);
    assert_eq!(e.code.as_deref(), Some("content_filter"));
}
