//! Embeddings on the clouds (SPEC §4.8), each in its own wire format; the vectors come back in
//! input order, the prompt tokens where the cloud reports them (else the gateway estimates).
//!
//! - Gemini API: `POST /models/{m}:batchEmbedContents`, one `EmbedContentRequest` per input
//!   (`outputDimensionality` for `dimensions`); `{"embeddings": [{"values": [...]}]}`, no usage.
//! - Vertex AI (Google's embedding models): `POST .../publishers/google/models/{m}:predict` with
//!   `{"instances": [{"content"}], "parameters": {"outputDimensionality"}}`;
//!   `{"predictions": [{"embeddings": {"values", "statistics": {"token_count"}}}]}`.
//! - Bedrock: InvokeModel (`POST /model/{id}/invoke`): Cohere's embedding models take every
//!   input at once (`{"texts", "input_type": "search_document"}` → `{"embeddings": [[...]]}`);
//!   Amazon Titan's take one (`{"inputText", "dimensions"}` → `{"embedding",
//!   "inputTextTokenCount"}`), so a Titan endpoint serves single-input requests only.
//!
//! Token-array inputs have no text to send: these protocols do not serve them.

use serde::Deserialize;
use serde_json::{json, Value};
use sy_api::{EmbedInput, EmbedRequest};

use crate::Embeddings;

/// The inputs as texts, or None when one is a token array.
fn texts(req: &EmbedRequest) -> Option<Vec<&str>> {
    req.inputs
        .iter()
        .map(|i| match i {
            EmbedInput::Text(t) => Some(t.as_str()),
            EmbedInput::Tokens(_) => None,
        })
        .collect()
}

fn to_vec(v: &Value) -> Option<Vec<u8>> {
    serde_json::to_vec(v).ok()
}

/// `batchEmbedContents`'s body for the Gemini API model `model` (its bare id).
pub(crate) fn gemini_body(req: &EmbedRequest, model: &str) -> Option<Vec<u8>> {
    let name = format!("models/{}", model.strip_prefix("models/").unwrap_or(model));
    let requests: Vec<Value> = texts(req)?
        .into_iter()
        .map(|t| {
            let mut r = json!({"model": name, "content": {"parts": [{"text": t}]}});
            if let Some(d) = req.dimensions {
                r["outputDimensionality"] = Value::from(d);
            }
            r
        })
        .collect();
    to_vec(&json!({ "requests": requests }))
}

#[derive(Deserialize)]
struct GeminiAnswer {
    embeddings: Vec<Values>,
}

#[derive(Deserialize)]
struct Values {
    values: Vec<f32>,
}

pub(crate) fn gemini_read(body: &[u8]) -> Result<Embeddings, String> {
    let a: GeminiAnswer = serde_json::from_slice(body)
        .map_err(|e| format!("not a batchEmbedContents answer: {e}"))?;
    Ok(Embeddings {
        vectors: a.embeddings.into_iter().map(|e| e.values).collect(),
        prompt_tokens: None,
    })
}

/// Vertex AI's `predict` body for a Google text-embedding model.
pub(crate) fn vertex_body(req: &EmbedRequest) -> Option<Vec<u8>> {
    let instances: Vec<Value> = texts(req)?
        .into_iter()
        .map(|t| json!({ "content": t }))
        .collect();
    let mut body = json!({ "instances": instances });
    if let Some(d) = req.dimensions {
        body["parameters"] = json!({ "outputDimensionality": d });
    }
    to_vec(&body)
}

#[derive(Deserialize)]
struct VertexAnswer {
    predictions: Vec<Prediction>,
}

#[derive(Deserialize)]
struct Prediction {
    embeddings: VertexEmbedding,
}

#[derive(Deserialize)]
struct VertexEmbedding {
    values: Vec<f32>,
    #[serde(default)]
    statistics: Option<Statistics>,
}

#[derive(Deserialize)]
struct Statistics {
    #[serde(default)]
    token_count: Option<f64>,
}

pub(crate) fn vertex_read(body: &[u8]) -> Result<Embeddings, String> {
    let a: VertexAnswer =
        serde_json::from_slice(body).map_err(|e| format!("not a predict answer: {e}"))?;
    let mut tokens: Option<u64> = None;
    let mut vectors = Vec::with_capacity(a.predictions.len());
    for p in a.predictions {
        if let Some(n) = p.embeddings.statistics.and_then(|s| s.token_count) {
            // Google sends the count as a float
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = n.max(0.0) as u64;
            tokens = Some(tokens.unwrap_or(0) + n);
        }
        vectors.push(p.embeddings.values);
    }
    Ok(Embeddings {
        vectors,
        prompt_tokens: tokens,
    })
}

