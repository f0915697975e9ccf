//! Google's `generateContent` wire format, as the Gemini API (AI Studio) and Gemini on Vertex AI
//! serve it: `POST .../models/{model}:generateContent` (one `GenerateContentResponse`) and
//! `:streamGenerateContent?alt=sse` (`data: {response}` events separated by CRLF CRLF, each
//! holding only the new parts, `usageMetadata` running on every chunk, `finishReason` on the
//! last; without `alt=sse`, one JSON array). Function calls arrive whole and carry no id.
//! Errors are `{"error":{"code","message","status"}}`.
//!
//! Requests are read as Google's JSON parser reads them: lowerCamel or snake_case field names,
//! integral floats for integers (the official Python SDK sends both).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::reply::{random_hex, Ctx, Finish, Reply};
use crate::request::{words, ChatRequest, Message};
use crate::script::{json_bytes, FaultEvents, Script, Step};
use crate::server::Incoming;

/// `.../models/{model}:generateContent` → (model, false), `:streamGenerateContent` → (model,
/// true). Vertex AI's paths (`.../publishers/google/models/...`) are Vertex's.
pub(crate) fn route(path: &str) -> Option<(String, bool)> {
    if path.contains("/publishers/") {
        return None;
    }
    let (_, rest) = path.rsplit_once("/models/")?;
    let (model, method) = rest.rsplit_once(':')?;
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return None,
    };
    (!model.is_empty() && !model.contains('/')).then(|| (model.to_owned(), stream))
}

/// The Gemini API's key check: `x-goog-api-key` (or `?key=`) must be there. Any non-empty key
/// is taken: the mock has no accounts.
pub(crate) fn check_key(incoming: &Incoming<'_>) -> Result<(), String> {
    let key = incoming
        .header("x-goog-api-key")
        .or_else(|| incoming.query("key"))
        .unwrap_or("");
    if key.trim().is_empty() {
        return Err("Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.".to_owned());
    }
    Ok(())
}

/// A field under either of Google's spellings.
fn field<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    v.get(camel).or_else(|| v.get(snake))
}

/// An integer, also when written as an integral float.
fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| {
                #[allow(clippy::cast_possible_truncation)]
                let n = f as i64;
                n
            })
    })
}

/// Reads a `GenerateContentRequest` into the mock's request, naming the first problem the way
/// Google does.
pub(crate) fn request(body: &[u8], model: &str) -> Result<ChatRequest, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("Invalid JSON payload received. {e}"))?;
    if !v.is_object() {
        return Err("Invalid JSON payload received. Expected an object.".to_owned());
    }
    let contents = v
        .get("contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
    let mut messages = Vec::with_capacity(contents.len());
    for (i, c) in contents.iter().enumerate() {
        let role = match c.get("role").and_then(Value::as_str).unwrap_or("user") {
            "user" => "user",
            "model" => "assistant",
            other => {
                return Err(format!(
                    "Please use a valid role: user, model. (contents[{i}].role = {other:?})"
                ))
            }
        };
        let parts = c
            .get("parts")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                format!("* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")
            })?;
        messages.push(Message {
            role: role.to_owned(),
            content: Some(Value::String(parts_text(parts))),
        });
    }
    let system = field(&v, "systemInstruction", "system_instruction")
        .and_then(|s| s.get("parts"))
        .and_then(Value::as_array)
        .map(|p| Value::String(parts_text(p)));
    let generation = field(&v, "generationConfig", "generation_config");
    let max_tokens = generation
        .and_then(|g| field(g, "maxOutputTokens", "max_output_tokens"))
        .and_then(int);
    let stops = generation
        .and_then(|g| field(g, "stopSequences", "stop_sequences"))
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        });
    // thoughts shown (`includeThoughts`): the mock reasons, and says so in thought parts
    let thinking = generation
        .and_then(|g| field(g, "thinkingConfig", "thinking_config"))
        .and_then(|t| field(t, "includeThoughts", "include_thoughts"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .then(|| json!({"type": "enabled"}));
    let tools: Vec<Value> = v
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| field(t, "functionDeclarations", "function_declarations"))
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|d| d.get("name"))
        .map(|n| json!({ "name": n }))
        .collect();
    Ok(ChatRequest {
        model: Some(model.to_owned()),
        messages: Some(messages),
        system,
        max_tokens,
        stop_sequences: stops,
        tools: (!tools.is_empty()).then_some(tools),
        thinking,
        ..ChatRequest::default()
    })
}

