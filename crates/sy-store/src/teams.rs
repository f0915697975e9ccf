//! Teams (SPEC §8, "Keys as guardrails"): a name, a USD limit over the spend of the team's
//! keys and how that limit resets (`daily`, `weekly`, `monthly`; the server validates the word).
//! A key names its team (`keys.team`); a team's spend is its keys' spend.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::{with_pool, Store};

/// A team as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamRecord {
    pub name: String,
    /// USD; `None` is unlimited.
    pub limit: Option<f64>,
    /// `daily`, `weekly`, `monthly`; `None`: the limit applies to all spend.
    pub limit_reset: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

/// What a `PATCH` of a team changes (`Some(None)` clears).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TeamChange {
    pub limit: Option<Option<f64>>,
    pub limit_reset: Option<Option<String>>,
}

/// A team's spend: all of it, and since each of the three given times.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TeamSpend {
    pub total: f64,
    pub since: [f64; 3],
}

const TEAM_COLUMNS: &str = "name, limit_usd, limit_reset, created_at, updated_at";

fn team_from_row<R: Row>(row: &R) -> Result<TeamRecord, sqlx::Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(TeamRecord {
        name: row.try_get("name")?,
        limit: row.try_get("limit_usd")?,
        limit_reset: row.try_get("limit_reset")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn unix_now() -> i64 {
    i64::try_from(crate::unix_ms() / 1000).unwrap_or(i64::MAX)
}

impl Store {
    /// Creates a team; `None` when one of that name exists.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a bad limit; the driver's error.
    pub async fn create_team(
        &self,
        name: &str,
        limit: Option<f64>,
        limit_reset: Option<&str>,
    ) -> Result<Option<TeamRecord>, StoreError> {
        if limit.is_some_and(|l| !l.is_finite() || l < 0.0) {
            return Err(StoreError::Invalid {
                field: "limit",
                reason: "must be a finite, non-negative number of USD",
            });
        }
        self.ready().await?;
        let team = TeamRecord {
            name: name.to_owned(),
            limit,
            limit_reset: limit_reset.map(str::to_owned),
            created_at: unix_now(),
            updated_at: None,
        };
        let sql =
            "INSERT INTO teams (name, limit_usd, limit_reset, created_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (name) DO NOTHING";
        let added = with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(&team.name)
                .bind(team.limit)
                .bind(team.limit_reset.as_deref())
                .bind(team.created_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok((added > 0).then_some(team))
    }

    /// Changes a team's limit or reset; the team after, `None` when there is none.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a bad limit; the driver's error.
    pub async fn update_team(
        &self,
        name: &str,
        change: &TeamChange,
    ) -> Result<Option<TeamRecord>, StoreError> {
        if change
            .limit
            .flatten()
            .is_some_and(|l| !l.is_finite() || l < 0.0)
        {
            return Err(StoreError::Invalid {
                field: "limit",
                reason: "must be a finite, non-negative number of USD",
            });
        }
        self.ready().await?;
        let now = unix_now();
        let changed = with_pool!(self, pool => {
            let mut q = sqlx::QueryBuilder::new("UPDATE teams SET updated_at = ");
            q.push_bind(now);
            if let Some(limit) = change.limit {
                q.push(", limit_usd = ").push_bind(limit);
            }
            if let Some(reset) = &change.limit_reset {
                q.push(", limit_reset = ").push_bind(reset.clone());
            }
            q.push(" WHERE name = ").push_bind(name.to_owned());
            q.build().persistent(false).execute(pool).await?.rows_affected()
        });
        if changed == 0 {
            return Ok(None);
        }
        self.team(name).await
    }

    /// One team by name.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn team(&self, name: &str) -> Result<Option<TeamRecord>, StoreError> {
        self.ready().await?;
        let sql = format!("SELECT {TEAM_COLUMNS} FROM teams WHERE name = $1");
        let team = with_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(name)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(team_from_row)
                .transpose()
        })?;
        Ok(team)
    }

    /// Every team, by name.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn list_teams(&self) -> Result<Vec<TeamRecord>, StoreError> {
        self.ready().await?;
        let sql = format!("SELECT {TEAM_COLUMNS} FROM teams ORDER BY name");
        let teams = with_pool!(self, pool => {
            sqlx::query(&sql)
                .fetch_all(pool)
                .await?
                .iter()
                .map(team_from_row)
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(teams)
    }

    /// Deletes a team; its keys leave it (they keep working, without a team). True when it
    /// existed.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn delete_team(&self, name: &str) -> Result<bool, StoreError> {
        self.ready().await?;
        let deleted = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("DELETE FROM teams WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("UPDATE keys SET team = NULL WHERE team = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            n
        });
        Ok(deleted > 0)
    }

    /// The spend of each of these teams' keys: all of it (the keys' usage) and since each of
    /// `since` (unix seconds, by their generation records). Teams without keys are absent.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn team_spend(
        &self,
        names: &[String],
        since: [i64; 3],
    ) -> Result<HashMap<String, TeamSpend>, StoreError> {
        self.ready().await?;
        let mut out: HashMap<String, TeamSpend> = HashMap::with_capacity(names.len());
        let earliest = since.iter().copied().min().unwrap_or(0);
        for chunk in names.chunks(100) {
            let totals: Vec<(String, f64)> = with_pool!(self, pool => {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT team, CAST(COALESCE(SUM(usage_usd), 0) AS DOUBLE PRECISION) FROM keys WHERE team IN (",
                );
                let mut list = q.separated(", ");
                for n in chunk {
                    list.push_bind(n.as_str());
                }
                q.push(") GROUP BY team");
                q.build_query_as().persistent(false).fetch_all(pool).await?
            });
            for (team, total) in totals {
                out.entry(team).or_default().total = total;
            }
            let periods: Vec<(String, f64, f64, f64)> = with_pool!(self, pool => {
                let mut q = sqlx::QueryBuilder::new("SELECT k.team, ");
                for (i, s) in since.iter().enumerate() {
                    if i > 0 {
                        q.push(", ");
                    }
                    q.push("CAST(COALESCE(SUM(CASE WHEN g.created_at >= ")
                        .push_bind(*s)
                        .push(" THEN g.cost ELSE 0 END), 0) AS DOUBLE PRECISION)");
                }
                q.push(" FROM generations g JOIN keys k ON g.key_id = k.id WHERE g.created_at >= ")
                    .push_bind(earliest);
                q.push(" AND k.team IN (");
                let mut list = q.separated(", ");
                for n in chunk {
                    list.push_bind(n.as_str());
                }
                q.push(") GROUP BY k.team");
                q.build_query_as().persistent(false).fetch_all(pool).await?
            });
            for (team, a, b, c) in periods {
                out.entry(team).or_default().since = [a, b, c];
            }
        }
        Ok(out)
    }
}
