//! The HTTP shell: one listener serving every provider under `/p/{name}/v1`
//! (and `mock` under `/v1`), plus the admin API.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::serve::ListenerExt;
use axum::Router;
use bytes::Bytes;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::behaviour::{Behaviour, FailureSource};
use crate::config::{valid_provider_name, MockConfig};
use crate::reply::{Ctx, Reply};
use crate::request::{Api, ChatRequest};
use crate::state::{Provider, ProviderStats, Registry, DEFAULT_PROVIDER};
use crate::{
    admin, anthropic, azure, bedrock, gemini, openai, ratelimit, responses, stream, vertex,
};

/// Request bodies up to this size are read (long prompts in load tests).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Models listed when a behaviour names none.
const DEFAULT_MODELS: [&str; 2] = ["mock-chat", "mock-chat-mini"];

/// What every handler shares.
pub(crate) struct App {
    pub registry: Registry,
    pub shutdown: CancellationToken,
    /// The simulated Vertex AI's issued access tokens.
    pub tokens: vertex::Tokens,
}

/// A running mock: its address and a handle on its providers.
pub struct MockServer {
    /// The bound address (the real port when started on port 0).
    pub addr: SocketAddr,
    app: Arc<App>,
    task: JoinHandle<io::Result<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Binds `listen` (port 0 picks a free port), spawns the server and
    /// returns at once. It stops, gracefully, when `shutdown` is cancelled;
    /// held and streaming answers end then too.
    ///
    /// # Errors
    /// An invalid configuration (`InvalidInput`) or a failure to bind.
    pub async fn start(
        config: MockConfig,
        listen: SocketAddr,
        shutdown: CancellationToken,
    ) -> io::Result<Self> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = Arc::new(App {
            registry: Registry::new(config.providers),
            shutdown: shutdown.clone(),
            tokens: vertex::Tokens::default(),
        });
        let router = router(Arc::clone(&app));
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::trace!(error = %e, "mock: cannot set TCP_NODELAY");
            }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
        });
        tracing::debug!(%addr, "mock provider listening");
        Ok(Self { addr, app, task })
    }

    /// `http://ADDR` (a wildcard address is given as loopback).
    #[must_use]
    pub fn url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{addr}")
    }

    /// The base URL of one provider, e.g. `http://127.0.0.1:PORT/p/fast/v1`;
    /// append `/chat/completions` or `/messages`.
    #[must_use]
    pub fn base_url(&self, provider: &str) -> String {
        format!("{}/p/{provider}/v1", self.url())
    }

    /// Replaces (or creates) a provider's behaviour; re-arms `fail_next`
    /// and releases requests held by the old one.
    pub fn set_behaviour(&self, provider: &str, b: Behaviour) {
        self.app.registry.set(provider, b);
    }

    /// A provider's current behaviour.
    #[must_use]
    pub fn behaviour(&self, provider: &str) -> Option<Behaviour> {
        let p = self.app.registry.get(provider)?;
        Some(Behaviour::clone(&p.behaviour()))
    }

    /// Access tokens the simulated Vertex AI token endpoint has issued.
    #[must_use]
    pub fn token_exchanges(&self) -> u64 {
        self.app.tokens.exchanges()
    }

    /// A provider's counters.
    #[must_use]
    pub fn stats(&self, provider: &str) -> Option<ProviderStats> {
        Some(self.app.registry.get(provider)?.stats())
    }

    /// The last request `provider` received: `{"path", "headers", "body"}`.
    pub fn last_request(&self, provider: &str) -> Option<serde_json::Value> {
        self.app.registry.get(provider)?.last_request()
    }

    /// Waits until the server has stopped (after `shutdown` is cancelled).
    ///
    /// # Errors
    /// The server's accept loop failed, or its task panicked.
    pub async fn wait(self) -> io::Result<()> {
        self.task.await.map_err(io::Error::other)?
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"ok": true})) }),
        )
        .route("/admin/providers", get(admin::list))
        .route(
            "/admin/providers/{name}",
            get(admin::show).put(admin::replace),
        )
        .route("/admin/providers/{name}/reset", post(admin::reset))
        .route(
            "/admin/providers/{name}/last_request",
            get(admin::last_request),
        )
        .route("/admin/reset", post(admin::reset_all))
        .route("/admin/vertex/service_account", get(admin::service_account))
        .route("/admin/vertex/tokens", get(admin::token_exchanges))
        .route("/p/{provider}/{*rest}", any(prefixed))
        .fallback(unprefixed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app)
}

