//! Server-Sent Events framing, bounded: bytes in (in whatever pieces the network gives them),
//! complete events (`event:` name and `data:`) out. Written here rather than taken from an SSE
//! crate because an event must be bounded in size (an upstream that never ends an event must
//! not grow the gateway's memory) and its text handed over without another copy.
//!
//! Follows the HTML living standard's parsing: lines end in CR, LF or CRLF; `data:` lines join
//! with LF; one leading space after the colon is dropped; comments and `id:`/`retry:` are
//! ignored; a blank line dispatches; an event with no data is not dispatched.

/// Largest event accepted (its data and the line being read). Beyond: an error.
pub const MAX_EVENT: usize = 8 * 1024 * 1024;

/// One parsed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// The SSE parser state.
#[derive(Debug, Default)]
pub struct SseFramer {
    /// Bytes of the current, incomplete line.
    line: Vec<u8>,
    /// A CR ended the last line: a following LF belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseFramer {
    /// Feeds bytes; complete events go to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), String> {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    rest = &rest[1..];
                    continue;
                }
            }
            match memchr::memchr2(b'\n', b'\r', rest) {
                Some(i) => {
                    self.after_cr = rest[i] == b'\r';
                    if self.line.is_empty() {
                        // the whole line is in this piece: read in place, not copied
                        self.line_done(&rest[..i], out);
                    } else {
                        self.line.extend_from_slice(&rest[..i]);
                        let line = std::mem::take(&mut self.line);
                        self.line_done(&line, out);
                        self.line = line;
                        self.line.clear();
                    }
                    rest = &rest[i + 1..];
                }
                None => {
                    self.line.extend_from_slice(rest);
                    rest = &[];
                }
            }
            if self.line.len() + self.data.len() > MAX_EVENT {
                self.line = Vec::new();
                self.data = String::new();
                return Err(format!(
                    "an SSE event larger than {} MiB",
                    MAX_EVENT / (1024 * 1024)
                ));
            }
        }
        Ok(())
    }

    /// The body ended: a last event without its blank line is dispatched (upstreams that end
    /// the body right after the last `data:` line).
    pub fn end(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out);
        }
        self.dispatch(out);
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // a comment (keep-alives)
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                // valid UTF-8 (the rule) is checked by the fast path; lossy only when it is not
                match std::str::from_utf8(value) {
                    Ok(text) => self.data.push_str(text),
                    Err(_) => self.data.push_str(&String::from_utf8_lossy(value)),
                }
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {} // id, retry, unknown fields
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        out.push(SseEvent {
            event: event.filter(|e| !e.is_empty()),
            data: std::mem::take(&mut self.data),
        });
    }
}

/// What a protocol makes of each SSE event.
pub(crate) trait SseHandler: Send {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<sy_api::Frame>);
}

/// A decoder for an SSE body: the framer, then the protocol's handler.
pub(crate) struct SseDecode<H> {
    framer: SseFramer,
    events: Vec<SseEvent>,
    pub(crate) handler: H,
}

impl<H: SseHandler> SseDecode<H> {
    pub(crate) fn new(handler: H) -> Self {
        Self {
            framer: SseFramer::default(),
            events: Vec::new(),
            handler,
        }
    }
}

impl<H: SseHandler> crate::Decode for SseDecode<H> {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<sy_api::Frame>) -> Result<(), String> {
        let r = self.framer.feed(bytes, &mut self.events);
        for ev in self.events.drain(..) {
            self.handler.event(ev, out);
        }
        r
    }

    fn end(&mut self, out: &mut Vec<sy_api::Frame>) -> Result<(), String> {
        self.framer.end(&mut self.events);
        for ev in self.events.drain(..) {
            self.handler.event(ev, out);
        }
        Ok(())
    }
}

/// Largest whole (non-streamed) answer read.
pub const MAX_WHOLE_BODY: usize = 32 * 1024 * 1024;

/// A decoder for a whole JSON answer: the body is gathered (bounded), then read at the end.
pub(crate) struct WholeDecode<F> {
    body: Vec<u8>,
    read: F,
}

impl<F> WholeDecode<F>
where
    F: FnMut(&[u8], &mut Vec<sy_api::Frame>) -> Result<(), String> + Send,
{
    pub(crate) fn new(read: F) -> Self {
        Self {
            body: Vec::new(),
            read,
        }
    }
}

impl<F> crate::Decode for WholeDecode<F>
where
    F: FnMut(&[u8], &mut Vec<sy_api::Frame>) -> Result<(), String> + Send,
{
    fn feed(&mut self, bytes: &[u8], _out: &mut Vec<sy_api::Frame>) -> Result<(), String> {
        if self.body.len() + bytes.len() > MAX_WHOLE_BODY {
            return Err(format!(
                "an answer larger than {} MiB",
                MAX_WHOLE_BODY / (1024 * 1024)
            ));
        }
        self.body.extend_from_slice(bytes);
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<sy_api::Frame>) -> Result<(), String> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(()); // nothing at all: an empty answer, not a broken one
        }
        let body = std::mem::take(&mut self.body);
        (self.read)(&body, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut f = SseFramer::default();
        let mut out = Vec::new();
        for p in pieces {
            f.feed(p, &mut out).unwrap();
        }
        f.end(&mut out);
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn events_split_anywhere_and_every_line_ending() {
        let whole: &[u8] = b": keep-alive\r\nevent: a\r\ndata: {\"x\":\r\ndata: 1}\r\n\r\ndata:two\n\ndata: three\r\rid: 7\nevent: \ndata: four";
        let want = vec![
            ev(Some("a"), "{\"x\":\n1}"),
            ev(None, "two"),
            ev(None, "three"),
            ev(None, "four"),
        ];
        assert_eq!(all(&[whole]), want);
        for cut in 1..whole.len() {
            assert_eq!(all(&[&whole[..cut], &whole[cut..]]), want, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(all(&bytes), want);
    }

    #[test]
    fn an_event_that_never_ends_is_refused_not_buffered() {
        let mut f = SseFramer::default();
        let mut out = Vec::new();
        f.feed(b"data: ", &mut out).unwrap();
        let chunk = vec![b'a'; 64 * 1024];
        let mut fed = 0;
        let err = loop {
            match f.feed(&chunk, &mut out) {
                Ok(()) => fed += chunk.len(),
                Err(e) => break e,
            }
            assert!(fed <= MAX_EVENT, "the framer buffered past its bound");
        };
        assert!(err.contains("larger than"), "{err}");
        // many data lines of one event count too
        let mut f = SseFramer::default();
        let line = format!("data: {}\n", "b".repeat(1024));
        let mut result = Ok(());
        for _ in 0..(MAX_EVENT / 1024 + 10) {
            result = f.feed(line.as_bytes(), &mut out);
            if result.is_err() {
                break;
            }
        }
        assert!(result.is_err());
    }
}
