//! The chat-completion request: OpenAI's body plus OpenRouter's routing fields (SPEC §4.1).
//!
//! The body is kept as a JSON map so that fields Switchyard does not know pass through to
//! OpenAI-compatible upstreams unchanged; the fields routing needs are checked and lifted out.

use serde_json::{Map, Value};

use crate::ApiError;

/// Parameters that `provider.require_parameters` checks against an endpoint's
/// `supported_parameters` (OpenRouter's names; `max_completion_tokens` counts as `max_tokens`).
const ROUTING_PARAMETERS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "top_a",
    "max_tokens",
    "stop",
    "seed",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "structured_outputs",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "reasoning",
    "include_reasoning",
];

/// The largest `max_tokens` accepted: far above any model's context, and small enough that the
/// planner's token sums (prompt estimate plus completion) can never overflow a `u64`.
pub const MAX_COMPLETION_TOKENS: u64 = u32::MAX as u64;

/// A validated chat-completion request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The body without the routing-only fields (`model`, `models`, `provider`); forwarded upstream.
    pub body: Map<String, Value>,
    pub model: Option<String>,
    pub models: Vec<String>,
    pub stream: bool,
    pub prefs: ProviderPrefs,
    /// `max_tokens`, else `max_completion_tokens`.
    pub max_tokens: Option<u64>,
    /// Parameters the request uses, by OpenRouter's names (for `require_parameters`).
    pub used_parameters: Vec<&'static str>,
}

impl ChatRequest {
    pub fn messages(&self) -> &[Value] {
        match self.body.get("messages") {
            Some(Value::Array(m)) => m,
            _ => &[],
        }
    }

    /// The models to try, in order: `model` then `models` (duplicates kept once).
    pub fn model_ids(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::with_capacity(1 + self.models.len());
        for id in self.model.iter().chain(self.models.iter()) {
            if !out.contains(&id.as_str()) {
                out.push(id);
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataCollection {
    #[default]
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Price,
    Throughput,
    Latency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Partition {
    #[default]
    Model,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortSpec {
    pub by: SortBy,
    pub partition: Partition,
}

/// `provider.max_price`: USD per million tokens, and per request for `request`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MaxPrice {
    pub prompt: Option<f64>,
    pub completion: Option<f64>,
    pub request: Option<f64>,
}

/// The `provider` object of OpenRouter (SPEC §4.1). Slugs are lowercased here.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderPrefs {
    pub order: Vec<String>,
    pub allow_fallbacks: bool,
    pub only: Option<Vec<String>>,
    pub ignore: Vec<String>,
    pub require_parameters: bool,
    pub data_collection: DataCollection,
    pub zdr: bool,
    pub quantizations: Option<Vec<String>>,
    pub sort: Option<SortSpec>,
    pub max_price: MaxPrice,
    pub preferred_min_throughput: Option<f64>,
    pub preferred_max_latency: Option<f64>,
}

impl Default for ProviderPrefs {
    fn default() -> Self {
        Self {
            order: Vec::new(),
            allow_fallbacks: true,
            only: None,
            ignore: Vec::new(),
            require_parameters: false,
            data_collection: DataCollection::Allow,
            zdr: false,
            quantizations: None,
            sort: None,
            max_price: MaxPrice::default(),
            preferred_min_throughput: None,
            preferred_max_latency: None,
        }
    }
}

/// Parses and validates a request body. Errors are 400s whose message names the field.
pub fn parse_chat_request(bytes: &[u8]) -> Result<ChatRequest, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("request body is not valid JSON: {e}"))
            .with("reason", Value::from("malformed_json"))
    })?;
    let Value::Object(mut body) = value else {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    };

    let model = match body.remove("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        Some(Value::String(_)) => return Err(field_error("model", "must not be empty")),
        Some(_) => return Err(field_error("model", "must be a string")),
    };
    let models = match body.remove("models") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => string_list(&v, "models")?,
    };
    if model.is_none() && models.is_empty() {
        return Err(field_error(
            "model",
            "is required (or a non-empty `models` list)",
        ));
    }
    let prefs = match body.remove("provider") {
        None | Some(Value::Null) => ProviderPrefs::default(),
        Some(Value::Object(p)) => parse_prefs(&p)?,
        Some(_) => return Err(field_error("provider", "must be an object")),
    };
    check_messages(body.get("messages"))?;
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(field_error("stream", "must be a boolean")),
    };
    check_types(&body)?;
    let max_tokens = ["max_tokens", "max_completion_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64));
    let used_parameters = ROUTING_PARAMETERS
        .iter()
        .copied()
        .filter(|p| match *p {
            "max_tokens" => is_set(&body, "max_tokens") || is_set(&body, "max_completion_tokens"),
            _ => is_set(&body, p),
        })
        .collect();
    Ok(ChatRequest {
        body,
        model,
        models,
        stream,
        prefs,
        max_tokens,
        used_parameters,
    })
}

