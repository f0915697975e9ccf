//! Where a finished request's money and record go (SPEC §8): its cost charged to its key (at
//! once in memory, and on the cluster's shared counter), its generation record kept in memory
//! for a quick `/generation` and handed to the store's writer. The request path calls `settle`
//! exactly once per request, whatever ended it.

use std::sync::Arc;

use crate::keys::LiveKey;
use crate::state::AppState;

/// One finished request, as accounting needs it.
pub struct Settle<'a> {
    pub gen_id: &'a str,
    /// The calling key; `None` on an open gateway or for the master key.
    pub key: Option<&'a Arc<LiveKey>>,
    /// Unix seconds.
    pub created: u64,
    /// USD, every attempt together.
    pub cost: f64,
    /// The generation record of SPEC §4 (`GET /generation`).
    pub record: serde_json::Value,
}

/// Charges and records a finished request. Never waits.
pub fn settle(state: &AppState, s: Settle<'_>) {
    let cost = s.cost;
    if let Some(k) = s.key {
        k.charge(cost);
        if let Some(c) = &state.cluster {
            let (k, c) = (Arc::clone(k), Arc::clone(c));
            state
                .tasks
                .spawn(async move { k.charge_shared(&c, cost).await });
        }
    }
    let text = s.record.to_string();
    state
        .generations
        .insert(s.gen_id.to_owned(), text.clone().into_boxed_str());
    if let Some(st) = &state.storage {
        let g = sy_store::Generation {
            id: s.gen_id.to_owned(),
            key_id: s.key.map(|k| k.id.clone()),
            created_at: i64::try_from(s.created).unwrap_or(i64::MAX),
            cost,
            record: text,
        };
        if !st.writer.submit(g) {
            tracing::error!(id = %s.gen_id, backlog = st.writer.backlog(), "generation record dropped: the store's write queue is full");
        }
    }
}