async fn prefixed(
    State(app): State<Arc<App>>,
    Path((provider, rest)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !valid_provider_name(&provider) {
        return plain_error(StatusCode::NOT_FOUND, "mock: not a provider name");
    }
    let incoming = Incoming {
        path: &rest,
        uri: &uri,
        method: &method,
        headers: &headers,
    };
    route(&app, &provider, &incoming, body).await
}

async fn unprefixed(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = Incoming {
        path: uri.path(),
        uri: &uri,
        method: &method,
        headers: &headers,
    };
    route(&app, DEFAULT_PROVIDER, &incoming, body).await
}

/// A request as it arrived: the path under the provider's prefix (decoded), the raw URI (what
/// a signature covers), method and headers.
pub(crate) struct Incoming<'a> {
    pub path: &'a str,
    pub uri: &'a Uri,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
}

impl Incoming<'_> {
    /// A query parameter's value, as sent.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.uri.query()?.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then_some(v)
        })
    }

    /// A header's value as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
}

/// What a chat call is, as its path says.
pub(crate) struct Call {
    pub api: Api,
    /// The model, when the path names it (the clouds).
    pub model: Option<String>,
    /// Streamed or not, when the path decides it (the clouds); else the body's `stream`.
    pub stream: Option<bool>,
    /// Google's `streamGenerateContent` without `alt=sse`: the chunks as one JSON array.
    pub array: bool,
    /// Bedrock's InvokeModel: Anthropic's body and answers, Bedrock's errors and stream framing.
    pub invoke: bool,
}

impl Call {
    fn body_decides(api: Api) -> Call {
        Call {
            api,
            model: None,
            stream: None,
            array: false,
            invoke: false,
        }
    }
}

/// Headers holding credentials, never kept in a provider's last request.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "x-goog-api-key",
    "api-key",
    "x-amz-security-token",
];

