//! Helpers shared by the fuzz targets: a provider and target to decode for, and the checks every
//! decoded answer must pass whatever the upstream sent — decoded into typed events, then rendered
//! by every dialect, streamed and collected.

use serde_json::Value;
use sy_api::{Family, Frame, Usage};
use sy_config::{Api, Provider};
use sy_dialects::{Dialect, End, Meta};
use sy_providers::{Continue, Target};

/// The protocols whose answers the stream targets decode.
pub const APIS: [Api; 6] = [
    Api::OpenAi,
    Api::Anthropic,
    Api::Gemini,
    Api::Azure,
    Api::Bedrock,
    Api::Vertex,
];

pub fn provider(api: Api) -> Provider {
    Provider {
        name: "p".to_owned(),
        api,
        base_url: "http://127.0.0.1:9".to_owned(),
        api_key: None,
        data_collection_allowed: true,
        zdr: false,
        max_concurrency: 8,
        headers: Vec::new(),
        cloud: sy_config::Cloud::default(),
    }
}

pub fn target(p: &Provider) -> Target<'_> {
    Target {
        provider: p,
        upstream_model: "up-model",
        max_tokens: Some(1024),
        supported: &[],
    }
}

/// Feeds the input through `api`'s decoder in pieces (the first byte picks the piece size), as a
/// stream or, with `whole`, as one body, then renders what it decoded. The first line is the
/// prefill of a resumed stream when it starts with `prefill:`.
pub fn decode(api: Api, input: &[u8], whole: bool) {
    let (prefill, rest) = match input.strip_prefix(b"prefill:") {
        Some(r) => {
            let end = r.iter().position(|b| *b == b'\n').unwrap_or(r.len());
            (
                Some(String::from_utf8_lossy(&r[..end]).into_owned()),
                &r[end..],
            )
        }
        None => (None, input),
    };
    let cont = match &prefill {
        Some(p) => Continue::Prefill(p),
        None => Continue::Fresh,
    };
    let prov = provider(api);
    let protocol = sy_providers::protocol(api);
    let mut decoder = protocol.decoder(&target(&prov), cont, whole);
    let piece = usize::from(rest.first().copied().unwrap_or(1)).max(1);
    let mut frames = Vec::new();
    for chunk in rest.chunks(piece) {
        if decoder.feed(chunk, &mut frames).is_err() {
            break;
        }
    }
    let _ = decoder.end(&mut frames);
    render_all(protocol.family("up-model"), &frames);
}

/// Every dialect renders the frames, streamed and collected: passed through when the families
/// match, event by event otherwise. A collected answer is a JSON object.
pub fn render_all(family: Family, frames: &[Frame]) {
    let dialects: [&dyn Dialect; 3] = [
        &sy_dialects::Chat,
        &sy_dialects::Messages,
        &sy_dialects::Responses,
    ];
    let meta = Meta {
        gen_id: "gen-fuzz",
        created: 0,
        model: "m",
        provider: "p",
        family,
        prompt_estimate: 10,
    };
    let usage = Usage::default();
    for dialect in dialects {
        for stream in [true, false] {
            let mut r = dialect.render(stream);
            let mut out = Vec::new();
            for f in frames {
                match &f.raw {
                    Some(raw) if dialect.family() == family => {
                        r.pass(raw, &f.events, &meta, &mut out);
                    }
                    _ => {
                        for e in &f.events {
                            r.event(e, &meta, &mut out);
                        }
                    }
                }
            }
            let end = End {
                meta,
                usage: &usage,
                finish: None,
            };
            r.finish(&end, &mut out);
            if !stream {
                let body = r.body(&end);
                let v: Value = serde_json::from_slice(&body).expect("a collected answer is JSON");
                assert!(
                    v.is_object(),
                    "a collected answer that is not an object: {v}"
                );
            }
        }
    }
}
