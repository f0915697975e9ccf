//! Where an answer goes: a client stream (held back until the first content, SPEC §4.4) or an
//! aggregate for a non-streaming answer. Also the splice of a regenerated continuation.

use bytes::Bytes;
use serde_json::{Map, Value};
use sy_api::{ApiError, Usage};
use sy_providers::{Aggregate, ChunkFacts};
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
    /// Events of the current attempt not yet sent (before the first content).
    pending: Vec<Bytes>,
}

impl StreamSide {
    pub fn new(head: oneshot::Sender<Result<Head, ApiError>>, data: mpsc::Sender<Bytes>) -> Self {
        Self {
            head: Some(head),
            data,
            pending: Vec::new(),
        }
    }
}

/// How a continuation after a broken stream treats the new endpoint's chunks (SPEC §4.3).
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// A first answer.
    Fresh,
    /// The endpoint got the delivered text as a prefill: its text follows on.
    Prefill,
    /// The endpoint regenerates from the start: its text must begin with `prefix` (the text
    /// delivered before this attempt); `matched` bytes of it were seen so far and dropped.
    Regenerate { prefix: String, matched: usize },
}

/// The client went away.
pub struct Gone;

pub struct Out {
    pub stream: Option<StreamSide>,
    pub agg: Aggregate,
    /// Text of choice 0 the client has (streaming) or the answer holds (collecting).
    pub delivered: String,
    pub committed: bool,
    pub gen_id: String,
    pub created: u64,
}

pub enum ChunkResult {
    Ok,
    Diverged,
    Gone,
}

impl Out {
    /// Drops what the failed attempt left that the client has not seen.
    pub fn discard_uncommitted(&mut self) {
        if !self.committed {
            self.agg = Aggregate::default();
            self.delivered.clear();
            if let Some(s) = &mut self.stream {
                s.pending.clear();
            }
        }
    }

    fn stamp(&self, obj: &mut Map<String, Value>, model: &str, provider: &str) {
        obj.insert("id".to_owned(), Value::from(self.gen_id.as_str()));
        obj.insert("object".to_owned(), Value::from("chat.completion.chunk"));
        obj.insert("created".to_owned(), Value::from(self.created));
        obj.insert("model".to_owned(), Value::from(model));
        obj.insert("provider".to_owned(), Value::from(provider));
    }

    /// One upstream chunk; `attempts` counts the attempts so far (for the response head).
    pub async fn chunk(
        &mut self,
        mut chunk: Value,
        mode: &mut Mode,
        model: &str,
        provider: &str,
        attempts: usize,
    ) -> ChunkResult {
        let Some(obj) = chunk.as_object_mut() else {
            return ChunkResult::Ok;
        };
        obj.remove("usage");
        if *mode != Mode::Fresh {
            // a continuation: the client already has the role chunk
            strip_roles(obj);
            if let Mode::Regenerate { prefix, matched } = mode {
                match splice(obj, prefix, matched) {
                    Splice::Keep => {}
                    Splice::Drop => return ChunkResult::Ok,
                    Splice::Diverged => return ChunkResult::Diverged,
                }
            }
            let f = ChunkFacts::of(&chunk);
            if !f.content && f.finish_reason.is_none() {
                return ChunkResult::Ok;
            }
        }
        let facts = ChunkFacts::of(&chunk);
        let Some(obj) = chunk.as_object_mut() else {
            return ChunkResult::Ok;
        };
        self.stamp(obj, model, provider);
        self.delivered.push_str(&facts.text);
        match &mut self.stream {
            None => {
                self.agg.push(&chunk);
                ChunkResult::Ok
            }
            Some(s) => {
                let bytes = sse_bytes(&chunk);
                if self.committed {
                    return if s.data.send(bytes).await.is_ok() {
                        ChunkResult::Ok
                    } else {
                        ChunkResult::Gone
                    };
                }
                s.pending.push(bytes);
                if facts.content || facts.finish_reason.is_some() {
                    self.committed = true;
                    if let Some(h) = s.head.take() {
                        let head = Head {
                            provider: provider.to_owned(),
                            model: model.to_owned(),
                            attempts,
                        };
                        if h.send(Ok(head)).is_err() {
                            return ChunkResult::Gone;
                        }
                    }
                    for b in s.pending.drain(..) {
                        if s.data.send(b).await.is_err() {
                            return ChunkResult::Gone;
                        }
                    }
                }
                ChunkResult::Ok
            }
        }
    }

    /// The last chunk (usage) and `[DONE]` of a finished stream.
    pub async fn finish_stream(
        &mut self,
        usage: &Usage,
        model: &str,
        provider: &str,
    ) -> Result<(), Gone> {
        let mut obj = Map::new();
        self.stamp(&mut obj, model, provider);
        obj.insert("choices".to_owned(), Value::Array(Vec::new()));
        obj.insert(
            "usage".to_owned(),
            serde_json::to_value(usage).unwrap_or(Value::Null),
        );
        self.send_final(Value::Object(obj)).await
    }

