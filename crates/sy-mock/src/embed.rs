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

#[cfg(test)]
mod tests {
    use super::*;

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
