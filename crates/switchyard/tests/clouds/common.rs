//! What the cloud tests share: request bodies and readers of the answers.

use serde_json::{json, Value};

/// A chat body for `test/m`.
pub fn body(stream: bool) -> Value {
    json!({"model": "test/m", "stream": stream, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"}]})
}

/// A chat body offering one tool.
pub fn tool_body(stream: bool) -> Value {
    let mut b = body(stream);
    b["tools"] = json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]);
    b
}

/// The text of a streamed answer.
pub fn streamed_text(events: &[Value]) -> String {
    events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// The usage of a streamed answer (its last chunk carrying one).
pub fn streamed_usage(events: &[Value]) -> Value {
    events
        .iter()
        .rev()
        .find(|e| e["usage"].is_object())
        .map(|e| e["usage"].clone())
        .unwrap_or(Value::Null)
}

/// Checks `usage` and its cost for the default model's prices (`prompt_price` P per million,
/// completion 1.0 per million).
pub fn check_usage(usage: &Value, prompt: u64, completion: u64, prompt_price: f64) {
    assert_eq!(usage["prompt_tokens"], prompt, "{usage}");
    assert_eq!(usage["completion_tokens"], completion, "{usage}");
    #[allow(clippy::cast_precision_loss)]
    let want = (prompt as f64 * prompt_price + completion as f64) / 1e6;
    let cost = usage["cost"].as_f64().unwrap();
    assert!((cost - want).abs() < 1e-12, "cost {cost} != {want}");
}