/// Dispatches on the path's ending, like the conformance fake.
async fn route(app: &App, provider: &str, incoming: &Incoming<'_>, body: Bytes) -> Response {
    let method = incoming.method;
    // the prefixed route's rest has no leading slash; the cloud paths are matched on `/model/`
    let normalized = format!("/{}", incoming.path.trim_matches('/'));
    let path = normalized.as_str();
    if method == Method::POST {
        let p = app.registry.get_or_create(provider);
        p.remember(serde_json::json!({
            "path": path,
            "headers": incoming.headers
                .iter()
                .filter(|(k, _)| !SECRET_HEADERS.contains(&k.as_str()))
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), serde_json::Value::from(v.to_str().ok()?))))
                .collect::<serde_json::Map<_, _>>(),
            "body": serde_json::from_slice::<serde_json::Value>(&body).unwrap_or(serde_json::Value::Null),
        }));
    }
    if path.ends_with("embeddings") && method == Method::POST {
        // Azure's embeddings: its key (and api-version on the deployment form) first
        if let Some(deployment) = azure::route_embeddings(path) {
            if let Err((status, problem)) = azure::check(incoming, deployment) {
                return api_error(Api::Azure, status, &problem, &Behaviour::default(), false);
            }
        }
        let p = app.registry.get_or_create(provider);
        return embeddings(app, &p, &body).await;
    }
    if path.ends_with("messages/count_tokens") && method == Method::POST {
        let p = app.registry.get_or_create(provider);
        return count_tokens(&p, &body);
    }
    if path.ends_with("/token") && method == Method::POST {
        let (status, answer) = app.tokens.exchange(&body);
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        let b = Behaviour::default();
        let body = Body::from(crate::script::json_bytes(&answer));
        return respond(code, "application/json", Vec::new(), &b, body);
    }
    if let Some(response) = cloud_embeddings(app, provider, incoming, path, &body).await {
        return response;
    }
    let call = if let Some((api, model, stream)) = vertex::route(path) {
        if let Err(problem) = app.tokens.check(incoming) {
            return api_error(Api::Gemini, 401, &problem, &Behaviour::default(), false);
        }
        if api == Api::Anthropic {
            if let Err(problem) = vertex::check_anthropic_body(&body) {
                return api_error(api, 400, &problem, &Behaviour::default(), false);
            }
        }
        let sse = incoming.query("alt") == Some("sse");
        Call {
            api,
            model: Some(model),
            stream: Some(stream && (api == Api::Anthropic || sse)),
            array: stream && api == Api::Gemini && !sse,
            invoke: false,
        }
    } else if let Some((model, op, stream)) = bedrock::route(path) {
        if let Err((status, exception, problem)) = bedrock::check_auth(incoming, &body) {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            let header = (
                HeaderName::from_static("x-amzn-errortype"),
                HeaderValue::from_static(exception),
            );
            let b = Behaviour::default();
            let body = Body::from(bedrock::error_body(&problem));
            return respond(code, "application/json", vec![header], &b, body);
        }
        let invoke = op == bedrock::Operation::Invoke;
        if invoke {
            if let Err(problem) = bedrock::check_invoke_body(&body) {
                return api_error(Api::Converse, 400, &problem, &Behaviour::default(), false);
            }
        }
        Call {
            api: if invoke {
                Api::Anthropic
            } else {
                Api::Converse
            },
            model: Some(model),
            stream: Some(stream),
            array: false,
            invoke,
        }
    } else if let Some((model, stream)) = gemini::route(path) {
        if let Err(problem) = gemini::check_key(incoming) {
            return api_error(Api::Gemini, 403, &problem, &Behaviour::default(), false);
        }
        Call {
            api: Api::Gemini,
            model: Some(model),
            stream: Some(stream && incoming.query("alt") == Some("sse")),
            array: stream && incoming.query("alt") != Some("sse"),
            invoke: false,
        }
    } else if let Some(deployment) = azure::route(path) {
        if let Err((status, problem)) = azure::check(incoming, deployment.is_some()) {
            return api_error(Api::Azure, status, &problem, &Behaviour::default(), false);
        }
        Call {
            model: deployment,
            ..Call::body_decides(Api::Azure)
        }
    } else if path.ends_with("chat/completions") {
        Call::body_decides(Api::OpenAi)
    } else if path.ends_with("messages") {
        Call::body_decides(Api::Anthropic)
    } else if path.ends_with("/responses") {
        Call::body_decides(Api::Responses)
    } else if path.ends_with("models") && method == Method::GET {
        let p = app.registry.get_or_create(provider);
        return models(&p, incoming.headers);
    } else {
        return plain_error(
            StatusCode::NOT_FOUND,
            &format!("mock: no route {method} {path}"),
        );
    };
    if method != Method::POST {
        return plain_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("mock: {method} {path}: use POST"),
        );
    }
    let p = app.registry.get_or_create(provider);
    chat(app, &p, &call, &body).await
}

