//! API keys (SPEC §8): created with a label and an optional USD limit, the
//! secret shown once and stored as its SHA-256, looked up by that hash.

use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::StoreError;
use crate::store::{with_pool, Store};

/// Every secret starts with this.
pub const SECRET_PREFIX: &str = "sk-sy-";
const SECRET_RANDOM_LEN: usize = 48;
const ID_PREFIX: &str = "key_";
const ID_RANDOM_LEN: usize = 16;

/// A key as the API shows it: never its secret nor the secret's hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyRecord {
    /// Public id, `key_` + 16 alphanumerics.
    pub id: String,
    /// Free text given at creation.
    pub label: String,
    /// USD; `None` is unlimited.
    pub limit: Option<f64>,
    /// USD charged so far.
    pub usage: f64,
    /// Unix seconds.
    pub created_at: i64,
    /// Requests per minute; `None` is unlimited.
    pub rpm: Option<u32>,
    /// The key's guardrails as a JSON object (SPEC §8, "Keys as guardrails"); `None`: none.
    /// The server parses and validates it; the store keeps it as text.
    pub guardrails: Option<String>,
    /// The team the key belongs to, by name.
    pub team: Option<String>,
    /// Unix seconds of the last change (`None`: never changed).
    pub updated_at: Option<i64>,
}

/// What a `PATCH` changes: `None` leaves a field as it is; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyChange {
    pub label: Option<String>,
    pub limit: Option<Option<f64>>,
    pub rpm: Option<Option<u32>>,
    pub guardrails: Option<Option<String>>,
    pub team: Option<Option<String>>,
}

/// A new key's settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewKey {
    pub label: String,
    pub limit: Option<f64>,
    pub rpm: Option<u32>,
    pub guardrails: Option<String>,
    pub team: Option<String>,
}

impl KeyRecord {
    /// USD left before the limit, never negative; `None` when unlimited.
    #[must_use]
    pub fn remaining(&self) -> Option<f64> {
        self.limit.map(|limit| (limit - self.usage).max(0.0))
    }

    /// True when the key has reached its limit (SPEC §4.5: 402 before any upstream).
    #[must_use]
    pub fn exhausted(&self) -> bool {
        self.limit.is_some_and(|limit| self.usage >= limit)
    }
}

