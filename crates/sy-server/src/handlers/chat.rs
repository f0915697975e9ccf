//! `POST /chat/completions`: validate, plan, relay; a JSON answer or an SSE stream whose status
//! line waits for the first content (SPEC §4.4).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use sy_api::{ApiError, Usage};
use sy_providers::Aggregate;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::relay::{Ended, Head, Out, Relay, StreamSide};
use crate::respond::{json_bytes, Failed};
use crate::state::AppState;

fn gen_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut id = String::with_capacity(28);
    id.push_str("gen-");
    for _ in 0..24 {
        id.push(char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]));
    }
    id
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub async fn chat(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Failed> {
    let snap = state.snapshot.load_full();
    let (parts, body) = request.into_parts();
    let caller = crate::auth::caller(&state, &snap.config, &parts.headers).await?;
    if let Some(k) = caller.key() {
        k.admit(state.cluster.as_deref()).await?;
    }
    let bytes = crate::handlers::read_body(body, snap.config.server.max_body_bytes).await?;
    let req = sy_api::parse_chat_request(&bytes)?;
    let (plan, affinity_key) = crate::plan::build(&state, &snap, &req)?;
    if plan.attempts.is_empty() {
        return Err(crate::plan::nothing_left(&snap, &plan).into());
    }
    let stream = req.stream;
    let relay = Relay {
        state: Arc::clone(&state),
        snap,
        req,
        plan,
        gen_id: gen_id(),
        created: unix_now(),
        affinity_key,
        key: caller.key().cloned(),
    };
    if stream {
        Ok(streaming(relay).await?)
    } else {
        Ok(collect(relay).await?)
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

async fn collect(relay: Relay) -> Result<Response, ApiError> {
    let mut out = Out {
        stream: None,
        agg: Aggregate::default(),
        delivered: String::new(),
        committed: false,
        gen_id: relay.gen_id.clone(),
        created: relay.created,
    };
    let started = std::time::Instant::now();
    let span = tracing::info_span!("request", id = %relay.gen_id, streamed = false);
    let ended = relay.drive(&mut out).instrument(span).await;
    finish_request(&relay, &ended, false, started);
    let (at, finish) = ended.result.clone()?;
    let model = &relay.snap.config.models[at.model];
    let provider = &model.endpoints[at.endpoint].provider;
    let mut choices = std::mem::take(&mut out.agg).into_choices();
    if let Some(c0) = choices.get_mut(0).and_then(Value::as_object_mut) {
        c0.entry("finish_reason").and_modify(|f| {
            if f.is_null() {
                *f = Value::from(finish.as_str());
            }
        });
    }
    let body = json!({
        "id": relay.gen_id,
        "object": "chat.completion",
        "created": relay.created,
        "model": model.id,
        "provider": provider,
        "choices": choices,
        "usage": ended.usage,
    });
    let mut r = json_bytes(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    );
    head_headers(
        &mut r,
        provider,
        &model.id,
        ended.made,
        &why_of(&relay, &model.id, provider),
    );
    Ok(r)
}

async fn streaming(relay: Relay) -> Result<Response, ApiError> {
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
    let watch = data_tx.clone();
    let state = Arc::clone(&relay.state);
    state.tasks.spawn(async move {
        let mut out = Out {
            stream: Some(StreamSide::new(head_tx, data_tx)),
            agg: Aggregate::default(),
            delivered: String::new(),
            committed: false,
            gen_id: relay.gen_id.clone(),
            created: relay.created,
        };
        let started = std::time::Instant::now();
        let ended = tokio::select! {
            ended = relay.drive(&mut out).instrument(tracing::info_span!("request", id = %relay.gen_id, streamed = true)) => ended,
            () = watch.closed() => return, // the client went away: dropping the relay cancels the upstream
        };
        drop(watch);
        finish_stream(&relay, &mut out, &ended).await;
        finish_request(&relay, &ended, true, started);
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

async fn finish_stream(relay: &Relay, out: &mut Out, ended: &Ended) {
    if ended.gone {
        return;
    }
    let cfg = &relay.snap.config;
    let (model, provider) = match &ended.result {
        Ok((at, _)) => {
            let m = &cfg.models[at.model];
            (m.id.clone(), m.endpoints[at.endpoint].provider.clone())
        }
        Err(_) => last_labels(ended),
    };
    let sent = match &ended.result {
        Ok(_) => out.finish_stream(&ended.usage, &model, &provider).await,
        Err(e) if out.committed => out.error_chunk(e, &ended.usage, &model, &provider).await,
        Err(e) => {
            let _ = out.fail_head(e.clone());
            Ok(())
        }
    };
    if sent.is_err() {
        tracing::debug!(id = %relay.gen_id, "client went away before the end of the stream");
    }
}

fn last_labels(ended: &Ended) -> (String, String) {
    ended
        .log
        .iter()
        .rev()
        .find(|a| a.called)
        .map_or_else(Default::default, |a| (a.model.clone(), a.provider.clone()))
}

/// A finished request: its log line, then its record and charge (`accounting::settle`).
fn finish_request(relay: &Relay, ended: &Ended, streamed: bool, started: std::time::Instant) {
    let record = generation_record(relay, ended, streamed, started);
    crate::accounting::settle(
        &relay.state,
        crate::accounting::Settle {
            gen_id: &relay.gen_id,
            key: relay.key.as_ref(),
            created: relay.created,
            cost: ended.usage.cost,
            record,
        },
    );
}

/// The generation record of SPEC §4 (`GET /generation?id=`), and the request's log line.
fn generation_record(
    relay: &Relay,
    ended: &Ended,
    streamed: bool,
    started: std::time::Instant,
) -> Value {
    let cfg = &relay.snap.config;
    let (model, provider, finish, status) = match &ended.result {
        Ok((at, finish)) => {
            let m = &cfg.models[at.model];
            (
                m.id.clone(),
                m.endpoints[at.endpoint].provider.clone(),
                Value::from(finish.as_str()),
                200,
            )
        }
        Err(e) => {
            let (m, p) = last_labels(ended);
            (m, p, Value::from("error"), e.status)
        }
    };
    let Usage {
        prompt_tokens,
        completion_tokens,
        cost,
        ..
    } = ended.usage;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let outcome = match status {
        200 => "ok",
        400..=499 => "client_error",
        _ => "error",
    };
    crate::metrics::request(&model, outcome, streamed, started.elapsed().as_secs_f64());
    // the route in one line: every attempt as provider(outcome), in order
    let route = ended
        .log
        .iter()
        .map(|a| match a.status {
            Some(st) if a.class != "ok" => format!("{}({} {st})", a.provider, a.kind),
            _ => format!("{}({})", a.provider, a.kind),
        })
        .collect::<Vec<_>>()
        .join(" > ");
    tracing::info!(
        id = %relay.gen_id, model = %model, provider = %provider, status, attempts = ended.made,
        streamed, latency_ms, cost, route = %route, "request"
    );
    json!({
        "id": relay.gen_id,
        "created": relay.created,
        "model": model,
        "provider": provider,
        "status": status,
        "streamed": streamed,
        "finish_reason": finish,
        "tokens_prompt": prompt_tokens,
        "tokens_completion": completion_tokens,
        "usage": ended.usage,
        "cost": cost,
        "latency_ms": latency_ms,
        "attempts": ended.log,
        "plan": crate::plan::to_json(&relay.snap, &relay.plan),
    })
}
