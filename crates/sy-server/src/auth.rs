//! Who is calling: with `[auth]`, a bearer key is required (SPEC §4); the master key may call
//! everything. Keys are compared in constant time.

use axum::http::HeaderMap;
use secrecy::ExposeSecret;
use sy_api::ApiError;
use sy_config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No `[auth]` configured: the gateway is open.
    Open,
    Master,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, key) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn caller(config: &Config, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(auth) = &config.auth else {
        return Ok(Caller::Open);
    };
    let Some(key) = bearer(headers) else {
        return Err(ApiError::new(
            401,
            "missing API key: send `Authorization: Bearer KEY`",
        ));
    };
    if ct_eq(key.as_bytes(), auth.master_key.expose_secret().as_bytes()) {
        return Ok(Caller::Master);
    }
    Err(ApiError::new(401, "unknown API key"))
}

/// Admin operations need the master key (or an open gateway).
pub fn admin(config: &Config, headers: &HeaderMap) -> Result<(), ApiError> {
    match caller(config, headers)? {
        Caller::Open | Caller::Master => Ok(()),
    }
}
