//! What this instance knows of each key's spend: the store's figure as last read or written by
//! this writer, and the charges it holds that the store has not confirmed. Kept by the writer,
//! which is the only one to commit this instance's records, so both halves change together
//! under one lock and a key's spend is never counted twice or missed when a batch commits.
//! It also knows, by generation id, which records charging a key are not in the store yet and
//! when the others got there (for a minute), for the cluster's charges to tell whether a record
//! was already in the store when Redis's counter was rebuilt from it.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// How long the commit time of a record is remembered: far longer than a charge waits for
/// Redis while it answers (half a second between tries).
const COMMITS_KEPT: Duration = Duration::from_secs(60);

/// Whether (since when) the store has a record, as this writer knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Not yet.
    Pending,
    /// In the store since this time (ms since the epoch on the database's clock: the writing
    /// transaction's start, the `stored_ms` of its row).
    Since(u64),
    /// Not a record this writer holds or committed in the last minute.
    Unknown,
}

#[derive(Debug)]
struct Record {
    key: String,
    cost: f64,
    committed_ms: Option<u64>,
}

#[cfg(test)]
fn unix_ms() -> u64 {
    crate::unix_ms()
}

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
    /// When a record of this key last reached the store (ms since the epoch).
    last_stored_ms: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Ledger {
    keys: HashMap<String, Entry>,
    /// Records charging a key: not in the store yet, or committed within `COMMITS_KEPT`.
    records: HashMap<String, Record>,
    /// (commit time, id), oldest first: when to forget a committed record.
    committed: VecDeque<(u64, String)>,
}

impl Ledger {
    /// A record (generation `id`) charging `cost` to `key` was accepted.
    pub fn charge(&mut self, id: &str, key: Option<&str>, cost: f64) {
        if let Some(key) = key {
            let e = self.keys.entry(key.to_owned()).or_default();
            e.spend.unwritten += cost;
            e.records += 1;
            self.records.insert(
                id.to_owned(),
                Record {
                    key: key.to_owned(),
                    cost,
                    committed_ms: None,
                },
            );
        }
    }

    /// Whether (since when) the store has this record (only records charging a key).
    pub fn stored(&self, id: &str) -> Stored {
        match self.records.get(id) {
            None => Stored::Unknown,
            Some(r) => r.committed_ms.map_or(Stored::Pending, Stored::Since),
        }
    }

    /// This key's records the store did not have at `since_ms`: those not in it yet, and those
    /// committed after (with their commit time) — (id, cost, commit ms or 0).
    pub fn stored_after(&self, key: &str, since_ms: u64) -> Vec<(String, f64, u64)> {
        self.records
            .iter()
            .filter(|(_, r)| r.key == key && r.committed_ms.is_none_or(|c| c > since_ms))
            .map(|(id, r)| (id.clone(), r.cost, r.committed_ms.unwrap_or(0)))
            .collect()
    }

    /// Whether this writer holds, or committed within the last minute, a record of this key.
    pub fn active(&self, key: &str, now_ms: u64) -> bool {
        let kept = u64::try_from(COMMITS_KEPT.as_millis()).unwrap_or(u64::MAX);
        self.keys
            .get(key)
            .is_some_and(|e| e.records > 0 || now_ms.saturating_sub(e.last_stored_ms) < kept)
    }

    /// A record is in the store since `at_ms` (or will never be): it is no longer owed.
    pub fn settled(&mut self, id: &str, key: Option<&str>, cost: f64, at_ms: u64) {
        let Some(key) = key else { return };
        let now = at_ms;
        if let Some(r) = self.records.get_mut(id) {
            r.committed_ms = Some(now);
            self.committed.push_back((now, id.to_owned()));
        }
        let kept = u64::try_from(COMMITS_KEPT.as_millis()).unwrap_or(u64::MAX);
        let keep_from = now.saturating_sub(kept);
        while self
            .committed
            .front()
            .is_some_and(|(at, _)| *at < keep_from)
        {
            if let Some((_, old)) = self.committed.pop_front() {
                self.records.remove(&old);
            }
        }
        let Some(e) = self.keys.get_mut(key) else {
            return;
        };
        e.last_stored_ms = e.last_stored_ms.max(at_ms);
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
    pub fn stored_usage(&mut self, key: &str, usage: f64) {
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
        for i in 0..3 {
            l.charge(&format!("g{i}"), Some("k"), 0.1);
        }
        assert_eq!(l.stored("g1"), Stored::Pending);
        assert_eq!(l.stored_after("k", 0).len(), 3);
        for i in 0..3 {
            l.settled(&format!("g{i}"), Some("k"), 0.1, unix_ms());
        }
        let Stored::Since(at) = l.stored("g1") else {
            panic!("committed: {:?}", l.stored("g1"));
        };
        assert_eq!(l.stored_after("k", at).len(), 0, "all committed by then");
        assert_eq!(l.stored_after("k", at - 1).len(), 3);
        assert_eq!(l.stored("nope"), Stored::Unknown);
        let s = l.spend("k").unwrap();
        assert_eq!(s.unwritten, 0.0);
        assert_eq!(s.total(0.0), 1.0);
    }

    #[test]
    fn a_refresh_marks_missing_keys_deleted_and_keeps_what_is_owed() {
        let mut l = Ledger::default();
        l.watch("a", 0.0);
        l.watch("b", 0.0);
        l.charge("g", Some("a"), 0.5);
        let found = HashMap::from([("a".to_owned(), 2.0)]);
        l.refreshed(&["a".to_owned(), "b".to_owned()], &found);
        assert_eq!(l.spend("a").unwrap().total(0.0), 2.5);
        assert!(l.spend("b").unwrap().deleted);
        assert_eq!(l.watched(), vec!["a".to_owned()]);
    }

    #[test]
    fn an_unwatched_key_is_forgotten_once_nothing_is_owed() {
        let mut l = Ledger::default();
        l.charge("g", Some("k"), 0.25);
        assert_eq!(l.spend("k").unwrap().stored, None);
        l.stored_usage("k", 3.0);
        l.settled("g", Some("k"), 0.25, unix_ms());
        assert_eq!(l.spend("k"), None);
    }
}
