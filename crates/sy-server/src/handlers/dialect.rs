//! The API endpoints that run a request through the gateway, one per dialect (`/chat/completions`,
//! `/messages`): authenticate, parse with the dialect, plan, relay; answer with one body or an
//! SSE stream whose status line waits for the first content (SPEC §4.4), errors in the dialect's
//! shape (SPEC §4.5).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sy_api::ApiError;
use sy_dialects::{Dialect, End, Meta};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::handlers::responses::Keep;
use crate::relay::{Ended, Ending, Head, Ledger, Out, Relay, StreamSide};
use crate::respond::json_bytes;
use crate::state::AppState;

/// The answer to a streaming client that gateway shutdown cut off.
const SHUT_DOWN: &str = "the gateway shut down before the answer was complete";

pub async fn chat(State(state): State<Arc<AppState>>, request: Request) -> Response {
    serve(&sy_dialects::Chat, state, request).await
}

pub async fn messages(State(state): State<Arc<AppState>>, request: Request) -> Response {
    serve(&sy_dialects::Messages, state, request).await
}

pub async fn responses(State(state): State<Arc<AppState>>, request: Request) -> Response {
    serve(&sy_dialects::Responses, state, request).await
}

async fn serve(dialect: &'static dyn Dialect, state: Arc<AppState>, request: Request) -> Response {
    match run(dialect, state, request).await {
        Ok(r) => r,
        Err(e) => error_response(dialect, &e),
    }
}

/// An error in the dialect's shape; a client of the upstream's own family gets the upstream's
/// body unchanged (SPEC §4.6).
pub fn error_response(dialect: &dyn Dialect, e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_GATEWAY);
    if status.is_server_error() {
        tracing::warn!(status = e.status, message = %e.message, "request failed");
    } else {
        tracing::debug!(status = e.status, message = %e.message, "request refused");
    }
    let body = match &e.native {
        Some((family, body)) if *family == dialect.family() => body.clone().into_bytes(),
        _ => dialect.error_body(e),
    };
    let mut r = json_bytes(status, body);
    if let Some(s) = e
        .metadata
        .get("retry_after_s")
        .and_then(serde_json::Value::as_f64)
    {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = s.ceil().max(1.0) as u64;
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

pub fn gen_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut id = String::with_capacity(28);
    id.push_str("gen-");
    for _ in 0..24 {
        id.push(char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]));
    }
    id
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn run(
    dialect: &'static dyn Dialect,
    state: Arc<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let snap = state.snapshot.load_full();
    let (parts, body) = request.into_parts();
    let caller = crate::auth::caller(&state, &snap.config, &parts.headers).await?;
    let now = crate::keys::unix_secs();
    if let Some(k) = caller.key() {
        k.admit(state.cluster.as_deref()).await?;
        crate::teams::check(&state, k, now).await?;
    }
    let bytes = crate::handlers::read_body(body, snap.config.server.max_body_bytes).await?;
    // Responses' state: the stored conversation before the new input, and what to keep after
    let (bytes, keep) = if dialect.family() == sy_api::Family::Responses {
        crate::handlers::responses::prepare(&state, &caller, bytes).await?
    } else {
        (bytes, None)
    };
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let mut req = dialect.parse(&bytes, &headers)?;
    let guard = caller.key().map(|k| k.guard());
    if let Some(g) = &guard {
        crate::plan::hold(&mut req, g, &snap.config)?;
    }
    let mut planned = crate::plan::build(&state, &snap, &req)?;
    if let Some(g) = &guard {
        crate::plan::exclude_outside(&snap, g, &mut planned.plan);
    }
    if planned.plan.attempts.is_empty() {
        return Err(crate::plan::nothing_left(&snap, &planned.plan));
    }
    let reservation = match caller.key() {
        Some(k) => {
            k.reserve_tokens(state.cluster.as_deref(), now, planned.prompt_estimate)
                .await?
        }
        None => None,
    };
    let plan = Arc::new(planned.plan);
    let gen_id = gen_id();
    let created = unix_now();
    let stream = req.stream;
    let req = Arc::new(req);
    let ledger = Ledger::new(
        Arc::clone(&state),
        Arc::clone(&snap),
        Arc::clone(&plan),
        Arc::clone(&req),
        gen_id.clone(),
        created,
        caller.key().cloned(),
        stream,
        dialect.family().as_str(),
    );
    if let Some(r) = reservation {
        ledger.reserved_tokens(r);
    }
    let relay = Relay {
        state,
        snap,
        req,
        plan,
        dialect,
        gen_id,
        created,
        affinity_key: planned.affinity_key,
        prompt_estimate: planned.prompt_estimate,
        ledger,
    };
    if stream {
        streaming(relay, keep).await
    } else {
        collect(relay, keep).await
    }
}

