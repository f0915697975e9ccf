//! Hostile clients against a real gateway over loopback: a few hundred malformed, mistyped,
//! absurd and oversized bodies (a hand-written table plus seeded generators), each answered in the
//! SPEC §4.5 error shape within a bounded time and without a panic; oversized headers; a body
//! that never ends; and, through `sy_server::serve_with_limits`, slow headers and the
//! connection limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use support::Gateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Every answer must come within this (the client gives up after it and the test fails).
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

const JSON: Option<&str> = Some("application/json");

struct Case {
    name: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    /// The status the answer must have (its body is always the error shape).
    status: u16,
    /// Sent with chunked transfer encoding (no `Content-Length`).
    chunked: bool,
}

fn case(name: impl Into<String>, body: impl Into<Vec<u8>>, status: u16) -> Case {
    Case {
        name: name.into(),
        content_type: JSON,
        body: body.into(),
        status,
        chunked: false,
    }
}

fn max_body() -> usize {
    sy_config::ServerConfig::default().max_body_bytes
}

fn valid() -> Value {
    json!({"model": "test/m", "messages": [{"role": "user", "content": "hi"}]})
}

/// Valid bodies the generators start from, richer than `valid()` so truncations land in many
/// different places.
fn valid_bases() -> Vec<Value> {
    vec![
        valid(),
        json!({"model": "test/m", "stream": true, "max_tokens": 16, "temperature": 0.2,
               "messages": [{"role": "system", "content": "be brief"},
                            {"role": "user", "content": [{"type": "text", "text": "héllo ✓"}]}]}),
        json!({"model": "test/m", "models": ["test/m"], "stop": ["\n\n"], "seed": 7,
               "provider": {"order": ["up"], "allow_fallbacks": false, "sort": {"by": "price"},
                            "max_price": {"prompt": 5, "completion": 5}},
               "tools": [{"type": "function", "function": {"name": "get", "parameters": {}}}],
               "messages": [{"role": "user", "content": "weather?"}]}),
    ]
}

fn with(path: &[&str], value: Value) -> Vec<u8> {
    let mut body = valid();
    let mut at = &mut body;
    for key in &path[..path.len() - 1] {
        at = at
            .as_object_mut()
            .unwrap()
            .entry(*key)
            .or_insert_with(|| json!({}));
    }
    at[path[path.len() - 1]] = value;
    serde_json::to_vec(&body).unwrap()
}

