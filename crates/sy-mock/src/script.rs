//! A stream answer as a script: the SSE events to send, the pauses between
//! them and the faults, decided in full before the first byte goes out.
//!
//! Building the script is pure (the wire modules do it); `stream.rs` plays it.

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use crate::behaviour::Behaviour;

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// Send one SSE event as its own body frame.
    Send(Bytes),
    /// Wait until this long after the stream started (pacing).
    Until(Duration),
    /// Go silent until the client leaves or the behaviour changes.
    Stall,
    /// Break the connection instead of ending the body.
    Abort,
    /// Keep the connection open this long (or until released), then end.
    Hold(Duration),
}

/// The API-specific events a fault sends.
pub(crate) trait FaultEvents {
    /// A syntactically broken event.
    fn malformed(&self) -> Bytes;
    /// The API's in-band error event.
    fn in_band_error(&self) -> Bytes;
}

/// Builds a script, applying pacing and the behaviour's stream faults.
pub(crate) struct Script<'a> {
    steps: Vec<Step>,
    b: &'a Behaviour,
    at: Duration,
    per_token: Duration,
    /// The first content's pause is taken (reasoning came before the answer).
    first_paced: bool,
}

impl<'a> Script<'a> {
    /// An empty script with room for about `events` events.
    pub(crate) fn new(b: &'a Behaviour, events: usize) -> Self {
        Self {
            steps: Vec::with_capacity(events * 2 + 4),
            b,
            at: Duration::ZERO,
            per_token: b.per_token(),
            first_paced: false,
        }
    }

    /// Sends one event.
    pub(crate) fn send(&mut self, event: Bytes) {
        self.steps.push(Step::Send(event));
    }

    /// The pause before the first content.
    pub(crate) fn pace_first(&mut self) {
        if self.first_paced {
            self.pace_token();
            return;
        }
        self.first_paced = true;
        let ttft = self.b.ttft();
        if !ttft.is_zero() {
            self.at += ttft;
            self.steps.push(Step::Until(self.at));
        }
    }

    /// The pause before each further content chunk.
    pub(crate) fn pace_token(&mut self) {
        if !self.per_token.is_zero() {
            self.at += self.per_token;
            self.steps.push(Step::Until(self.at));
        }
    }

    /// Applies the faults due before content chunk `k` (0-based; `k` equal to
    /// the chunk count means "after the last one"). True: the stream is over.
    pub(crate) fn fault_before(&mut self, k: usize, wire: &impl FaultEvents) -> bool {
        let at = |n: Option<u32>| n.is_some_and(|n| usize::try_from(n).is_ok_and(|n| n == k));
        if at(self.b.malformed_at) {
            self.send(wire.malformed());
        }
        if at(self.b.cut_after) {
            if self.b.abort {
                self.steps.push(Step::Abort);
            }
            return true;
        }
        if at(self.b.stall_after) {
            self.steps.push(Step::Stall);
            return true;
        }
        if at(self.b.error_after) {
            self.send(wire.in_band_error());
            return true;
        }
        false
    }

    /// The script as it stands (a fault ended it).
    pub(crate) fn into_steps(self) -> Vec<Step> {
        self.steps
    }

    /// The script of a stream that ran to its end: `no_done` + `hold_ms`
    /// keep the connection open a while.
    pub(crate) fn finish(mut self) -> Vec<Step> {
        if self.b.no_done && self.b.hold_ms > 0 {
            self.steps
                .push(Step::Hold(Duration::from_millis(self.b.hold_ms)));
        }
        self.steps
    }
}

/// `data: {json}\n\n`.
pub(crate) fn sse_data<T: Serialize>(value: &T) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    write_json(&mut buf, value);
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

/// `event: {name}\ndata: {json}\n\n`.
pub(crate) fn sse_event<T: Serialize>(name: &str, value: &T) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"event: ");
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\ndata: ");
    write_json(&mut buf, value);
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

/// A JSON body.
pub(crate) fn json_bytes<T: Serialize>(value: &T) -> Bytes {
    let mut buf = Vec::with_capacity(512);
    write_json(&mut buf, value);
    Bytes::from(buf)
}

fn write_json<T: Serialize>(buf: &mut Vec<u8>, value: &T) {
    // Plain structs and strings into memory cannot fail to serialize; if one
    // ever did, the truncated JSON is what a broken upstream looks like.
    if let Err(e) = serde_json::to_writer(&mut *buf, value) {
        tracing::error!(error = %e, "mock: cannot serialize a reply");
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Wire;
    impl FaultEvents for Wire {
        fn malformed(&self) -> Bytes {
            Bytes::from_static(b"broken")
        }
        fn in_band_error(&self) -> Bytes {
            Bytes::from_static(b"error")
        }
    }

    fn run(b: &Behaviour, chunks: usize) -> Vec<Step> {
        let mut s = Script::new(b, chunks);
        for k in 0..chunks {
            if s.fault_before(k, &Wire) {
                return s.into_steps();
            }
            if k == 0 {
                s.pace_first();
            } else {
                s.pace_token();
            }
            s.send(Bytes::from(k.to_string()));
        }
        if s.fault_before(chunks, &Wire) {
            return s.into_steps();
        }
        s.send(Bytes::from_static(b"end"));
        s.finish()
    }

    fn send(s: &'static str) -> Step {
        Step::Send(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn faults_and_pacing_land_where_the_behaviour_says() {
        let ms = Duration::from_millis;
        let cases: Vec<(Behaviour, Vec<Step>)> = vec![
            (
                Behaviour::default(),
                vec![send("0"), send("1"), send("end")],
            ),
            (
                Behaviour {
                    ttft_ms: 100,
                    tokens_per_s: 10.0,
                    ..Behaviour::default()
                },
                vec![
                    Step::Until(ms(100)),
                    send("0"),
                    Step::Until(ms(200)),
                    send("1"),
                    send("end"),
                ],
            ),
            (
                Behaviour {
                    cut_after: Some(1),
                    ..Behaviour::default()
                },
                vec![send("0")],
            ),
            (
                Behaviour {
                    cut_after: Some(0),
                    abort: true,
                    ..Behaviour::default()
                },
                vec![Step::Abort],
            ),
            (
                Behaviour {
                    stall_after: Some(2),
                    ..Behaviour::default()
                },
                vec![send("0"), send("1"), Step::Stall],
            ),
            (
                Behaviour {
                    error_after: Some(1),
                    ..Behaviour::default()
                },
                vec![send("0"), send("error")],
            ),
            (
                Behaviour {
                    malformed_at: Some(1),
                    no_done: true,
                    hold_ms: 5,
                    ..Behaviour::default()
                },
                vec![
                    send("0"),
                    send("broken"),
                    send("1"),
                    send("end"),
                    Step::Hold(ms(5)),
                ],
            ),
        ];
        for (b, expected) in cases {
            assert_eq!(run(&b, 2), expected, "{b:?}");
        }
    }

    #[test]
    fn sse_framing() {
        assert_eq!(&sse_data(&"x")[..], b"data: \"x\"\n\n");
        assert_eq!(&sse_event("ping", &1)[..], b"event: ping\ndata: 1\n\n");
    }
}
