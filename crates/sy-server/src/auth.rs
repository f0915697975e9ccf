//! Who is calling: with `[auth]`, a bearer key is required (SPEC §4): the master key (compared
//! in constant time) may call everything; other keys are looked up by their hash (SPEC §8) and
//! see only their own data — what spans tenants (the dashboard's data, `/metrics`, key
//! management) needs the master key.

use std::sync::Arc;

use axum::http::HeaderMap;
use secrecy::ExposeSecret;
use sy_api::ApiError;
use sy_config::Config;

use crate::keys::LiveKey;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub enum Caller {
    /// No `[auth]` configured: the gateway is open.
    Open,
    Master,
    Key(Arc<LiveKey>),
}

impl Caller {
    pub fn key(&self) -> Option<&Arc<LiveKey>> {
        match self {
            Caller::Key(k) => Some(k),
            _ => None,
        }
    }
}

/// The key a client sent: `Authorization: Bearer KEY`, or `x-api-key: KEY` as Anthropic's
/// clients send it (SPEC §4).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .and_then(|(scheme, key)| scheme.eq_ignore_ascii_case("bearer").then(|| key.trim()))
        .filter(|k| !k.is_empty());
    bearer.or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    })
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn caller(
    state: &AppState,
    config: &Config,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let Some(auth) = &config.auth else {
        return Ok(Caller::Open);
    };
    let Some(key) = bearer(headers).filter(|k| !k.is_empty()) else {
        return Err(ApiError::new(
            401,
            "missing API key: send `Authorization: Bearer KEY` (or `x-api-key: KEY`)",
        ));
    };
    if ct_eq(key.as_bytes(), auth.master_key.expose_secret().as_bytes()) {
        return Ok(Caller::Master);
    }
    let Some(storage) = &state.storage else {
        return Err(crate::keys::unknown_key());
    };
    match state.keys.lookup(storage, key).await? {
        Some(k) => {
            k.check_expiry(crate::keys::unix_secs())?;
            Ok(Caller::Key(k))
        }
        None => Err(crate::keys::unknown_key()),
    }
}

/// What spans every tenant (the dashboard's data, `/metrics`) needs the master key when
/// `[auth]` is on: 401 without a known key, 403 for another key.
pub async fn master_only(
    state: &AppState,
    config: &Config,
    headers: &HeaderMap,
    what: &str,
) -> Result<(), ApiError> {
    match caller(state, config, headers).await? {
        Caller::Open | Caller::Master => Ok(()),
        Caller::Key(_) => Err(ApiError::new(
            403,
            format!("{what} shows every key's data: only the master key may read it"),
        )),
    }
}

/// Admin operations (key management, reload) need the master key, or an open gateway.
pub async fn admin(state: &AppState, config: &Config, headers: &HeaderMap) -> Result<(), ApiError> {
    match caller(state, config, headers).await? {
        Caller::Open | Caller::Master => Ok(()),
        Caller::Key(_) => Err(ApiError::new(403, "only the master key may do this")),
    }
}
