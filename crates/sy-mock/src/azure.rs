//! Azure OpenAI's wire: OpenAI's chat completions at `/openai/deployments/{deployment}/chat/
//! completions?api-version=...` (the deployment names the model; `api-version` required) or
//! `/openai/v1/chat/completions` (the deployment as `model`), the key in `api-key` (Bearer
//! also taken on v1, as Azure does). A stream begins with the prompt-annotation chunk (empty
//! `choices`, empty `id`) and its chunks carry `content_filter_results`, like Azure's default
//! filtering mode.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::reply::{Ctx, Reply};
use crate::script::{sse_data, Step};
use crate::server::Incoming;

/// `(deployment or None for v1)` when the path is Azure's chat path.
pub(crate) fn route(path: &str) -> Option<Option<String>> {
    let rest = path.strip_suffix("/chat/completions")?;
    if let Some((_, deployment)) = rest.rsplit_once("/openai/deployments/") {
        return (!deployment.is_empty() && !deployment.contains('/'))
            .then(|| Some(deployment.to_owned()));
    }
    rest.ends_with("/openai/v1").then_some(None)
}

/// `Some(deployment form?)` when the path is Azure's embeddings path.
pub(crate) fn route_embeddings(path: &str) -> Option<bool> {
    let rest = path.strip_suffix("/embeddings")?;
    if rest.contains("/openai/deployments/") {
        return Some(true);
    }
    rest.ends_with("/openai/v1").then_some(false)
}

/// Azure's checks before anything else: the key, and `api-version` on the deployment form.
/// Err: (status, message).
pub(crate) fn check(incoming: &Incoming<'_>, deployment: bool) -> Result<(), (u16, String)> {
    let key = incoming.header("api-key").filter(|k| !k.trim().is_empty());
    let bearer = incoming
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .filter(|k| !k.trim().is_empty() && !deployment);
    if key.is_none() && bearer.is_none() {
        return Err((401, "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.".to_owned()));
    }
    if deployment && incoming.query("api-version").is_none_or(str::is_empty) {
        return Err((
            404,
            "Resource not found (the deployment form needs ?api-version=)".to_owned(),
        ));
    }
    Ok(())
}

/// Azure's verdict on a prompt: nothing filtered.
fn prompt_filter_results() -> Value {
    json!([{"prompt_index": 0, "content_filter_results": {
        "hate": {"filtered": false, "severity": "safe"},
        "jailbreak": {"filtered": false, "detected": false},
        "self_harm": {"filtered": false, "severity": "safe"},
        "sexual": {"filtered": false, "severity": "safe"},
        "violence": {"filtered": false, "severity": "safe"}}}])
}

/// Azure's verdict on a choice: filtered when it ended in `content_filter`.
fn content_filter_results(choice: &Value) -> Value {
    let filtered = choice.get("finish_reason").and_then(Value::as_str) == Some("content_filter");
    let severity = if filtered { "high" } else { "safe" };
    json!({
        "hate": {"filtered": false, "severity": "safe"},
        "self_harm": {"filtered": false, "severity": "safe"},
        "sexual": {"filtered": false, "severity": "safe"},
        "violence": {"filtered": filtered, "severity": severity}})
}

/// Every choice of an OpenAI body with Azure's `content_filter_results`.
fn annotate(v: &mut Value) {
    if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
        for c in choices {
            let results = content_filter_results(c);
            if let Some(o) = c.as_object_mut() {
                o.insert("content_filter_results".to_owned(), results);
            }
        }
    }
}

/// The stream: the prompt annotation, then OpenAI's chunks, each choice with its filter results.
pub(crate) fn stream(ctx: &Ctx<'_>, reply: &Reply) -> Vec<Step> {
    let annotation = sse_data(&json!({
        "choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": prompt_filter_results()
    }));
    let mut steps = vec![Step::Send(annotation)];
    steps.extend(
        crate::openai::stream(ctx, reply)
            .into_iter()
            .map(|step| match step {
                Step::Send(bytes) => {
                    let parsed = bytes
                        .strip_prefix(b"data: ")
                        .and_then(|d| serde_json::from_slice::<Value>(d.trim_ascii()).ok());
                    match parsed {
                        Some(mut v)
                            if v.get("choices")
                                .is_some_and(|c| c.as_array().is_some_and(|c| !c.is_empty())) =>
                        {
                            annotate(&mut v);
                            Step::Send(sse_data(&v))
                        }
                        _ => Step::Send(bytes),
                    }
                }
                other => other,
            }),
    );
    steps
}

/// The whole answer: OpenAI's, with the prompt's and each choice's filter results.
pub(crate) fn completion(ctx: &Ctx<'_>, reply: &Reply) -> Bytes {
    let bytes = crate::openai::completion(ctx, reply);
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return bytes;
    };
    annotate(&mut v);
    if let Some(o) = v.as_object_mut() {
        o.insert("prompt_filter_results".to_owned(), prompt_filter_results());
    }
    crate::script::json_bytes(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            route("/openai/deployments/gpt4o/chat/completions"),
            Some(Some("gpt4o".to_owned()))
        );
        assert_eq!(route("/p/az/openai/v1/chat/completions"), Some(None));
        assert_eq!(route("/v1/chat/completions"), None);
        assert_eq!(
            route_embeddings("/openai/deployments/e/embeddings"),
            Some(true)
        );
        assert_eq!(route_embeddings("/openai/v1/embeddings"), Some(false));
        assert_eq!(route_embeddings("/v1/embeddings"), None);
    }
}
