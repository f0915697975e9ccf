//! Keys as guardrails (SPEC §8): what a key may do besides spend — when its limit resets, how
//! many tokens a minute it may use, until when it is valid, which models and providers it may
//! reach and the routing preferences every request of it is held to — and the pure parts of
//! enforcing it: UTC period boundaries, period figures between two reads of the store, model
//! globs and the tokens-per-minute window. Everything here takes the time as an argument.

use serde_json::{json, Map, Value};
use sy_api::{ApiError, ProviderPrefs};
use sy_config::Config;

/// How a limit resets: on UTC day, ISO week (Monday) and calendar month boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

pub const PERIODS: [Period; 3] = [Period::Daily, Period::Weekly, Period::Monthly];

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "daily" => Some(Period::Daily),
            "weekly" => Some(Period::Weekly),
            "monthly" => Some(Period::Monthly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }

    fn index(self) -> usize {
        match self {
            Period::Daily => 0,
            Period::Weekly => 1,
            Period::Monthly => 2,
        }
    }

    /// The start (unix seconds) of the period that contains `now` (unix seconds).
    pub fn start(self, now: i64) -> i64 {
        let day = now.div_euclid(86_400);
        match self {
            Period::Daily => day * 86_400,
            // 1970-01-01 was a Thursday: ISO weekday (Monday 0) is (day + 3) mod 7
            Period::Weekly => (day - (day + 3).rem_euclid(7)) * 86_400,
            Period::Monthly => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1) * 86_400
            }
        }
    }
}

/// The starts of the day, week and month containing `now`.
pub fn period_starts(now: i64) -> [i64; 3] {
    PERIODS.map(|p| p.start(now))
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31) (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month 1-12, day 1-31) to days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 date-time (`2026-01-31T23:59:59Z`, `...+02:00`, fractions allowed) as unix
/// seconds; `None` when malformed.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let max_day = match usize::try_from(mo - 1).ok().and_then(|i| month_days.get(i)) {
        Some(&n) => n + i64::from(mo == 2 && leap),
        None => return None,
    };
    if !(1..=max_day).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return None;
            }
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset)
}

/// A key's (or a team's) spend per period as last read from the store, carried forward to
/// any later moment by what the key's total spend has grown since: the period figures of the
/// store plus every charge the store did not have at the read. A period that began after the
/// read counts only those later charges (conservative: a charge of the old period made in the
/// last second before the boundary may count in the new one until the next read).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PeriodBook {
    /// The period starts at the read.
    pub starts: [i64; 3],
    /// Spend since each start, by the store's records, at the read.
    pub since: [f64; 3],
    /// The total spend the store had at the read.
    pub base_total: f64,
}

impl PeriodBook {
    /// Spend in the current day, week and month at `now`, given the total spend known now
    /// (which includes `unwritten` and everything charged since the read).
    pub fn at(&self, now: i64, total_now: f64) -> [f64; 3] {
        let grown = (total_now - self.base_total).max(0.0);
        let starts = period_starts(now);
        let mut out = [0.0; 3];
        for i in 0..3 {
            out[i] = if starts[i] == self.starts[i] {
                self.since[i] + grown
            } else {
                grown
            };
        }
        out
    }

    /// The spend that a limit with this reset counts.
    pub fn counted(&self, reset: Option<Period>, now: i64, total_now: f64) -> f64 {
        match reset {
            None => total_now,
            Some(p) => self.at(now, total_now)[p.index()],
        }
    }
}

/// `*` globs: `*` matches any run of characters (also `/`); everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// A key's guardrails besides its limit and rate (stored as one JSON object).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Guardrails {
    pub limit_reset: Option<Period>,
    /// Tokens per minute (prompt + completion).
    pub tpm: Option<u64>,
    /// Unix seconds after which the key is refused (401).
    pub expires_at: Option<i64>,
    /// Model ids and `*` globs; empty: every model.
    pub allowed_models: Vec<String>,
    /// Provider slugs; empty: every provider.
    pub allowed_providers: Vec<String>,
    /// Routing preferences every request of the key is held to (as given, for display).
    pub provider: Option<Value>,
    /// The same, parsed.
    pub prefs: Option<ProviderPrefs>,
}

fn bad(field: &str, what: &str) -> ApiError {
    ApiError::bad_request(format!("`{field}` {what}")).with("field", Value::from(field))
}

