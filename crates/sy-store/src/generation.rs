//! Generation records: one per finished request, inserted together with the
//! charge of its cost to its key, in one transaction, at most once per id.

use std::borrow::Borrow;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::StoreError;
use crate::store::{with_pool, Store};

/// A finished request, as the server hands it over for storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// `gen-...`: the key for `/generation?id=` and for idempotence.
    pub id: String,
    /// The key charged, `None` when auth is off (nothing is charged).
    pub key_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// USD, all attempts together; finite and non-negative.
    pub cost: f64,
    /// The full record the server built (model, provider, attempts, tokens, ...), as JSON
    /// text: serialised once by the server, it waits in the writer's queue at the size of its
    /// text rather than of a `serde_json::Value` tree (several times larger).
    pub record: String,
}

impl Generation {
    /// Refuses what would corrupt usage (a NaN cost poisons a key forever)
    /// or that a backend cannot store (NUL in TEXT on PostgreSQL).
    ///
    /// # Errors
    /// [`StoreError::Invalid`] naming the field.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.id.is_empty() || self.id.contains('\0') {
            return Err(StoreError::Invalid {
                field: "id",
                reason: "must be non-empty and free of NUL",
            });
        }
        if self.key_id.as_deref().is_some_and(|k| k.contains('\0')) {
            return Err(StoreError::Invalid {
                field: "key_id",
                reason: "must be free of NUL",
            });
        }
        if self.record.contains('\0') {
            return Err(StoreError::Invalid {
                field: "record",
                reason: "must be free of NUL (JSON escapes it)",
            });
        }
        if !self.cost.is_finite() || self.cost < 0.0 {
            return Err(StoreError::Invalid {
                field: "cost",
                reason: "must be a finite, non-negative number of USD",
            });
        }
        Ok(())
    }
}

const CHARGE: &str = "UPDATE keys SET usage_usd = usage_usd + $1 WHERE id = $2 RETURNING usage_usd";

/// What one committed batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Recorded {
    /// Records inserted (the others were already stored).
    pub new: usize,
    /// Each key charged by the batch, with its usage right after the charge (every instance's
    /// charges before it included).
    pub usage: Vec<(String, f64)>,
    /// The records' `stored_ms`: ms since the epoch on the database's clock (see
    /// `Store::key_usage_before`).
    pub stored_ms: u64,
}

/// The query reading the database's clock for `stored_ms`, where it has one of its own.
fn stored_ms_sql(store: &Store) -> Option<&'static str> {
    match &store.inner.pool {
        crate::store::Pool::Postgres(_) => {
            Some("SELECT (extract(epoch FROM now()) * 1000)::bigint")
        }
        crate::store::Pool::Sqlite(_) => None,
    }
}

impl Store {
    /// Stores a finished request and adds its cost to its key's usage, in one
    /// transaction. Idempotent on `rec.id`: returns true when this call
    /// inserted (and charged) it, false when the id was already recorded.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] (see [`Generation::validate`]); the driver's
    /// error, in which case nothing was written.
    pub async fn record(&self, rec: &Generation) -> Result<bool, StoreError> {
        Ok(self.record_batch(std::slice::from_ref(rec)).await? == 1)
    }

    /// [`Store::record`] for many records in one transaction (one commit,
    /// one fsync): all are written or none. Returns how many were new.
    ///
    /// # Errors
    /// As [`Store::record`]; nothing is written when any record is invalid.
    pub async fn record_batch(&self, recs: &[Generation]) -> Result<usize, StoreError> {
        Ok(self.write_batch(recs).await?.new)
    }

