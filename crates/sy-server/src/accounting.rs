//! Where a finished request's money and record go (SPEC §8): its generation record kept in
//! memory (with the key it belongs to, for a quick and tenant-checked `/generation`) and
//! handed to the store's writer — which owes the charge to the key from that moment, keeps
//! the record on local disk until the store has it, and writes record and charge together,
//! once per generation id — and, with `[cluster]`, its cost added to the key's shared counter
//! on Redis, also once per generation id. The request path calls `settle` exactly once per
//! request, whatever ended it.
//!
//! `admission` is the other half: a new request is refused (503) while finished ones could
//! not be kept — the journal cannot be written (disk full, `journal_max_bytes`) — so that
//! nothing the gateway answers is ever dropped.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sy_api::ApiError;

use crate::keys::LiveKey;
use crate::respond::Failed;
use crate::state::AppState;

/// What a client refused for lack of disk is told to wait before trying again.
const RETRY_AFTER_S: u64 = 5;

/// One finished request, as accounting needs it.
pub struct Settle<'a> {
    /// `gen-...`: the record's id, and what makes its charges idempotent.
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
    let text = s.record.to_string();
    let key_id = s.key.map(|k| k.id.clone());
    state.generations.insert(
        s.gen_id.to_owned(),
        key_id.clone(),
        text.clone().into_boxed_str(),
    );
    if let Some(st) = &state.storage {
        let g = sy_store::Generation {
            id: s.gen_id.to_owned(),
            key_id,
            created_at: i64::try_from(s.created).unwrap_or(i64::MAX),
            cost: s.cost,
            record: text,
        };
        // refused only when invalid (a cost that is not a finite, non-negative number), or
        // after shutdown; logged and counted (`switchyard_records_dropped_total`) by the writer
        if !st.writer.submit(g) {
            tracing::error!(id = %s.gen_id, "generation record not kept");
        }
    }
    if let (Some(k), Some(c)) = (s.key, &state.cluster) {
        let (k, c, gen_id, cost) = (Arc::clone(k), Arc::clone(c), s.gen_id.to_owned(), s.cost);
        state
            .tasks
            .spawn(async move { k.charge_shared(&c, &gen_id, cost).await });
    }
}

/// Whether a new request may start: 503 in the error shape while the records of finished
/// requests cannot be put on local disk. Cheap (one lock): call it at every request's
/// admission, before anything is spent.
pub fn admission(state: &AppState) -> Result<(), ApiError> {
    match &state.storage {
        Some(s) if !s.writer.accepting() => Err(ApiError::new(
            503,
            "new requests are refused: the records of finished ones cannot be kept on local \
             disk (the journal is full or the disk is) while the store is behind; they are held \
             in memory and written when the store catches up",
        )
        .with("reason", "journal_unwritable".into())),
        _ => Ok(()),
    }
}

/// `admission` as a route layer, with `Retry-After`.
pub async fn refuse_when_full(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(e) = admission(&state) {
        let mut r = Failed(e).into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
        return r;
    }
    next.run(request).await
}
