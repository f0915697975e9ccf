//! `[[providers]]` and `[[models]]`: per-entry checks plus the cross references between
//! them (unique names, endpoints naming defined providers, fallbacks naming defined
//! models). Providers are walked first, whatever the file order, so every endpoint can be
//! checked against the full set.

mod cloud;
mod endpoint;

use std::collections::HashMap;

use secrecy::SecretString;

use super::table::{expand, kind, Need, Section, Span};
use super::Cx;
use crate::model::{Api, Model, ModelKind, Provider};

const PROVIDER_KEYS: &[&str] = &[
    "name",
    "api",
    "base_url",
    "api_key",
    "data_collection",
    "zdr",
    "max_concurrency",
    "headers",
];

/// The keys of a provider table: the common ones, then the clouds'.
fn provider_keys() -> Vec<&'static str> {
    PROVIDER_KEYS
        .iter()
        .copied()
        .chain(cloud::key_names())
        .collect()
}

const MODEL_KEYS: &[&str] = &[
    "id",
    "name",
    "kind",
    "context_length",
    "fallbacks",
    "endpoints",
];

const DEFAULT_MAX_CONCURRENCY: u32 = 256;

/// The providers, and the wire protocol of every provider name the file defines (even
/// one whose entry has other errors, so its endpoints are not also reported as naming
/// an unknown provider).
pub(super) fn providers(
    cx: &mut Cx<'_>,
    root: &Section<'_>,
) -> (Vec<Provider>, HashMap<String, Api>) {
    let mut out = Vec::new();
    let mut apis = HashMap::new();
    let mut first: HashMap<String, Span> = HashMap::new();
    for p in root
        .tables(cx, "providers", &provider_keys())
        .unwrap_or_default()
    {
        let api = choice(
            cx,
            &p,
            "api",
            &[
                ("openai", Api::OpenAi),
                ("openai-responses", Api::OpenAiResponses),
                ("anthropic", Api::Anthropic),
                ("gemini", Api::Gemini),
                ("azure", Api::Azure),
                ("bedrock", Api::Bedrock),
                ("vertex", Api::Vertex),
            ],
        );
        let api = api.unwrap_or(Api::OpenAi);
        let name = p
            .string(cx, "name", Need::Required)
            .map_or_else(String::new, |name| {
                if !is_slug(&name.value) {
                    let message = format!(
                        "must be a lowercase slug ([a-z0-9][a-z0-9._-]*), got `{}`",
                        name.value
                    );
                    cx.error(name.span.clone(), &p.key("name"), message);
                }
                if let Some(at) = first.get(&name.value) {
                    let line = cx.line_of(at.as_ref());
                    let message = format!(
                        "duplicate provider `{}` (first defined at line {line})",
                        name.value
                    );
                    cx.error(name.span, &p.key("name"), message);
                } else {
                    first.insert(name.value.clone(), name.span);
                    apis.insert(name.value.clone(), api);
                }
                name.value
            });
        let api_key = p
            .string(cx, "api_key", cloud::key_need(api))
            .map(|k| SecretString::from(k.value));
        let cloud = cloud::cloud(cx, &p, api, api_key.is_some());
        // clouds have a well-known address; every other server must be named
        let default_url = cloud::default_base_url(api, &cloud);
        let need_url = if default_url.is_some() {
            Need::Optional
        } else {
            Need::Required
        };
        let base_url = p.string(cx, "base_url", need_url).map_or_else(
            || default_url.unwrap_or_default(),
            |url| {
                base_url(&url.value).unwrap_or_else(|problem| {
                    cx.error(url.span, &p.key("base_url"), problem);
                    String::new()
                })
            },
        );
        let allow = choice(
            cx,
            &p,
            "data_collection",
            &[("allow", true), ("deny", false)],
        );
        let max_concurrency = p
            .positive_int(cx, "max_concurrency", Need::Optional, u64::from(u32::MAX))
            .map_or(DEFAULT_MAX_CONCURRENCY, |n| {
                u32::try_from(n.value).unwrap_or(u32::MAX)
            });
        out.push(Provider {
            name,
            api,
            base_url,
            api_key,
            data_collection_allowed: allow.unwrap_or(true),
            zdr: p.bool(cx, "zdr").unwrap_or(false),
            max_concurrency,
            headers: headers(cx, &p),
            cloud,
        });
    }
    (out, apis)
}

