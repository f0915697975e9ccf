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