/// `null` or one of the reset words.
pub fn parse_reset(v: &Value, field: &str) -> Result<Option<Period>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Period::parse(s)
            .map(Some)
            .ok_or_else(|| bad(field, "must be \"daily\", \"weekly\", \"monthly\" or null")),
        _ => Err(bad(
            field,
            "must be \"daily\", \"weekly\", \"monthly\" or null",
        )),
    }
}

fn string_list(v: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) if !s.trim().is_empty() && s.len() <= 200 => {
                    Ok(s.trim().to_owned())
                }
                _ => Err(bad(field, "must be an array of non-empty strings")),
            })
            .collect(),
        _ => Err(bad(field, "must be an array of strings")),
    }
}

impl Guardrails {
    /// The stored JSON (what `parse_stored` reads back); `None` when there is nothing to keep.
    pub fn to_stored(&self) -> Option<String> {
        let mut o = Map::new();
        if let Some(p) = self.limit_reset {
            o.insert("limit_reset".into(), Value::from(p.as_str()));
        }
        if let Some(t) = self.tpm {
            o.insert("tpm".into(), Value::from(t));
        }
        if let Some(e) = self.expires_at {
            o.insert("expires_at".into(), Value::from(e));
        }
        if !self.allowed_models.is_empty() {
            o.insert("allowed_models".into(), json!(self.allowed_models));
        }
        if !self.allowed_providers.is_empty() {
            o.insert("allowed_providers".into(), json!(self.allowed_providers));
        }
        if let Some(p) = &self.provider {
            o.insert("provider".into(), p.clone());
        }
        (!o.is_empty()).then(|| Value::Object(o).to_string())
    }

    /// What the store holds, read back. What cannot be read (written by a newer build, or
    /// damaged) is left out with a warning — except that an unreadable `provider` or list
    /// makes the key refuse everything rather than run unguarded.
    pub fn parse_stored(text: Option<&str>) -> Guardrails {
        let Some(text) = text else {
            return Guardrails::default();
        };
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let mut g = Guardrails {
            limit_reset: v
                .get("limit_reset")
                .and_then(Value::as_str)
                .and_then(Period::parse),
            tpm: v.get("tpm").and_then(Value::as_u64),
            expires_at: v.get("expires_at").and_then(Value::as_i64),
            ..Guardrails::default()
        };
        let list = |name: &str| -> Vec<String> {
            v.get(name)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        g.allowed_models = list("allowed_models");
        g.allowed_providers = list("allowed_providers");
        if let Some(p) = v.get("provider").filter(|p| !p.is_null()) {
            match sy_api::parse_provider_prefs(p) {
                Ok(prefs) => {
                    g.provider = Some(p.clone());
                    g.prefs = Some(prefs);
                }
                Err(e) => {
                    tracing::warn!(error = %e.message, "a key's stored provider preferences cannot be read; the key may use no provider");
                    g.provider = Some(p.clone());
                    g.allowed_providers = vec!["(unreadable provider preferences)".into()];
                }
            }
        }
        g
    }

    /// Applies the guardrail fields of a `POST`/`PATCH /keys` body (only those present),
    /// validating each against the configuration: 400 naming the field.
    pub fn apply(&mut self, body: &Map<String, Value>, cfg: &Config) -> Result<(), ApiError> {
        if let Some(v) = body.get("limit_reset") {
            self.limit_reset = parse_reset(v, "limit_reset")?;
        }
        if let Some(v) = body.get("tpm") {
            self.tpm =
                match v {
                    Value::Null => None,
                    _ => match v.as_u64() {
                        Some(n) if (1..=1_000_000_000).contains(&n) => Some(n),
                        _ => return Err(bad(
                            "tpm",
                            "must be a whole number of tokens per minute, 1 to 1000000000, or null",
                        )),
                    },
                };
        }
        if let Some(v) = body.get("expires_at") {
            self.expires_at = match v {
                Value::Null => None,
                Value::String(s) => Some(parse_rfc3339(s).ok_or_else(|| {
                    bad(
                        "expires_at",
                        "must be an RFC 3339 date-time such as \"2027-01-01T00:00:00Z\", or null",
                    )
                })?),
                _ => {
                    return Err(bad(
                        "expires_at",
                        "must be an RFC 3339 date-time string, or null",
                    ))
                }
            };
        }
        if let Some(v) = body.get("allowed_models") {
            let list = string_list(v, "allowed_models")?;
            for pattern in &list {
                let known = cfg.models.iter().any(|m| glob_match(pattern, &m.id));
                if !known {
                    return Err(bad(
                        "allowed_models",
                        &format!("has `{pattern}`, which matches no configured model"),
                    )
                    .with("model", Value::from(pattern.as_str())));
                }
            }
            self.allowed_models = list;
        }
        if let Some(v) = body.get("allowed_providers") {
            let list: Vec<String> = string_list(v, "allowed_providers")?
                .into_iter()
                .map(|s| s.to_ascii_lowercase())
                .collect();
            for slug in &list {
                if !cfg
                    .providers
                    .iter()
                    .any(|p| p.name.eq_ignore_ascii_case(slug))
                {
                    return Err(bad(
                        "allowed_providers",
                        &format!("names `{slug}`, which is not a configured provider"),
                    )
                    .with("provider", Value::from(slug.as_str())));
                }
            }
            self.allowed_providers = list;
        }
        if let Some(v) = body.get("provider") {
            if v.is_null() {
                self.provider = None;
                self.prefs = None;
            } else {
                let prefs = sy_api::parse_provider_prefs(v)?;
                sy_routing::check_slugs(cfg, &prefs)?;
                self.provider = Some(v.clone());
                self.prefs = Some(prefs);
            }
        }
        Ok(())
    }

    /// Whether the key may use this model (by its id or an alias it was asked by).
    pub fn allows_model(&self, ids: &[&str]) -> bool {
        self.allowed_models.is_empty()
            || self
                .allowed_models
                .iter()
                .any(|p| ids.iter().any(|id| glob_match(p, id)))
    }

    pub fn allows_provider(&self, slug: &str) -> bool {
        self.allowed_providers.is_empty()
            || self
                .allowed_providers
                .iter()
                .any(|p| p.eq_ignore_ascii_case(slug))
    }

    /// The guardrails as `/key` and the key listing show them.
    pub fn json(&self) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert(
            "limit_reset".into(),
            self.limit_reset.map_or(Value::Null, |p| p.as_str().into()),
        );
        o.insert("tpm".into(), json!(self.tpm));
        o.insert(
            "expires_at".into(),
            self.expires_at
                .map_or(Value::Null, |e| crate::handlers::views::rfc3339(e).into()),
        );
        o.insert("allowed_models".into(), json!(self.allowed_models));
        o.insert("allowed_providers".into(), json!(self.allowed_providers));
        o.insert(
            "provider".into(),
            self.provider.clone().unwrap_or(Value::Null),
        );
        o
    }
}

