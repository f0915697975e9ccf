//! Amazon Bedrock's Converse API: `POST .../model/{modelId}/converse` (one JSON answer) and
//! `/converse-stream` (an AWS event stream: binary frames with `:event-type`, `:content-type`
//! and `:message-type` headers and CRCs, written with AWS's own `aws-smithy-eventstream`).
//! Text starts with its first `contentBlockDelta` (no `contentBlockStart`, as Bedrock does),
//! tool calls with a `contentBlockStart`; `messageStop` then `metadata` (usage) end it.
//! Errors are `{"message"}` with the exception's name in `x-amzn-ErrorType`; in a stream, an
//! exception frame.
//!
//! Authentication is checked like AWS does: a SigV4 `Authorization` is recomputed with
//! `aws-sigv4` from the request as received (raw path, signed headers, body, `x-amz-date`)
//! and the mock's key pair ([`MOCK_AWS_ACCESS_KEY_ID`], [`MOCK_AWS_SECRET_ACCESS_KEY`]), and
//! must match; a `Bearer` token (a Bedrock API key) is taken as it is.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message as Frame};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::reply::{Ctx, Finish, Reply};
use crate::request::{ChatRequest, Message};
use crate::script::{json_bytes, FaultEvents, Script, Step};
use crate::server::Incoming;

/// The access key id the simulated Bedrock knows.
pub const MOCK_AWS_ACCESS_KEY_ID: &str = "AKIASWITCHYARDMOCK01";
/// Its secret (a test value, known to anyone reading this).
pub const MOCK_AWS_SECRET_ACCESS_KEY: &str = "mockSecretKey/SwitchyardSimulatedBedrock0";

/// The longest a signature's `x-amz-date` may be from now, as AWS allows.
const SKEW: Duration = Duration::from_secs(5 * 60);

/// Which of Bedrock's runtime operations a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Converse (`/converse`) or ConverseStream (`/converse-stream`).
    Converse,
    /// InvokeModel (`/invoke`) or InvokeModelWithResponseStream
    /// (`/invoke-with-response-stream`) with a Claude model's Messages body.
    Invoke,
}

/// `(model id, operation, streamed)` for Bedrock's runtime paths (the id percent-decoded).
pub(crate) fn route(path: &str) -> Option<(String, Operation, bool)> {
    let (rest, op, stream) = if let Some(r) = path.strip_suffix("/converse-stream") {
        (r, Operation::Converse, true)
    } else if let Some(r) = path.strip_suffix("/converse") {
        (r, Operation::Converse, false)
    } else if let Some(r) = path.strip_suffix("/invoke-with-response-stream") {
        (r, Operation::Invoke, true)
    } else {
        (path.strip_suffix("/invoke")?, Operation::Invoke, false)
    };
    let (_, raw) = rest.rsplit_once("/model/")?;
    let id = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!id.is_empty()).then_some((id, op, stream))
}

/// Claude through InvokeModel: the Messages body names no model and carries an
/// `anthropic_version` (Bedrock's `bedrock-2023-05-31`, or a dated one as the current SDKs send).
pub(crate) fn check_invoke_body(body: &[u8]) -> Result<(), String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("Malformed input request: {e}"))?;
    let version = v.get("anthropic_version").and_then(Value::as_str);
    let known = version.is_some_and(|v| {
        v.starts_with("bedrock-")
            || (v.len() == 10 && v.chars().take(4).all(|c| c.is_ascii_digit()))
    });
    if !known {
        return Err("Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.".to_owned());
    }
    if v.get("model").is_some() {
        return Err("Malformed input request: #: extraneous key [model] is not permitted, please reformat your input and try again.".to_owned());
    }
    Ok(())
}

/// InvokeModelWithResponseStream's framing: each of Anthropic's SSE events (`event: ...\ndata:
/// {json}\n\n`) as a `chunk` event whose payload is `{"bytes": base64(json)}`.
pub(crate) fn invoke_stream(steps: Vec<Step>) -> Vec<Step> {
    use base64::Engine as _;
    steps
        .into_iter()
        .map(|step| match step {
            Step::Send(sse) => {
                let text = String::from_utf8_lossy(&sse);
                let data: String = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                let bytes = base64::engine::general_purpose::STANDARD.encode(data.as_bytes());
                Step::Send(frame("chunk", &json!({ "bytes": bytes }), false))
            }
            other => other,
        })
        .collect()
}

