//! Token estimates with a real tokenizer (cl100k), for usage an upstream did not report and for
//! the context-length filter. Estimates only: every provider tokenizes differently.
//!
//! Bounded in time whatever the text (SPEC §7): byte-pair encoding is quadratic in the length of
//! a run without spaces (200 KB of one repeated letter took 18 s), so long runs are estimated
//! from their bytes, and at most `SAMPLE` bytes of a long text go through the tokenizer — the
//! rest is extrapolated from the sample's bytes per token.

use sy_api::Conversation;

/// A run of non-whitespace longer than this is estimated from its bytes.
const LONG_RUN: usize = 256;
/// At most this much text goes through the tokenizer.
const SAMPLE: usize = 256 * 1024;

/// Tokens of a text.
pub fn estimate_text_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let mut tokens = 0u64;
    let mut sampled = 0usize;
    let mut sampled_tokens = 0u64;
    let mut rest_bytes = 0usize;
    let mut segment_start = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    // walk runs of whitespace / non-whitespace; long non-whitespace runs are counted apart
    while i < bytes.len() {
        let start = i;
        let space = bytes[i].is_ascii_whitespace();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() == space {
            i += 1;
        }
        if !space && i - start > LONG_RUN {
            if segment_start < start {
                let seg = &text[segment_start..start];
                if sampled < SAMPLE {
                    let n = bpe.encode_ordinary(seg).len() as u64;
                    sampled += seg.len();
                    sampled_tokens += n;
                    tokens += n;
                } else {
                    rest_bytes += seg.len();
                }
            }
            // a long run: about one token per 4 bytes (an upper-side guess for the context filter)
            tokens += ((i - start) as u64).div_ceil(4);
            segment_start = i;
        }
    }
    if segment_start < bytes.len() {
        let seg = &text[segment_start..];
        if sampled < SAMPLE {
            let take = floor_char_boundary(seg, SAMPLE - sampled);
            let n = bpe.encode_ordinary(&seg[..take]).len() as u64;
            sampled += take;
            sampled_tokens += n;
            tokens += n;
            rest_bytes += seg.len() - take;
        } else {
            rest_bytes += seg.len();
        }
    }
    if rest_bytes > 0 {
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let extra = if sampled_tokens > 0 && sampled > 0 {
            (rest_bytes as f64 * sampled_tokens as f64 / sampled as f64).ceil() as u64
        } else {
            (rest_bytes as u64).div_ceil(4)
        };
        tokens += extra;
    }
    tokens
}

/// The largest index at most `max` that is a char boundary of `s`.
fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    // keep a word whole where one ends nearby, so the sample does not end mid-token
    s[..i]
        .rfind(char::is_whitespace)
        .filter(|w| i - w < 64)
        .unwrap_or(i)
}

/// Prompt tokens of a conversation: its text plus a few tokens of framing per message.
pub fn estimate_prompt_tokens(conv: &Conversation) -> u64 {
    let mut text = String::new();
    conv.prompt_text(&mut text);
    estimate_text_tokens(&text) + 3 * conv.message_count() as u64
}

/// A cheap estimate from a byte count (about four bytes a token in English), for when the
/// prompt comfortably fits every context and the exact figure does not matter.
pub fn estimate_text_tokens_fast(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(estimate_text_tokens(""), 0);
        let n = estimate_text_tokens("The quick brown fox jumps over the lazy dog.");
        assert!((8..=12).contains(&n), "{n}");
    }

    #[test]
    fn pathological_text_is_estimated_from_its_bytes() {
        // 200 KB of one letter: seconds of byte-pair encoding before, bytes/4 now
        let t = "a".repeat(200_000);
        assert_eq!(estimate_text_tokens(&t), 50_000);
        // mixed: words around a long run are still tokenized
        let mixed = format!("hello there {} general kenobi", "b".repeat(1000));
        let n = estimate_text_tokens(&mixed);
        assert!((250..=260).contains(&n), "{n}");
        // a long ordinary text is sampled and extrapolated
        let long = "The quick brown fox jumps over the lazy dog. ".repeat(20_000);
        let n = estimate_text_tokens(&long);
        assert!((180_000..=220_000).contains(&n), "{n}");
    }
}