/// `POST .../messages/count_tokens`: `{"input_tokens": N}` (the mock's word count).
fn count_tokens(p: &Provider, body: &[u8]) -> Response {
    let b = p.behaviour();
    if let Some(status) = b.status {
        let message = format!("mock {}: injected status {status}", p.name);
        return api_error(Api::Anthropic, status, &message, &b, false);
    }
    let req = match ChatRequest::parse(body) {
        Ok(r) if r.model.as_deref().is_some_and(|m| !m.is_empty()) => r,
        Ok(_) => return api_error(Api::Anthropic, 400, "model: Field required", &b, false),
        Err(e) => return api_error(Api::Anthropic, 400, &e, &b, false),
    };
    let body = serde_json::json!({ "input_tokens": req.prompt_tokens() });
    respond(
        StatusCode::OK,
        "application/json",
        Vec::new(),
        &b,
        Body::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
}

fn models(p: &Provider, headers: &HeaderMap) -> Response {
    let b = p.behaviour();
    let default: Vec<String>;
    let ids = match &b.models {
        Some(ids) => ids.as_slice(),
        None => {
            default = DEFAULT_MODELS.iter().map(|&s| s.to_owned()).collect();
            &default
        }
    };
    let body = if headers.contains_key("anthropic-version") {
        anthropic::models(ids)
    } else {
        openai::models(&p.name, ids)
    };
    respond(
        StatusCode::OK,
        "application/json",
        Vec::new(),
        &b,
        Body::from(body),
    )
}

/// What every answer goes through first, in the order the conformance fake checks things:
/// `refuse`, `latency_ms`, injected failures, `hang`. Err: the answer is already decided.
async fn prelude(
    app: &App,
    p: &Arc<Provider>,
    api: Api,
) -> Result<(Arc<Behaviour>, CancellationToken, crate::state::ActiveGuard), Response> {
    let active = p.begin();
    let (b, release) = p.snapshot();
    if b.refuse {
        p.count_failed();
        return Err(Response::new(stream::dropped_connection()));
    }
    if b.latency_ms > 0 {
        let deadline = Instant::now() + Duration::from_millis(b.latency_ms);
        stream::sleep_until(deadline, &app.shutdown).await;
    }
    if let Some(source) = b.failure_source() {
        let fails = match source {
            FailureSource::Always => true,
            FailureSource::Next => p.take_fail_next(),
            FailureSource::Rate => rand::random::<f64>() < b.fail_rate.unwrap_or(0.0),
        };
        if fails {
            p.count_failed();
            let status = b.failure_status(source);
            let message = format!("mock {}: injected status {status}", p.name);
            return Err(api_error(api, status, &message, &b, true));
        }
    }
    if b.hang {
        stream::hang(&release, &app.shutdown).await;
        p.count_failed();
        return Err(api_error(
            api,
            504,
            &format!("mock {}: hang released", p.name),
            &b,
            false,
        ));
    }
    Ok((b, release, active))
}

/// One chat request.
async fn chat(app: &App, p: &Arc<Provider>, call: &Call, body: &[u8]) -> Response {
    let api = call.api;
    // the errors of Claude through InvokeModel are Bedrock's
    let error_api = if call.invoke { Api::Converse } else { api };
    let (b, release, active) = match prelude(app, p, error_api).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let parsed = match (api, call.model.as_deref()) {
        (Api::Gemini, Some(model)) => gemini::request(body, model),
        (Api::Converse, Some(model)) => bedrock::request(body, model),
        (Api::Responses, _) => responses::request(body, &p.name),
        // the deployment names the model; the body's `model` may be anything or absent
        (Api::Azure | Api::Anthropic, Some(deployment)) => {
            ChatRequest::parse(body).and_then(|mut r| {
                r.model = Some(deployment.to_owned());
                r.validate(api).map(|()| r)
            })
        }
        _ => ChatRequest::parse(body).and_then(|r| r.validate(api).map(|()| r)),
    };
    let req = match parsed {
        Ok(req) => req,
        Err(problem) => {
            let message = format!("mock {}: {problem}", p.name);
            return api_error(error_api, 400, &message, &b, false);
        }
    };
    if api == Api::Anthropic {
        // Anthropic checks the signature of every thinking block sent back to it
        if let Some(problem) = crate::thinking::bad_signature(req.messages()) {
            return api_error(error_api, 400, &problem, &b, false);
        }
    }
    if b.reject_prefill && req.ends_with_assistant() {
        let message = format!(
            "PREFILL_REJECTED by {}: this endpoint does not accept a trailing assistant message",
            p.name
        );
        return api_error(error_api, 400, &message, &b, false);
    }
    let streaming = call.stream.unwrap_or_else(|| req.is_stream());
    if b.garbage || b.empty {
        return junk(api, streaming, &b);
    }
    let reply = Reply::plan(api, &p.name, &p.default_text, &b, &req);
    let ctx = Ctx {
        provider: &p.name,
        model: req.model.as_deref().unwrap_or_default(),
        b: &b,
        include_usage: req.include_usage(),
    };
    let headers = ratelimit::headers(api, &b, std::time::SystemTime::now());
    if streaming {
        p.count_stream();
        let steps = match api {
            Api::OpenAi => openai::stream(&ctx, &reply),
            Api::Anthropic => anthropic::stream(&ctx, &reply),
            Api::Gemini => gemini::stream(&ctx, &reply),
            Api::Azure => azure::stream(&ctx, &reply),
            Api::Converse => bedrock::stream(&ctx, &reply),
            Api::Responses => responses::stream(&ctx, &reply),
        };
        let steps = if call.invoke {
            bedrock::invoke_stream(steps)
        } else {
            steps
        };
        let body = stream::body(steps, release, app.shutdown.clone(), active);
        let content_type = if api == Api::Converse || call.invoke {
            "application/vnd.amazon.eventstream"
        } else {
            "text/event-stream"
        };
        return respond(StatusCode::OK, content_type, headers, &b, body);
    }
    // A whole answer arrives when its last chunk would have.
    let extra_chunks = u32::try_from(reply.chunk_count().saturating_sub(1)).unwrap_or(u32::MAX);
    let delay = b.ttft() + b.per_token().saturating_mul(extra_chunks);
    if !delay.is_zero() {
        stream::sleep_until(Instant::now() + delay, &app.shutdown).await;
    }
    let bytes = match api {
        Api::OpenAi => openai::completion(&ctx, &reply),
        Api::Azure => azure::completion(&ctx, &reply),
        Api::Anthropic => anthropic::message(&ctx, &reply),
        Api::Gemini if call.array => gemini::array(&ctx, &reply),
        Api::Gemini => crate::script::json_bytes(&gemini::response(&ctx, &reply)),
        Api::Converse => bedrock::response(&ctx, &reply),
        Api::Responses => responses::whole(&ctx, &reply),
    };
    respond(
        StatusCode::OK,
        "application/json",
        headers,
        &b,
        Body::from(bytes),
    )
}

/// `POST .../embeddings` (OpenAI's): deterministic vectors, in input order.
async fn embeddings(app: &App, p: &Arc<Provider>, body: &[u8]) -> Response {
    let (b, _release, _active) = match prelude(app, p, Api::OpenAi).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match crate::embed::answer(body) {
        Ok(bytes) => {
            if !b.ttft().is_zero() {
                stream::sleep_until(Instant::now() + b.ttft(), &app.shutdown).await;
            }
            respond(
                StatusCode::OK,
                "application/json",
                Vec::new(),
                &b,
                Body::from(bytes),
            )
        }
        Err(problem) => api_error(
            Api::OpenAi,
            400,
            &format!("mock {}: {problem}", p.name),
            &b,
            false,
        ),
    }
}

/// The clouds' embedding calls (Gemini's `:batchEmbedContents` / `:embedContent`, Vertex AI's
/// `:predict`, Bedrock's InvokeModel with an embedding body), after each cloud's auth check;
/// None when the path is none of them.
async fn cloud_embeddings(
    app: &App,
    provider: &str,
    incoming: &Incoming<'_>,
    path: &str,
    body: &[u8],
) -> Option<Response> {
    use crate::embed::Cloud;
    let (cloud, api) = if path.contains("/publishers/google/models/") && path.ends_with(":predict")
    {
        if let Err(problem) = app.tokens.check(incoming) {
            return Some(api_error(
                Api::Gemini,
                401,
                &problem,
                &Behaviour::default(),
                false,
            ));
        }
        (Cloud::Vertex, Api::Gemini)
    } else if path.contains("/models/")
        && (path.ends_with(":batchEmbedContents") || path.ends_with(":embedContent"))
    {
        if let Err(problem) = gemini::check_key(incoming) {
            return Some(api_error(
                Api::Gemini,
                403,
                &problem,
                &Behaviour::default(),
                false,
            ));
        }
        let batch = path.ends_with(":batchEmbedContents");
        (Cloud::Gemini { batch }, Api::Gemini)
    } else if path.ends_with("/invoke")
        && path.contains("/model/")
        && crate::embed::is_bedrock_embedding(body)
    {
        if let Err((status, exception, problem)) = bedrock::check_auth(incoming, body) {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            let header = (
                HeaderName::from_static("x-amzn-errortype"),
                HeaderValue::from_static(exception),
            );
            let b = Behaviour::default();
            let body = Body::from(bedrock::error_body(&problem));
            return Some(respond(code, "application/json", vec![header], &b, body));
        }
        (Cloud::Bedrock, Api::Converse)
    } else {
        return None;
    };
    let p = app.registry.get_or_create(provider);
    let (b, _release, _active) = match prelude(app, &p, api).await {
        Ok(x) => x,
        Err(r) => return Some(r),
    };
    Some(match crate::embed::cloud_answer(cloud, body) {
        Ok(bytes) => {
            if !b.ttft().is_zero() {
                stream::sleep_until(Instant::now() + b.ttft(), &app.shutdown).await;
            }
            respond(
                StatusCode::OK,
                "application/json",
                Vec::new(),
                &b,
                Body::from(bytes),
            )
        }
        Err(problem) => api_error(api, 400, &format!("mock {}: {problem}", p.name), &b, false),
    })
}

/// `garbage` (unparsable) and `empty` (nothing) answers.
fn junk(api: Api, streaming: bool, b: &Behaviour) -> Response {
    let (content_type, body): (&str, &'static [u8]) = match (streaming, b.garbage, api) {
        (false, true, _) => ("application/json", b"<html>this is not json"),
        (true, true, _) => (
            "text/event-stream",
            b"data: <html>this is not json\n\ndata: {{{{\n\n",
        ),
        (false, false, _) => ("application/json", b""),
        (true, false, Api::OpenAi | Api::Azure) => ("text/event-stream", b"data: [DONE]\n\n"),
        (true, false, Api::Anthropic | Api::Gemini | Api::Responses) => ("text/event-stream", b""),
        (true, false, Api::Converse) => ("application/vnd.amazon.eventstream", b""),
    };
    respond(
        StatusCode::OK,
        content_type,
        Vec::new(),
        b,
        Body::from(Bytes::from_static(body)),
    )
}

/// An error answer in the API's own shape; an `injected` one (a fault of
/// the behaviour) carries its `error_body` and `Retry-After` if set.
fn api_error(api: Api, status: u16, message: &str, b: &Behaviour, injected: bool) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match (b.error_body.as_ref().filter(|_| injected), api) {
        (Some(custom), _) => crate::script::json_bytes(custom),
        (None, Api::OpenAi | Api::Azure | Api::Responses) => openai::error_body(status, message),
        (None, Api::Anthropic) => anthropic::error_body(status, message),
        (None, Api::Gemini) => gemini::error_body(status, message),
        (None, Api::Converse) => bedrock::error_body(message),
    };
    let mut headers = ratelimit::headers(api, b, std::time::SystemTime::now());
    if api == Api::Converse {
        headers.push((
            HeaderName::from_static("x-amzn-errortype"),
            HeaderValue::from_static(bedrock::exception(status)),
        ));
    }
    if let Some(seconds) = b.retry_after.filter(|_| injected) {
        headers.push((RETRY_AFTER, HeaderValue::from(seconds)));
    }
    respond(code, "application/json", headers, b, Body::from(body))
}

/// An error outside any API (unknown route, bad provider name).
fn plain_error(status: StatusCode, message: &str) -> Response {
    let body = openai::error_body(status.as_u16(), message);
    respond(
        status,
        "application/json",
        Vec::new(),
        &Behaviour::default(),
        Body::from(body),
    )
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    extra: Vec<(HeaderName, HeaderValue)>,
    b: &Behaviour,
    body: Body,
) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if content_type == "text/event-stream" {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    for (name, value) in extra {
        headers.insert(name, value);
    }
    for (name, value) in &b.headers {
        // Validated with the behaviour; a bad one is skipped rather than fatal.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    resp
}
