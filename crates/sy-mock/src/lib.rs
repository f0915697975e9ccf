//! `sy-mock`: the simulated upstream LLM provider behind `switchyard mock`,
//! the demo, our Rust tests and the latency benchmark.
//!
//! One listener serves every provider: `POST /p/{name}/v1/chat/completions`
//! (OpenAI), `POST /p/{name}/v1/messages` (Anthropic) and
//! `POST /p/{name}/v1beta/models/{model}:streamGenerateContent?alt=sse` (and
//! `:generateContent`, the Gemini API, `x-goog-api-key` required),
//! `POST /p/{name}/openai/deployments/{d}/chat/completions?api-version=V` and
//! `/p/{name}/openai/v1/chat/completions` (Azure OpenAI, `api-key` required),
//! `POST /p/{name}/model/{id}/converse-stream` and `/converse` (Amazon Bedrock,
//! SigV4-verified or a Bearer API key; also `/invoke` and `/invoke-with-response-stream` with
//! Claude's Messages body, and `/invoke` with a Titan or Cohere embedding body), Vertex AI at
//! `.../v1/projects/{p}/locations/{r}/publishers/{anthropic|google}/models/{m}:{method}`
//! with its token endpoint `POST /token` (see [`service_account_json`]),
//! streaming and not; the clouds' embeddings (`:batchEmbedContents`, `:embedContent`, Vertex's
//! `:predict`, Azure's `.../embeddings`),
//! `GET /p/{name}/v1/models`; the unprefixed `/v1/...` routes are the
//! provider `mock`. A provider named in a path but not configured is created
//! with the default behaviour. Routes match by path ending, like the
//! conformance suite's `fakeprovider.py`, whose behaviours this mirrors.
//!
//! Replies are deterministic: the [`Behaviour`]'s text (default
//! `"Hello from {name}. The quick brown fox jumps over the lazy dog."`) cut
//! into `\s*\S+` word chunks; `prompt_tokens` counts the words of every
//! message (and Anthropic's `system`), at least 1; `completion_tokens` the
//! chunks sent. A trailing assistant message that is a prefix of the text
//! gets the rest of it (prefill); `max_tokens` and stop strings cut it.
//!
//! Admin API on the same listener: `GET /admin/providers`,
//! `GET|PUT /admin/providers/{name}` (a [`Behaviour`] as JSON; PUT replaces
//! or creates), `POST /admin/providers/{name}/reset`, `POST /admin/reset`,
//! `GET /admin/providers/{name}/last_request`, `GET /admin/vertex/service_account` (the
//! simulated service account's JSON, `token_uri` this mock), `GET /admin/vertex/tokens`,
//! `GET /health`.
//!
//! Configuration is TOML ([`MockConfig::from_toml`]); behaviour keys go
//! beside a provider's `name` or in a `[providers.behaviour]` table:
//!
//! ```toml
//! listen = "127.0.0.1:9100"
//!
//! [[providers]]
//! name = "fast"
//! ttft_ms = 80
//! tokens_per_s = 120
//!
//! [[providers]]
//! name = "down"
//! [providers.behaviour]
//! status = 503
//! retry_after = 2
//! ```
//!
//! Limits of a shared listener: `refuse` cannot stop listening for one
//! provider, so it drops each connection without an answer (the client sees
//! the connection closed, not refused); `abort` ends the chunked body
//! without its terminator (a FIN, not necessarily a TCP RST).

mod admin;
mod anthropic;
mod azure;
mod bedrock;
mod behaviour;
mod config;
mod demo;
mod embed;
mod gemini;
mod openai;
mod ratelimit;
mod reply;
mod request;
mod responses;
mod script;
mod server;
mod service_account;
mod state;
mod stream;
mod thinking;
mod vertex;

pub use bedrock::{MOCK_AWS_ACCESS_KEY_ID, MOCK_AWS_SECRET_ACCESS_KEY};
pub use behaviour::{Behaviour, RateLimitKind};
pub use config::{valid_provider_name, MockConfig, MockProvider};
pub use demo::DEMO_MOCK_TOML;
pub use server::MockServer;
pub use service_account::{service_account_json, MOCK_SA_EMAIL, MOCK_SA_KEY_ID};
pub use state::{ProviderStats, DEFAULT_PROVIDER};