/// InvokeModel's body for a Bedrock embedding model (Cohere: every input; Titan: one).
pub(crate) fn bedrock_body(req: &EmbedRequest, model: &str) -> Option<Vec<u8>> {
    let texts = texts(req)?;
    if model.contains("cohere.embed") {
        return to_vec(&json!({"texts": texts, "input_type": "search_document"}));
    }
    let [one] = texts.as_slice() else {
        return None;
    };
    let mut body = json!({ "inputText": one });
    if let Some(d) = req.dimensions {
        body["dimensions"] = Value::from(d);
    }
    to_vec(&body)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BedrockAnswer {
    /// Titan: one vector.
    Titan {
        embedding: Vec<f32>,
        #[serde(default, rename = "inputTextTokenCount")]
        tokens: Option<u64>,
    },
    /// Cohere: a vector per text (or, asked for `embedding_types`, under `float`).
    Cohere { embeddings: CohereVectors },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CohereVectors {
    Plain(Vec<Vec<f32>>),
    Typed { float: Vec<Vec<f32>> },
}

pub(crate) fn bedrock_read(body: &[u8]) -> Result<Embeddings, String> {
    let a: BedrockAnswer = serde_json::from_slice(body)
        .map_err(|e| format!("not a Bedrock embeddings answer: {e}"))?;
    Ok(match a {
        BedrockAnswer::Titan { embedding, tokens } => Embeddings {
            vectors: vec![embedding],
            prompt_tokens: tokens,
        },
        BedrockAnswer::Cohere {
            embeddings: CohereVectors::Plain(vectors) | CohereVectors::Typed { float: vectors },
        } => Embeddings {
            vectors,
            prompt_tokens: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(inputs: Vec<EmbedInput>, dimensions: Option<u64>) -> EmbedRequest {
        EmbedRequest {
            routing: sy_api::Routing::default(),
            inputs,
            encoding: sy_api::Encoding::Float,
            dimensions,
            user: None,
            body: serde_json::Map::new(),
        }
    }

    fn req(inputs: &[&str], dimensions: Option<u64>) -> EmbedRequest {
        let inputs = inputs
            .iter()
            .map(|t| EmbedInput::Text((*t).to_owned()))
            .collect();
        with(inputs, dimensions)
    }

    fn json(bytes: Option<Vec<u8>>) -> Value {
        serde_json::from_slice(&bytes.unwrap()).unwrap()
    }

    #[test]
    fn bodies() {
        let r = req(&["a", "b"], Some(4));
        assert_eq!(
            json(gemini_body(&r, "text-embedding-004")),
            json!({"requests": [
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 4},
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 4}]})
        );
        assert_eq!(
            json(vertex_body(&r)),
            json!({"instances": [{"content": "a"}, {"content": "b"}], "parameters": {"outputDimensionality": 4}})
        );
        assert_eq!(
            json(bedrock_body(&r, "cohere.embed-english-v3")),
            json!({"texts": ["a", "b"], "input_type": "search_document"})
        );
        // Titan takes one input
        assert!(bedrock_body(&r, "amazon.titan-embed-text-v2:0").is_none());
        assert_eq!(
            json(bedrock_body(
                &req(&["a"], Some(256)),
                "amazon.titan-embed-text-v2:0"
            )),
            json!({"inputText": "a", "dimensions": 256})
        );
        let tokens = with(vec![EmbedInput::Tokens(vec![1, 2])], None);
        assert!(gemini_body(&tokens, "m").is_none() && vertex_body(&tokens).is_none());
    }

    #[test]
    fn answers() {
        let g = gemini_read(br#"{"embeddings": [{"values": [0.5, 1]}, {"values": [2]}]}"#).unwrap();
        assert_eq!(
            (g.vectors, g.prompt_tokens),
            (vec![vec![0.5, 1.0], vec![2.0]], None)
        );
        let v = vertex_read(br#"{"predictions": [{"embeddings": {"values": [1], "statistics": {"token_count": 3.0, "truncated": false}}},
            {"embeddings": {"values": [2], "statistics": {"token_count": 2}}}]}"#).unwrap();
        assert_eq!(
            (v.vectors, v.prompt_tokens),
            (vec![vec![1.0], vec![2.0]], Some(5))
        );
        let t = bedrock_read(br#"{"embedding": [0.25], "inputTextTokenCount": 7}"#).unwrap();
        assert_eq!((t.vectors, t.prompt_tokens), (vec![vec![0.25]], Some(7)));
        let c = bedrock_read(
            br#"{"id": "x", "embeddings": [[1], [2]], "response_type": "embeddings_floats"}"#,
        )
        .unwrap();
        assert_eq!(c.vectors, vec![vec![1.0], vec![2.0]]);
        let c = bedrock_read(br#"{"embeddings": {"float": [[3]]}}"#).unwrap();
        assert_eq!(c.vectors, vec![vec![3.0]]);
        assert!(gemini_read(b"{}").is_err());
    }
}