/// Checks the request's credentials. Err: (status, exception name, message).
pub(crate) fn check_auth(
    incoming: &Incoming<'_>,
    body: &[u8],
) -> Result<(), (u16, &'static str, String)> {
    let auth = incoming.header("authorization").unwrap_or("");
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return if token.trim().is_empty() {
            Err((403, "AccessDeniedException", "Invalid API key".to_owned()))
        } else {
            Ok(())
        };
    }
    let Some(fields) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err((
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token".to_owned(),
        ));
    };
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    };
    let (Some(credential), Some(signed), Some(signature)) = (
        field("Credential"),
        field("SignedHeaders"),
        field("Signature"),
    ) else {
        return Err((
            403,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'"
                .to_owned(),
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, _date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err((
            403,
            "IncompleteSignatureException",
            format!("Credential should be scoped correctly: {credential}"),
        ));
    };
    if *key_id != MOCK_AWS_ACCESS_KEY_ID {
        return Err((
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.".to_owned(),
        ));
    }
    if *service != "bedrock" {
        return Err((
            403,
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: 'bedrock', not '{service}'"),
        ));
    }
    let when = incoming
        .header("x-amz-date")
        .and_then(parse_amz_date)
        .ok_or((
            403,
            "IncompleteSignatureException",
            "x-amz-date is missing or not a date".to_owned(),
        ))?;
    let now = SystemTime::now();
    let skew = now.duration_since(when).unwrap_or_else(|e| e.duration());
    if skew > SKEW {
        return Err((
            403,
            "InvalidSignatureException",
            "Signature expired: the request time is more than 5 minutes from now".to_owned(),
        ));
    }
    let expected = expected_signature(incoming, body, signed, region, when)
        .map_err(|e| (403, "InvalidSignatureException", e))?;
    if expected != signature {
        return Err((403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.".to_owned()));
    }
    Ok(())
}

/// The signature AWS would compute for this request with the mock's secret.
fn expected_signature(
    incoming: &Incoming<'_>,
    body: &[u8],
    signed: &str,
    region: &str,
    when: SystemTime,
) -> Result<String, String> {
    let host = incoming.header("host").ok_or("no host header")?;
    let target = incoming.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = format!("http://{host}{target}");
    let names: Vec<&str> = signed.split(';').collect();
    let headers: Vec<(&str, &str)> = incoming
        .headers
        .iter()
        .filter(|(k, _)| names.contains(&k.as_str()) && k.as_str() != "host")
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let token = incoming.header("x-amz-security-token").map(str::to_owned);
    let identity = Credentials::new(
        MOCK_AWS_ACCESS_KEY_ID,
        MOCK_AWS_SECRET_ACCESS_KEY,
        token,
        None,
        "mock",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(when)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        incoming.method.as_str(),
        &uri,
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (_, signature) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    Ok(signature)
}

/// `20261204T193033Z` as a time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (h, mi, se) = (n(9..11)?, n(11..13)?, n(13..15)?);
    // days from the civil date (Howard Hinnant's algorithm)
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Reads a Converse request into the mock's request.
pub(crate) fn request(body: &[u8], model: &str) -> Result<ChatRequest, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("Malformed input request: {e}"))?;
    let messages = v
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or("A conversation must start with a user message. Try again with a conversation that starts with a user message.")?;
    let mut out = Vec::with_capacity(messages.len());
    let mut last = "";
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "user" && role != "assistant" {
            return Err(format!("1 validation error detected: Value at 'messages.{}.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", i + 1));
        }
        if role == last {
            return Err("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.".to_owned());
        }
        last = role;
        let blocks = m
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("messages.{i}.content: required"))?;
        let mut texts = Vec::new();
        for b in blocks {
            let members = b.as_object().map_or(0, serde_json::Map::len);
            if members != 1 {
                return Err(format!(
                    "messages.{i}.content: a content block must have exactly one member"
                ));
            }
            if let Some(t) = b.get("text").and_then(Value::as_str) {
                texts.push(t.to_owned());
            } else if let Some(r) = b
                .get("reasoningContent")
                .and_then(|r| r.get("reasoningText"))
            {
                // Claude checks the signature of its reasoning sent back, as on Anthropic's API
                let text = r.get("text").and_then(Value::as_str).unwrap_or("");
                let sig = r.get("signature").and_then(Value::as_str).unwrap_or("");
                if sig != crate::thinking::signature(text) {
                    return Err(format!(
                        "messages.{i}.content: the reasoning block's signature is not valid"
                    ));
                }
            } else if let Some(r) = b.get("toolResult") {
                for c in r
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(t) = c.get("text").and_then(Value::as_str) {
                        texts.push(t.to_owned());
                    } else if let Some(j) = c.get("json") {
                        texts.push(j.to_string());
                    }
                }
            }
        }
        out.push(Message {
            role: role.to_owned(),
            content: Some(Value::String(texts.join(" "))),
        });
    }
    let system: Vec<&str> = v
        .get("system")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("text").and_then(Value::as_str))
        .collect();
    let inference = v.get("inferenceConfig");
    let tools: Vec<Value> = v
        .get("toolConfig")
        .and_then(|t| t.get("tools"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("toolSpec")?.get("name"))
        .map(|n| json!({ "name": n }))
        .collect();
    // Claude's extended thinking, in Anthropic's terms, among the model's own fields
    let thinking = v
        .get("additionalModelRequestFields")
        .and_then(|f| f.get("thinking"))
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("enabled"))
        .cloned();
    Ok(ChatRequest {
        model: Some(model.to_owned()),
        messages: Some(out),
        thinking,
        system: (!system.is_empty()).then(|| Value::String(system.join(" "))),
        max_tokens: inference
            .and_then(|i| i.get("maxTokens"))
            .and_then(Value::as_i64),
        stop_sequences: inference
            .and_then(|i| i.get("stopSequences"))
            .and_then(Value::as_array)
            .map(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            }),
        tools: (!tools.is_empty()).then_some(tools),
        ..ChatRequest::default()
    })
}

