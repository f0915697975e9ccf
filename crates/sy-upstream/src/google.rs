//! Vertex AI access tokens from a service account (SPEC §5): the key in the provider's
//! `credentials_file` signs an RS256 JWT assertion (`jsonwebtoken`, on `ring`), which is
//! exchanged at the file's `token_uri` for an access token. The token is cached and refreshed
//! when less than [`REFRESH_BEFORE`] of its life is left, so many requests cost one exchange;
//! concurrent requests wait for the one exchange in flight (a `tokio` mutex held across it is
//! the single flight). A failed exchange fails the attempt, as the upstream's 401 would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sy_routing::FailureKind;
use tokio::time::Instant;

/// Refresh this long before expiry (google-auth's threshold).
const REFRESH_BEFORE: Duration = Duration::from_secs(225);

/// An assertion's lifetime: Google's maximum.
const ASSERTION_LIFETIME_S: u64 = 3600;

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The fields of a service-account file the exchange needs.
#[derive(Deserialize)]
struct ServiceAccount {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    token_uri: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// One service account's access tokens.
pub struct TokenSource {
    /// The file it was read from (a path, not a secret), to tell a reload's file apart.
    pub(crate) path: String,
    email: String,
    key_id: Option<String>,
    key: EncodingKey,
    token_uri: String,
    http: reqwest::Client,
    cached: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
    exchanges: AtomicU64,
}

impl TokenSource {
    /// Reads and checks a service-account file. Errors name the file, never its content.
    pub(crate) fn from_file(path: &str, http: reqwest::Client) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("credentials_file {path}: cannot read it: {e}"))?;
        let sa: ServiceAccount = serde_json::from_str(&text).map_err(|e| {
            format!(
                "credentials_file {path}: not a service-account JSON (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        let key = EncodingKey::from_rsa_pem(sa.private_key.as_bytes()).map_err(|_| {
            format!("credentials_file {path}: private_key is not an RSA key in PEM")
        })?;
        Ok(Self {
            path: path.to_owned(),
            email: sa.client_email,
            key_id: sa.private_key_id,
            key,
            token_uri: sa.token_uri,
            http,
            cached: tokio::sync::Mutex::new(None),
            exchanges: AtomicU64::new(0),
        })
    }

    /// Token exchanges made so far.
    pub fn exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::Relaxed)
    }

    /// A valid access token: the cached one, else a new one from the token endpoint.
    pub(crate) async fn token(&self) -> Result<SecretString, FailureKind> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expiry)) = cached.as_ref() {
            if Instant::now() + REFRESH_BEFORE < *expiry {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self
            .exchange()
            .await
            .map_err(|message| FailureKind::Status {
                status: 401,
                message,
                code: None,
                kind: Some("token_exchange".to_owned()),
                retry_after_s: None,
                body: None,
            })?;
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    async fn exchange(&self) -> Result<(SecretString, Duration), String> {
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.key_id);
        let claims = Claims {
            iss: &self.email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat,
            exp: iat + ASSERTION_LIFETIME_S,
        };
        let assertion = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| format!("token exchange: cannot sign the assertion: {e}"))?;
        // the assertion is base64url and dots: nothing to escape in a form body
        let form = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        );
        let resp = self
            .http
            .post(&self.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|_| "token exchange: the token endpoint cannot be reached".to_owned())?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|_| "token exchange: the answer broke off".to_owned())?;
        if !status.is_success() {
            // `{"error": "invalid_grant", "error_description": ...}`: no secret in it
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let what = v
                .get("error_description")
                .or_else(|| v.get("error"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("no reason given");
            return Err(format!("token exchange refused ({status}): {what}"));
        }
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| "token exchange: the answer holds no access_token".to_owned())?;
        let seconds = match &t.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(3600);
        Ok((
            SecretString::from(t.access_token),
            Duration::from_secs(seconds),
        ))
    }
}
