//! Embeddings (SPEC §4.8): OpenAI's body (`model`, `input` as a string, strings, a token array
//! or token arrays, `encoding_format`, `dimensions`, `user`) plus OpenRouter's `models` and
//! `provider`; the answer is OpenAI's `list` of `embedding` objects in input order, with
//! `usage` (and `cost`), `model` and `provider`. `base64` is the little-endian float32 bytes.

use base64::Engine as _;
use serde_json::{json, Value};
use sy_api::{field_error, lift_routing, ApiError, EmbedInput, EmbedRequest, Encoding, Usage};

/// The largest number of inputs in one request (OpenAI's limit).
const MAX_INPUTS: usize = 2048;

pub fn parse(bytes: &[u8]) -> Result<EmbedRequest, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("request body is not valid JSON: {e}"))
            .with("reason", Value::from("malformed_json"))
    })?;
    let Value::Object(mut body) = value else {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    };
    let routing = lift_routing(&mut body)?;
    let inputs = inputs(body.get("input"))?;
    let encoding = match body.get("encoding_format") {
        None | Some(Value::Null) => Encoding::Float,
        Some(Value::String(s)) if s == "float" => Encoding::Float,
        Some(Value::String(s)) if s == "base64" => Encoding::Base64,
        Some(_) => {
            return Err(field_error(
                "encoding_format",
                "must be \"float\" or \"base64\"",
            ))
        }
    };
    let dimensions = match body.get("dimensions") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => return Err(field_error("dimensions", "must be a positive integer")),
        },
    };
    let user = match body.get("user") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(field_error("user", "must be a string")),
    };
    for k in ["usage", "transforms", "route", "plugins", "debug"] {
        body.remove(k);
    }
    Ok(EmbedRequest {
        routing,
        inputs,
        encoding,
        dimensions,
        user,
        body,
    })
}

fn tokens(v: &[Value], field: &str) -> Result<Vec<u64>, ApiError> {
    v.iter()
        .map(|t| {
            t.as_u64()
                .ok_or_else(|| field_error(field, "must hold non-negative integer tokens"))
        })
        .collect()
}

fn inputs(v: Option<&Value>) -> Result<Vec<EmbedInput>, ApiError> {
    let list = match v {
        None | Some(Value::Null) => return Err(field_error("input", "is required")),
        Some(Value::String(s)) => vec![EmbedInput::Text(s.clone())],
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(field_error("input", "must not be empty"))
        }
        Some(Value::Array(a)) if a.iter().all(Value::is_number) => {
            vec![EmbedInput::Tokens(tokens(a, "input")?)]
        }
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::String(s) => Ok(EmbedInput::Text(s.clone())),
                Value::Array(t) => Ok(EmbedInput::Tokens(tokens(t, &format!("input[{i}]"))?)),
                _ => Err(field_error(
                    &format!("input[{i}]"),
                    "must be a string or an array of tokens",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(field_error(
                "input",
                "must be a string, an array of strings, or token arrays",
            ))
        }
    };
    if list.len() > MAX_INPUTS {
        return Err(field_error(
            "input",
            &format!("holds more than {MAX_INPUTS} inputs"),
        ));
    }
    if list
        .iter()
        .any(|i| matches!(i, EmbedInput::Text(t) if t.is_empty()))
    {
        return Err(field_error("input", "must not hold an empty string"));
    }
    Ok(list)
}

/// The little-endian float32 bytes of a vector, base64 (as OpenAI sends them).
pub fn to_base64(v: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A vector from OpenAI's base64 form.
pub fn from_base64(s: &str) -> Option<Vec<f32>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// The answer: OpenAI's list, in input order.
pub fn body(
    vectors: &[Vec<f32>],
    encoding: Encoding,
    gen_id: &str,
    model: &str,
    provider: &str,
    usage: &Usage,
) -> Vec<u8> {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = match encoding {
                Encoding::Float => json!(v),
                Encoding::Base64 => Value::from(to_base64(v)),
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let body = json!({
        "object": "list",
        "id": gen_id,
        "data": data,
        "model": model,
        "provider": provider,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens, "cost": usage.cost},
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_of_every_shape_and_bad_ones_named() {
        let p = |b: &str| parse(b.as_bytes());
        assert_eq!(
            p(r#"{"model":"m","input":"hi"}"#).unwrap().inputs,
            vec![EmbedInput::Text("hi".into())]
        );
        assert_eq!(
            p(r#"{"model":"m","input":[1,2,3]}"#).unwrap().inputs,
            vec![EmbedInput::Tokens(vec![1, 2, 3])]
        );
        assert_eq!(
            p(r#"{"model":"m","input":["a",[4]]}"#)
                .unwrap()
                .inputs
                .len(),
            2
        );
        for (b, field) in [
            (r#"{"model":"m"}"#, "input"),
            (r#"{"model":"m","input":[]}"#, "input"),
            (r#"{"model":"m","input":[{"x":1}]}"#, "input[0]"),
            (
                r#"{"model":"m","input":"a","encoding_format":"hex"}"#,
                "encoding_format",
            ),
            (r#"{"model":"m","input":"a","dimensions":0}"#, "dimensions"),
            (r#"{"input":"a"}"#, "model"),
        ] {
            let e = p(b).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains(field), "{b}: {}", e.message);
        }
    }

    #[test]
    fn base64_is_little_endian_float32() {
        let v = vec![1.0f32, -0.5, 0.25];
        let b = to_base64(&v);
        assert_eq!(from_base64(&b).unwrap(), v);
        // 1.0f32 is 00 00 80 3f in little-endian bytes
        assert!(b.starts_with("AACAPw"));
    }
}