fn is_set(body: &Map<String, Value>, key: &str) -> bool {
    body.get(key).is_some_and(|v| !v.is_null())
}

fn field_error(field: &str, what: &str) -> ApiError {
    ApiError::bad_request(format!("`{field}` {what}")).with("field", Value::from(field))
}

fn check_messages(messages: Option<&Value>) -> Result<(), ApiError> {
    let list = match messages {
        None | Some(Value::Null) => return Err(field_error("messages", "is required")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(field_error("messages", "must be an array of messages")),
    };
    if list.is_empty() {
        return Err(field_error("messages", "must hold at least one message"));
    }
    for (i, m) in list.iter().enumerate() {
        let Value::Object(m) = m else {
            return Err(field_error(&format!("messages[{i}]"), "must be an object"));
        };
        match m.get("role") {
            Some(Value::String(r))
                if matches!(
                    r.as_str(),
                    "system" | "developer" | "user" | "assistant" | "tool" | "function"
                ) => {}
            Some(Value::String(r)) => {
                return Err(field_error(
                    &format!("messages[{i}].role"),
                    &format!("`{r}` is not a known role"),
                ))
            }
            _ => {
                return Err(field_error(
                    &format!("messages[{i}].role"),
                    "must be a string",
                ))
            }
        }
        match m.get("content") {
            None | Some(Value::Null | Value::String(_) | Value::Array(_)) => {}
            Some(_) => {
                return Err(field_error(
                    &format!("messages[{i}].content"),
                    "must be a string or an array of parts",
                ))
            }
        }
    }
    Ok(())
}

/// Type checks of the OpenAI parameters Switchyard reads or that a typo would silently change.
fn check_types(body: &Map<String, Value>) -> Result<(), ApiError> {
    for key in [
        "temperature",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "min_p",
        "top_a",
    ] {
        if let Some(v) = body.get(key) {
            if !v.is_null() && !v.is_number() {
                return Err(field_error(key, "must be a number"));
            }
        }
    }
    for key in [
        "max_tokens",
        "max_completion_tokens",
        "n",
        "top_k",
        "top_logprobs",
    ] {
        match body.get(key) {
            None | Some(Value::Null) => {}
            Some(v) if v.as_u64().is_some() => {}
            Some(v) if v.as_i64().is_some() => {
                return Err(field_error(key, "must not be negative"))
            }
            Some(_) => return Err(field_error(key, "must be a non-negative integer")),
        }
    }
    for key in ["max_tokens", "max_completion_tokens"] {
        if body.get(key).and_then(Value::as_u64) > Some(MAX_COMPLETION_TOKENS) {
            return Err(field_error(
                key,
                &format!("must be at most {MAX_COMPLETION_TOKENS}"),
            ));
        }
    }
    if body.get("n").and_then(Value::as_u64) == Some(0) {
        return Err(field_error("n", "must be at least 1"));
    }
    match body.get("seed") {
        None | Some(Value::Null) => {}
        Some(v) if v.is_i64() || v.is_u64() => {}
        Some(_) => return Err(field_error("seed", "must be an integer")),
    }
    match body.get("stop") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
        Some(_) => {
            return Err(field_error(
                "stop",
                "must be a string or an array of strings",
            ))
        }
    }
    for (key, ok) in [
        ("tools", body.get("tools").map(Value::is_array)),
        (
            "stream_options",
            body.get("stream_options").map(Value::is_object),
        ),
        (
            "response_format",
            body.get("response_format").map(Value::is_object),
        ),
        ("user", body.get("user").map(Value::is_string)),
        (
            "tool_choice",
            body.get("tool_choice")
                .map(|v| v.is_string() || v.is_object()),
        ),
    ] {
        if ok == Some(false) && !body.get(key).is_some_and(Value::is_null) {
            return Err(field_error(key, "has the wrong type"));
        }
    }
    Ok(())
}

fn string_list(v: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = v else {
        return Err(field_error(field, "must be an array of strings"));
    };
    items
        .iter()
        .map(|i| match i {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            _ => Err(field_error(field, "must be an array of non-empty strings")),
        })
        .collect()
}

