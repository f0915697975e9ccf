//! `api = "vertex"`: Claude (`anthropic/...`, the Messages API through streamRawPredict) and
//! Gemini (`google/...`) on Vertex AI, with a service account's token exchanged once; and one
//! Claude model failing over and resuming across Anthropic, Bedrock and Vertex.

use serde_json::{json, Value};

use crate::bedrock::sigv4_keys;
use crate::common::{body, check_usage, streamed_text, streamed_usage, tool_body};
use crate::support::{chat, sse, Gateway, Spec};

pub const VERTEX: &str =
    "project = \"mock-project\"\nregion = \"us-east5\"\ncredentials_file = \"{SA_FILE}\"";

fn model(endpoints: &[(&str, &str)]) -> String {
    let mut m = String::from("[[models]]\nid = \"test/m\"\ncontext_length = 8000\n");
    for (i, (provider, upstream)) in endpoints.iter().enumerate() {
        m.push_str(&format!(
            "[[models.endpoints]]\nprovider = \"{provider}\"\nupstream_model = \"{upstream}\"\nprompt_price = {}.0\ncompletion_price = 1.0\n",
            i + 1
        ));
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_and_gemini_on_vertex_and_twenty_requests_one_token_exchange() {
    for upstream in [
        "anthropic/claude-sonnet-4@20250514",
        "google/gemini-2.5-flash",
    ] {
        let mut spec = Spec::new(&[("vx", "vertex", json!({}))]);
        spec.providers[0].3 = VERTEX.to_owned();
        spec.models = Some(model(&[("vx", upstream)]));
        let gw = Gateway::build(spec).await;
        let hello = "Hello from vx. The quick brown fox jumps over the lazy dog.";
        let v: Value = chat(&gw, body(false)).await.json().await.unwrap();
        assert_eq!(
            v["choices"][0]["message"]["content"], hello,
            "{upstream}: {v}"
        );
        check_usage(&v["usage"], 4, 12, 1.0);
        let events = sse(&gw, body(true)).await;
        assert_eq!(streamed_text(&events), hello);
        check_usage(&streamed_usage(&events), 4, 12, 1.0);
        for _ in 0..18 {
            assert_eq!(chat(&gw, body(false)).await.status(), 200);
        }
        assert_eq!(
            gw.mock.token_exchanges(),
            1,
            "{upstream}: twenty requests, one exchange"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_from_claude_and_gemini_on_vertex() {
    for upstream in [
        "anthropic/claude-sonnet-4@20250514",
        "google/gemini-2.5-flash",
    ] {
        let mut spec = Spec::new(&[("vx", "vertex", json!({"tool_call": true}))]);
        spec.providers[0].3 = VERTEX.to_owned();
        spec.models = Some(model(&[("vx", upstream)]));
        let gw = Gateway::build(spec).await;
        let v: Value = chat(&gw, tool_body(false)).await.json().await.unwrap();
        let call = &v["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "get_weather", "{upstream}: {v}");
        assert_eq!(
            serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
            json!({"location": "Paris", "unit": "celsius"})
        );
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{upstream}");
        let events = sse(&gw, tool_body(true)).await;
        let name = events
            .iter()
            .find_map(|e| e["choices"][0]["delta"]["tool_calls"][0]["function"]["name"].as_str());
        assert_eq!(name, Some("get_weather"), "{upstream}: {events:?}");
        let args: String = events
            .iter()
            .filter_map(|e| {
                e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap(),
            json!({"location": "Paris", "unit": "celsius"}),
            "{upstream}"
        );
        assert!(events
            .iter()
            .any(|e| e["choices"][0]["finish_reason"] == "tool_calls"));
        // the call answered in the next turn, by its id
        gw.mock.set_behaviour("vx", sy_mock::Behaviour::default());
        let mut next = tool_body(false);
        let messages = next["messages"].as_array_mut().unwrap();
        messages.push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
        messages
            .push(json!({"role": "tool", "tool_call_id": call["id"], "content": "{\"temp\": 21}"}));
        let r = chat(&gw, next).await;
        assert_eq!(r.status(), 200, "{upstream}: {}", r.text().await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_pass_through_to_claude_on_vertex() {
    let mut spec = Spec::new(&[("vx", "vertex", json!({}))]);
    spec.providers[0].3 = VERTEX.to_owned();
    spec.models = Some(model(&[("vx", "anthropic/claude-sonnet-4@20250514")]));
    let gw = Gateway::build(spec).await;
    let r = gw
        .http
        .post(format!("{}/v1/messages", gw.url))
        .json(&json!({"model": "test/m", "max_tokens": 50, "messages": [{"role": "user", "content": "Say hello"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(
        v["content"][0]["text"],
        "Hello from vx. The quick brown fox jumps over the lazy dog."
    );
}

fn three_clouds(anthropic: Value, bedrock: Value, vertex: Value) -> Spec {
    let mut spec = Spec::new(&[
        ("claude", "anthropic", anthropic),
        ("br", "bedrock", bedrock),
        ("vx", "vertex", vertex),
    ]);
    spec.providers[1].3 = sigv4_keys();
    spec.providers[2].3 = VERTEX.to_owned();
    spec.models = Some(model(&[
        ("claude", "claude-sonnet-4-20250514"),
        ("br", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
        ("vx", "anthropic/claude-sonnet-4@20250514"),
    ]));
    spec
}

const TEXT: &str = "One two three four five six seven eight nine ten eleven twelve.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_claude_fails_over_anthropic_bedrock_vertex_invisibly() {
    let gw = Gateway::build(three_clouds(
        json!({"status": 529}),
        json!({"status": 503}),
        json!({"text": TEXT}),
    ))
    .await;
    let mut b = body(true);
    b["provider"] = json!({"order": ["claude", "br", "vx"]});
    let events = sse(&gw, b.clone()).await;
    assert_eq!(streamed_text(&events), TEXT);
    assert!(events.iter().all(|e| e.get("error").is_none()));
    b["stream"] = json!(false);
    let v: Value = chat(&gw, b).await.json().await.unwrap();
    assert_eq!(v["provider"], "vx", "{v}");
    assert_eq!(v["choices"][0]["message"]["content"], TEXT);
    // every cloud was called: Anthropic's and Bedrock's failures were absorbed
    assert!(gw.stats("claude").failed >= 2 && gw.stats("br").failed >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bedrock_stream_cut_mid_answer_resumes_on_vertex_seamlessly() {
    let gw = Gateway::build(three_clouds(
        json!({"status": 529}),
        json!({"text": TEXT, "cut_after": 5}),
        json!({"text": TEXT}),
    ))
    .await;
    let mut b = body(true);
    b["provider"] = json!({"order": ["br", "vx"]});
    let events = sse(&gw, b).await;
    assert_eq!(streamed_text(&events), TEXT, "{events:?}");
    assert!(events.iter().all(|e| e.get("error").is_none()));
    let providers: Vec<&str> = events
        .iter()
        .filter_map(|e| e["provider"].as_str())
        .collect();
    assert!(
        providers.contains(&"br") && providers.contains(&"vx"),
        "{providers:?}"
    );
}