/// The words a model would read in some parts: texts, and function responses as JSON.
fn parts_text(parts: &[Value]) -> String {
    let mut texts = Vec::with_capacity(parts.len());
    for p in parts {
        if p.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(t) = p.get("text").and_then(Value::as_str) {
            texts.push(t.to_owned());
        } else if let Some(r) = field(p, "functionResponse", "function_response") {
            texts.push(r.get("response").map(Value::to_string).unwrap_or_default());
        }
    }
    texts.join(" ")
}

/// Google's canonical status for an HTTP status.
fn canonical(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// Google's error body.
pub(crate) fn error_body(status: u16, message: &str) -> Bytes {
    json_bytes(&json!({"error": {"code": status, "message": message, "status": canonical(status)}}))
}

/// What one answer shares across its chunks.
struct Chunks<'a> {
    ctx: &'a Ctx<'a>,
    response_id: String,
    /// Tokens of the thoughts (reported apart from the candidates', as `thoughtsTokenCount`).
    thoughts: u64,
}

impl<'a> Chunks<'a> {
    fn new(ctx: &'a Ctx<'a>, reply: &Reply) -> Self {
        Chunks {
            ctx,
            response_id: random_hex(22),
            thoughts: reply.reasoning.as_deref().map_or(0, words),
        }
    }
}

/// The thoughts' signature: opaque bytes, base64 in JSON (Google's SDKs decode it as bytes).
fn thought_signature(reasoning: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(crate::thinking::signature(reasoning))
}

/// A thought part (the reasoning, shown because the request asked for it).
fn thought_part(reasoning: &str) -> Value {
    json!({"text": reasoning, "thought": true})
}

impl Chunks<'_> {
    /// One response with `parts` (none: only usage), running usage after `sent` tokens.
    fn response(&self, parts: Vec<Value>, finish: Option<&str>, sent: u64, prompt: u64) -> Value {
        let mut candidate = Map::new();
        if !parts.is_empty() {
            candidate.insert(
                "content".to_owned(),
                json!({"role": "model", "parts": parts}),
            );
        }
        if let Some(f) = finish {
            candidate.insert("finishReason".to_owned(), Value::from(f));
        }
        candidate.insert("index".to_owned(), Value::from(0));
        let mut r = Map::new();
        r.insert(
            "candidates".to_owned(),
            Value::Array(vec![Value::Object(candidate)]),
        );
        if !self.ctx.b.no_usage {
            // `sent` counts the thoughts too; Google reports them apart
            let candidates = sent.saturating_sub(self.thoughts);
            let mut usage = json!({"promptTokenCount": prompt, "candidatesTokenCount": candidates,
                                   "totalTokenCount": prompt + candidates + self.thoughts});
            if self.thoughts > 0 {
                usage["thoughtsTokenCount"] = Value::from(self.thoughts);
            }
            r.insert("usageMetadata".to_owned(), usage);
        }
        r.insert("modelVersion".to_owned(), Value::from(self.ctx.model));
        r.insert(
            "responseId".to_owned(),
            Value::from(self.response_id.as_str()),
        );
        Value::Object(r)
    }
}

/// `data: {json}` and Google's CRLF CRLF.
fn sse(v: &Value) -> Bytes {
    let mut buf = b"data: ".to_vec();
    buf.extend_from_slice(&json_bytes(v));
    buf.extend_from_slice(b"\r\n\r\n");
    Bytes::from(buf)
}

