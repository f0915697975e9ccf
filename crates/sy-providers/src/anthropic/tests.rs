//! Golden tests: recorded Anthropic SSE captures and message bodies in, pieces out (rendered one
//! per line); OpenAI requests in, Messages bodies out.

mod events;
mod message;
mod request;

use serde_json::Value;

use super::*;
use crate::chunk::Piece;

/// Decodes an SSE capture (`event:` / `data:` lines, events separated by blank lines) as the
/// IO layer would hand it over, event by event.
fn decode_sse(capture: &str, state: &mut StreamState) -> Vec<Piece> {
    let mut out = Vec::new();
    for raw in capture.split("\n\n") {
        let mut event = "";
        let mut data = String::new();
        for line in raw.lines().map(str::trim) {
            if let Some(e) = line.strip_prefix("event:") {
                event = e.trim();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
            }
        }
        if !event.is_empty() || !data.is_empty() {
            state.event(event, &data, &mut out);
        }
    }
    out
}

/// One line per piece; chunk invariants (one choice, index 0, the chunk object) are asserted on
/// the way so that the goldens need only show the delta and the finish reason.
fn render(pieces: &[Piece]) -> String {
    let mut lines = Vec::new();
    for p in pieces {
        lines.push(match p {
            Piece::Chunk(c) => {
                assert_eq!(c["object"], "chat.completion.chunk", "{c}");
                let choices = c["choices"].as_array().expect("choices");
                assert_eq!(choices.len(), 1, "{c}");
                assert_eq!(choices[0]["index"], 0, "{c}");
                let mut line = format!("chunk {}", canon(&choices[0]["delta"]));
                if let Some(f) = choices[0]["finish_reason"].as_str() {
                    line.push_str(" finish=");
                    line.push_str(f);
                }
                line
            }
            Piece::Usage(u) => format!(
                "usage prompt={} completion={} cached={} write={}",
                u.prompt_tokens,
                u.completion_tokens,
                opt(u.cached_tokens),
                opt(u.cache_write_tokens)
            ),
            Piece::Done => "done".to_owned(),
            Piece::Error(e) => format!(
                "error kind={} code={} message={}",
                e.kind.as_deref().unwrap_or("-"),
                e.code.as_deref().unwrap_or("-"),
                e.message
            ),
            Piece::Malformed => "malformed".to_owned(),
        });
    }
    lines.join("\n")
}

fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

/// Compact JSON with object keys sorted, so that goldens do not depend on map ordering.
fn canon(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canon(&o[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canon).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Compares rendered output with a golden, ignoring the golden's indentation.
fn assert_golden(actual: &str, expect: &str) {
    let expect: Vec<&str> = expect
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(actual, expect.join("\n"), "\nactual:\n{actual}\n");
}
