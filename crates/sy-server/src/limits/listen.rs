//! The accept loop with the limits `axum::serve` cannot set: at most `max_connections` open
//! connections (beyond that a few more are answered 503 and closed, the rest wait in the
//! listen backlog), a deadline for a request's headers (slow-loris), and header count and size.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use sy_api::ApiError;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::respond::json_bytes;

/// Connection limits for [`serve_with_limits`].
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Open connections served at once.
    pub max_connections: usize,
    /// Connections over `max_connections` that are still answered (503, then closed) rather than
    /// left in the backlog; a flood beyond that waits for the kernel's backlog.
    pub max_refusing: usize,
    /// Time a connection has to deliver a request's headers, counted from accept or from the
    /// end of its previous answer; when it runs out the connection is closed without an answer.
    /// So it is also how long an idle keep-alive connection is kept (hyper starts the clock as
    /// soon as it waits for the next request).
    pub header_read_timeout: Duration,
    /// Headers per request (431 beyond).
    pub max_headers: usize,
    /// Bytes of request line and headers (431 beyond).
    pub max_header_bytes: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_refusing: 64,
            header_read_timeout: Duration::from_secs(30),
            max_headers: 100,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown`, then lets open connections finish their current
/// request (in-flight streams end with the request's own tasks) and returns when all are closed.
/// Sets `TCP_NODELAY` on every connection.
pub async fn serve_with_limits(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
) {
    let serving = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusing = Arc::new(Semaphore::new(limits.max_refusing));
    let conns = TaskTracker::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.max_headers)
        .max_header_size(limits.max_header_bytes);
    loop {
        // a slot to serve or to refuse in; with neither, stop accepting until one frees
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            p = Arc::clone(&serving).acquire_owned() => p.ok().map(Slot::Serve),
            p = Arc::clone(&refusing).acquire_owned(), if serving.available_permits() == 0 => {
                p.ok().map(Slot::Refuse)
            }
        };
        let Some(slot) = slot else { break };
        let slot = match slot {
            // the select may pick a refusal slot just as a serving one frees up
            Slot::Refuse(p) => match Arc::clone(&serving).try_acquire_owned() {
                Ok(s) => Slot::Serve(s),
                Err(_) => Slot::Refuse(p),
            },
            s @ Slot::Serve(_) => s,
        };
        let tcp = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed(&e, &shutdown).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let http = http.clone();
        let stop = shutdown.clone();
        match slot {
            Slot::Serve(permit) => {
                conns.spawn(connection(http, tcp, app.clone(), stop, permit));
            }
            Slot::Refuse(permit) => {
                let mut http = http;
                http.keep_alive(false);
                conns.spawn(connection(http, tcp, refusal(), stop, permit));
            }
        }
    }
    conns.close();
    conns.wait().await;
}

enum Slot {
    Serve(OwnedSemaphorePermit),
    Refuse(OwnedSemaphorePermit),
}

async fn connection(
    http: http1::Builder,
    tcp: TcpStream,
    app: Router,
    stop: CancellationToken,
    permit: OwnedSemaphorePermit,
) {
    let service = TowerToHyperService::new(app);
    let conn = http.serve_connection(TokioIo::new(tcp), service);
    let mut conn = std::pin::pin!(conn);
    let ended = tokio::select! {
        r = conn.as_mut() => r,
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = ended {
        // header timeouts, oversized headers and clients that vanish all end here
        tracing::debug!(error = %e, "connection ended with an error");
    }
    drop(permit);
}

/// The router of a connection over the limit: every request gets 503 and the connection closes.
fn refusal() -> Router {
    Router::new().fallback(|| async { refused() })
}

fn refused() -> Response {
    let e = ApiError::new(
        503,
        "the gateway is serving as many connections as it allows; retry shortly",
    )
    .with("reason", Value::from("connection_limit"));
    json_bytes(StatusCode::SERVICE_UNAVAILABLE, e.to_json())
}

/// Out of file descriptors and the like: wait a little rather than spin (what `axum::serve`
/// does too); per-connection errors (reset before accept) are retried at once.
async fn accept_failed(e: &io::Error, shutdown: &CancellationToken) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 1 s");
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}