impl FaultEvents for Chunks<'_> {
    fn malformed(&self) -> Bytes {
        Bytes::from_static(b"data: {\"candidates\": [{\"content\": \r\n\r\n")
    }

    fn in_band_error(&self) -> Bytes {
        sse(&json!({"error": {"code": 503,
            "message": format!("mock {}: The model is overloaded. Please try again later.", self.ctx.provider),
            "status": "UNAVAILABLE"}}))
    }
}

fn finish_reason(reply: &Reply) -> &'static str {
    match reply.finish {
        // Gemini has no tool-call reason: a turn of function calls ends in STOP
        Finish::Stop | Finish::ToolCalls => "STOP",
        Finish::Length => "MAX_TOKENS",
        Finish::ContentFilter => "SAFETY",
    }
}

/// A prompt the safety filter blocked (a content filter with nothing said): no candidate, the
/// reason in `promptFeedback`, usage for the prompt alone.
fn blocked_prompt(ctx: &Ctx<'_>, reply: &Reply) -> Option<Value> {
    if reply.finish != Finish::ContentFilter || !reply.text.is_empty() {
        return None;
    }
    let mut r = json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]},
        "modelVersion": ctx.model, "responseId": random_hex(22)});
    if !ctx.b.no_usage {
        r["usageMetadata"] = json!({"promptTokenCount": reply.prompt_tokens,
                                    "totalTokenCount": reply.prompt_tokens});
    }
    Some(r)
}

fn call_part(reply: &Reply) -> Option<Value> {
    let tool = reply.tool.as_ref()?;
    Some(json!({"functionCall": {"name": tool.name, "args": tool.input}}))
}

/// The whole answer (`generateContent`).
pub(crate) fn response(ctx: &Ctx<'_>, reply: &Reply) -> Value {
    if let Some(blocked) = blocked_prompt(ctx, reply) {
        return blocked;
    }
    let w = Chunks::new(ctx, reply);
    let mut parts: Vec<Value> = reply
        .reasoning
        .as_deref()
        .map(thought_part)
        .into_iter()
        .collect();
    let mut answer = call_part(reply).unwrap_or_else(|| json!({ "text": reply.text }));
    if let Some(r) = &reply.reasoning {
        // the thoughts' signature rides on the first part after them
        answer["thoughtSignature"] = Value::from(thought_signature(r));
    }
    parts.push(answer);
    w.response(
        parts,
        Some(finish_reason(reply)),
        reply.completion_tokens,
        reply.prompt_tokens,
    )
}

/// The streamed answer (`streamGenerateContent?alt=sse`) as a script.
pub(crate) fn stream(ctx: &Ctx<'_>, reply: &Reply) -> Vec<Step> {
    let b = ctx.b;
    let w = Chunks::new(ctx, reply);
    let prompt = reply.prompt_tokens;
    let mut s = Script::new(b, reply.chunk_count() + 4);
    if let Some(blocked) = blocked_prompt(ctx, reply) {
        s.pace_first();
        s.send(sse(&blocked));
        return s.finish();
    }
    // the thoughts come first, whole; their signature rides on the first part after them
    let mut signature = None;
    if let Some(r) = &reply.reasoning {
        s.pace_first();
        s.send(sse(&w.response(
            vec![thought_part(r)],
            None,
            w.thoughts,
            prompt,
        )));
        signature = Some(thought_signature(r));
    }
    let signed = |mut part: Value, signature: &mut Option<String>| {
        if let Some(sig) = signature.take() {
            part["thoughtSignature"] = Value::from(sig);
        }
        part
    };
    if let Some(part) = call_part(reply) {
        if s.fault_before(0, &w) {
            return s.into_steps();
        }
        s.pace_first();
        let r = w.response(
            vec![signed(part, &mut signature)],
            Some(finish_reason(reply)),
            reply.completion_tokens,
            prompt,
        );
        s.send(sse(&r));
        return s.finish();
    }
    let count = reply.chunk_count();
    for (k, piece) in reply.chunks().enumerate() {
        if s.fault_before(k, &w) {
            return s.into_steps();
        }
        if k == 0 {
            s.pace_first();
        } else {
            s.pace_token();
        }
        let part = signed(json!({ "text": piece }), &mut signature);
        let r = w.response(vec![part], None, w.thoughts + k as u64 + 1, prompt);
        s.send(sse(&r));
    }
    if s.fault_before(count, &w) {
        return s.into_steps();
    }
    // the finish and the full usage come on a last chunk with an empty text part, as Google's
    // streams often end
    let last = w.response(
        vec![json!({ "text": "" })],
        Some(finish_reason(reply)),
        reply.completion_tokens,
        prompt,
    );
    s.send(sse(&last));
    s.finish()
}

