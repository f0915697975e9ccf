//! OpenRouter's published shapes for `/key` and `/generation` (SPEC §4: its SDKs parse them),
//! built from Switchyard's own figures: every member the SDKs require is present with its type;
//! Switchyard's own members stay beside them. Stored generation records keep Switchyard's shape
//! and are rendered in OpenRouter's at read time, so old and new records both parse.

use serde_json::{json, Map, Value};

/// Completes a key's JSON (`label`, `usage`, `limit`, ... as Switchyard has them) with the
/// members OpenRouter's `/key` answer requires. Period usage and resets come from the key when
/// it has them (`usage_daily`, `limit_reset`, ...); what Switchyard does not track (BYOK, free
/// tiers, regions, budgets) is reported as its neutral value.
pub fn key(mut k: Value, management: bool) -> Value {
    let Some(o) = k.as_object_mut() else {
        return k;
    };
    let usage = o.get("usage").and_then(Value::as_f64).unwrap_or(0.0);
    let limit = o.get("limit").and_then(Value::as_f64);
    let rpm = o.get("rpm").and_then(Value::as_i64).unwrap_or(-1);
    let mut fill = |name: &str, v: Value| {
        o.entry(name.to_owned()).or_insert(v);
    };
    fill(
        "limit_remaining",
        json!(limit.map(|l| (l - usage).max(0.0))),
    );
    fill("limit_reset", Value::Null);
    for period in ["usage_daily", "usage_weekly", "usage_monthly"] {
        fill(period, json!(usage));
    }
    fill("include_byok_in_limit", json!(false));
    for byok in [
        "byok_usage",
        "byok_usage_daily",
        "byok_usage_weekly",
        "byok_usage_monthly",
    ] {
        fill(byok, json!(0.0));
    }
    fill("is_free_tier", json!(false));
    fill("is_management_key", json!(management));
    fill("is_provisioning_key", json!(false));
    fill("allowed_data_regions", json!(["global"]));
    fill("creator_user_id", Value::Null);
    fill("organization_id", Value::Null);
    fill("workspace_id", Value::Null);
    fill(
        "free_model_daily_requests",
        json!({"limit": 0, "remaining": 0, "used": 0}),
    );
    fill(
        "rate_limit",
        json!({"requests": rpm, "interval": "1m", "note": "requests per minute of this key (-1: none)"}),
    );
    fill("budgets", json!([]));
    fill("effective_budget", Value::Null);
    k
}

/// The members OpenRouter's key listing requires that Switchyard does not track: no
/// bring-your-own-key spend (none counted in the limit), no creator or external user, no
/// last-use time, one workspace.
pub fn byok_none(k: &mut Value) {
    if let Some(o) = k.as_object_mut() {
        o.insert("include_byok_in_limit".into(), Value::Bool(false));
        for f in ["creator_user_id", "external_user", "last_used_at"] {
            o.entry(f).or_insert(Value::Null);
        }
        // a string in OpenRouter's listing: Switchyard has one workspace
        o.entry("workspace_id").or_insert(Value::from("default"));
        for f in [
            "byok_usage",
            "byok_usage_daily",
            "byok_usage_weekly",
            "byok_usage_monthly",
        ] {
            o.insert(f.into(), json!(0.0));
        }
    }
}

/// An RFC 3339 UTC time for Unix seconds (`1970-01-01T00:00:00Z`).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // days since the epoch to a civil date (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