/// `headers = { "X-Custom" = "v" }`: names must be HTTP tokens and values free of
/// control characters, so a typo fails here rather than on every upstream call.
fn headers(cx: &mut Cx<'_>, p: &Section<'_>) -> Vec<(String, String)> {
    let Some(map) = p.map(cx, "headers") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, name_span, item, span) in map.entries() {
        let key = map.key(name);
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            cx.error(
                name_span,
                &key,
                format!("`{name}` is not a valid HTTP header name"),
            );
        }
        let Some(raw) = item.as_str() else {
            cx.error(
                span,
                &key,
                format!("expected a string, found {}", kind(item)),
            );
            continue;
        };
        let Some(value) = expand(cx, &key, raw, &span) else {
            continue;
        };
        if value.chars().any(|c| c.is_control() && c != '\t') {
            // Not echoed: the value may hold an interpolated secret.
            cx.error(
                span,
                &key,
                "header value must not contain control characters",
            );
            continue;
        }
        out.push((name.to_owned(), value));
    }
    out
}

pub(super) fn models(
    cx: &mut Cx<'_>,
    root: &Section<'_>,
    apis: &HashMap<String, Api>,
) -> Vec<Model> {
    let mut out = Vec::new();
    let mut first: HashMap<String, Span> = HashMap::new();
    let mut fallbacks = Vec::new();
    for m in root.tables(cx, "models", MODEL_KEYS).unwrap_or_default() {
        let id = m
            .string(cx, "id", Need::Required)
            .map_or_else(String::new, |id| {
                if let Some(problem) = id_problem(&id.value) {
                    cx.error(id.span.clone(), &m.key("id"), problem);
                }
                if let Some(at) = first.get(&id.value) {
                    let line = cx.line_of(at.as_ref());
                    let message = format!(
                        "duplicate model id `{}` (first defined at line {line})",
                        id.value
                    );
                    cx.error(id.span, &m.key("id"), message);
                } else {
                    first.insert(id.value.clone(), id.span);
                }
                id.value
            });
        let name = m
            .string(cx, "name", Need::Optional)
            .map_or_else(|| id.clone(), |n| n.value);
        let context_length = m
            .positive_int(cx, "context_length", Need::Required, u64::MAX)
            .map_or(0, |n| n.value);
        let kind = choice(
            cx,
            &m,
            "kind",
            &[
                ("chat", ModelKind::Chat),
                ("embedding", ModelKind::Embedding),
            ],
        )
        .unwrap_or(ModelKind::Chat);
        let listed = m.strings(cx, "fallbacks").unwrap_or_default();
        // SPEC §4.8: vectors of different models cannot be mixed, so an embedding model only
        // falls back through a request's explicit `models`
        if kind == ModelKind::Embedding {
            if let Some((key, first)) = listed.first() {
                cx.error(
                    first.span.clone(),
                    key,
                    "an embedding model cannot have fallbacks (vectors of different models cannot be mixed)",
                );
            }
        }
        fallbacks.push((id.clone(), listed));
        let endpoints = endpoint::endpoints(cx, &m, context_length, kind, apis);
        out.push(Model {
            id,
            name,
            kind,
            context_length,
            fallbacks: Vec::new(),
            endpoints,
        });
    }
    // Fallbacks may name a model defined further down, so they are checked once every
    // id is known.
    for (model, (id, list)) in out.iter_mut().zip(fallbacks) {
        for (key, fallback) in list {
            if fallback.value == id {
                cx.error(fallback.span, &key, "a model cannot fall back to itself");
            } else if !first.contains_key(&fallback.value) {
                let message = format!(
                    "unknown model `{}`; no [[models]] entry has this id",
                    fallback.value
                );
                cx.error(fallback.span, &key, message);
            } else {
                model.fallbacks.push(fallback.value);
            }
        }
    }
    out
}

/// A string setting restricted to a few words, mapped to its value.
fn choice<T: Copy>(cx: &mut Cx<'_>, t: &Section<'_>, name: &str, words: &[(&str, T)]) -> Option<T> {
    let s = t.string(cx, name, Need::Optional)?;
    if let Some((_, v)) = words.iter().find(|(w, _)| *w == s.value) {
        return Some(*v);
    }
    let allowed: Vec<String> = words.iter().map(|(w, _)| format!("`{w}`")).collect();
    let message = format!("must be one of {}, got `{}`", allowed.join(", "), s.value);
    cx.error(s.span, &t.key(name), message);
    None
}

/// `[a-z0-9][a-z0-9._-]*`: what `provider.order` and friends name.
fn is_slug(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// SPEC §1: any non-empty string without whitespace or `:` (`:` introduces a suffix
/// such as `:free`).
fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("must not be empty")
    } else if id.chars().any(char::is_whitespace) {
        Some("must not contain whitespace")
    } else if id.contains(':') {
        Some("must not contain `:` (it introduces suffixes such as `:free`)")
    } else {
        None
    }
}

/// An `http(s)://host...` URL without its trailing slashes, so paths can be appended
/// as `{base_url}/chat/completions`. The value is not echoed: it may carry credentials.
fn base_url(url: &str) -> Result<String, &'static str> {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Err("must be an http:// or https:// URL");
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err("must name a host after the scheme");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