/// Tokens per minute over a sliding minute of one-second buckets: a request is admitted when
/// the minute's tokens plus its estimate fit, and reserves the estimate; when it ends, the
/// reservation is replaced by what it really used.
#[derive(Debug, Default)]
pub struct TokenWindow {
    /// (unix second, tokens), oldest first, the last 60 s only.
    buckets: std::collections::VecDeque<(i64, u64)>,
}

impl TokenWindow {
    fn trim(&mut self, now: i64) {
        while self.buckets.front().is_some_and(|(s, _)| *s <= now - 60) {
            self.buckets.pop_front();
        }
    }

    /// Tokens used in the minute before `now`.
    pub fn used(&mut self, now: i64) -> u64 {
        self.trim(now);
        self.buckets.iter().map(|(_, n)| n).sum()
    }

    /// Reserves `estimate` tokens at `now`, or the seconds to wait before it would fit.
    pub fn reserve(&mut self, now: i64, estimate: u64, tpm: u64) -> Result<(), f64> {
        let used = self.used(now);
        if used.saturating_add(estimate) > tpm {
            // the oldest buckets must leave the window first
            let mut freed = 0u64;
            let need = used.saturating_add(estimate) - tpm;
            for (s, n) in &self.buckets {
                freed += n;
                if freed >= need {
                    #[allow(clippy::cast_precision_loss)]
                    return Err((s + 60 - now).max(1) as f64);
                }
            }
            return Err(60.0);
        }
        self.add(now, estimate, 0);
        Ok(())
    }

    /// Replaces a reservation made at `at` of `estimate` tokens by `actual`.
    pub fn settle(&mut self, at: i64, estimate: u64, actual: u64) {
        self.add(at, actual, estimate);
    }

    fn add(&mut self, at: i64, plus: u64, minus: u64) {
        if let Some(b) = self.buckets.iter_mut().find(|(s, _)| *s == at) {
            b.1 = b.1.saturating_add(plus).saturating_sub(minus);
            return;
        }
        if plus > 0 {
            let pos = self.buckets.partition_point(|(s, _)| *s < at);
            self.buckets.insert(pos, (at, plus));
        }
    }
}

#[cfg(test)]
mod tests;
