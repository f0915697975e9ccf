//! Generation records of finished requests, kept in memory (bounded, oldest dropped first).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

pub struct Generations {
    cap: usize,
    inner: Mutex<(HashMap<String, Value>, VecDeque<String>)>,
}

impl Generations {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub fn insert(&self, id: String, record: Value) {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (map, order) = &mut *g;
        if map.insert(id.clone(), record).is_none() {
            order.push_back(id);
        }
        while order.len() > self.cap {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<Value> {
        let g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.0.get(id).cloned()
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
            .filter_map(|id| g.0.get(id).cloned())
            .collect()
    }
}