/// Why the plan put the serving endpoint where it was (the explain endpoint's `why`).
fn why_of(relay: &Relay, model: &str, provider: &str) -> String {
    let cfg = &relay.snap.config;
    relay
        .plan
        .attempts
        .iter()
        .find(|a| {
            let m = &cfg.models[a.at.model];
            m.id == model && m.endpoints[a.at.endpoint].provider == provider
        })
        .map(|a| a.why.clone())
        .unwrap_or_default()
}

/// A header value from free text: printable ASCII only.
fn header_text(s: &str) -> Option<HeaderValue> {
    let ascii: String = s
        .replace('²', "^2")
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    HeaderValue::from_str(&ascii).ok()
}

fn head_headers(r: &mut Response, provider: &str, model: &str, attempts: usize, why: &str) {
    let h = r.headers_mut();
    if let Some(v) = header_text(why) {
        h.insert("x-switchyard-why", v);
    }
    if let Ok(v) = HeaderValue::from_str(provider) {
        h.insert("x-switchyard-provider", v);
    }
    if let Ok(v) = HeaderValue::from_str(model) {
        h.insert("x-switchyard-model", v);
    }
    h.insert("x-switchyard-attempts", HeaderValue::from(attempts));
}

/// What the relay's outcome is after a possible shutdown.
enum Outcome {
    Ended(Ended),
    /// The client went away before the end.
    Left,
    /// The gateway's shutdown grace ran out.
    ShutDown,
}

async fn collect(relay: Relay, keep: Option<Keep>) -> Result<Response, ApiError> {
    let mut out = Out::new(relay.dialect, None);
    if let Some(k) = &keep {
        out.echo(k.fields());
    }
    let span = tracing::info_span!("request", id = %relay.gen_id, streamed = false);
    let ending = relay.state.ending.clone();
    let outcome = tokio::select! {
        e = relay.drive(&mut out).instrument(span) => Outcome::Ended(e),
        () = ending.cancelled() => Outcome::ShutDown,
    };
    let ended = match outcome {
        Outcome::Ended(e) => e,
        Outcome::Left | Outcome::ShutDown => {
            relay.ledger.end(Ending::Cancelled(SHUT_DOWN));
            return Err(ApiError::new(503, SHUT_DOWN));
        }
    };
    let (at, finish) = ended.result?;
    let meta = relay.meta(at);
    let usage = relay.usage();
    let body = out.body(&End {
        meta,
        usage: &usage,
        finish,
    });
    // kept before the client has it, so that its next request finds it
    if let (Some(keep), Some(response)) = (&keep, out.response()) {
        keep.save(&relay.state, meta.provider, response).await;
    }
    let mut r = json_bytes(StatusCode::OK, body);
    head_headers(
        &mut r,
        meta.provider,
        meta.model,
        relay.ledger.calls(),
        &why_of(&relay, meta.model, meta.provider),
    );
    Ok(r)
}