fn slug_list(v: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    Ok(string_list(v, field)?
        .into_iter()
        .map(|s| s.to_ascii_lowercase())
        .collect())
}

fn bool_field(v: &Value, field: &str) -> Result<bool, ApiError> {
    v.as_bool()
        .ok_or_else(|| field_error(field, "must be a boolean"))
}

fn number_field(v: &Value, field: &str) -> Result<f64, ApiError> {
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err(field_error(field, "must be a non-negative number")),
    }
}

fn parse_prefs(p: &Map<String, Value>) -> Result<ProviderPrefs, ApiError> {
    let mut out = ProviderPrefs::default();
    for (key, v) in p {
        if v.is_null() {
            continue;
        }
        let field = format!("provider.{key}");
        let f = field.as_str();
        match key.as_str() {
            "order" => out.order = slug_list(v, f)?,
            "allow_fallbacks" => out.allow_fallbacks = bool_field(v, f)?,
            "only" => out.only = Some(slug_list(v, f)?),
            "ignore" => out.ignore = slug_list(v, f)?,
            "require_parameters" => out.require_parameters = bool_field(v, f)?,
            "zdr" => out.zdr = bool_field(v, f)?,
            "data_collection" => {
                out.data_collection = match v.as_str() {
                    Some("allow") => DataCollection::Allow,
                    Some("deny") => DataCollection::Deny,
                    _ => return Err(field_error(f, "must be \"allow\" or \"deny\"")),
                }
            }
            "quantizations" => {
                out.quantizations = Some(string_list(v, f)?.into_iter().map(|s| s.to_ascii_lowercase()).collect())
            }
            "sort" => out.sort = Some(parse_sort(v)?),
            "max_price" => out.max_price = parse_max_price(v)?,
            "preferred_min_throughput" => out.preferred_min_throughput = Some(number_field(v, f)?),
            "preferred_max_latency" => out.preferred_max_latency = Some(number_field(v, f)?),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "`{f}` is not a known provider preference (a typo must not silently change the route)"
                ))
                .with("field", Value::from(f)))
            }
        }
    }
    Ok(out)
}

fn parse_sort_by(v: &Value, field: &str) -> Result<SortBy, ApiError> {
    match v.as_str() {
        Some("price") => Ok(SortBy::Price),
        Some("throughput") => Ok(SortBy::Throughput),
        Some("latency") => Ok(SortBy::Latency),
        _ => Err(field_error(
            field,
            "must be \"price\", \"throughput\" or \"latency\"",
        )),
    }
}

fn parse_sort(v: &Value) -> Result<SortSpec, ApiError> {
    match v {
        Value::String(_) => Ok(SortSpec {
            by: parse_sort_by(v, "provider.sort")?,
            partition: Partition::Model,
        }),
        Value::Object(o) => {
            if let Some(k) = o.keys().find(|k| !matches!(k.as_str(), "by" | "partition")) {
                return Err(field_error(
                    &format!("provider.sort.{k}"),
                    "is not a known key",
                ));
            }
            let by = parse_sort_by(o.get("by").unwrap_or(&Value::Null), "provider.sort.by")?;
            let partition = match o.get("partition") {
                None | Some(Value::Null) => Partition::Model,
                Some(Value::String(s)) if s == "model" => Partition::Model,
                Some(Value::String(s)) if s == "none" => Partition::None,
                Some(_) => {
                    return Err(field_error(
                        "provider.sort.partition",
                        "must be \"model\" or \"none\"",
                    ))
                }
            };
            Ok(SortSpec { by, partition })
        }
        _ => Err(field_error(
            "provider.sort",
            "must be a string or an object {by, partition}",
        )),
    }
}

fn parse_max_price(v: &Value) -> Result<MaxPrice, ApiError> {
    let Value::Object(o) = v else {
        return Err(field_error("provider.max_price", "must be an object"));
    };
    let mut out = MaxPrice::default();
    for (k, v) in o {
        if v.is_null() {
            continue;
        }
        let field = format!("provider.max_price.{k}");
        let n = number_field(v, &field)?;
        match k.as_str() {
            "prompt" => out.prompt = Some(n),
            "completion" => out.completion = Some(n),
            "request" => out.request = Some(n),
            // Switchyard serves text only; an image price cap can never exclude anything.
            "image" => {}
            _ => return Err(field_error(&field, "is not a known key")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