/// The exception AWS names for a status.
pub(crate) fn exception(status: u16) -> &'static str {
    match status {
        400 => "ValidationException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "InternalServerException",
    }
}

/// Bedrock's error body.
pub(crate) fn error_body(message: &str) -> Bytes {
    json_bytes(&json!({ "message": message }))
}

fn stop_reason(reply: &Reply) -> &'static str {
    match reply.finish {
        Finish::Stop if reply.stop_sequence.is_some() => "stop_sequence",
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
        Finish::ContentFilter => "guardrail_intervened",
    }
}

fn usage(reply: &Reply) -> Value {
    json!({"inputTokens": reply.prompt_tokens, "outputTokens": reply.completion_tokens,
           "totalTokens": reply.prompt_tokens + reply.completion_tokens})
}

/// The whole answer (`/converse`).
pub(crate) fn response(ctx: &Ctx<'_>, reply: &Reply) -> Bytes {
    let mut content: Vec<Value> = reply
        .reasoning
        .iter()
        .map(|r| json!({"reasoningContent": {"reasoningText": {"text": r, "signature": crate::thinking::signature(r)}}}))
        .collect();
    content.push(match &reply.tool {
        Some(t) => json!({"toolUse": {"toolUseId": t.id, "name": t.name, "input": t.input}}),
        None => json!({ "text": reply.text }),
    });
    let mut body = json!({"output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(reply), "metrics": {"latencyMs": 1}});
    if !ctx.b.no_usage {
        body["usage"] = usage(reply);
    }
    json_bytes(&body)
}

/// One event-stream frame.
fn frame(kind: &str, payload: &Value, exception: bool) -> Bytes {
    let (message_type, type_header) = if exception {
        ("exception", ":exception-type")
    } else {
        ("event", ":event-type")
    };
    let m = Frame::new(json_bytes(payload))
        .add_header(Header::new(
            type_header,
            HeaderValue::String(kind.to_owned().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.into()),
        ));
    let mut buf = Vec::with_capacity(128);
    if let Err(e) = write_message_to(&m, &mut buf) {
        tracing::error!(error = %e, "mock: cannot encode an event-stream frame");
    }
    Bytes::from(buf)
}

struct Events<'a> {
    provider: &'a str,
}

impl FaultEvents for Events<'_> {
    fn malformed(&self) -> Bytes {
        // a well-framed event whose JSON is cut: the frame is fine, its payload is not
        let m = Frame::new(Bytes::from_static(
            b"{\"contentBlockIndex\": 0, \"delta\": ",
        ))
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String("contentBlockDelta".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ));
        let mut buf = Vec::new();
        let _ = write_message_to(&m, &mut buf);
        Bytes::from(buf)
    }

    fn in_band_error(&self) -> Bytes {
        frame(
            "serviceUnavailableException",
            &json!({"message": format!("mock {}: Bedrock is unable to process your request.", self.provider)}),
            true,
        )
    }
}

