//! Generation records of finished requests, kept in memory (bounded, oldest dropped first) as
//! compact JSON text: a `serde_json::Value` tree takes several times the memory of its text, and
//! records are read back rarely (`/generation` before the store has them, the dashboard).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

/// Record text by id, and ids oldest first.
type Records = (HashMap<String, Box<str>>, VecDeque<String>);

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

    pub fn insert(&self, id: String, record: Box<str>) {
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
        g.0.get(id).and_then(|t| serde_json::from_str(t).ok())
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
            .filter_map(|id| g.0.get(id).and_then(|t| serde_json::from_str(t).ok()))
            .collect()
    }
}
