//! One client per provider, built from a config snapshot; its concurrency limiter carried over
//! from the previous snapshot.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use secrecy::ExposeSecret;
use sy_config::{Api, Config, Provider};
use sy_providers::{Auth, Call, Continue, Target};
use sy_routing::FailureKind;

use crate::google::TokenSource;
use crate::headers::{rate_limit_reset_s, retry_after_s};
use crate::limit::{Limiter, Permit};
use crate::redact::redact;
use crate::sign::AwsKeys;
use crate::Answer;

/// Error bodies are read up to this size; the rest is not needed to classify them.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A whole answer (an embeddings list) is read up to this size.
const MAX_WHOLE_BODY: usize = 64 * 1024 * 1024;

/// The clients of one config snapshot, by provider slug.
pub struct Upstreams {
    clients: HashMap<String, Arc<ProviderClient>>,
}

impl Upstreams {
    /// Builds a client per provider, keeping each provider's limiter from `previous` (a reload)
    /// so that attempts in flight stay counted. Fails only when the TLS backend cannot start or
    /// a credential is not a valid header value.
    pub fn new(config: &Config, previous: Option<&Upstreams>) -> Result<Self, String> {
        let connect = Duration::from_secs_f64(config.routing.connect_timeout_s);
        let mut clients = HashMap::with_capacity(config.providers.len());
        for p in &config.providers {
            let limiter = match previous.and_then(|u| u.clients.get(&p.name)) {
                Some(old) => {
                    old.limiter.resize(p.max_concurrency);
                    Arc::clone(&old.limiter)
                }
                None => Limiter::new(p.max_concurrency),
            };
            // a reload keeps the cached access token while the file is the same
            let tokens = previous
                .and_then(|u| u.clients.get(&p.name))
                .and_then(|old| match &old.signer {
                    Signer::Google(t) if Some(&t.path) == p.cloud.credentials_file.as_ref() => {
                        Some(Arc::clone(t))
                    }
                    _ => None,
                });
            clients.insert(
                p.name.clone(),
                Arc::new(ProviderClient::new(p, connect, limiter, tokens)?),
            );
        }
        Ok(Self { clients })
    }

    pub fn get(&self, slug: &str) -> Option<&Arc<ProviderClient>> {
        self.clients.get(slug)
    }
}

/// A provider's HTTP client, headers and concurrency limit.
pub struct ProviderClient {
    http: reqwest::Client,
    pub api: Api,
    base_url: String,
    headers: HeaderMap,
    limiter: Arc<Limiter>,
    /// The provider's credentials, to scrub from anything the upstream says back.
    secrets: Arc<[String]>,
    /// Authentication computed per request (beyond the static headers).
    signer: Signer,
}

/// How each request is authenticated besides the static headers.
enum Signer {
    /// The static headers carry it (or nothing is needed).
    None,
    /// AWS SigV4 over the final request.
    Aws(AwsKeys),
    /// A Google access token from a service account.
    Google(Arc<TokenSource>),
}