    /// The SSE error chunk of SPEC §4.4 (carrying the usage, since it is the last chunk), then `[DONE]`.
    pub async fn error_chunk(
        &mut self,
        err: &ApiError,
        usage: &Usage,
        model: &str,
        provider: &str,
    ) -> Result<(), Gone> {
        let mut obj = Map::new();
        self.stamp(&mut obj, model, provider);
        obj.insert(
            "choices".to_owned(),
            serde_json::json!([{"index": 0, "delta": {}, "finish_reason": "error"}]),
        );
        obj.insert(
            "error".to_owned(),
            serde_json::json!({"code": err.status, "message": err.message, "metadata": err.metadata}),
        );
        obj.insert(
            "usage".to_owned(),
            serde_json::to_value(usage).unwrap_or(Value::Null),
        );
        self.send_final(Value::Object(obj)).await
    }

    async fn send_final(&mut self, last: Value) -> Result<(), Gone> {
        let Some(s) = &mut self.stream else {
            return Ok(());
        };
        s.data.send(sse_bytes(&last)).await.map_err(|_| Gone)?;
        s.data
            .send(Bytes::from_static(b"data: [DONE]\n\n"))
            .await
            .map_err(|_| Gone)
    }

    /// Fails the stream before anything was sent: the handler answers with a real status.
    pub fn fail_head(&mut self, err: ApiError) -> Result<(), ApiError> {
        match self.stream.as_mut().and_then(|s| s.head.take()) {
            Some(h) => {
                let _ = h.send(Err(err));
                Ok(())
            }
            None => Err(err),
        }
    }
}

fn sse_bytes(v: &Value) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut buf, v).is_err() {
        buf.extend_from_slice(b"{}");
    }
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

fn strip_roles(obj: &mut Map<String, Value>) {
    if let Some(Value::Array(choices)) = obj.get_mut("choices") {
        for c in choices {
            if let Some(Value::Object(d)) = c.get_mut("delta") {
                d.remove("role");
                if d.get("content").and_then(Value::as_str) == Some("") {
                    d.remove("content");
                }
            }
        }
    }
}

enum Splice {
    Keep,
    Drop,
    Diverged,
}

/// Checks a regenerated chunk against the delivered text: the part already delivered is dropped,
/// anything after it kept; a mismatch means the regeneration is a different answer.
fn splice(obj: &mut Map<String, Value>, delivered: &str, matched: &mut usize) -> Splice {
    let Some(Value::Array(choices)) = obj.get_mut("choices") else {
        return Splice::Keep;
    };
    let Some(c0) = choices.get_mut(0) else {
        return Splice::Keep;
    };
    let finish = c0.get("finish_reason").is_some_and(|f| !f.is_null());
    let Some(Value::Object(d)) = c0.get_mut("delta") else {
        return Splice::Keep;
    };
    if *matched >= delivered.len() {
        return Splice::Keep;
    }
    if d.get("tool_calls").is_some() {
        return Splice::Diverged;
    }
    let text = d
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let rest = &delivered[*matched..];
    if text.len() <= rest.len() {
        if !rest.starts_with(&text) {
            return Splice::Diverged;
        }
        *matched += text.len();
        if finish && *matched < delivered.len() {
            return Splice::Diverged; // ended before reaching what the client already has
        }
        if text.is_empty() && !finish {
            return Splice::Drop;
        }
        d.remove("content");
        return if finish { Splice::Keep } else { Splice::Drop };
    }
    if !text.starts_with(rest) {
        return Splice::Diverged;
    }
    *matched = delivered.len();
    d.insert("content".to_owned(), Value::from(&text[rest.len()..]));
    Splice::Keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(delivered: &str, matched: &mut usize, text: &str) -> (&'static str, Option<String>) {
        let mut v = json!({"choices":[{"index":0,"delta":{"content":text}}]});
        let obj = v.as_object_mut().unwrap();
        let r = match splice(obj, delivered, matched) {
            Splice::Keep => "keep",
            Splice::Drop => "drop",
            Splice::Diverged => "diverged",
        };
        (
            r,
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned),
        )
    }

    #[test]
    fn splice_drops_the_delivered_prefix_and_keeps_the_rest() {
        let delivered = "Hello from alpha";
        let mut m = 0;
        assert_eq!(step(delivered, &mut m, "Hello").0, "drop");
        assert_eq!(step(delivered, &mut m, " from").0, "drop");
        assert_eq!(
            step(delivered, &mut m, " alpha. The"),
            ("keep", Some(". The".to_owned()))
        );
        assert_eq!(
            step(delivered, &mut m, " end"),
            ("keep", Some(" end".to_owned()))
        );
        let mut m = 0;
        assert_eq!(step(delivered, &mut m, "Goodbye").0, "diverged");
    }
}
