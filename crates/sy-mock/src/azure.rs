//! Azure OpenAI's wire: OpenAI's chat completions at `/openai/deployments/{deployment}/chat/
//! completions?api-version=...` (the deployment names the model; `api-version` required) or
//! `/openai/v1/chat/completions` (the deployment as `model`), the key in `api-key` (Bearer
//! also taken on v1, as Azure does). A stream begins with the prompt-annotation chunk (empty
//! `choices`, empty `id`) and its chunks carry `content_filter_results`, like Azure's default
//! filtering mode.

use serde_json::json;

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

/// The stream: the prompt annotation, then OpenAI's chunks.
pub(crate) fn stream(ctx: &Ctx<'_>, reply: &Reply) -> Vec<Step> {
    let annotation = sse_data(&json!({
        "choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
            "hate": {"filtered": false, "severity": "safe"},
            "jailbreak": {"filtered": false, "detected": false},
            "self_harm": {"filtered": false, "severity": "safe"},
            "sexual": {"filtered": false, "severity": "safe"},
            "violence": {"filtered": false, "severity": "safe"}}}]
    }));
    let mut steps = vec![Step::Send(annotation)];
    steps.extend(crate::openai::stream(ctx, reply));
    steps
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
