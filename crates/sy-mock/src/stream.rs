//! Plays a script as a response body: each SSE event is its own body frame
//! (so hyper flushes it at once), pauses are measured from the stream's
//! start, and every wait ends on server shutdown.

use std::io;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::script::Step;
use crate::state::ActiveGuard;

/// The longest a request is held (`hang`, `stall_after`) with nobody releasing it.
const MAX_HOLD: Duration = Duration::from_mins(10);

struct Player {
    steps: std::vec::IntoIter<Step>,
    start: Instant,
    release: CancellationToken,
    shutdown: CancellationToken,
    _active: ActiveGuard,
}

/// A body that plays `steps`. `release` ends a stall or hold early (the
/// behaviour changed); `shutdown` ends everything.
pub(crate) fn body(
    steps: Vec<Step>,
    release: CancellationToken,
    shutdown: CancellationToken,
    active: ActiveGuard,
) -> Body {
    let player = Player {
        steps: steps.into_iter(),
        start: Instant::now(),
        release,
        shutdown,
        _active: active,
    };
    Body::from_stream(futures_util::stream::unfold(player, |mut p| async move {
        loop {
            match p.steps.next()? {
                Step::Send(event) => return Some((Ok::<Bytes, io::Error>(event), p)),
                Step::Until(offset) => {
                    if !sleep_until(p.start + offset, &p.shutdown).await {
                        return None;
                    }
                }
                Step::Stall => {
                    hold(MAX_HOLD, &p.release, &p.shutdown).await;
                    return None;
                }
                Step::Hold(d) => {
                    hold(d, &p.release, &p.shutdown).await;
                    return None;
                }
                Step::Abort => {
                    // Pending once first, so hyper flushes what was sent;
                    // an error in the same poll would discard it.
                    tokio::task::yield_now().await;
                    p.steps = Vec::new().into_iter();
                    let err = io::Error::new(io::ErrorKind::ConnectionAborted, "mock: abort");
                    return Some((Err(err), p));
                }
            }
        }
    }))
}

/// A body that fails before its first byte: hyper then drops the connection
/// without having flushed the status line, so the client gets no response.
pub(crate) fn dropped_connection() -> Body {
    Body::from_stream(futures_util::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "mock: refuse",
        ))
    }))
}

/// Sleeps until `deadline`; false if shutdown came first.
pub(crate) async fn sleep_until(deadline: Instant, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep_until(deadline) => true,
        () = shutdown.cancelled() => false,
    }
}

/// Waits `d`, or until released or shut down.
pub(crate) async fn hold(d: Duration, release: &CancellationToken, shutdown: &CancellationToken) {
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        () = release.cancelled() => {}
        () = shutdown.cancelled() => {}
    }
}

/// Holds a request that must never be answered (`hang`).
pub(crate) async fn hang(release: &CancellationToken, shutdown: &CancellationToken) {
    hold(MAX_HOLD, release, shutdown).await;
}