impl ProviderClient {
    fn new(
        p: &Provider,
        connect_timeout: Duration,
        limiter: Arc<Limiter>,
        tokens: Option<Arc<TokenSource>>,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            // never a whole-request timeout: it would cut long streams (phase timeouts instead)
            .build()
            .map_err(|e| format!("provider {}: cannot build an HTTP client: {e}", p.name))?;
        let mut secrets: Vec<String> = p
            .api_key
            .iter()
            .map(|k| k.expose_secret().to_owned())
            .collect();
        secrets.extend(p.headers.iter().map(|(_, v)| v.clone()));
        let c = &p.cloud;
        secrets.extend(
            [
                &c.aws_access_key_id,
                &c.aws_secret_access_key,
                &c.aws_session_token,
            ]
            .into_iter()
            .flatten()
            .map(|k| k.expose_secret().to_owned()),
        );
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let auth = sy_providers::protocol(p.api).auth();
        let signer = match (auth, &c.aws_access_key_id, &c.aws_secret_access_key) {
            (Auth::SigV4 { service }, Some(id), Some(secret)) => Signer::Aws(AwsKeys {
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
                session_token: c.aws_session_token.clone(),
                region: c.region.clone().unwrap_or_default(),
                service,
            }),
            (Auth::GoogleServiceAccount, _, _) => match (tokens, &c.credentials_file) {
                (Some(t), _) => Signer::Google(t),
                (None, Some(path)) => Signer::Google(Arc::new(
                    TokenSource::from_file(path, http.clone())
                        .map_err(|e| format!("provider {}: {e}", p.name))?,
                )),
                (None, None) => Signer::None,
            },
            _ => Signer::None,
        };
        if let Some(key) = &p.api_key {
            let (name, value) = match auth {
                Auth::Header(h) => (HeaderName::from_static(h), key.expose_secret().to_owned()),
                // a Bedrock API key (no AWS keys) is a Bearer token
                Auth::Bearer | Auth::SigV4 { .. } | Auth::GoogleServiceAccount => {
                    (AUTHORIZATION, format!("Bearer {}", key.expose_secret()))
                }
            };
            let mut v = HeaderValue::from_str(&value)
                .map_err(|_| format!("provider {}: api_key is not a valid header value", p.name))?;
            v.set_sensitive(true);
            headers.insert(name, v);
        }
        for (k, v) in &p.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("provider {}: bad header name {k}", p.name))?;
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| format!("provider {}: bad value for header {k}", p.name))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(Self {
            http,
            api: p.api,
            base_url: p.base_url.clone(),
            headers,
            limiter,
            secrets: secrets.into(),
            signer,
        })
    }

    /// A concurrency permit, waiting at most `wait` (SPEC §7: a short, bounded queue). None: full.
    pub async fn permit(&self, wait: Duration) -> Option<Permit> {
        self.limiter.acquire(wait).await
    }

    /// A concurrency permit only if one is free now (a hedge never queues).
    pub fn try_permit(&self) -> Option<Permit> {
        self.limiter.try_acquire()
    }

    /// Token exchanges made for this provider's service account (Vertex AI), if it has one.
    pub fn token_exchanges(&self) -> Option<u64> {
        match &self.signer {
            Signer::Google(t) => Some(t.exchanges()),
            _ => None,
        }
    }

    /// Attempts in flight at this provider.
    pub fn in_flight(&self) -> usize {
        self.limiter.in_flight()
    }

    /// Sends a call and reads its whole answer (at most 64 KiB): its status and body. For small
    /// side calls (token counts), not for answers.
    pub async fn exchange(&self, call: Call) -> Result<(u16, Vec<u8>), FailureKind> {
        let resp = self.send(call).await?;
        let status = resp.status().as_u16();
        let body = read_capped(resp, MAX_ERROR_BODY).await?;
        Ok((status, body))
    }

    /// Sends a call whose answer is one JSON body (embeddings) and reads it whole (at most
    /// `MAX_WHOLE_BODY`): the body, or the failure (an error status read, scrubbed, classified).
    pub async fn fetch(&self, call: Call) -> Result<Vec<u8>, FailureKind> {
        let resp = self.send(call).await?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(self.failure(resp).await);
        }
        read_capped(resp, MAX_WHOLE_BODY).await
    }

    /// The failure an error status stands for, its body read (64 KiB at most) and scrubbed.
    async fn failure(&self, resp: reqwest::Response) -> FailureKind {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = read_capped(resp, MAX_ERROR_BODY).await.unwrap_or_default();
        let e = sy_providers::protocol(self.api).parse_error(status, &body);
        let text = String::from_utf8_lossy(&body);
        FailureKind::Status {
            status: e.status.unwrap_or(status),
            message: redact(&e.message, &self.secrets),
            code: e.code,
            kind: e.kind,
            retry_after_s: retry_after_s(&headers),
            body: (!text.trim().is_empty()).then(|| redact(&text, &self.secrets)),
        }
    }

    /// Builds a call into a request with the provider's headers, signs it (SigV4, or a Google
    /// access token) and sends it; the status line and headers are in when it returns.
    async fn send(&self, call: Call) -> Result<reqwest::Response, FailureKind> {
        let url = format!("{}{}", self.base_url, call.path);
        let method = reqwest::Method::from_bytes(call.method.as_bytes())
            .map_err(|_| FailureKind::Unencodable(format!("bad method {}", call.method)))?;
        let mut req = self
            .http
            .request(method, url)
            .headers(self.headers.clone())
            .body(call.body);
        for (k, v) in &call.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        // built first: a signature covers the request exactly as it is sent
        let mut req = req
            .build()
            .map_err(|_| FailureKind::Unencodable("not a valid request".to_owned()))?;
        match &self.signer {
            Signer::None => {}
            Signer::Aws(keys) => keys
                .sign(&mut req, std::time::SystemTime::now())
                .map_err(FailureKind::Unencodable)?,
            Signer::Google(tokens) => {
                let token = tokens.token().await?;
                let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| FailureKind::Unencodable("a bad access token".to_owned()))?;
                v.set_sensitive(true);
                req.headers_mut().insert(AUTHORIZATION, v);
            }
        }
        self.http
            .execute(req)
            .await
            .map_err(|e| transport_failure(&e))
    }

    /// Sends one call. Returns once the upstream's status line and headers are in: an answer to
    /// read, or the failure (an error status with its body read and scrubbed).
    pub async fn open(
        &self,
        call: Call,
        target: &Target<'_>,
        cont: Continue<'_>,
    ) -> Result<Answer, FailureKind> {
        let resp = self.send(call).await?;
        let status = resp.status().as_u16();
        let protocol = sy_providers::protocol(self.api);
        if !(200..300).contains(&status) {
            return Err(self.failure(resp).await);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let reset = rate_limit_reset_s(resp.headers(), now);
        let whole = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("json"));
        let decoder = protocol.decoder(target, cont, whole);
        Ok(Answer::new(resp, decoder, Arc::clone(&self.secrets), reset))
    }
}

async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, FailureKind> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_failure(&e))? {
        if buf.len() + chunk.len() > cap {
            buf.extend_from_slice(&chunk[..cap - buf.len()]);
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Maps a reqwest error to a failure kind, without the URL (it may carry a secret).
pub fn transport_failure(e: &reqwest::Error) -> FailureKind {
    if e.is_connect() {
        if e.is_timeout() {
            return FailureKind::ConnectTimeout;
        }
        return FailureKind::Connect(root_cause(e));
    }
    if e.is_timeout() {
        return FailureKind::ConnectTimeout;
    }
    FailureKind::Io(root_cause(e))
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let s = cur.to_string();
    // reqwest's own messages name the URL; the innermost cause (io error) does not
    if s.contains("://") {
        "connection error".to_owned()
    } else {
        s
    }
}
