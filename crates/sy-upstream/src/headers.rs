//! Reading `Retry-After` and rate-limit headers (SPEC §4.3, §7).

use reqwest::header::HeaderMap;

/// `Retry-After` in seconds (delta-seconds form; an HTTP date is read as unknown).
pub fn retry_after_s(h: &HeaderMap) -> Option<f64> {
    let v = h.get("retry-after")?.to_str().ok()?.trim();
    v.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0)
}

/// When a rate-limit header says 0 requests or tokens remain: seconds until the advertised reset.
/// OpenAI style: `x-ratelimit-remaining-{requests,tokens}` with `x-ratelimit-reset-*` as `1s`,
/// `6m0s`, `250ms`; Anthropic: `anthropic-ratelimit-*-remaining` with an RFC 3339 reset time.
pub fn rate_limit_reset_s(h: &HeaderMap, now_unix_s: f64) -> Option<f64> {
    let mut wait: Option<f64> = None;
    for kind in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let openai = (
            format!("x-ratelimit-remaining-{kind}"),
            format!("x-ratelimit-reset-{kind}"),
        );
        let anthropic = (
            format!("anthropic-ratelimit-{kind}-remaining"),
            format!("anthropic-ratelimit-{kind}-reset"),
        );
        for (rem, reset, is_date) in [
            (openai.0, openai.1, false),
            (anthropic.0, anthropic.1, true),
        ] {
            let Some(remaining) = h.get(rem.as_str()).and_then(|v| v.to_str().ok()) else {
                continue;
            };
            if remaining.trim().parse::<f64>().ok() != Some(0.0) {
                continue;
            }
            let raw = h
                .get(reset.as_str())
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let secs = if is_date {
                rfc3339_unix(raw).map(|t| t - now_unix_s)
            } else {
                go_duration_s(raw)
            };
            // remaining 0 with no readable reset: a short default keeps the endpoint from a 429
            let secs = secs.unwrap_or(1.0).max(0.0);
            wait = Some(wait.map_or(secs, |w: f64| w.max(secs)));
        }
    }
    wait
}

/// `1s`, `6m0s`, `250ms`, `1h2m3.5s`, or a bare number of seconds.
fn go_duration_s(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += n * unit;
        any = true;
    }
    (any && num.is_empty()).then_some(total)
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time like `2026-11-22T03:14:15Z`.
fn rfc3339_unix(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, mo, da) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let time = time.trim_end_matches('Z');
    let time = time.split(['+']).next()?;
    let mut t = time.split(':');
    let (h, mi) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    // days from civil (Howard Hinnant's algorithm)
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    #[allow(clippy::cast_precision_loss)]
    Some((days * 86_400 + h * 3600 + mi * 60) as f64 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn durations() {
        assert_eq!(go_duration_s("3s"), Some(3.0));
        assert_eq!(go_duration_s("250ms"), Some(0.25));
        assert_eq!(go_duration_s("6m0s"), Some(360.0));
        assert_eq!(go_duration_s("1.5"), Some(1.5));
        assert_eq!(go_duration_s("soon"), None);
        assert_eq!(rfc3339_unix("1970-01-02T00:00:01Z"), Some(86_401.0));
    }

    #[test]
    fn remaining_zero_gives_the_reset() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-remaining-tokens",
            HeaderValue::from_static("0"),
        );
        h.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("3s"));
        assert_eq!(rate_limit_reset_s(&h, 0.0), Some(3.0));
        h.insert(
            "x-ratelimit-remaining-tokens",
            HeaderValue::from_static("5"),
        );
        assert_eq!(rate_limit_reset_s(&h, 0.0), None);
        let mut a = HeaderMap::new();
        a.insert(
            "anthropic-ratelimit-requests-remaining",
            HeaderValue::from_static("0"),
        );
        a.insert(
            "anthropic-ratelimit-requests-reset",
            HeaderValue::from_static("1970-01-01T00:00:10Z"),
        );
        assert_eq!(rate_limit_reset_s(&a, 7.0), Some(3.0));
        let mut r = HeaderMap::new();
        r.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after_s(&r), Some(2.0));
    }
}
