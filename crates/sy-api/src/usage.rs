//! Token usage and cost as the client sees it (SPEC §4.4).

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// USD, from the endpoint's configured prices.
    pub cost: f64,
    /// True when some of the counts were estimated with a tokenizer (upstream reported none).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

impl Usage {
    /// Adds another attempt's usage (a resumed stream is billed for every endpoint it used).
    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
        self.cost += other.cost;
        self.estimated |= other.estimated;
    }
}
