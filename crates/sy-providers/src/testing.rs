//! Test helpers: recorded captures through a decoder, events rendered one per line, a target.

use sy_api::{Event, Frame};
use sy_config::{Api, Provider};

use crate::{Continue, Decode, Protocol, Target};

pub(crate) fn provider(api: Api) -> Provider {
    Provider {
        name: "p".to_owned(),
        api,
        base_url: "http://up".to_owned(),
        api_key: None,
        data_collection_allowed: true,
        zdr: false,
        max_concurrency: 8,
        headers: Vec::new(),
        cloud: sy_config::Cloud::default(),
    }
}

pub(crate) fn target(p: &Provider) -> Target<'_> {
    Target {
        provider: p,
        upstream_model: "up-model",
        max_tokens: None,
        supported: &[],
    }
}

/// A capture (as bytes on the wire) through a protocol's stream decoder, fed in small pieces.
pub(crate) fn decode(
    p: &dyn Protocol,
    api: Api,
    capture: &str,
    whole: bool,
) -> Result<Vec<Frame>, String> {
    let prov = provider(api);
    let mut d: Box<dyn Decode> = p.decoder(&target(&prov), Continue::Fresh, whole);
    let mut out = Vec::new();
    for piece in capture.as_bytes().chunks(7) {
        d.feed(piece, &mut out)?;
    }
    d.end(&mut out)?;
    Ok(out)
}

/// One line per event.
pub(crate) fn render(frames: &[Frame]) -> String {
    let mut lines = Vec::new();
    for f in frames {
        for e in &f.events {
            lines.push(line(e));
        }
    }
    lines.join("\n")
}

fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

pub(crate) fn line(e: &Event) -> String {
    match e {
        Event::Text(t) => format!("text {}", q(t)),
        Event::Reasoning(t) => format!("reasoning {}", q(t)),
        Event::ReasoningSignature(s) => format!("signature {}", q(s)),
        Event::EncryptedReasoning(d) => format!("encrypted {}", q(d)),
        Event::ToolStart { index, id, name } => format!("tool {index} {id} {name}"),
        Event::ToolArgs { index, delta } => format!("args {index} {}", q(delta)),
        Event::Refusal(t) => format!("refusal {}", q(t)),
        Event::Usage(u) => format!(
            "usage prompt={} completion={} cached={} write={} reasoning={}",
            u.prompt_tokens,
            u.completion_tokens,
            opt(u.cached_tokens),
            opt(u.cache_write_tokens),
            opt(u.reasoning_tokens)
        ),
        Event::Finish(f) => format!("finish {}", f.as_openai()),
        Event::Error(e) => format!(
            "error kind={} code={} message={}",
            e.kind.as_deref().unwrap_or("-"),
            e.code.as_deref().unwrap_or("-"),
            e.message
        ),
        Event::Done => "done".to_owned(),
        Event::Malformed => "malformed".to_owned(),
    }
}

/// Compares rendered output with a golden, ignoring the golden's indentation.
pub(crate) fn assert_golden(actual: &str, expect: &str) {
    let expect: Vec<&str> = expect
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(actual, expect.join("\n"), "\nactual:\n{actual}\n");
}