/// A generation record in OpenRouter's shape: its members beside Switchyard's (`usage` becomes
/// the cost in USD as OpenRouter has it; the token object moves to `usage_tokens`).
pub fn generation(record: &Value) -> Value {
    let Some(r) = record.as_object() else {
        return record.clone();
    };
    let mut o: Map<String, Value> = r.clone();
    let cost = r.get("cost").and_then(Value::as_f64).unwrap_or(0.0);
    if let Some(tokens) = o.remove("usage").filter(Value::is_object) {
        o.insert("usage_tokens".into(), tokens);
    }
    let get = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    let created = r.get("created").and_then(Value::as_i64).unwrap_or(0);
    let dialect = r.get("dialect").and_then(Value::as_str).unwrap_or("chat");
    let tokens = r.get("usage").cloned().unwrap_or(Value::Null);
    let attempts = r
        .get("attempts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let responses: Vec<Value> = attempts
        .iter()
        .filter(|a| a.get("called").and_then(Value::as_bool).unwrap_or(true))
        .map(|a| {
            json!({
                "status": a.get("status").cloned().unwrap_or(Value::Null),
                "provider_name": a.get("provider").cloned().unwrap_or(Value::Null),
                "latency": a.get("duration_ms").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let values: [(&str, Value); 40] = [
        ("created_at", Value::from(rfc3339(created))),
        ("total_cost", json!(cost)),
        ("usage", json!(cost)),
        ("origin", Value::from("")),
        ("is_byok", json!(false)),
        ("data_region", Value::from("global")),
        (
            "api_type",
            Value::from(if dialect == "embeddings" {
                "embeddings"
            } else {
                "completions"
            }),
        ),
        ("app_id", Value::Null),
        ("cache_discount", Value::Null),
        (
            "cancelled",
            json!(r.get("cancelled").and_then(Value::as_bool).unwrap_or(false)),
        ),
        ("streamed", get("streamed")),
        ("external_user", Value::Null),
        ("http_referer", Value::Null),
        ("user_agent", Value::Null),
        ("finish_reason", get("finish_reason")),
        ("native_finish_reason", get("finish_reason")),
        ("latency", get("latency_ms")),
        ("generation_time", Value::Null),
        ("moderation_latency", Value::Null),
        ("tokens_prompt", get("tokens_prompt")),
        ("tokens_completion", get("tokens_completion")),
        ("native_tokens_prompt", get("tokens_prompt")),
        ("native_tokens_completion", get("tokens_completion")),
        (
            "native_tokens_reasoning",
            tokens
                .pointer("/completion_tokens_details/reasoning_tokens")
                .cloned()
                .unwrap_or(Value::Null),
        ),
        (
            "native_tokens_cached",
            tokens
                .pointer("/prompt_tokens_details/cached_tokens")
                .cloned()
                .unwrap_or(Value::Null),
        ),
        ("native_tokens_completion_images", Value::Null),
        ("num_media_prompt", Value::Null),
        ("num_media_completion", Value::Null),
        ("num_input_audio_prompt", Value::Null),
        ("num_search_results", Value::Null),
        ("num_fetches", Value::Null),
        ("preset_id", Value::Null),
        ("provider_name", get("provider")),
        ("provider_responses", Value::Array(responses)),
        ("router", Value::Null),
        ("service_tier", Value::Null),
        ("upstream_id", Value::Null),
        ("upstream_inference_cost", Value::Null),
        ("web_search_engine", Value::Null),
        ("workspace_id", Value::Null),
    ];
    for (k, v) in values {
        o.insert(k.into(), v);
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_342_400), "2026-12-04T00:00:00Z");
    }

    #[test]
    fn a_record_gets_openrouter_members_and_keeps_its_own() {
        let rec = json!({"id": "gen-1", "created": 0, "model": "m", "provider": "p", "cost": 0.5,
            "usage": {"prompt_tokens": 3}, "attempts": [{"provider": "p", "status": 200, "duration_ms": 9, "called": true}]});
        let v = generation(&rec);
        assert_eq!(v["usage"], 0.5);
        assert_eq!(v["usage_tokens"]["prompt_tokens"], 3);
        assert_eq!(v["provider_name"], "p");
        assert_eq!(v["provider_responses"][0]["status"], 200);
        assert_eq!(v["created_at"], "1970-01-01T00:00:00Z");
    }
}
