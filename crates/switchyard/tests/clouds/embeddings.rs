//! Embeddings on the clouds (SPEC §4.8) through `/v1/embeddings`: Azure's deployment,
//! Gemini's `batchEmbedContents`, Vertex AI's `predict`, Bedrock's InvokeModel (Cohere: every
//! input at once; Titan: one), each against its simulation, with the same vectors as OpenAI's
//! wire gives for the same texts, in input order, with usage and cost.

use serde_json::{json, Value};

use crate::bedrock::sigv4_keys;
use crate::support::{Gateway, Spec};
use crate::vertex::VERTEX;

async fn gateway(api: &str, keys: &str, upstream: &str) -> Gateway {
    let mut spec = Spec::new(&[("cloud", api, json!({})), ("plain", "openai", json!({}))]);
    spec.providers[0].3 = keys.to_owned();
    spec.models = Some(format!(
        "[[models]]\nid = \"test/embed\"\nkind = \"embedding\"\ncontext_length = 8000\n\
         [[models.endpoints]]\nprovider = \"cloud\"\nupstream_model = \"{upstream}\"\nprompt_price = 1.0\ndimensions = 8\n\
         [[models.endpoints]]\nprovider = \"plain\"\nupstream_model = \"e\"\nprompt_price = 1.0\ndimensions = 8\n"
    ));
    Gateway::build(spec).await
}

async fn embed(gw: &Gateway, input: Value, only: &str) -> Value {
    let r = gw
        .http
        .post(format!("{}/v1/embeddings", gw.url))
        .json(&json!({"model": "test/embed", "input": input, "provider": {"only": [only]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{only}");
    r.json().await.unwrap()
}

fn vectors(v: &Value) -> Vec<Value> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            assert_eq!(d["index"], i);
            d["embedding"].clone()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cloud_embeds_in_its_own_wire_format() {
    let two = json!(["alpha", "beta gamma"]);
    // (api, provider keys, upstream model, the path called, input, prompt tokens reported)
    type Case<'a> = (&'a str, String, &'a str, &'a str, &'a Value, Option<u64>);
    let cases: [Case<'_>; 5] = [
        (
            "azure",
            "api_key = \"azure-secret-key-1\"\napi_version = \"2024-10-21\"".to_owned(),
            "text-embedding-3-small",
            "/openai/deployments/text-embedding-3-small/embeddings",
            &two,
            Some(3),
        ),
        (
            "gemini",
            "api_key = \"AIza-test-key\"".to_owned(),
            "gemini-embedding-001",
            "/models/gemini-embedding-001:batchEmbedContents",
            &two,
            // Gemini reports no usage: the gateway estimates it
            None,
        ),
        (
            "vertex",
            VERTEX.to_owned(),
            "google/text-embedding-005",
            "/publishers/google/models/text-embedding-005:predict",
            &two,
            Some(3),
        ),
        (
            "bedrock",
            sigv4_keys(),
            "cohere.embed-english-v3",
            "/model/cohere.embed-english-v3/invoke",
            &two,
            None,
        ),
        (
            "bedrock",
            sigv4_keys(),
            "amazon.titan-embed-text-v2:0",
            "/model/amazon.titan-embed-text-v2:0/invoke",
            &json!("beta gamma"),
            Some(2),
        ),
    ];
    for (api, keys, upstream, path, input, tokens) in cases {
        let gw = gateway(api, &keys, upstream).await;
        let v = embed(&gw, input.clone(), "cloud").await;
        assert_eq!(v["provider"], "cloud", "{api} {upstream}: {v}");
        let seen = gw.mock.last_request("cloud").unwrap();
        assert!(
            seen["path"].as_str().unwrap().ends_with(path),
            "{api}: {seen}"
        );
        // the simulation gives every wire the same vector for the same text
        let plain = embed(&gw, input.clone(), "plain").await;
        assert_eq!(vectors(&v), vectors(&plain), "{api} {upstream}");
        let usage = &v["usage"];
        let prompt = usage["prompt_tokens"].as_u64().unwrap();
        if let Some(t) = tokens {
            assert_eq!(prompt, t, "{api} {upstream}: {usage}");
        }
        assert!(prompt > 0, "{api} {upstream}: {usage}");
        #[allow(clippy::cast_precision_loss)]
        let want = prompt as f64 / 1e6;
        assert!(
            (usage["cost"].as_f64().unwrap() - want).abs() < 1e-15,
            "{api} {upstream}: {usage}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_titan_endpoint_leaves_many_inputs_to_another() {
    let gw = gateway("bedrock", &sigv4_keys(), "amazon.titan-embed-text-v2:0").await;
    let r = gw
        .http
        .post(format!("{}/v1/embeddings", gw.url))
        .json(&json!({"model": "test/embed", "input": ["alpha", "beta"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["provider"], "plain", "{v}");
    assert_eq!(gw.stats("cloud").requests, 0);
}
