//! Rate-limit response headers as each API sends them: OpenAI's
//! `x-ratelimit-*-{kind}` with durations like `3s`, Anthropic's
//! `anthropic-ratelimit-{kind}-*` with an RFC 3339 reset time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderName, HeaderValue};

use crate::behaviour::Behaviour;
use crate::request::Api;

/// The advertised limit; any number will do for a mock.
const LIMIT: &str = "100";

/// The rate-limit headers `b` asks for (none without `ratelimit_remaining`).
pub(crate) fn headers(api: Api, b: &Behaviour, now: SystemTime) -> Vec<(HeaderName, HeaderValue)> {
    let Some(remaining) = b.ratelimit_remaining else {
        return Vec::new();
    };
    let kind = b.ratelimit_kind.unwrap_or_default().as_str();
    let reset_s = b.ratelimit_reset_s.unwrap_or(3.0);
    let pairs = match api {
        Api::OpenAi | Api::Azure | Api::Responses => [
            (format!("x-ratelimit-limit-{kind}"), LIMIT.to_owned()),
            (
                format!("x-ratelimit-remaining-{kind}"),
                remaining.to_string(),
            ),
            (
                format!("x-ratelimit-reset-{kind}"),
                openai_duration(reset_s),
            ),
        ],
        Api::Anthropic => [
            (
                format!("anthropic-ratelimit-{kind}-limit"),
                LIMIT.to_owned(),
            ),
            (
                format!("anthropic-ratelimit-{kind}-remaining"),
                remaining.to_string(),
            ),
            (
                format!("anthropic-ratelimit-{kind}-reset"),
                rfc3339(now + Duration::from_secs_f64(reset_s.max(0.0))),
            ),
        ],
        // Google sends no rate-limit headers (a 429 RESOURCE_EXHAUSTED says it all)
        Api::Gemini | Api::Converse => return Vec::new(),
    };
    pairs
        .into_iter()
        .filter_map(|(name, value)| {
            Some((
                HeaderName::from_bytes(name.as_bytes()).ok()?,
                HeaderValue::from_str(&value).ok()?,
            ))
        })
        .collect()
}

/// `3s` for whole seconds, else `500ms`, as OpenAI writes short resets.
fn openai_duration(seconds: f64) -> String {
    if seconds >= 1.0 && seconds.fract() == 0.0 {
        format!("{seconds:.0}s")
    } else {
        format!("{:.0}ms", (seconds * 1000.0).floor())
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::RateLimitKind;

    #[test]
    fn rfc3339_dates() {
        let at = |s| rfc3339(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn headers_per_api() {
        let b = Behaviour {
            ratelimit_remaining: Some(0),
            ratelimit_reset_s: Some(0.5),
            ratelimit_kind: Some(RateLimitKind::Tokens),
            ..Behaviour::default()
        };
        let get = |h: &[(HeaderName, HeaderValue)], name: &str| {
            h.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        let h = headers(Api::OpenAi, &b, UNIX_EPOCH);
        assert_eq!(
            get(&h, "x-ratelimit-remaining-tokens").as_deref(),
            Some("0")
        );
        assert_eq!(
            get(&h, "x-ratelimit-reset-tokens").as_deref(),
            Some("500ms")
        );
        let b = Behaviour {
            ratelimit_reset_s: Some(3.0),
            ..b
        };
        let h = headers(Api::OpenAi, &b, UNIX_EPOCH);
        assert_eq!(get(&h, "x-ratelimit-reset-tokens").as_deref(), Some("3s"));
        let h = headers(Api::Anthropic, &b, UNIX_EPOCH);
        assert_eq!(
            get(&h, "anthropic-ratelimit-tokens-reset").as_deref(),
            Some("1970-01-01T00:00:03Z")
        );
        assert!(headers(Api::OpenAi, &Behaviour::default(), UNIX_EPOCH).is_empty());
    }
}
