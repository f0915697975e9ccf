//! Generation records of finished requests, kept in memory (bounded, oldest dropped first) as
//! compact JSON text: a `serde_json::Value` tree takes several times the memory of its text, and
//! records are read back rarely (`/generation` before the store has them, the dashboard). Each
//! keeps the id of the key it was charged to, so a key is shown only its own.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

/// (owning key, record text) by id, and ids oldest first.
type Records = (
    HashMap<String, (Option<String>, Box<str>)>,
    VecDeque<String>,
);

pub struct Generations {
    cap: usize,
    inner: Mutex<Records>,
}

impl Generations {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub fn insert(&self, id: String, key_id: Option<String>, record: Box<str>) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (map, order) = &mut *g;
        if map.insert(id.clone(), (key_id, record)).is_none() {
            order.push_back(id);
        }
        while order.len() > self.cap {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    /// The record and the key it belongs to (`None`: no key was charged).
    pub fn get(&self, id: &str) -> Option<(Option<String>, Value)> {
        let g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (key, text) = g.0.get(id)?;
        Some((key.clone(), serde_json::from_str(text).ok()?))
    }

    /// The newest records, newest first.
    pub fn latest(&self, n: usize) -> Vec<Value> {
        let g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.1.iter()
            .rev()
            .take(n)
            .filter_map(|id| g.0.get(id).and_then(|(_, t)| serde_json::from_str(t).ok()))
            .collect()
    }
}
