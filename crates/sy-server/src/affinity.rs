//! Cache affinity (SPEC §4.2): a request whose stable prefix — tools and every message but the
//! last, at least 1,024 tokens — was served by a healthy endpoint in the last 10 minutes goes to
//! that endpoint first, so the provider's prompt cache is hit.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use sy_api::{Conversation, Request};

const MIN_TOKENS: u64 = 1024;
const TTL_S: f64 = 600.0;
const CAP: usize = 50_000;

/// The key of a request's stable prefix for a model, when it is long enough to be worth caching.
pub fn prefix_key(model_id: &str, req: &Request) -> Option<u64> {
    let conv = &req.conv;
    let bytes = conv.prefix_bytes();
    // a token is at least a byte: short prefixes are ruled out without the tokenizer
    if (bytes as u64) < MIN_TOKENS {
        return None;
    }
    let stable = Conversation {
        system: conv.system.clone(),
        turns: conv.turns[..conv.turns.len().saturating_sub(1)].to_vec(),
        tools: conv.tools.clone(),
        ..Conversation::default()
    };
    if (bytes as u64) < 6 * MIN_TOKENS && sy_providers::estimate_prompt_tokens(&stable) < MIN_TOKENS
    {
        return None;
    }
    let mut h = DefaultHasher::new();
    model_id.hash(&mut h);
    let mut text = String::with_capacity(bytes + 64);
    stable.prompt_text(&mut text);
    text.hash(&mut h);
    Some(h.finish())
}

/// Which provider last served each prefix, and until when that counts.
#[derive(Default)]
pub struct Affinity {
    map: Mutex<HashMap<u64, (String, f64)>>,
}

impl Affinity {
    pub fn get(&self, key: u64, now: f64) -> Option<String> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&key)
            .filter(|(_, until)| *until > now)
            .map(|(p, _)| p.clone())
    }

    pub fn put(&self, key: u64, provider: &str, now: f64) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= CAP {
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= CAP {
                map.clear(); // bounded memory beats a perfect hit rate
            }
        }
        map.insert(key, (provider.to_owned(), now + TTL_S));
    }
}
