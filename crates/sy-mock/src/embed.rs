//! Simulated embeddings (OpenAI's `/embeddings`): each input gets a deterministic unit vector
//! (the same text always gives the same vector; different texts differ), `dimensions` long
//! (default 8), floats or base64 little-endian float32 as asked; usage counts the words.

use std::hash::{Hash, Hasher};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::request::words;

/// The length of a vector when the request names none.
const DEFAULT_DIMENSIONS: usize = 8;

/// A deterministic unit vector for `text`.
pub(crate) fn vector(text: &str, dims: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dims)
        .map(|j| {
            let mut h = std::hash::DefaultHasher::new();
            text.hash(&mut h);
            j.hash(&mut h);
            #[allow(clippy::cast_precision_loss)]
            let x = (h.finish() % 20_000) as f32 / 10_000.0 - 1.0;
            x
        })
        .collect();
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    for x in &mut v {
        *x /= norm;
    }
    v
}

/// The answer to an embeddings body, or what is wrong with it.
pub(crate) fn answer(body: &[u8]) -> Result<Vec<u8>, String> {
    let req: Value = serde_json::from_slice(body).map_err(|e| format!("request body: {e}"))?;
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or("model: field required")?;
    let texts: Vec<String> = match req.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if a.iter().all(Value::is_number) => {
            vec![Value::Array(a.clone()).to_string()]
        }
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                Value::Array(_) => Ok(x.to_string()),
                _ => Err("input: each item must be a string or a token array".to_owned()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("input: field required".to_owned()),
    };
    let dims = req
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_DIMENSIONS, |d| {
            usize::try_from(d).unwrap_or(DEFAULT_DIMENSIONS).min(4096)
        });
    let base64 = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = vector(t, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::from(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = texts.iter().map(|t| words(t).max(1)).sum();
    serde_json::to_vec(&json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .map_err(|e| e.to_string())
}

/// The clouds' embedding wire formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cloud {
    /// The Gemini API's `:batchEmbedContents` (and `:embedContent`, one request unwrapped).
    Gemini { batch: bool },
    /// Vertex AI's `:predict` for Google's embedding models.
    Vertex,
    /// Bedrock's InvokeModel for Titan (`inputText`) and Cohere (`texts`) embedding models.
    Bedrock,
}

fn dims_of(v: Option<&Value>) -> usize {
    v.and_then(Value::as_u64).map_or(DEFAULT_DIMENSIONS, |d| {
        usize::try_from(d).unwrap_or(DEFAULT_DIMENSIONS).min(4096)
    })
}

/// A Gemini `EmbedContentRequest`'s text and vector length.
fn gemini_item(r: &Value) -> Result<(String, usize), String> {
    let parts = r
        .get("content")
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or("* EmbedContentRequest.content: content is not specified")?;
    let text: Vec<&str> = parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    let dims = r
        .get("outputDimensionality")
        .or_else(|| r.get("output_dimensionality"));
    Ok((text.join(" "), dims_of(dims)))
}

/// The answer of a cloud's embeddings call, or what is wrong with the body (in its words).
pub(crate) fn cloud_answer(cloud: Cloud, body: &[u8]) -> Result<Vec<u8>, String> {
    let req: Value =
        serde_json::from_slice(body).map_err(|e| format!("Invalid JSON payload received. {e}"))?;
    let answer = match cloud {
        Cloud::Gemini { batch: true } => {
            let requests = req
                .get("requests")
                .and_then(Value::as_array)
                .filter(|r| !r.is_empty())
                .ok_or("* BatchEmbedContentsRequest.requests: requests is not specified")?;
            let embeddings = requests
                .iter()
                .map(|r| gemini_item(r).map(|(t, d)| json!({ "values": vector(&t, d) })))
                .collect::<Result<Vec<_>, _>>()?;
            json!({ "embeddings": embeddings })
        }
        Cloud::Gemini { batch: false } => {
            let (t, d) = gemini_item(&req)?;
            json!({"embedding": {"values": vector(&t, d)}})
        }
        Cloud::Vertex => {
            let instances = req
                .get("instances")
                .and_then(Value::as_array)
                .filter(|i| !i.is_empty())
                .ok_or("instances: required, a non-empty list")?;
            let dims = dims_of(
                req.get("parameters")
                    .and_then(|p| p.get("outputDimensionality")),
            );
            let predictions = instances
                .iter()
                .map(|i| {
                    let t = i
                        .get("content")
                        .and_then(Value::as_str)
                        .ok_or("instances[].content: required")?;
                    #[allow(clippy::cast_precision_loss)]
                    let tokens = words(t).max(1) as f64;
                    Ok(json!({"embeddings": {"values": vector(t, dims),
                        "statistics": {"token_count": tokens, "truncated": false}}}))
                })
                .collect::<Result<Vec<_>, String>>()?;
            json!({"predictions": predictions, "metadata": {"billableCharacterCount": 0}})
        }
        Cloud::Bedrock => {
            if let Some(t) = req.get("inputText").and_then(Value::as_str) {
                json!({"embedding": vector(t, dims_of(req.get("dimensions"))),
                       "inputTextTokenCount": words(t).max(1)})
            } else if let Some(texts) = req.get("texts").and_then(Value::as_array) {
                let texts: Vec<&str> = texts.iter().filter_map(Value::as_str).collect();
                let embeddings: Vec<Vec<f32>> = texts
                    .iter()
                    .map(|t| vector(t, DEFAULT_DIMENSIONS))
                    .collect();
                json!({"id": crate::reply::random_hex(16), "embeddings": embeddings,
                       "response_type": "embeddings_floats", "texts": texts})
            } else {
                return Err("Malformed input request: #: required key [inputText] not found, please reformat your input and try again.".to_owned());
            }
        }
    };
    serde_json::to_vec(&answer).map_err(|e| e.to_string())
}

/// Whether a Bedrock InvokeModel body is an embedding model's (Titan's or Cohere's).
pub(crate) fn is_bedrock_embedding(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .is_ok_and(|v| v.get("inputText").is_some() || v.get("texts").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clouds_shapes() {
        let g: Value = serde_json::from_slice(
            &cloud_answer(
                Cloud::Gemini { batch: true },
                br#"{"requests":[{"model":"models/e","content":{"parts":[{"text":"a"}]},"outputDimensionality":3},
                    {"model":"models/e","content":{"parts":[{"text":"b"}]}}]}"#,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(g["embeddings"][0]["values"].as_array().unwrap().len(), 3);
        assert_eq!(g["embeddings"][1]["values"], json!(vector("b", 8)));
        let v: Value = serde_json::from_slice(
            &cloud_answer(Cloud::Vertex, br#"{"instances":[{"content":"a b"}]}"#).unwrap(),
        )
        .unwrap();
        assert_eq!(
            v["predictions"][0]["embeddings"]["statistics"]["token_count"],
            2.0
        );
        let t: Value = serde_json::from_slice(
            &cloud_answer(Cloud::Bedrock, br#"{"inputText":"a","dimensions":4}"#).unwrap(),
        )
        .unwrap();
        assert_eq!(t["embedding"].as_array().unwrap().len(), 4);
        assert!(is_bedrock_embedding(
            br#"{"texts":["a"],"input_type":"search_document"}"#
        ));
        assert!(!is_bedrock_embedding(br#"{"messages":[]}"#));
        assert!(cloud_answer(Cloud::Vertex, b"{}").is_err());
    }

    #[test]
    fn vectors_are_deterministic_unit_vectors() {
        let a = vector("hello", 8);
        assert_eq!(a, vector("hello", 8));
        assert_ne!(a, vector("world", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        let v: Value = serde_json::from_slice(
            &answer(br#"{"model":"e","input":["a b","c"],"dimensions":4}"#).unwrap(),
        )
        .unwrap();
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 4);
        assert_eq!(v["usage"]["prompt_tokens"], 3);
    }
}