/// SHA-256 of the secret, lowercase hex: what the database holds.
fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_alnum(len: usize) -> String {
    // ThreadRng is a CSPRNG reseeded from the OS: fit for secrets.
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

const KEY_COLUMNS: &str =
    "id, label, limit_usd, usage_usd, created_at, rpm_limit, guardrails, team, updated_at";

fn key_from_row<R: Row>(row: &R) -> Result<KeyRecord, sqlx::Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(KeyRecord {
        id: row.try_get("id")?,
        label: row.try_get("label")?,
        limit: row.try_get("limit_usd")?,
        usage: row.try_get("usage_usd")?,
        created_at: row.try_get("created_at")?,
        rpm: row
            .try_get::<Option<i64>, _>("rpm_limit")?
            .and_then(|v| u32::try_from(v).ok()),
        guardrails: row.try_get("guardrails")?,
        team: row.try_get("team")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn check_limit(limit: Option<f64>) -> Result<(), StoreError> {
    if limit.is_some_and(|l| !l.is_finite() || l < 0.0) {
        return Err(StoreError::Invalid {
            field: "limit",
            reason: "must be a finite, non-negative number of USD",
        });
    }
    Ok(())
}

impl Store {
    /// Creates a key; returns it with its secret (`sk-sy-` + 48
    /// alphanumerics), which is not kept and cannot be shown again.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a negative or non-finite limit; the driver's error.
    pub async fn create_key(
        &self,
        label: &str,
        limit: Option<f64>,
    ) -> Result<(KeyRecord, String), StoreError> {
        self.create_key_with(label, limit, None).await
    }

    /// [`Store::create_key`] with a requests-per-minute limit (`None`: unlimited).
    ///
    /// # Errors
    /// As [`Store::create_key`]; [`StoreError::Invalid`] for an `rpm` of 0.
    pub async fn create_key_with(
        &self,
        label: &str,
        limit: Option<f64>,
        rpm: Option<u32>,
    ) -> Result<(KeyRecord, String), StoreError> {
        self.create_key_new(&NewKey {
            label: label.to_owned(),
            limit,
            rpm,
            ..NewKey::default()
        })
        .await
    }

    /// Creates a key with its guardrails and team in one statement (a key never exists
    /// without its guardrails); returns it with its secret.
    ///
    /// # Errors
    /// As [`Store::create_key_with`].
    pub async fn create_key_new(&self, new: &NewKey) -> Result<(KeyRecord, String), StoreError> {
        if new.rpm == Some(0) {
            return Err(StoreError::Invalid {
                field: "rpm",
                reason: "must be at least 1 request per minute",
            });
        }
        check_limit(new.limit)?;
        if new.label.contains('\0') {
            return Err(StoreError::Invalid {
                field: "label",
                reason: "must not contain NUL",
            });
        }
        self.ready().await?;
        let secret = format!("{SECRET_PREFIX}{}", random_alnum(SECRET_RANDOM_LEN));
        let key = KeyRecord {
            id: format!("{ID_PREFIX}{}", random_alnum(ID_RANDOM_LEN)),
            label: new.label.clone(),
            limit: new.limit,
            usage: 0.0,
            created_at: unix_now(),
            rpm: new.rpm,
            guardrails: new.guardrails.clone(),
            team: new.team.clone(),
            updated_at: None,
        };
        let sql = "INSERT INTO keys (id, secret_hash, label, limit_usd, usage_usd, created_at, rpm_limit, guardrails, team) \
                   VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8)";
        with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(&key.id)
                .bind(hash_secret(&secret))
                .bind(&key.label)
                .bind(key.limit)
                .bind(key.created_at)
                .bind(key.rpm.map(i64::from))
                .bind(key.guardrails.as_deref())
                .bind(key.team.as_deref())
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok((key, secret))
    }

    /// Changes a key's settings (never its secret nor its usage); the key after the change,
    /// `None` when there is no such key.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a bad limit or an `rpm` of 0; the driver's error.
    pub async fn update_key(
        &self,
        id: &str,
        change: &KeyChange,
    ) -> Result<Option<KeyRecord>, StoreError> {
        if change.rpm == Some(Some(0)) {
            return Err(StoreError::Invalid {
                field: "rpm",
                reason: "must be at least 1 request per minute",
            });
        }
        check_limit(change.limit.flatten())?;
        self.ready().await?;
        let now = unix_now();
        let changed = with_pool!(self, pool => {
            let mut q = sqlx::QueryBuilder::new("UPDATE keys SET updated_at = ");
            q.push_bind(now);
            if let Some(label) = &change.label {
                q.push(", label = ").push_bind(label.clone());
            }
            if let Some(limit) = change.limit {
                q.push(", limit_usd = ").push_bind(limit);
            }
            if let Some(rpm) = change.rpm {
                q.push(", rpm_limit = ").push_bind(rpm.map(i64::from));
            }
            if let Some(g) = &change.guardrails {
                q.push(", guardrails = ").push_bind(g.clone());
            }
            if let Some(t) = &change.team {
                q.push(", team = ").push_bind(t.clone());
            }
            q.push(" WHERE id = ").push_bind(id.to_owned());
            q.build().persistent(false).execute(pool).await?.rows_affected()
        });
        if changed == 0 {
            return Ok(None);
        }
        self.key(id).await
    }

    /// The keys with these ids that still exist.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn keys_by_ids(&self, ids: &[String]) -> Result<Vec<KeyRecord>, StoreError> {
        self.ready().await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows = with_pool!(self, pool => {
                let mut q = sqlx::QueryBuilder::new(format!("SELECT {KEY_COLUMNS} FROM keys WHERE id IN ("));
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id.as_str());
                }
                q.push(")");
                q.build()
                    .persistent(false)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(key_from_row)
                    .collect::<Result<Vec<_>, _>>()
            })?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Each key's spend since each of `since` (unix seconds), by its generation records:
    /// `[spend since since[0], since[1], since[2]]` per key id (keys without records absent).
    ///
    /// # Errors
    /// The driver's error.
    pub async fn key_spend_since(
        &self,
        ids: &[String],
        since: [i64; 3],
    ) -> Result<std::collections::HashMap<String, [f64; 3]>, StoreError> {
        self.ready().await?;
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        let earliest = since.iter().copied().min().unwrap_or(0);
        for chunk in ids.chunks(500) {
            let rows: Vec<(String, f64, f64, f64)> = with_pool!(self, pool => {
                let mut q = sqlx::QueryBuilder::new("SELECT key_id, ");
                for (i, s) in since.iter().enumerate() {
                    if i > 0 {
                        q.push(", ");
                    }
                    q.push("CAST(COALESCE(SUM(CASE WHEN created_at >= ")
                        .push_bind(*s)
                        .push(" THEN cost ELSE 0 END), 0) AS DOUBLE PRECISION)");
                }
                q.push(" FROM generations WHERE created_at >= ").push_bind(earliest);
                q.push(" AND key_id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id.as_str());
                }
                q.push(") GROUP BY key_id");
                q.build_query_as().persistent(false).fetch_all(pool).await?
            });
            out.extend(rows.into_iter().map(|(id, a, b, c)| (id, [a, b, c])));
        }
        Ok(out)
    }

    /// Every key, oldest first.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.ready().await?;
        let sql = format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY created_at, id");
        let keys = with_pool!(self, pool => {
            sqlx::query(&sql)
                .fetch_all(pool)
                .await?
                .iter()
                .map(key_from_row)
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(keys)
    }

    /// Deletes a key; true when it existed. Its generation records stay.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn delete_key(&self, id: &str) -> Result<bool, StoreError> {
        self.ready().await?;
        let deleted = with_pool!(self, pool => {
            sqlx::query("DELETE FROM keys WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// The key whose secret this is, found by the secret's hash.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn key_by_secret(&self, secret: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.ready().await?;
        let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE secret_hash = $1");
        let hash = hash_secret(secret);
        let key = with_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(&hash)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(key_from_row)
                .transpose()
        })?;
        Ok(key)
    }

    /// The usage of each of these keys that still exists (a deleted key is absent), for
    /// instances that share the database to see each other's charges and deletions.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn key_usages(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, f64>, StoreError> {
        self.ready().await?;
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        // bounded statements: a bind list of thousands is slow to plan on PostgreSQL
        for chunk in ids.chunks(500) {
            let rows: Vec<(String, f64)> = with_pool!(self, pool => {
                let mut q = sqlx::QueryBuilder::new("SELECT id, usage_usd FROM keys WHERE id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id.as_str());
                }
                q.push(")");
                q.build_query_as().persistent(false).fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// A key's usage without the records that reached the store in the last `recent_ms`
    /// before this read (`None`: no such key), and the time from which they were left out (ms
    /// since the epoch, on the database's clock: PostgreSQL's statement start less
    /// `recent_ms`; on SQLite, which no two hosts share, this host's clock). Everything stored
    /// before that time is in the figure, nothing after it: a shared counter seeded with it is
    /// completed exactly by the charges of the records stored later (`stored_ms`).
    ///
    /// # Errors
    /// The driver's error.
    pub async fn key_usage_before(
        &self,
        id: &str,
        recent_ms: u64,
    ) -> Result<Option<(f64, u64)>, StoreError> {
        self.ready().await?;
        let recent = i64::try_from(recent_ms).unwrap_or(i64::MAX);
        let row: Option<(f64, i64)> = match &self.inner.pool {
            crate::store::Pool::Postgres(pool) => {
                sqlx::query_as(
                    "WITH t AS (SELECT (extract(epoch FROM statement_timestamp()) * 1000)::bigint - $2 AS since) \
                     SELECT k.usage_usd - COALESCE((SELECT sum(g.cost) FROM generations g \
                       WHERE g.key_id = k.id AND g.stored_ms > t.since), 0), t.since \
                     FROM keys k, t WHERE k.id = $1",
                )
                .bind(id)
                .bind(recent)
                .fetch_optional(pool)
                .await?
            }
            crate::store::Pool::Sqlite(pool) => {
                let since = i64::try_from(crate::unix_ms()).unwrap_or(i64::MAX) - recent;
                sqlx::query_as(
                    "SELECT k.usage_usd - COALESCE((SELECT sum(g.cost) FROM generations g \
                       WHERE g.key_id = k.id AND g.stored_ms > $2), 0), $2 \
                     FROM keys k WHERE k.id = $1",
                )
                .bind(id)
                .bind(since)
                .fetch_optional(pool)
                .await?
            }
        };
        Ok(row.map(|(usage, since)| (usage.max(0.0), u64::try_from(since).unwrap_or(0))))
    }

    /// One key by its public id.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.ready().await?;
        let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = $1");
        let key = with_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(key_from_row)
                .transpose()
        })?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn remaining_and_exhausted() {
        let key = |limit, usage| KeyRecord {
            id: "key_x".into(),
            label: String::new(),
            limit,
            usage,
            created_at: 0,
            rpm: None,
            guardrails: None,
            team: None,
            updated_at: None,
        };
        assert_eq!(key(None, 5.0).remaining(), None);
        assert!(!key(None, 5.0).exhausted());
        assert_eq!(key(Some(2.0), 0.5).remaining(), Some(1.5));
        assert!(!key(Some(2.0), 0.5).exhausted());
        assert_eq!(key(Some(2.0), 2.5).remaining(), Some(0.0));
        assert!(key(Some(2.0), 2.0).exhausted());
    }
}
