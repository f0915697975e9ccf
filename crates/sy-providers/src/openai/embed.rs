//! `POST /embeddings`: the client's body with the endpoint's model, always asking for floats (the
//! gateway encodes base64 itself, so every protocol answers alike); the answer's vectors put back
//! in input order.

use serde::Deserialize;
use serde_json::Value;
use sy_api::{EmbedInput, EmbedRequest};

use crate::{Embeddings, Target};

pub(crate) fn body(req: &EmbedRequest, target: &Target<'_>) -> Vec<u8> {
    let mut body = req.body.clone();
    body.insert("model".into(), Value::from(target.upstream_model));
    body.insert("encoding_format".into(), Value::from("float"));
    let input: Vec<Value> = req
        .inputs
        .iter()
        .map(|i| match i {
            EmbedInput::Text(t) => Value::from(t.as_str()),
            EmbedInput::Tokens(t) => Value::from(t.clone()),
        })
        .collect();
    body.insert("input".into(), Value::Array(input));
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Item>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vector,
}

/// Floats, or base64 from a server that ignored `encoding_format`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
}

pub(crate) fn read(body: &[u8]) -> Result<Embeddings, String> {
    let a: Answer =
        serde_json::from_slice(body).map_err(|e| format!("not an embeddings list: {e}"))?;
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; a.data.len()];
    for (pos, item) in a.data.into_iter().enumerate() {
        let i = item.index.unwrap_or(pos);
        let v = match item.embedding {
            Vector::Floats(v) => v,
            Vector::Base64(s) => {
                decode_base64(&s).ok_or("a base64 embedding that is not float32")?
            }
        };
        let slot = slots.get_mut(i).ok_or("an embedding index out of range")?;
        if slot.replace(v).is_some() {
            return Err("two embeddings with one index".to_owned());
        }
    }
    let vectors = slots
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or("an embedding missing")?;
    Ok(Embeddings {
        vectors,
        prompt_tokens: a.usage.and_then(|u| u.prompt_tokens),
    })
}

fn decode_base64(s: &str) -> Option<Vec<f32>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    (bytes.len() % 4 == 0).then(|| {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_come_back_in_input_order() {
        let e = read(br#"{"object":"list","data":[{"index":1,"embedding":[2.0]},{"index":0,"embedding":"AACAPw=="}],"usage":{"prompt_tokens":3,"total_tokens":3}}"#).unwrap();
        assert_eq!(e.vectors, vec![vec![1.0], vec![2.0]]);
        assert_eq!(e.prompt_tokens, Some(3));
        assert!(read(br#"{"data":[{"index":3,"embedding":[1.0]}]}"#).is_err());
        assert!(read(b"<html>").is_err());
    }
}
