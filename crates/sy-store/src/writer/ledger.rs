//! What this instance knows of each key's spend: the store's figure as last read or written by
//! this writer, and the charges it holds that the store has not confirmed. Kept by the writer,
//! which is the only one to commit this instance's records, so both halves change together
//! under one lock and a key's spend is never counted twice or missed when a batch commits.

use std::collections::HashMap;

/// A key's spend as this instance knows it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KeySpend {
    /// `usage` in the store, as last read or written here (`None`: not known yet).
    pub stored: Option<f64>,
    /// Charged here (or found in the journal at start-up) and not yet confirmed by the store.
    pub unwritten: f64,
    /// The key is gone from the store (deleted here or by another instance).
    pub deleted: bool,
}

impl KeySpend {
    /// Stored plus unwritten: what the key has spent as far as this instance can tell.
    #[must_use]
    pub fn total(&self, fallback_stored: f64) -> f64 {
        self.stored.unwrap_or(fallback_stored) + self.unwritten
    }
}

#[derive(Debug, Default)]
struct Entry {
    spend: KeySpend,
    /// Records behind `unwritten`: when it reaches 0 the sum is reset to exactly 0, so float
    /// leftovers of additions and subtractions never accumulate.
    records: u64,
    /// Someone uses this key: refresh its stored figure, keep the entry when nothing is owed.
    watched: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Ledger {
    keys: HashMap<String, Entry>,
}

impl Ledger {
    /// A record charging `cost` to `key` was accepted.
    pub fn charge(&mut self, key: Option<&str>, cost: f64) {
        if let Some(key) = key {
            let e = self.keys.entry(key.to_owned()).or_default();
            e.spend.unwritten += cost;
            e.records += 1;
        }
    }

    /// A record is in the store now (or will never be): it is no longer owed.
    pub fn settled(&mut self, key: Option<&str>, cost: f64) {
        let Some(key) = key else { return };
        let Some(e) = self.keys.get_mut(key) else {
            return;
        };
        e.records = e.records.saturating_sub(1);
        e.spend.unwritten = if e.records == 0 {
            0.0
        } else {
            (e.spend.unwritten - cost).max(0.0)
        };
        if e.records == 0 && !e.watched {
            self.keys.remove(key);
        }
    }

    /// The store's figure after this writer charged the key.
    pub fn stored(&mut self, key: &str, usage: f64) {
        if let Some(e) = self.keys.get_mut(key) {
            e.spend.stored = Some(usage);
        }
    }

    /// Starts following a key; `stored` is the figure the caller read, used only while the
    /// ledger has none (a figure this writer wrote or refreshed is as new or newer).
    pub fn watch(&mut self, key: &str, stored: f64) {
        let e = self.keys.entry(key.to_owned()).or_default();
        e.watched = true;
        e.spend.stored.get_or_insert(stored);
    }

    pub fn unwatch(&mut self, key: &str) {
        if let Some(e) = self.keys.get_mut(key) {
            e.watched = false;
            if e.records == 0 {
                self.keys.remove(key);
            }
        }
    }

    pub fn deleted(&mut self, key: &str) {
        if let Some(e) = self.keys.get_mut(key) {
            e.spend.deleted = true;
        }
    }

    pub fn watched(&self) -> Vec<String> {
        self.keys
            .iter()
            .filter(|(_, e)| e.watched && !e.spend.deleted)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The store answered for `asked`: each found key's usage; the missing ones are deleted.
    pub fn refreshed(&mut self, asked: &[String], found: &HashMap<String, f64>) {
        for key in asked {
            if let Some(e) = self.keys.get_mut(key) {
                match found.get(key) {
                    Some(&usage) => e.spend.stored = Some(usage),
                    None => e.spend.deleted = true,
                }
            }
        }
    }

    pub fn spend(&self, key: &str) -> Option<KeySpend> {
        self.keys.get(key).map(|e| e.spend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_returns_to_exactly_zero() {
        let mut l = Ledger::default();
        l.watch("k", 1.0);
        for _ in 0..3 {
            l.charge(Some("k"), 0.1);
        }
        for _ in 0..3 {
            l.settled(Some("k"), 0.1);
        }
        let s = l.spend("k").unwrap();
        assert_eq!(s.unwritten, 0.0);
        assert_eq!(s.total(0.0), 1.0);
    }

    #[test]
    fn a_refresh_marks_missing_keys_deleted_and_keeps_what_is_owed() {
        let mut l = Ledger::default();
        l.watch("a", 0.0);
        l.watch("b", 0.0);
        l.charge(Some("a"), 0.5);
        let found = HashMap::from([("a".to_owned(), 2.0)]);
        l.refreshed(&["a".to_owned(), "b".to_owned()], &found);
        assert_eq!(l.spend("a").unwrap().total(0.0), 2.5);
        assert!(l.spend("b").unwrap().deleted);
        assert_eq!(l.watched(), vec!["a".to_owned()]);
    }

    #[test]
    fn an_unwatched_key_is_forgotten_once_nothing_is_owed() {
        let mut l = Ledger::default();
        l.charge(Some("k"), 0.25);
        assert_eq!(l.spend("k").unwrap().stored, None);
        l.stored("k", 3.0);
        l.settled(Some("k"), 0.25);
        assert_eq!(l.spend("k"), None);
    }
}
