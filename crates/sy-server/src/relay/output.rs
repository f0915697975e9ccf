//! Where an answer goes: the dialect's renderer, and for a streaming client the SSE channel whose
//! status line waits for the first content (SPEC §4.4). Tracks what the client has, for a
//! resume, and splices a continuation (SPEC §4.3).

use std::time::Duration;

use bytes::Bytes;
use sy_api::resume::{Delivered, Diverged, Mode, Splice};
use sy_api::{ApiError, Event, Frame};
use sy_dialects::{Dialect, End, Meta, Render};
use tokio::sync::mpsc::error::SendTimeoutError;
use tokio::sync::{mpsc, oneshot};

/// What the streaming handler waits for before it sends a status line.
pub struct Head {
    pub provider: String,
    pub model: String,
    pub attempts: usize,
}

pub struct StreamSide {
    pub head: Option<oneshot::Sender<Result<Head, ApiError>>>,
    pub data: mpsc::Sender<Bytes>,
    /// A client whose writes stay blocked this long is cut off (SPEC §7).
    pub idle: Duration,
}

/// Why writing to the client stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// The client closed the connection.
    Left,
    /// The client stopped reading for `stream_idle_timeout_s`.
    Stalled,
}

impl Gone {
    pub fn why(self) -> &'static str {
        match self {
            Gone::Left => "the client went away",
            Gone::Stalled => "the client stopped reading (stream_idle_timeout_s)",
        }
    }
}

/// Why a frame could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// A continuation said something else than what the client has.
    Diverged,
    Gone(Gone),
}

pub struct Out {
    dialect: &'static dyn Dialect,
    render: Box<dyn Render>,
    stream: Option<StreamSide>,
    /// The client has content (streaming only: a collected answer starts over on failure).
    pub committed: bool,
    pub delivered: Delivered,
    splice: Option<Splice>,
    buf: Vec<u8>,
    /// What `echo` set, for a renderer made again (a collected answer starting over).
    echo: serde_json::Map<String, serde_json::Value>,
}

impl Out {
    pub fn new(dialect: &'static dyn Dialect, stream: Option<StreamSide>) -> Out {
        Out {
            dialect,
            render: dialect.render(stream.is_some()),
            stream,
            committed: false,
            delivered: Delivered::default(),
            splice: None,
            buf: Vec::with_capacity(1024),
            echo: serde_json::Map::new(),
        }
    }

    /// A new attempt begins. Before the client has anything, the answer starts over; after, it is
    /// a continuation: with the delivered text as a prefill where the endpoint takes one, else
    /// regenerated and spliced.
    pub fn start_attempt(&mut self, supports_prefill: bool) -> Option<Mode> {
        if !self.committed {
            if self.stream.is_none() {
                self.render = self.dialect.render(false);
                self.render.echo(self.echo.clone());
            }
            self.delivered = Delivered::default();
            self.splice = None;
            return None;
        }
        let mode = self.delivered.mode(supports_prefill);
        self.splice = Some(Splice::new(&self.delivered, &mode));
        Some(mode)
    }

    /// Writes one frame of the current attempt; `pass`: the upstream speaks the client's wire
    /// family and this is a first answer, so its raw frame goes through.
    pub async fn frame(
        &mut self,
        f: Frame,
        pass: bool,
        meta: &Meta<'_>,
        attempts: impl FnOnce() -> usize,
    ) -> Result<(), Halt> {
        let commits = f.commits();
        if let Some(splice) = &mut self.splice {
            let mut out = Vec::with_capacity(f.events.len());
            for e in f.events {
                splice
                    .push(e, &mut out)
                    .map_err(|Diverged| Halt::Diverged)?;
            }
            for e in &out {
                self.render.event(e, meta, &mut self.buf);
                self.delivered.note(e);
            }
        } else {
            match (&f.raw, pass) {
                (Some(raw), true) => self.render.pass(raw, &f.events, meta, &mut self.buf),
                _ => {
                    for e in &f.events {
                        self.render.event(e, meta, &mut self.buf);
                    }
                }
            }
            for e in &f.events {
                if matches!(
                    e,
                    Event::Text(_)
                        | Event::ToolStart { .. }
                        | Event::ToolArgs { .. }
                        | Event::Reasoning(_)
                        | Event::EncryptedReasoning(_)
                ) {
                    self.delivered.note(e);
                }
            }
        }
        if self.stream.is_some() && !self.committed && commits {
            self.committed = true;
            self.send_head(meta, attempts())?;
        }
        if self.committed {
            self.flush().await.map_err(Halt::Gone)?;
        }
        Ok(())
    }

    fn send_head(&mut self, meta: &Meta<'_>, attempts: usize) -> Result<(), Halt> {
        let Some(h) = self.stream.as_mut().and_then(|s| s.head.take()) else {
            return Ok(());
        };
        let head = Head {
            provider: meta.provider.to_owned(),
            model: meta.model.to_owned(),
            attempts,
        };
        h.send(Ok(head)).map_err(|_| Halt::Gone(Gone::Left))
    }

    /// Sends what was rendered, waiting at most the idle timeout for a client that reads slowly.
    async fn flush(&mut self) -> Result<(), Gone> {
        let Some(s) = &self.stream else {
            self.buf.clear();
            return Ok(());
        };
        if self.buf.is_empty() {
            return Ok(());
        }
        let bytes = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(1024)));
        match s.data.send_timeout(bytes, s.idle).await {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(_)) => Err(Gone::Stalled),
            Err(SendTimeoutError::Closed(_)) => Err(Gone::Left),
        }
    }

    /// The answer is complete: the last chunk(s) with the usage.
    pub async fn finish(&mut self, end: &End<'_>) -> Result<(), Gone> {
        self.render.finish(end, &mut self.buf);
        self.flush().await
    }

    /// Renders the end without sending it (`flush_end` sends it).
    pub fn render_finish(&mut self, end: &End<'_>) {
        self.render.finish(end, &mut self.buf);
    }

    /// Sends what `render_finish` rendered.
    pub async fn flush_end(&mut self) -> Result<(), Gone> {
        self.flush().await
    }

    /// Request fields the answer's objects repeat (for every renderer of this answer).
    pub fn echo(&mut self, fields: serde_json::Map<String, serde_json::Value>) {
        self.echo = fields.clone();
        self.render.echo(fields);
    }

    /// The finished answer as the dialect keeps it (Responses' stored response).
    pub fn response(&self) -> Option<serde_json::Value> {
        self.render.response()
    }

    /// The answer failed. A client that has content gets the dialect's error event; a streaming
    /// client that has nothing gets a real HTTP error (the handler answers it).
    pub async fn fail(&mut self, err: &ApiError, end: &End<'_>) -> Result<(), Gone> {
        if self.committed {
            self.render.fail(err, end, &mut self.buf);
            return self.flush().await;
        }
        if let Some(h) = self.stream.as_mut().and_then(|s| s.head.take()) {
            let _ = h.send(Err(err.clone()));
        }
        Ok(())
    }

    /// The collected answer's body.
    pub fn body(&mut self, end: &End<'_>) -> Vec<u8> {
        self.render.body(end)
    }
}