    /// [`Store::record_batch`] over anything that lends a [`Generation`], telling also each
    /// charged key's usage after the charge.
    pub(crate) async fn write_batch<G: Borrow<Generation> + Sync>(
        &self,
        recs: &[G],
    ) -> Result<Recorded, StoreError> {
        for rec in recs {
            rec.borrow().validate()?;
        }
        if recs.is_empty() {
            return Ok(Recorded::default());
        }
        self.ready().await?;
        let recorded = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // when these records reach the store, on the database's clock (PostgreSQL: the
            // transaction's start; SQLite, never shared across hosts: this host's clock), kept
            // with them and given back to the writer — one value for both, so that a counter
            // seeded from the store can tell exactly which records it holds
            let stored_ms: i64 = match stored_ms_sql(self) {
                Some(sql) => sqlx::query_scalar(sql).fetch_one(&mut *tx).await?,
                None => i64::try_from(crate::unix_ms()).unwrap_or(i64::MAX),
            };
            // one multi-row statement for the batch (a statement is a round trip to the driver)
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO generations (id, key_id, created_at, cost, record, stored_ms) ",
            );
            insert.push_values(recs, |mut row, rec| {
                let rec = rec.borrow();
                row.push_bind(rec.id.as_str())
                    .push_bind(rec.key_id.as_deref())
                    .push_bind(rec.created_at)
                    .push_bind(rec.cost)
                    .push_bind(rec.record.as_str())
                    .push_bind(stored_ms);
            });
            insert.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
            // not kept as a prepared statement: its text differs with the batch size, and a cache
            // of up to 100 of them per connection grew the process by megabytes over a soak
            let new_ids: Vec<String> = insert
                .build_query_scalar()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await?;
            // Charge only what this transaction inserted: a retry of a write that did commit
            // finds the rows and charges nothing. One update per key.
            let new_ids: std::collections::HashSet<&str> = new_ids.iter().map(String::as_str).collect();
            let mut charges: Vec<(&str, f64)> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for rec in recs {
                let rec = rec.borrow();
                // an id twice in one batch is inserted (and charged) once
                if !new_ids.contains(rec.id.as_str()) || !seen.insert(rec.id.as_str()) {
                    continue;
                }
                if let Some(key_id) = rec.key_id.as_deref().filter(|_| rec.cost > 0.0) {
                    match charges.iter_mut().find(|(k, _)| *k == key_id) {
                        Some((_, sum)) => *sum += rec.cost,
                        None => charges.push((key_id, rec.cost)),
                    }
                }
            }
            // Always in the same order: two instances' batches charging the same keys in
            // different orders would each hold a row the other waits for (a deadlock that
            // PostgreSQL breaks only after a second, stalling both writers).
            charges.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let mut usage = Vec::with_capacity(charges.len());
            for (key_id, cost) in charges {
                // None: the key was deleted; its records are kept, nothing to charge
                let now: Option<f64> = sqlx::query_scalar(CHARGE)
                    .bind(cost)
                    .bind(key_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(now) = now {
                    usage.push((key_id.to_owned(), now));
                }
            }
            tx.commit().await?;
            Recorded { new: seen.len(), usage, stored_ms: u64::try_from(stored_ms).unwrap_or(0) }
        });
        Ok(recorded)
    }

    /// The stored record JSON of one generation.
    ///
    /// # Errors
    /// The driver's error; [`StoreError::Corrupt`] if the stored text is not JSON.
    pub async fn generation(&self, id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(self.generation_of(id).await?.map(|(_, record)| record))
    }

    /// The stored record JSON of one generation with the key it was charged to (`None` when
    /// no key was), so a caller can be shown only its own records.
    ///
    /// # Errors
    /// The driver's error; [`StoreError::Corrupt`] if the stored text is not JSON.
    pub async fn generation_of(
        &self,
        id: &str,
    ) -> Result<Option<(Option<String>, serde_json::Value)>, StoreError> {
        self.ready().await?;
        let row: Option<(Option<String>, String)> = with_pool!(self, pool => {
            match sqlx::query("SELECT key_id, record FROM generations WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
            {
                Some(row) => Some((row.try_get("key_id")?, row.try_get::<String, _>("record")?)),
                None => None,
            }
        });
        row.map(|(key_id, text)| {
            serde_json::from_str(&text)
                .map(|record| (key_id, record))
                .map_err(|source| StoreError::Corrupt {
                    id: id.to_owned(),
                    source,
                })
        })
        .transpose()
    }
}
