//! Google Vertex AI: the token endpoint a service account's `token_uri` names (`POST
//! .../token`, an RS256 JWT assertion verified with the simulated service account's public
//! key, answered with an access token), and the model paths
//! `.../v1/projects/{p}/locations/{r}/publishers/{publisher}/models/{model}:{method}` —
//! `anthropic` models through `:rawPredict` / `:streamRawPredict` (the Messages API, the body
//! with `anthropic_version` and without `model`), `google` models through `:generateContent` /
//! `:streamGenerateContent` (Gemini's). Every model call needs a token this mock issued.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use crate::request::Api;
use crate::server::Incoming;
use crate::service_account::{MOCK_SA_EMAIL, PUBLIC_KEY_PEM};

/// Lifetime of the tokens issued, in seconds (Google's).
const TOKEN_LIFETIME_S: u64 = 3599;

/// Tokens issued, and how many exchanges were made.
#[derive(Default)]
pub(crate) struct Tokens {
    issued: Mutex<HashSet<String>>,
    exchanges: AtomicU64,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    #[serde(default)]
    scope: Option<String>,
}

impl Tokens {
    pub(crate) fn exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::Relaxed)
    }

    /// The token endpoint: (status, JSON body).
    pub(crate) fn exchange(&self, body: &[u8]) -> (u16, serde_json::Value) {
        let form = String::from_utf8_lossy(body);
        let field = |name: &str| {
            form.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k == name).then(|| {
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned()
                })
            })
        };
        let bad = |what: &str| {
            (
                400,
                json!({"error": "invalid_grant", "error_description": what}),
            )
        };
        if field("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
            return (
                400,
                json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}),
            );
        }
        let Some(assertion) = field("assertion") else {
            return bad("Missing assertion");
        };
        let Ok(key) = DecodingKey::from_rsa_pem(PUBLIC_KEY_PEM.as_bytes()) else {
            return (500, json!({"error": "internal_failure"}));
        };
        let mut validation = Validation::new(Algorithm::RS256);
        // Google's audience, or the token_uri itself (google-auth sends the former)
        validation.validate_aud = false;
        let claims = match jsonwebtoken::decode::<Claims>(&assertion, &key, &validation) {
            Ok(d) => d.claims,
            Err(_) => return bad("Invalid JWT Signature."),
        };
        if claims.iss != MOCK_SA_EMAIL {
            return bad("Invalid issuer");
        }
        if !(claims.aud.ends_with("/token")) {
            return bad("Invalid audience");
        }
        if claims.exp.saturating_sub(claims.iat) > 3600 {
            return bad("Invalid JWT: Token must be a short-lived token (60 minutes)");
        }
        if claims.scope.as_deref().is_none_or(str::is_empty) {
            return bad("Invalid OAuth scope or ID token audience provided.");
        }
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        let token = format!("ya29.mock-{}", crate::reply::random_hex(32));
        if let Ok(mut issued) = self.issued.lock() {
            issued.insert(token.clone());
        }
        (
            200,
            json!({"access_token": token, "expires_in": TOKEN_LIFETIME_S, "token_type": "Bearer"}),
        )
    }

    /// Whether the request carries a token this mock issued.
    pub(crate) fn check(&self, incoming: &Incoming<'_>) -> Result<(), String> {
        let token = incoming
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");
        let known = self.issued.lock().is_ok_and(|i| i.contains(token));
        if known {
            Ok(())
        } else {
            Err("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.".to_owned())
        }
    }
}

/// `(api, model, streamed)` for a Vertex model path.
pub(crate) fn route(path: &str) -> Option<(Api, String, bool)> {
    let (_, rest) = path.split_once("/publishers/")?;
    let (publisher, rest) = rest.split_once("/models/")?;
    let (model, method) = rest.rsplit_once(':')?;
    let (api, stream) = match (publisher, method) {
        ("anthropic", "rawPredict") => (Api::Anthropic, false),
        ("anthropic", "streamRawPredict") => (Api::Anthropic, true),
        ("google", "generateContent") => (Api::Gemini, false),
        ("google", "streamGenerateContent") => (Api::Gemini, true),
        _ => return None,
    };
    (!model.is_empty()).then(|| (api, model.to_owned(), stream))
}

/// Claude on Vertex: the body names no model and carries `anthropic_version` (Google's
/// `vertex-2023-10-16` or a dated one, as the current SDKs send).
pub(crate) fn check_anthropic_body(body: &[u8]) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("request body: {e}"))?;
    let version = v
        .get("anthropic_version")
        .and_then(serde_json::Value::as_str);
    match version {
        Some(v) if v.starts_with("vertex-") || v.chars().take(4).all(|c| c.is_ascii_digit()) => {}
        _ => return Err("anthropic_version: Field required (e.g. vertex-2023-10-16)".to_owned()),
    }
    if v.get("model").is_some() {
        return Err("model: Extra inputs are not permitted (the model is in the URL)".to_owned());
    }
    Ok(())
}
