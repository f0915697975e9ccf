//! The cloud protocols' provider keys (SPEC §5): Azure's `api_version`, Bedrock's `region` and
//! AWS credentials, Vertex AI's `project`, `region` and `credentials_file`. Each key is checked
//! against the provider's `api` (a key another protocol reads is an error, not silently
//! ignored), and the address a cloud has by default is derived from them.

use secrecy::SecretString;

use super::super::table::{Need, Section};
use super::super::Cx;
use crate::model::{Api, Cloud};

/// Every cloud key, with the protocols that read it.
const KEYS: &[(&str, &[Api])] = &[
    ("api_version", &[Api::Azure]),
    ("region", &[Api::Bedrock, Api::Vertex]),
    ("aws_access_key_id", &[Api::Bedrock]),
    ("aws_secret_access_key", &[Api::Bedrock]),
    ("aws_session_token", &[Api::Bedrock]),
    ("project", &[Api::Vertex]),
    ("credentials_file", &[Api::Vertex]),
];

/// The keys a provider table may hold besides the common ones.
pub(super) fn key_names() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|(k, _)| *k)
}

/// Reads the cloud keys of provider `p`; `api_key` says whether it has an API key (Bedrock
/// takes one instead of AWS keys).
pub(super) fn cloud(cx: &mut Cx<'_>, p: &Section<'_>, api: Api, api_key: bool) -> Cloud {
    for (key, apis) in KEYS {
        if p.present(key) && !apis.contains(&api) {
            let names: Vec<&str> = apis.iter().map(|a| a.as_str()).collect();
            let message = format!(
                "only for api = {} (this provider's api is {})",
                names.join(" | "),
                api.as_str()
            );
            cx.error(p.span_of(key), &p.key(key), message);
        }
    }
    let text = |cx: &mut Cx<'_>, key: &str, need: Need| p.string(cx, key, need).map(|s| s.value);
    let secret = |cx: &mut Cx<'_>, key: &str| {
        p.string(cx, key, Need::Optional)
            .map(|s| SecretString::from(s.value))
    };
    let mut c = Cloud::default();
    match api {
        Api::Azure => c.api_version = text(cx, "api_version", Need::Optional),
        Api::Bedrock => {
            c.region = text(cx, "region", Need::Required);
            c.aws_access_key_id = secret(cx, "aws_access_key_id");
            c.aws_secret_access_key = secret(cx, "aws_secret_access_key");
            c.aws_session_token = secret(cx, "aws_session_token");
            let pair = (
                c.aws_access_key_id.is_some(),
                c.aws_secret_access_key.is_some(),
            );
            let problem = match pair {
                (true, false) => Some("aws_access_key_id needs aws_secret_access_key"),
                (false, true) => Some("aws_secret_access_key needs aws_access_key_id"),
                (false, false) if c.aws_session_token.is_some() => {
                    Some("aws_session_token needs aws_access_key_id and aws_secret_access_key")
                }
                (false, false) if !api_key => {
                    Some("bedrock needs aws_access_key_id and aws_secret_access_key (SigV4), or api_key (a Bedrock API key)")
                }
                (true, true) if api_key => {
                    Some("give either AWS keys or api_key, not both")
                }
                _ => None,
            };
            if let Some(problem) = problem {
                cx.error(p.anchor(), &p.key("aws_access_key_id"), problem);
            }
        }
        Api::Vertex => {
            c.project = text(cx, "project", Need::Required);
            c.region = text(cx, "region", Need::Required);
            c.credentials_file = text(cx, "credentials_file", Need::Required);
            if api_key {
                cx.error(
                    p.span_of("api_key"),
                    &p.key("api_key"),
                    "vertex authenticates with credentials_file (a service account), not api_key",
                );
            }
        }
        Api::OpenAi | Api::OpenAiResponses | Api::Anthropic | Api::Gemini => {}
    }
    if let Some(r) = &c.region {
        if r.is_empty() || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            cx.error(
                p.span_of("region"),
                &p.key("region"),
                format!("`{r}` is not a region name (e.g. us-east-1, us-east5, global)"),
            );
        }
    }
    c
}

/// The `base_url` of a protocol whose service has a well-known address (SPEC §5).
pub(super) fn default_base_url(api: Api, c: &Cloud) -> Option<String> {
    match api {
        Api::Gemini => Some("https://generativelanguage.googleapis.com/v1beta".to_owned()),
        Api::Bedrock => Some(format!(
            "https://bedrock-runtime.{}.amazonaws.com",
            c.region.as_deref()?
        )),
        Api::Vertex => Some(match c.region.as_deref()? {
            "global" => "https://aiplatform.googleapis.com".to_owned(),
            r => format!("https://{r}-aiplatform.googleapis.com"),
        }),
        Api::OpenAi | Api::OpenAiResponses | Api::Anthropic | Api::Azure => None,
    }
}

/// Whether `api_key` is required: a cloud never answers without one, while an OpenAI-style
/// server may be a local one without authentication (Bedrock takes AWS keys instead, Vertex a
/// service account).
pub(super) fn key_need(api: Api) -> Need {
    match api {
        Api::Gemini | Api::Azure => Need::Required,
        Api::OpenAi | Api::OpenAiResponses | Api::Anthropic | Api::Bedrock | Api::Vertex => {
            Need::Optional
        }
    }
}
