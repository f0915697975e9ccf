//! Teams on the request path (SPEC §8, "Keys as guardrails"): a team's limit counts the spend
//! of all its keys (in its period, with a `limit_reset`); a request whose team is at its limit
//! gets 402 before any upstream call. A team's figures are read from the store with the keys'
//! (every half second, `keys::refresh_guardrails`) and carried forward between reads by what
//! this instance knows its keys to have spent since — which, with `[cluster]`, includes the
//! other instances' charges through Redis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};
use sy_api::ApiError;
use sy_store::{Store, TeamRecord};

use crate::guard::{Period, PeriodBook};
use crate::keys::LiveKey;
use crate::state::AppState;

/// A read of the store for a team not known yet may take this long on the request path.
const TEAM_READ: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct TeamLive {
    pub record: TeamRecord,
    pub reset: Option<Period>,
    pub book: PeriodBook,
}

impl TeamLive {
    pub fn new(record: TeamRecord, book: PeriodBook) -> TeamLive {
        let reset = record.limit_reset.as_deref().and_then(Period::parse);
        TeamLive {
            record,
            reset,
            book,
        }
    }

    /// Spend in total and per period at `now`, `grown` being what its keys spent since the
    /// read; and the figure its limit counts.
    pub fn figures(&self, now: i64, grown: f64) -> (f64, [f64; 3], f64) {
        let total = self.book.base_total + grown;
        let periods = self.book.at(now, total);
        (total, periods, self.book.counted(self.reset, now, total))
    }

    pub fn json(&self, now: i64, grown: f64, keys: usize) -> Value {
        let (total, [d, w, m], counted) = self.figures(now, grown);
        let remaining = self.record.limit.map(|l| (l - counted).max(0.0));
        json!({
            "name": self.record.name,
            "limit": self.record.limit,
            "limit_reset": self.record.limit_reset,
            "limit_remaining": remaining,
            "usage": total,
            "usage_daily": d,
            "usage_weekly": w,
            "usage_monthly": m,
            "keys": keys,
            "created_at": crate::handlers::views::rfc3339(self.record.created_at),
        })
    }
}

/// The teams this instance's keys belong to.
#[derive(Default)]
pub struct Teams {
    by_name: Mutex<HashMap<String, TeamLive>>,
}

impl Teams {
    pub fn get(&self, name: &str) -> Option<TeamLive> {
        self.by_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Replaces what is known of these teams (those absent from `found` are gone).
    pub fn set(&self, asked: &[String], found: Vec<TeamLive>) {
        let mut map = self.by_name.lock().unwrap_or_else(PoisonError::into_inner);
        for name in asked {
            map.remove(name);
        }
        for t in found {
            map.insert(t.record.name.clone(), t);
        }
    }

    pub fn forget(&self, name: &str) {
        self.by_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }
}

/// What the live keys of a team have spent since their figures were read.
pub fn grown(state: &AppState, team: &str) -> f64 {
    state
        .keys
        .all()
        .iter()
        .filter(|k| k.team().as_deref() == Some(team))
        .map(|k| k.grown())
        .sum()
}

/// Reads these teams and their spend from the store.
pub async fn read(store: &Store, names: &[String], now: i64) -> Option<Vec<TeamLive>> {
    let starts = crate::guard::period_starts(now);
    let teams = store.list_teams().await.ok()?;
    let spend = store.team_spend(names, starts).await.ok()?;
    Some(
        teams
            .into_iter()
            .filter(|t| names.contains(&t.name))
            .map(|t| {
                let s = spend.get(&t.name).copied().unwrap_or_default();
                TeamLive::new(
                    t,
                    PeriodBook {
                        starts,
                        since: s.since,
                        base_total: s.total,
                    },
                )
            })
            .collect(),
    )
}

/// 402 when the key's team is at its limit. A team not known yet is read from the store
/// first; a key naming a team that does not exist has no team limit.
pub async fn check(state: &AppState, key: &Arc<LiveKey>, now: i64) -> Result<(), ApiError> {
    let Some(name) = key.team() else {
        return Ok(());
    };
    let team =
        match state.teams.get(&name) {
            Some(t) => t,
            None => {
                let Some(storage) = &state.storage else {
                    return Ok(());
                };
                let asked = [name.clone()];
                match tokio::time::timeout(TEAM_READ, read(&storage.store, &asked, now)).await {
                    Ok(Some(found)) => {
                        state.teams.set(&asked, found);
                        match state.teams.get(&name) {
                            Some(t) => t,
                            None => return Ok(()),
                        }
                    }
                    _ => return Err(ApiError::new(
                        503,
                        "the key store is unavailable to check the key's team; try again shortly",
                    )),
                }
            }
        };
    let Some(limit) = team.record.limit else {
        return Ok(());
    };
    let (_, _, counted) = team.figures(now, grown(state, &name));
    if counted >= limit {
        let period = team
            .reset
            .map_or(String::new(), |p| format!(" ({} reset)", p.as_str()));
        return Err(ApiError::new(
            402,
            format!("team `{name}` has reached its limit of {limit} USD{period}"),
        )
        .with("team", Value::from(name.as_str()))
        .with("guardrail", "team.limit".into()));
    }
    Ok(())
}
