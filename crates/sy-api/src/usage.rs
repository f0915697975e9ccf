//! Token usage and cost as the client sees it (SPEC §4.4, §4.9).

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Includes cached and cache-written tokens.
    pub prompt_tokens: u64,
    /// Includes reasoning tokens.
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// Prompt tokens read from the provider's cache.
    pub cached_tokens: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write_tokens: u64,
    /// Completion tokens spent reasoning.
    pub reasoning_tokens: u64,
    /// USD, from the endpoint's configured prices.
    pub cost: f64,
    /// True when some of the counts were estimated with a tokenizer (upstream reported none).
    pub estimated: bool,
}

impl Usage {
    /// Adds another attempt's usage (a resumed stream is billed for every endpoint it used).
    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
        self.cached_tokens += other.cached_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.cost += other.cost;
        self.estimated |= other.estimated;
    }
}

/// OpenAI's (and OpenRouter's) shape: the counts, `cost`, and the token details objects.
impl Serialize for Usage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("prompt_tokens", &self.prompt_tokens)?;
        m.serialize_entry("completion_tokens", &self.completion_tokens)?;
        m.serialize_entry("total_tokens", &self.total_tokens)?;
        m.serialize_entry("cost", &self.cost)?;
        m.serialize_entry(
            "prompt_tokens_details",
            &Details2(
                "cached_tokens",
                self.cached_tokens,
                "cache_write_tokens",
                self.cache_write_tokens,
            ),
        )?;
        m.serialize_entry(
            "completion_tokens_details",
            &Details1("reasoning_tokens", self.reasoning_tokens),
        )?;
        if self.estimated {
            m.serialize_entry("estimated", &true)?;
        }
        m.end()
    }
}

struct Details1(&'static str, u64);
struct Details2(&'static str, u64, &'static str, u64);

impl Serialize for Details1 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, &self.1)?;
        m.end()
    }
}

impl Serialize for Details2 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry(self.0, &self.1)?;
        m.serialize_entry(self.2, &self.3)?;
        m.end()
    }
}
