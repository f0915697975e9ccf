//! OpenRouter's `provider` object (SPEC §4.1) and the routing fields every dialect shares:
//! `model`, `models` and `provider`, lifted out of a body before anything goes upstream.

use serde_json::{Map, Value};

use crate::ApiError;

/// The routing fields of a request, whatever its dialect.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Routing {
    pub model: Option<String>,
    pub models: Vec<String>,
    pub prefs: ProviderPrefs,
}

impl Routing {
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

/// Removes `model`, `models` and `provider` from a body and validates them. At least one model
/// is required.
pub fn lift_routing(body: &mut Map<String, Value>) -> Result<Routing, ApiError> {
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
    Ok(Routing {
        model,
        models,
        prefs,
    })
}

/// A 400 naming the field: "`field` what".
pub fn field_error(field: &str, what: &str) -> ApiError {
    ApiError::bad_request(format!("`{field}` {what}")).with("field", Value::from(field))
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

pub fn string_list(v: &Value, field: &str) -> Result<Vec<String>, ApiError> {
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

/// A `provider` object (as a request or a key carries it) parsed; errors name `provider.*`.
///
/// # Errors
/// 400 naming the field for a wrong type or an unknown preference.
pub fn parse_provider_prefs(v: &Value) -> Result<ProviderPrefs, ApiError> {
    match v {
        Value::Null => Ok(ProviderPrefs::default()),
        Value::Object(p) => parse_prefs(p),
        _ => Err(field_error("provider", "must be an object")),
    }
}

fn intersect(a: Option<&Vec<String>>, b: Option<&Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (Some(x), Some(y)) => Some(x.iter().filter(|s| y.contains(s)).cloned().collect()),
    }
}

fn lower(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

impl ProviderPrefs {
    /// These preferences (a request's) under a key's (SPEC §8, "Keys as guardrails"): the
    /// stricter of the two wins, so a request can tighten the key's but never loosen them —
    /// `data_collection: "deny"`, `zdr`, `require_parameters` and `allow_fallbacks: false` hold
    /// if either says so; `only` and `quantizations` are intersected, `ignore` united,
    /// `max_price` the lower of each price, `preferred_*` the more demanding. The order and
    /// sort are the request's when it gives them, else the key's.
    #[must_use]
    pub fn under(&self, key: &ProviderPrefs) -> ProviderPrefs {
        let mut ignore = self.ignore.clone();
        for s in &key.ignore {
            if !ignore.contains(s) {
                ignore.push(s.clone());
            }
        }
        ProviderPrefs {
            order: if self.order.is_empty() {
                key.order.clone()
            } else {
                self.order.clone()
            },
            allow_fallbacks: self.allow_fallbacks && key.allow_fallbacks,
            only: intersect(self.only.as_ref(), key.only.as_ref()),
            ignore,
            require_parameters: self.require_parameters || key.require_parameters,
            data_collection: if self.data_collection == DataCollection::Deny
                || key.data_collection == DataCollection::Deny
            {
                DataCollection::Deny
            } else {
                DataCollection::Allow
            },
            zdr: self.zdr || key.zdr,
            quantizations: intersect(self.quantizations.as_ref(), key.quantizations.as_ref()),
            sort: self.sort.or(key.sort),
            max_price: MaxPrice {
                prompt: lower(self.max_price.prompt, key.max_price.prompt),
                completion: lower(self.max_price.completion, key.max_price.completion),
                request: lower(self.max_price.request, key.max_price.request),
            },
            preferred_min_throughput: match (
                self.preferred_min_throughput,
                key.preferred_min_throughput,
            ) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            },
            preferred_max_latency: lower(self.preferred_max_latency, key.preferred_max_latency),
        }
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
mod merge_tests {
    use super::*;

    fn prefs(v: Value) -> ProviderPrefs {
        parse_provider_prefs(&v).unwrap()
    }

    #[test]
    fn a_request_cannot_loosen_the_keys_preferences() {
        let key = prefs(serde_json::json!({
            "data_collection": "deny", "zdr": true, "only": ["a", "b"], "ignore": ["x"],
            "max_price": {"prompt": 1.0}
        }));
        let loose = prefs(serde_json::json!({
            "data_collection": "allow", "zdr": false, "only": ["b", "c"], "ignore": ["y"],
            "max_price": {"prompt": 5.0, "completion": 2.0}
        }));
        let m = loose.under(&key);
        assert_eq!(m.data_collection, DataCollection::Deny);
        assert!(m.zdr);
        assert_eq!(m.only, Some(vec!["b".to_owned()]));
        assert_eq!(m.ignore, vec!["y".to_owned(), "x".to_owned()]);
        assert_eq!(m.max_price.prompt, Some(1.0));
        assert_eq!(m.max_price.completion, Some(2.0));
    }

    #[test]
    fn a_request_may_tighten_and_without_key_preferences_is_unchanged() {
        let req = prefs(serde_json::json!({"data_collection": "deny", "only": ["a"]}));
        assert_eq!(req.under(&ProviderPrefs::default()), req);
        let key = prefs(serde_json::json!({"ignore": ["z"]}));
        let m = req.under(&key);
        assert_eq!(m.data_collection, DataCollection::Deny);
        assert_eq!(m.only, Some(vec!["a".to_owned()]));
        assert_eq!(m.ignore, vec!["z".to_owned()]);
    }
}