async fn streaming(relay: Relay, keep: Option<Keep>) -> Result<Response, ApiError> {
    // the plan's reasons, by (model, provider), for the header sent once the stream commits
    let cfg = &relay.snap.config;
    let whys: Vec<(String, String, String)> = relay
        .plan
        .attempts
        .iter()
        .map(|a| {
            let m = &cfg.models[a.at.model];
            (
                m.id.clone(),
                m.endpoints[a.at.endpoint].provider.clone(),
                a.why.clone(),
            )
        })
        .collect();
    let (head_tx, head_rx) = oneshot::channel::<Result<Head, ApiError>>();
    let (data_tx, data_rx) = mpsc::channel::<Bytes>(64);
    let idle = Duration::from_secs_f64(cfg.routing.stream_idle_timeout_s);
    let watch = data_tx.clone();
    let state = Arc::clone(&relay.state);
    state.tasks.spawn(async move {
        let mut out = Out::new(
            relay.dialect,
            Some(StreamSide {
                head: Some(head_tx),
                data: data_tx,
                idle,
            }),
        );
        if let Some(k) = &keep {
            out.echo(k.fields());
        }
        let ending = relay.state.ending.clone();
        let span = tracing::info_span!("request", id = %relay.gen_id, streamed = true);
        let outcome = tokio::select! {
            e = relay.drive(&mut out).instrument(span) => Outcome::Ended(e),
            // the client went away: dropping the relay cancels the upstream (its guards close it)
            () = watch.closed() => Outcome::Left,
            () = ending.cancelled() => Outcome::ShutDown,
        };
        drop(watch);
        match outcome {
            Outcome::Left => relay.ledger.end(Ending::Cancelled("the client went away")),
            Outcome::ShutDown => {
                relay.ledger.end(Ending::Cancelled(SHUT_DOWN));
                let e = ApiError::new(503, SHUT_DOWN);
                fail_stream(&relay, &mut out, &e).await;
            }
            Outcome::Ended(ended) => finish_stream(&relay, &mut out, ended, keep).await,
        }
    });
    let head = match head_rx.await {
        Ok(Ok(head)) => head,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(ApiError::new(502, "the stream ended before any content")),
    };
    let why = whys
        .iter()
        .find(|(m, p, _)| *m == head.model && *p == head.provider)
        .map(|(_, _, w)| w.as_str())
        .unwrap_or_default();
    let body = Body::from_stream(futures_util::stream::unfold(data_rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    }));
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    head_headers(&mut r, &head.provider, &head.model, head.attempts, why);
    Ok(r)
}

async fn finish_stream(relay: &Relay, out: &mut Out, ended: Ended, keep: Option<Keep>) {
    if ended.gone.is_some() {
        return;
    }
    match ended.result {
        Ok((at, finish)) => {
            let usage = relay.usage();
            let end = End {
                meta: relay.meta(at),
                usage: &usage,
                finish,
            };
            let done = match keep {
                // kept before the client reads the end, so that its next request finds it
                Some(keep) => {
                    out.render_finish(&end);
                    if let Some(response) = out.response() {
                        keep.save(&relay.state, end.meta.provider, response).await;
                    }
                    out.flush_end().await
                }
                None => out.finish(&end).await,
            };
            if done.is_err() {
                tracing::debug!(id = %relay.gen_id, "client went away before the end of the stream");
            }
        }
        Err(e) => fail_stream(relay, out, &e).await,
    }
}

/// Ends a stream with the dialect's error event (or, before any content, a real HTTP error).
async fn fail_stream(relay: &Relay, out: &mut Out, e: &ApiError) {
    let log = relay.ledger.log();
    let (model, provider) = log
        .iter()
        .rev()
        .find(|a| a.called)
        .map_or_else(Default::default, |a| (a.model.clone(), a.provider.clone()));
    let usage = relay.usage();
    let meta = Meta {
        gen_id: &relay.gen_id,
        created: relay.created,
        model: &model,
        provider: &provider,
        family: relay.dialect.family(),
        prompt_estimate: relay.prompt_estimate,
    };
    let end = End {
        meta,
        usage: &usage,
        finish: None,
    };
    if out.fail(e, &end).await.is_err() {
        tracing::debug!(id = %relay.gen_id, "client went away before the end of the stream");
    }
}
