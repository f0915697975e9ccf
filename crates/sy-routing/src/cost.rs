//! Cost of an answer from configured prices (USD per million tokens, and per request).

use sy_config::Endpoint;

/// USD cost of one attempt that produced tokens.
pub fn cost_usd(ep: &Endpoint, prompt_tokens: u64, completion_tokens: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // token counts are far below 2^52
    let tokens =
        (prompt_tokens as f64) * ep.prompt_price + (completion_tokens as f64) * ep.completion_price;
    tokens / 1_000_000.0 + ep.request_price
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