/// `streamGenerateContent` without `alt=sse`: the chunks as one JSON array.
pub(crate) fn array(ctx: &Ctx<'_>, reply: &Reply) -> Bytes {
    json_bytes(&Value::Array(vec![response(ctx, reply)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::Behaviour;
    use crate::request::Api;

    #[test]
    fn requests_in_either_spelling_and_a_crlf_stream() {
        // the Python SDK mixes snake_case and integral floats in
        let req = request(
            br#"{"contents":[{"role":"user","parts":[{"text":"a b"}]},{"role":"model","parts":[{"text":"Hi"}]}],
                "system_instruction":{"parts":[{"text":"sys"}]},
                "generationConfig":{"max_output_tokens":3.0,"stopSequences":["x"]},
                "tools":[{"function_declarations":[{"name":"f"}]}]}"#,
            "gemini-2.5-flash",
        )
        .unwrap();
        assert_eq!(req.max_tokens(Api::Gemini), Some(3));
        assert_eq!(req.stops(Api::Gemini), ["x"]);
        assert_eq!(req.first_tool_name(), Some("f"));
        assert_eq!(req.prompt_tokens(), 4);
        assert!(req.ends_with_assistant());
        assert!(request(
            br#"{"contents":[{"role":"bot","parts":[{"text":"x"}]}]}"#,
            "m"
        )
        .is_err());
        assert!(request(br#"{"contents":[]}"#, "m").is_err());

        let b = Behaviour::default();
        let req = request(br#"{"contents":[{"parts":[{"text":"hi"}]}]}"#, "m").unwrap();
        let reply = Reply::plan(Api::Gemini, "p", "One two", &b, &req);
        let ctx = Ctx {
            provider: "p",
            model: "m",
            b: &b,
            include_usage: false,
        };
        let sent: Vec<Value> = stream(&ctx, &reply)
            .into_iter()
            .filter_map(|s| match s {
                Step::Send(bytes) => Some(bytes),
                _ => None,
            })
            .map(|bytes| {
                let text = String::from_utf8(bytes.to_vec()).unwrap();
                let data = text.strip_prefix("data: ").unwrap();
                assert!(data.ends_with("\r\n\r\n"));
                serde_json::from_str(data.trim_end()).unwrap()
            })
            .collect();
        assert_eq!(sent.len(), 3);
        assert_eq!(
            sent[1]["candidates"][0]["content"]["parts"][0]["text"],
            " two"
        );
        assert_eq!(sent[2]["candidates"][0]["finishReason"], "STOP");
        assert_eq!(
            sent[2]["usageMetadata"],
            json!({"promptTokenCount": 1, "candidatesTokenCount": 2, "totalTokenCount": 3})
        );
        assert!(route("/v1beta/models/gemini-2.5-flash:streamGenerateContent").is_some());
        assert!(
            route("/v1/projects/p/locations/l/publishers/google/models/g:generateContent")
                .is_none()
        );
    }
}