/// Every field the gateway reads, with values of every wrong type (and wrong values): a field
/// path, then a JSON array of the values to try there.
const WRONG_TYPES: &[(&str, &str)] = &[
    (
        "model",
        r#"[1, true, [], {}, "", "   ", ["test/m"], "nope/none", "test/m\n"]"#,
    ),
    (
        "models",
        r#"["test/m", 1, {}, [1], [""], [null], [["test/m"]]]"#,
    ),
    (
        "messages",
        r#"[null, "hi", 1, {}, [], [1], ["hi"], [null], [{}],
            [{"role": 1, "content": "x"}], [{"role": "wizard", "content": "x"}],
            [{"role": ["user"], "content": "x"}], [{"role": "user", "content": 5}],
            [{"role": "user", "content": {}}], [{"role": "user", "content": true}],
            [{"role": "user", "content": "ok"}, {"role": "USER", "content": "x"}]]"#,
    ),
    ("stream", r#"["true", 1, 0, [], {}]"#),
    ("seed", r#"[1.5, "1", true, [], {}]"#),
    ("stop", r#"[1, [1], {}, true, ["a", 1], [null]]"#),
    ("tools", r#"[{}, "x", 1, true]"#),
    ("stream_options", r#"[[], "x", 1, true]"#),
    ("response_format", r#"[[], "json", 1]"#),
    ("user", r#"[1, {}, [], true]"#),
    ("tool_choice", r#"[1, [], true]"#),
    ("max_tokens", "[4294967296]"),
    ("n", "[0]"),
    ("provider", r#"["up", 1, [], true]"#),
    ("provider.data_collection", r#"["maybe", 1, true, []]"#),
    (
        "provider.sort",
        r#"["fastest", 1, [], {}, {"by": "x"}, {"foo": 1}, {"by": "price", "partition": "x"}]"#,
    ),
    (
        "provider.max_price",
        r#"["x", 1, {"prompt": -1}, {"prompt": "1"}, {"foo": 1}, {"completion": []}]"#,
    ),
    ("provider.fastest", "[true]"),
    ("provider.Order", r#"[["up"]]"#),
    ("provider.order", r#"[["unknown-provider"]]"#),
];

fn wrong_types() -> Vec<Case> {
    const NOT_NUMBER: &str = r#"["0.5", true, [], {}]"#;
    const NOT_COUNT: &str = r#"[-1, 1.5, "10", true, [], {}, 1e300]"#;
    const NOT_SLUGS: &str = r#"["up", 1, {}, [1], [""], [null]]"#;
    const NOT_BOOL: &str = r#"["true", 1, [], {}]"#;
    const NOT_FIGURE: &str = r#"[-1, "x", true, {}]"#;
    let mut fields: Vec<(String, &str)> = WRONG_TYPES
        .iter()
        .map(|(path, values)| ((*path).to_owned(), *values))
        .collect();
    let mut each = |keys: &[&str], prefix: &str, values: &'static str| {
        for key in keys {
            fields.push((format!("{prefix}{key}"), values));
        }
    };
    each(
        &[
            "temperature",
            "top_p",
            "frequency_penalty",
            "presence_penalty",
        ],
        "",
        NOT_NUMBER,
    );
    each(&["repetition_penalty", "min_p", "top_a"], "", NOT_NUMBER);
    each(
        &[
            "max_tokens",
            "max_completion_tokens",
            "n",
            "top_k",
            "top_logprobs",
        ],
        "",
        NOT_COUNT,
    );
    each(
        &["order", "only", "ignore", "quantizations"],
        "provider.",
        NOT_SLUGS,
    );
    each(
        &["allow_fallbacks", "require_parameters", "zdr"],
        "provider.",
        NOT_BOOL,
    );
    each(
        &["preferred_min_throughput", "preferred_max_latency"],
        "provider.",
        NOT_FIGURE,
    );
    let mut out = vec![case(
        "model = 100 kB",
        with(&["model"], json!("x".repeat(100_000))),
        400,
    )];
    for (path, values) in fields {
        let path: Vec<&str> = path.split('.').collect();
        let values: Vec<Value> = serde_json::from_str(values).unwrap();
        for v in values {
            let shown: String = v.to_string().chars().take(40).collect();
            out.push(case(
                format!("{} = {shown}", path.join(".")),
                with(&path, v),
                400,
            ));
        }
    }
    out
}

/// Hand-written nasty bodies: syntax, encodings, numbers, nesting, size, content types.
fn table() -> Vec<Case> {
    let valid_text = serde_json::to_string(&valid()).unwrap();
    let number = |field: &str, literal: &str| {
        format!(
            r#"{{"model":"test/m","messages":[{{"role":"user","content":"hi"}}],"{field}":{literal}}}"#
        )
    };
    let mut out = vec![
        case("empty body", "", 400),
        case("whitespace only", " \n\t ", 400),
        case("a lone brace", "{", 400),
        case("truncated after a key", r#"{"model":"#, 400),
        case(
            "valid but the last byte",
            &valid_text[..valid_text.len() - 1],
            400,
        ),
        case("valid twice", format!("{valid_text}{valid_text}"), 400),
        case("trailing garbage", format!("{valid_text} x"), 400),
        case("null root", "null", 400),
        case("boolean root", "true", 400),
        case("number root", "1", 400),
        case("string root", r#""test/m""#, 400),
        case("array root", "[]", 400),
        case("array of the body", format!("[{valid_text}]"), 400),
        case("empty object", "{}", 400),
        case(
            "duplicate key, last of the wrong type",
            r#"{"model":"test/m","model":5,"messages":[{"role":"user","content":"hi"}]}"#,
            400,
        ),
        case(
            "single quotes",
            "{'model':'test/m','messages':[{'role':'user','content':'hi'}]}",
            400,
        ),
        case(
            "trailing comma",
            r#"{"model":"test/m","messages":[{"role":"user","content":"hi"}],}"#,
            400,
        ),
        case(
            "comment",
            r#"{"model":"test/m", /* hi */ "messages":[{"role":"user","content":"hi"}]}"#,
            400,
        ),
        case("10,000 open brackets", "[".repeat(10_000), 400),
        case(
            "10,000 balanced brackets",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
            400,
        ),
        case("10,000 nested objects", r#"{"a":"#.repeat(10_000), 400),
        case(
            "content nested 10,000 deep",
            format!(
                r#"{{"model":"test/m","messages":[{{"role":"user","content":{}"x"{}}}]}}"#,
                "[".repeat(10_000),
                "]".repeat(10_000)
            ),
            400,
        ),
        case(
            "lone surrogate escape",
            r#"{"model":"test/m","messages":[{"role":"user","content":"\ud800"}]}"#,
            400,
        ),
        case(
            "bad escape",
            r#"{"model":"test/m","messages":[{"role":"user","content":"\q"}]}"#,
            400,
        ),
        case(
            "NUL between tokens",
            format!("{}\0}}", &valid_text[..valid_text.len() - 1]),
            400,
        ),
        case(
            "raw newline in a string",
            "{\"model\":\"test/m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\nb\"}]}",
            400,
        ),
        case(
            "50,000 keys and no model",
            format!(
                "{{{}}}",
                (0..50_000)
                    .map(|i| format!("\"k{i}\":{i}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            400,
        ),
        case(
            "200,000 backslash escapes in the model",
            format!(
                r#"{{"model":"{}","messages":[{{"role":"user","content":"hi"}}]}}"#,
                "\\n".repeat(100_000)
            ),
            400,
        ),
    ];
    // numbers JSON allows but nothing can hold, and literals it does not allow
    let digits = format!("1{}", "0".repeat(500));
    for (field, literal) in [
        ("temperature", "NaN"),
        ("temperature", "Infinity"),
        ("temperature", "1e400"),
        ("temperature", "-1e400"),
        ("max_tokens", "1e400"),
        ("max_tokens", "1e-400"),
        ("max_tokens", "-1"),
        ("max_tokens", "18446744073709551616"), // u64::MAX + 1
        ("max_tokens", "18446744073709551615"), // u64::MAX: overflowed the planner
        ("max_completion_tokens", "18446744073709551615"),
        ("max_tokens", "-9223372036854775809"), // i64::MIN - 1
        ("max_tokens", digits.as_str()),
        ("seed", "18446744073709551616"),
        ("top_k", "1e999999999999"),
    ] {
        out.push(case(
            format!("{field} = {literal:.30}"),
            number(field, literal),
            400,
        ));
    }
    // encodings
    let mut bad = |name: &str, bytes: Vec<u8>| out.push(case(name, bytes, 400));
    bad(
        "invalid UTF-8 in content",
        b"{\"model\":\"test/m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}"
            .to_vec(),
    );
    bad("UTF-16 BOM and garbage", b"\xff\xfe{\x00}\x00".to_vec());
    bad(
        "overlong UTF-8 slash in the model",
        b"{\"model\":\"test\xc0\xafm\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
            .to_vec(),
    );
    bad(
        "UTF-8 encoded surrogate",
        b"{\"model\":\"test/m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xed\xa0\x80\"}]}"
            .to_vec(),
    );
    bad(
        "truncated multi-byte character",
        b"{\"model\":\"test/m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xe2\x9c\"}]}"
            .to_vec(),
    );
    bad("UTF-8 BOM before the body", {
        let mut b = b"\xef\xbb\xbf".to_vec();
        b.extend_from_slice(valid_text.as_bytes());
        b
    });
    bad("UTF-16LE body", {
        valid_text
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect()
    });
    // content types the gateway does not speak, with bodies that are not JSON either
    let mut typed = |name: &str, ct: Option<&'static str>, body: &str| {
        let mut c = case(name, body, 400);
        c.content_type = ct;
        out.push(c);
    };
    typed(
        "form-encoded",
        Some("application/x-www-form-urlencoded"),
        "model=test%2Fm&messages=hi",
    );
    typed(
        "multipart",
        Some("multipart/form-data; boundary=xyz"),
        "--xyz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ntest/m\r\n--xyz--\r\n",
    );
    typed("plain text", Some("text/plain"), "please answer: hi");
    typed("xml", Some("application/xml"), "<model>test/m</model>");
    typed("no content type", None, "hi");
    typed(
        "JSON content type with an odd charset",
        Some("application/json; charset=ebcdic"),
        "\u{1}\u{2}",
    );
    typed("an unparsable content type", Some(";;;/"), "{");
    // size: max_body_bytes is 4 MiB by default
    let limit = max_body();
    out.push(case(
        "a valid body one byte over max_body_bytes",
        {
            let pad = limit + 1 - with(&["content"], json!("")).len();
            with(&["content"], json!("x".repeat(pad)))
        },
        413,
    ));
    out.push(case("5 MiB of garbage", vec![b'x'; 5 << 20], 413));
    let mut chunked = case(
        "5 MiB chunked, no Content-Length",
        with(&["content"], json!("y".repeat(5 << 20))),
        413,
    );
    chunked.chunked = true;
    out.push(chunked);
    // absurd but well-formed: more prompt than any endpoint's context (503: nothing can serve it)
    let many: Vec<Value> = (0..100_000)
        .map(|_| json!({"role": "user", "content": "x"}))
        .collect();
    out.push(case(
        "100,000 messages",
        with(&["messages"], Value::Array(many)),
        503,
    ));
    out
}

/// splitmix64: a fixed-seed generator, so a failure names a case that can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// Mutations of valid bodies that can only make them invalid: a strict prefix of a JSON object,
/// a control character (never legal unescaped, in or out of a string), a byte that is never UTF-8.
fn generated(seed: u64) -> Vec<Case> {
    let mut rng = Rng(seed);
    let bases: Vec<Vec<u8>> = valid_bases()
        .iter()
        .map(|b| serde_json::to_vec(b).unwrap())
        .collect();
    let mut out = Vec::new();
    for i in 0..30 {
        let base = &bases[i % bases.len()];
        let cut = rng.below(base.len());
        out.push(case(
            format!("base {} cut at {cut}", i % bases.len()),
            &base[..cut],
            400,
        ));
    }
    let controls: Vec<u8> = (0u8..0x20)
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
        .collect();
    for i in 0..20 {
        let mut body = bases[i % bases.len()].clone();
        let at = rng.below(body.len() + 1);
        let byte = controls[rng.below(controls.len())];
        body.insert(at, byte);
        out.push(case(
            format!("base {} with 0x{byte:02x} at {at}", i % bases.len()),
            body,
            400,
        ));
    }
    for i in 0..20 {
        let mut body = bases[i % bases.len()].clone();
        let at = rng.below(body.len() + 1);
        let byte = [0xff_u8, 0xfe, 0xc0, 0xc1, 0xf5][rng.below(5)];
        body.insert(at, byte);
        out.push(case(
            format!("base {} with 0x{byte:02x} at {at}", i % bases.len()),
            body,
            400,
        ));
    }
    out
}

fn all_cases() -> Vec<Case> {
    let mut cases = table();
    cases.extend(wrong_types());
    cases.extend(generated(0x5157_C4A2_D000_0010));
    let mut seen = HashSet::new();
    cases.retain(|c| seen.insert((c.content_type, c.body.clone(), c.chunked)));
    cases
}

/// The SPEC §4.5 error shape, with `error.code` equal to the status, and nothing that looks like
/// a panic or a stack trace.
fn assert_error_shape(name: &str, status: u16, text: &str) {
    let body: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{name}: the answer is not JSON ({e}): {text:.300}"));
    let e = &body["error"];
    assert_eq!(e["code"], status, "{name}: {text:.300}");
    let message = e["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{name}: no message: {text:.300}");
    assert!(
        e["metadata"].is_object(),
        "{name}: no metadata: {text:.300}"
    );
    for tell in [
        "panicked",
        "stack backtrace",
        "RUST_BACKTRACE",
        ".rs:",
        "/src/",
    ] {
        assert!(
            !text.contains(tell),
            "{name}: the answer shows internals ({tell}): {text:.300}"
        );
    }
}

async fn send(http: &reqwest::Client, url: &str, c: Case) -> Result<(), String> {
    let mut request = http.post(url);
    if let Some(ct) = c.content_type {
        request = request.header("content-type", ct);
    }
    request = if c.chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            c.body.chunks(64 * 1024).map(|b| Ok(b.to_vec())).collect();
        request.body(reqwest::Body::wrap_stream(stream::iter(chunks)))
    } else {
        request.body(c.body)
    };
    let r = request
        .send()
        .await
        .map_err(|e| format!("{}: no answer: {e}", c.name))?;
    let status = r.status().as_u16();
    let text = r
        .text()
        .await
        .map_err(|e| format!("{}: answer cut: {e}", c.name))?;
    if status != c.status {
        return Err(format!(
            "{}: status {status}, expected {}: {text:.300}",
            c.name, c.status
        ));
    }
    assert_error_shape(&c.name, status, &text);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_all_get_the_error_shape_and_the_gateway_stays_up() {
    let gw = Gateway::start(&[("up", json!({}))], "").await;
    let cases = all_cases();
    assert!(cases.len() >= 200, "only {} distinct cases", cases.len());
    let panics_before = sy_server::panics_caught();
    // a fresh connection per case: the gateway rightly closes a connection whose body it refused
    // (413) or could not parse, and a pooled client racing that close would fail the next case
    // for a reason that is not the body's
    let http = reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = format!("{}/api/v1/chat/completions", gw.url);
    let failures: Vec<String> = stream::iter(cases)
        .map(|c| send(&http, &url, c))
        .buffer_unordered(8)
        .filter_map(|r| async move { r.err() })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} hostile bodies were mishandled:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        sy_server::panics_caught(),
        panics_before,
        "a hostile body made a handler panic"
    );
    let r = support::chat(&gw, valid()).await;
    assert_eq!(r.status(), 200, "the gateway no longer serves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_431_in_the_error_shape() {
    let gw = Gateway::start(&[("up", json!({}))], "").await;
    let r = gw
        .http
        .post(format!("{}/api/v1/chat/completions", gw.url))
        .header("x-padding", "p".repeat(40 * 1024))
        .json(&valid())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 431);
    assert_error_shape("40 KiB header", status, &r.text().await.unwrap());
    assert_eq!(support::chat(&gw, valid()).await.status(), 200);
}

/// Reads one HTTP/1.1 response (with `Content-Length`) off a raw connection.
async fn read_response(conn: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
                return (status, body);
            }
        }
        let n = tokio::time::timeout(ANSWER_WITHIN, conn.read(&mut chunk))
            .await
            .expect("no answer in time")
            .unwrap();
        assert!(n > 0, "closed before a whole answer: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn get_health(conn: &mut TcpStream) -> (u16, String) {
    conn.write_all(b"GET /health HTTP/1.1\r\nhost: gw\r\n\r\n")
        .await
        .unwrap();
    read_response(conn).await
}

/// Waits until the server closes `conn` (EOF, a reset, or a last answer then EOF), returning
/// what it sent before closing.
async fn closed_by_server(conn: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read_all = conn.read_to_end(&mut got);
    match tokio::time::timeout(ANSWER_WITHIN, read_all).await {
        Ok(_) => got,
        Err(_) => panic!("the server kept the connection open: {got:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_ends_holds_up_no_one_else() {
    let gw = Gateway::start(&[("up", json!({}))], "").await;
    let addr = gw.url.trim_start_matches("http://");
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(
            b"POST /api/v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{\"model\":\"test/m\",",
        )
        .await
        .unwrap();
    // while that request waits for the rest of its body, others are served
    for _ in 0..3 {
        assert_eq!(support::chat(&gw, valid()).await.status(), 200);
    }
    drop(stalled);
    assert_eq!(support::chat(&gw, valid()).await.status(), 200);
}

/// A gateway served by `serve_with_limits` (what `switchyard serve` should use), with no
/// upstream: only `/health` and error answers are needed here.
async fn limited(
    limits: sy_server::ConnLimits,
) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
    let toml = "[[providers]]\nname = \"p\"\nbase_url = \"http://127.0.0.1:9/v1\"\n[[models]]\nid = \"t/m\"\ncontext_length = 8000\n[[models.endpoints]]\nprovider = \"p\"\nupstream_model = \"m\"\nprompt_price = 1.0\ncompletion_price = 1.0\n";
    let config = sy_config::load(toml, "test.toml", &|_| None).unwrap();
    let state = sy_server::AppState::new(
        sy_server::Snapshot::new(config).unwrap(),
        sy_server::ConfigSource::Demo,
        Box::new(|_| None),
        None,
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = CancellationToken::new();
    let app = sy_server::router(Arc::clone(&state));
    let server = tokio::spawn(sy_server::serve_with_limits(
        listener,
        app,
        limits,
        stop.clone(),
    ));
    (addr, stop, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_and_shutdown_waits_for_nobody_idle() {
    let (addr, stop, server) = limited(sy_server::ConnLimits {
        header_read_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nhost: gw\r\nx-a: ")
        .await
        .unwrap();
    let mut other = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(get_health(&mut other).await.0, 200);
    let last = closed_by_server(&mut slow).await;
    assert!(
        last.is_empty() || last.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&last)
    );
    stop.cancel();
    tokio::time::timeout(ANSWER_WITHIN, server)
        .await
        .expect("serve_with_limits did not return after shutdown")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_refused_with_503_until_one_closes() {
    let (addr, stop, server) = limited(sy_server::ConnLimits {
        max_connections: 2,
        max_refusing: 4,
        ..Default::default()
    })
    .await;
    let mut first = TcpStream::connect(&addr).await.unwrap();
    let mut second = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(get_health(&mut first).await.0, 200);
    assert_eq!(get_health(&mut second).await.0, 200);
    let mut third = TcpStream::connect(&addr).await.unwrap();
    let (status, body) = get_health(&mut third).await;
    assert_eq!(status, 503);
    assert_error_shape("over the connection limit", status, &body);
    closed_by_server(&mut third).await;
    // the kept connections still work
    assert_eq!(get_health(&mut second).await.0, 200);
    drop(first);
    // the server sees the close asynchronously: poll with a deadline
    let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
    loop {
        let mut again = TcpStream::connect(&addr).await.unwrap();
        if get_health(&mut again).await.0 == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a closed connection's slot never came back"
        );
        tokio::task::yield_now().await;
    }
    stop.cancel();
    drop(second);
    tokio::time::timeout(ANSWER_WITHIN, server)
        .await
        .expect("serve_with_limits did not return after shutdown")
        .unwrap();
}
