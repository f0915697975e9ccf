//! Cost of an answer from configured prices (USD per million tokens, and per request), with
//! prompt-cache and reasoning prices (SPEC §4.9).

use sy_config::Endpoint;

/// The token counts a cost is computed from. `prompt` includes the cached and cache-written
/// tokens; `completion` includes the reasoning tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

/// USD cost of one attempt (SPEC §4.9): the fresh prompt tokens at `prompt_price`, the cached
/// ones at `cache_read_price`, the cache-written ones at `cache_write_price`, the answer tokens at
/// `completion_price`, the reasoning ones at `reasoning_price`, plus `request_price` (prices per
/// million tokens). An unset cache price is the prompt price, an unset reasoning price the
/// completion price. Counts a provider reported inconsistently (more cached than prompt) are
/// clamped, never negative.
pub fn cost_usd(ep: &Endpoint, t: &Tokens) -> f64 {
    let cached = t.cached.min(t.prompt);
    let written = t.cache_write.min(t.prompt - cached);
    let fresh = t.prompt - cached - written;
    let reasoning = t.reasoning.min(t.completion);
    let answer = t.completion - reasoning;
    #[allow(clippy::cast_precision_loss)] // token counts are far below 2^52
    let per_million = (fresh as f64) * ep.prompt_price
        + (cached as f64) * ep.cache_read_price.unwrap_or(ep.prompt_price)
        + (written as f64) * ep.cache_write_price.unwrap_or(ep.prompt_price)
        + (answer as f64) * ep.completion_price
        + (reasoning as f64) * ep.reasoning_price.unwrap_or(ep.completion_price);
    per_million / 1_000_000.0 + ep.request_price
}

/// A price in USD per million tokens as OpenRouter lists it: USD per token as a plain decimal
/// string (`0.11` -> `"0.00000011"`), exact, never in exponent form.
pub fn per_token_decimal(per_million: f64) -> String {
    shift_decimal(&plain_decimal(per_million), 6)
}

/// A non-negative number as a plain decimal string (Rust's `Display` for f64 never uses an exponent).
pub fn plain_decimal(v: f64) -> String {
    if v.is_finite() && v > 0.0 {
        format!("{v}")
    } else {
        "0".to_owned()
    }
}

/// Moves the decimal point of a plain decimal string `places` digits to the left.
fn shift_decimal(s: &str, places: usize) -> String {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = format!("{int}{frac}");
    let point = int.len();
    let padded = if point <= places {
        format!("{}{digits}", "0".repeat(places - point + 1))
    } else {
        digits
    };
    let new_point = padded.len() - frac.len() - places;
    let (i, f) = padded.split_at(new_point);
    let i = i.trim_start_matches('0');
    let f = f.trim_end_matches('0');
    match (i.is_empty(), f.is_empty()) {
        (true, true) => "0".to_owned(),
        (true, false) => format!("0.{f}"),
        (false, true) => i.to_owned(),
        (false, false) => format!("{i}.{f}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        Endpoint {
            provider: "p".into(),
            upstream_model: "m".into(),
            prompt_price: 3.0,
            completion_price: 15.0,
            request_price: 0.001,
            context_length: 1000,
            max_completion_tokens: None,
            quantization: "unknown".into(),
            supported_parameters: Vec::new(),
            supports_prefill: false,
            cache_read_price: Some(0.3),
            cache_write_price: Some(3.75),
            reasoning_price: Some(20.0),
            dimensions: None,
        }
    }

    #[test]
    fn cache_and_reasoning_prices_follow_the_formula() {
        let ep = endpoint();
        let t = Tokens {
            prompt: 10_000,
            completion: 2_000,
            cached: 6_000,
            cache_write: 3_000,
            reasoning: 500,
        };
        // 1000·3 + 6000·0.3 + 3000·3.75 + 1500·15 + 500·20 = 3000 + 1800 + 11250 + 22500 + 10000
        let want = 48_550.0 / 1_000_000.0 + 0.001;
        assert!(
            (cost_usd(&ep, &t) - want).abs() < 1e-15,
            "{}",
            cost_usd(&ep, &t)
        );
        // unset cache and reasoning prices are the prompt and completion prices
        let plain = Endpoint {
            cache_read_price: None,
            cache_write_price: None,
            reasoning_price: None,
            ..endpoint()
        };
        let want = (10_000.0 * 3.0 + 2_000.0 * 15.0) / 1_000_000.0 + 0.001;
        assert!((cost_usd(&plain, &t) - want).abs() < 1e-15);
        // inconsistent counts are clamped, never negative
        let odd = Tokens {
            prompt: 10,
            completion: 1,
            cached: 50,
            cache_write: 50,
            reasoning: 9,
        };
        assert!(cost_usd(&ep, &odd) > 0.0);
    }

    #[test]
    fn per_token_prices() {
        for (input, want) in [
            (0.11, "0.00000011"),
            (15.0, "0.000015"),
            (0.0, "0"),
            (3.0, "0.000003"),
            (1500.0, "0.0015"),
            (1_000_000.0, "1"),
            (12_345_678.9, "12.3456789"),
        ] {
            assert_eq!(per_token_decimal(input), want, "{input}");
        }
        assert_eq!(plain_decimal(0.002), "0.002");
    }
}
