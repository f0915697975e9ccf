//! `[[models.endpoints]]`: one provider serving one model, with its prices and limits.

use std::collections::HashMap;

use super::super::table::{Bounds, Need, Section, Span};
use super::super::Cx;
use crate::model::{Api, Endpoint, ModelKind};

const ENDPOINT_KEYS: &[&str] = &[
    "provider",
    "upstream_model",
    "prompt_price",
    "completion_price",
    "request_price",
    "context_length",
    "max_completion_tokens",
    "quantization",
    "supported_parameters",
    "supports_prefill",
    "cache_read_price",
    "cache_write_price",
    "reasoning_price",
    "dimensions",
];

const QUANTIZATIONS: &[&str] = &[
    "int4", "int8", "fp4", "fp6", "fp8", "fp16", "bf16", "fp32", "unknown",
];

/// USD prices: zero (free) or more, and finite so cost sums stay numbers.
const PRICE: Bounds = Bounds {
    min: 0.0,
    min_exclusive: false,
    max: f64::MAX,
};

/// The endpoints of model `m`; `context_length` is the model's, the endpoints' default.
pub(super) fn endpoints(
    cx: &mut Cx<'_>,
    m: &Section<'_>,
    context_length: u64,
    kind: ModelKind,
    apis: &HashMap<String, Api>,
) -> Vec<Endpoint> {
    let Some(list) = m.tables(cx, "endpoints", ENDPOINT_KEYS) else {
        if !m.present("endpoints") {
            let message = "a model needs at least one endpoint ([[models.endpoints]])";
            cx.error(m.anchor(), &m.key("endpoints"), message);
        }
        return Vec::new();
    };
    if list.is_empty() {
        let span = m.span_of("endpoints");
        cx.error(
            span,
            &m.key("endpoints"),
            "a model needs at least one endpoint",
        );
    }
    let mut out = Vec::with_capacity(list.len());
    // Provider → the endpoint that first used it, so a second one is named with the first.
    let mut seen: HashMap<String, String> = HashMap::new();
    for e in &list {
        let provider = provider(cx, e, apis);
        if let Some((name, span)) = &provider {
            if let Some(first) = seen.get(name) {
                let message = format!("provider `{name}` already serves this model in `{first}`");
                cx.error(span.clone(), &e.key("provider"), message);
            } else {
                seen.insert(name.clone(), e.path.clone());
            }
        }
        out.push(endpoint(
            cx,
            e,
            provider.map(|(name, _)| name),
            context_length,
            kind,
            apis,
        ));
    }
    out
}

/// The endpoint's provider slug and its span, if it names a defined provider.
fn provider(
    cx: &mut Cx<'_>,
    e: &Section<'_>,
    apis: &HashMap<String, Api>,
) -> Option<(String, Span)> {
    let p = e.string(cx, "provider", Need::Required)?;
    if apis.contains_key(&p.value) {
        return Some((p.value, p.span));
    }
    let lower = p.value.to_ascii_lowercase();
    let hint = if apis.contains_key(&lower) {
        format!("did you mean `{lower}`?")
    } else if apis.is_empty() {
        "no [[providers]] are defined".to_owned()
    } else {
        let mut names: Vec<&str> = apis.keys().map(String::as_str).collect();
        names.sort_unstable();
        format!("defined providers: {}", names.join(", "))
    };
    let message = format!("unknown provider `{}`; {hint}", p.value);
    cx.error(p.span, &e.key("provider"), message);
    None
}

fn endpoint(
    cx: &mut Cx<'_>,
    e: &Section<'_>,
    provider: Option<String>,
    model_context_length: u64,
    kind: ModelKind,
    apis: &HashMap<String, Api>,
) -> Endpoint {
    let upstream_model =
        e.string(cx, "upstream_model", Need::Required)
            .map_or_else(String::new, |u| {
                if u.value.is_empty() {
                    cx.error(u.span, &e.key("upstream_model"), "must not be empty");
                }
                u.value
            });
    let price = |cx: &mut Cx<'_>, name: &str, need: Need| {
        e.number(cx, name, need, PRICE).map_or(0.0, |n| n.value)
    };
    let prompt_price = price(cx, "prompt_price", Need::Required);
    // an embedding endpoint has no completion: its price is optional (and 0)
    let completion_need = match kind {
        ModelKind::Chat => Need::Required,
        ModelKind::Embedding => Need::Optional,
    };
    let completion_price = price(cx, "completion_price", completion_need);
    let request_price = price(cx, "request_price", Need::Optional);
    let optional_price =
        |cx: &mut Cx<'_>, name: &str| e.number(cx, name, Need::Optional, PRICE).map(|n| n.value);
    let cache_read_price = optional_price(cx, "cache_read_price");
    let cache_write_price = optional_price(cx, "cache_write_price");
    let reasoning_price = optional_price(cx, "reasoning_price");
    let dimensions = e
        .positive_int(cx, "dimensions", Need::Optional, 1_000_000)
        .map(|n| n.value);
    let context_length = e
        .positive_int(cx, "context_length", Need::Optional, u64::MAX)
        .map_or(model_context_length, |n| n.value);
    let max_completion_tokens = e
        .positive_int(cx, "max_completion_tokens", Need::Optional, u64::MAX)
        .map(|n| n.value);
    let quantization = quantization(cx, e);
    let supported_parameters = e
        .strings(cx, "supported_parameters")
        .unwrap_or_default()
        .into_iter()
        .map(|(_, s)| s.value)
        .collect();
    // Anthropic's Messages API continues a trailing assistant message; OpenAI-style
    // servers differ, so they must opt in.
    // Claude on Vertex AI and Bedrock continues a prefill as on Anthropic's own API
    let anthropic = match provider.as_ref().and_then(|p| apis.get(p)) {
        Some(Api::Anthropic) => true,
        Some(Api::Vertex) => upstream_model.starts_with("anthropic/"),
        Some(Api::Bedrock) => upstream_model.contains("anthropic."),
        _ => false,
    };
    let supports_prefill = e.bool(cx, "supports_prefill").unwrap_or(anthropic);
    Endpoint {
        provider: provider.unwrap_or_default(),
        upstream_model,
        prompt_price,
        completion_price,
        request_price,
        context_length,
        max_completion_tokens,
        quantization,
        supported_parameters,
        supports_prefill,
        cache_read_price,
        cache_write_price,
        reasoning_price,
        dimensions,
    }
}

fn quantization(cx: &mut Cx<'_>, e: &Section<'_>) -> String {
    let Some(q) = e.string(cx, "quantization", Need::Optional) else {
        return "unknown".to_owned();
    };
    if QUANTIZATIONS.contains(&q.value.as_str()) {
        return q.value;
    }
    let message = format!(
        "must be one of {}, got `{}`",
        QUANTIZATIONS.join(" "),
        q.value
    );
    cx.error(q.span, &e.key("quantization"), message);
    "unknown".to_owned()
}