/// The streamed answer (`/converse-stream`) as a script.
pub(crate) fn stream(ctx: &Ctx<'_>, reply: &Reply) -> Vec<Step> {
    let b = ctx.b;
    let w = Events {
        provider: ctx.provider,
    };
    let mut s = Script::new(b, reply.chunk_count() + 6);
    s.send(frame("messageStart", &json!({"role": "assistant"}), false));
    // reasoning first, in its own block (text pieces, then the signature); the answer follows
    let at = u32::from(reply.reasoning.is_some());
    if let Some(r) = &reply.reasoning {
        s.pace_first();
        for piece in crate::thinking::pieces(r) {
            s.send(frame(
                "contentBlockDelta",
                &json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": piece}}}),
                false,
            ));
        }
        let signature = crate::thinking::signature(r);
        s.send(frame(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": signature}}}),
            false,
        ));
        s.send(frame(
            "contentBlockStop",
            &json!({"contentBlockIndex": 0}),
            false,
        ));
    }
    if let Some(tool) = &reply.tool {
        if s.fault_before(0, &w) {
            return s.into_steps();
        }
        s.pace_first();
        s.send(frame(
            "contentBlockStart",
            &json!({"contentBlockIndex": at, "start": {"toolUse": {"toolUseId": tool.id, "name": tool.name}}}),
            false,
        ));
        for (k, piece) in tool.pieces().into_iter().enumerate() {
            if s.fault_before(k + 1, &w) {
                return s.into_steps();
            }
            s.pace_token();
            s.send(frame(
                "contentBlockDelta",
                &json!({"contentBlockIndex": at, "delta": {"toolUse": {"input": piece}}}),
                false,
            ));
        }
    } else {
        for (k, piece) in reply.chunks().enumerate() {
            if s.fault_before(k, &w) {
                return s.into_steps();
            }
            if k == 0 {
                s.pace_first();
            } else {
                s.pace_token();
            }
            s.send(frame(
                "contentBlockDelta",
                &json!({"contentBlockIndex": at, "delta": {"text": piece}, "p": "abcdefghij"}),
                false,
            ));
        }
        if s.fault_before(reply.chunk_count(), &w) {
            return s.into_steps();
        }
    }
    s.send(frame(
        "contentBlockStop",
        &json!({"contentBlockIndex": at}),
        false,
    ));
    s.send(frame(
        "messageStop",
        &json!({"stopReason": stop_reason(reply)}),
        false,
    ));
    if !b.no_usage {
        s.send(frame(
            "metadata",
            &json!({"usage": usage(reply), "metrics": {"latencyMs": 1}}),
            false,
        ));
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_dates_and_requests() {
        assert_eq!(
            route("/model/us.anthropic.claude-sonnet-4-v1%3A0/converse-stream"),
            Some((
                "us.anthropic.claude-sonnet-4-v1:0".to_owned(),
                Operation::Converse,
                true
            ))
        );
        assert_eq!(
            route("/p/x/model/m/converse"),
            Some(("m".to_owned(), Operation::Converse, false))
        );
        assert_eq!(
            route("/model/m/invoke-with-response-stream"),
            Some(("m".to_owned(), Operation::Invoke, true))
        );
        assert_eq!(
            route("/model/m/invoke"),
            Some(("m".to_owned(), Operation::Invoke, false))
        );
        assert_eq!(route("/model//converse"), None);
        assert_eq!(
            parse_amz_date("20150830T123600Z"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160))
        );
        assert!(parse_amz_date("2015-08-30").is_none());
        let r = request(
            br#"{"messages":[{"role":"user","content":[{"text":"a b"}]}],"system":[{"text":"s"}],
                "inferenceConfig":{"maxTokens":3},"toolConfig":{"tools":[{"toolSpec":{"name":"f"}}]}}"#,
            "m",
        )
        .unwrap();
        assert_eq!((r.prompt_tokens(), r.first_tool_name()), (3, Some("f")));
        assert!(request(br#"{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]}"#, "m").unwrap_err().contains("alternate"));
        assert!(request(
            br#"{"messages":[{"role":"user","content":[{"text":"a","image":{}}]}]}"#,
            "m"
        )
        .is_err());
    }
}
