//! Stored Responses (SPEC §4.7): kept under the key that made them, read and deleted only by it.

use sqlx::Row;

use crate::error::StoreError;
use crate::store::{with_pool, Store};

/// One stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The response's id (the gateway's `gen-...`).
    pub id: String,
    /// The key's id; empty for the master key or an open gateway.
    pub owner: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The provider that answered (the issuer of its encrypted reasoning).
    pub provider: String,
    /// JSON array: the conversation's input items up to this response.
    pub items: String,
    /// JSON: the response object.
    pub response: String,
}

impl Store {
    /// Keeps a response (a second write of the same id replaces it).
    ///
    /// # Errors
    /// The driver's error.
    pub async fn put_response(&self, r: &StoredResponse) -> Result<(), StoreError> {
        self.ready().await?;
        const SQL: &str =
            "INSERT INTO responses (id, owner, created_at, provider, items, response) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET items = excluded.items, response = excluded.response";
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(&r.id)
            .bind(&r.owner)
            .bind(r.created_at)
            .bind(&r.provider)
            .bind(&r.items)
            .bind(&r.response)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The response `id` if `owner` made it (another owner's is as unknown as a missing one).
    ///
    /// # Errors
    /// The driver's error.
    pub async fn get_response(
        &self,
        id: &str,
        owner: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        self.ready().await?;
        const SQL: &str = "SELECT id, owner, created_at, provider, items, response FROM responses \
             WHERE id = $1 AND owner = $2";
        let row = with_pool!(self, pool => {
            let row = sqlx::query(SQL).bind(id).bind(owner).fetch_optional(pool).await?;
            row.map(|r| -> Result<StoredResponse, sqlx::Error> {
                Ok(StoredResponse {
                    id: r.try_get("id")?,
                    owner: r.try_get("owner")?,
                    created_at: r.try_get("created_at")?,
                    provider: r.try_get("provider")?,
                    items: r.try_get("items")?,
                    response: r.try_get("response")?,
                })
            })
            .transpose()
        })?;
        Ok(row)
    }

    /// Deletes the response `id` if `owner` made it; whether there was one.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn delete_response(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
        self.ready().await?;
        const SQL: &str = "DELETE FROM responses WHERE id = $1 AND owner = $2";
        let n = with_pool!(self, pool => sqlx::query(SQL)
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}
