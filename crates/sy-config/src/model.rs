//! The validated configuration: what the rest of Switchyard reads. Built only by `load`,
//! so every value here has passed validation (prices non-negative, slugs defined, ids unique).

use secrecy::SecretString;

/// The whole validated configuration (SPEC §3).
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: Option<AuthConfig>,
    pub storage: StorageConfig,
    pub cluster: Option<ClusterConfig>,
    pub routing: RoutingConfig,
    pub providers: Vec<Provider>,
    pub models: Vec<Model>,
    /// True for the built-in demo catalog (simulated providers).
    pub demo: bool,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `host:port`, e.g. `127.0.0.1:8080`.
    pub listen: String,
    pub max_body_bytes: usize,
    /// Client connections served at once; beyond, 503 and close. Each streaming request may
    /// hold an upstream connection too, so the process needs about twice this many file
    /// descriptors.
    pub max_connections: usize,
    /// After SIGTERM, how long in-flight requests and streams may take to finish; streams still
    /// open then end with the error chunk and are charged (SPEC §8).
    pub shutdown_grace_s: f64,
    /// `/metrics` without the master key even when `[auth]` is on (for a scraper that cannot
    /// send one). Default false.
    pub metrics_public: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            max_body_bytes: 4_194_304,
            max_connections: 4096,
            shutdown_grace_s: 20.0,
            metrics_public: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub master_key: SecretString,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub url: String,
    /// Where finished requests wait on local disk until the store has them. `None`: beside an
    /// SQLite file (`<file>.journal`), else `switchyard.journal` in the working directory.
    pub journal_dir: Option<String>,
    /// The journal may not grow past this; beyond it (or on a full disk) new requests are
    /// refused until the store has caught up.
    pub journal_max_bytes: u64,
    /// Finished requests held in memory while the store is slow or away; beyond, on disk only.
    pub max_queued_records: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://switchyard.db".to_owned(),
            journal_dir: None,
            journal_max_bytes: 1 << 30,
            max_queued_records: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub redis_url: SecretString,
}

/// `[routing]`; durations in seconds as in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingConfig {
    pub outage_window_s: f64,
    pub connect_timeout_s: f64,
    pub first_token_timeout_s: f64,
    pub stream_idle_timeout_s: f64,
    pub request_timeout_s: f64,
    pub max_attempts: u32,
    pub max_retry_wait_s: f64,
    pub stream_resume: bool,
    pub hedge: bool,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            outage_window_s: 30.0,
            connect_timeout_s: 5.0,
            first_token_timeout_s: 10.0,
            stream_idle_timeout_s: 15.0,
            request_timeout_s: 600.0,
            max_attempts: 6,
            max_retry_wait_s: 5.0,
            stream_resume: true,
            hedge: false,
        }
    }
}

/// Wire protocol of an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    OpenAi,
    /// OpenAI's Responses API (`POST {base_url}/responses`).
    OpenAiResponses,
    Anthropic,
    /// Google AI Studio's Gemini API (`generateContent`).
    Gemini,
    /// Azure OpenAI (deployments with `api-version`, or the `v1` form).
    Azure,
    /// Amazon Bedrock's Converse API.
    Bedrock,
    /// Google Vertex AI (Claude through `rawPredict`, Gemini through `generateContent`).
    Vertex,
}

impl Api {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::OpenAiResponses => "openai-responses",
            Api::Anthropic => "anthropic",
            Api::Gemini => "gemini",
            Api::Azure => "azure",
            Api::Bedrock => "bedrock",
            Api::Vertex => "vertex",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Provider {
    /// Lowercase slug.
    pub name: String,
    pub api: Api,
    /// Without a trailing slash, e.g. `https://api.groq.com/openai/v1`.
    pub base_url: String,
    pub api_key: Option<SecretString>,
    /// `data_collection = "allow"` (true) or `"deny"` (false).
    pub data_collection_allowed: bool,
    pub zdr: bool,
    pub max_concurrency: u32,
    pub headers: Vec<(String, String)>,
    /// The cloud protocols' own keys (SPEC §5).
    pub cloud: Cloud,
}

/// Keys only the cloud protocols read; each is set only for a provider whose `api` reads it.
#[derive(Debug, Clone, Default)]
pub struct Cloud {
    /// Azure's `api-version`; `v1` (the default) is the versionless `/openai/v1` form.
    pub api_version: Option<String>,
    /// Bedrock's and Vertex AI's region (`us-east-1`, `us-east5`, `global`).
    pub region: Option<String>,
    pub aws_access_key_id: Option<SecretString>,
    pub aws_secret_access_key: Option<SecretString>,
    pub aws_session_token: Option<SecretString>,
    /// Vertex AI's project id.
    pub project: Option<String>,
    /// Vertex AI: the path of a service-account JSON file (read by the gateway at start and
    /// reload, never by this crate).
    pub credentials_file: Option<String>,
}

/// What a model produces (SPEC §3): chat answers, or embedding vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Chat,
    Embedding,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub id: String,
    pub name: String,
    pub kind: ModelKind,
    pub context_length: u64,
    pub fallbacks: Vec<String>,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Slug of a defined provider.
    pub provider: String,
    pub upstream_model: String,
    /// USD per million input tokens.
    pub prompt_price: f64,
    /// USD per million output tokens.
    pub completion_price: f64,
    /// USD per request.
    pub request_price: f64,
    /// Resolved: the endpoint's own, else the model's.
    pub context_length: u64,
    pub max_completion_tokens: Option<u64>,
    /// One of int4 int8 fp4 fp6 fp8 fp16 bf16 fp32 unknown; `unknown` when not set.
    pub quantization: String,
    pub supported_parameters: Vec<String>,
    /// Resolved: explicit value, else true for `api = "anthropic"` and false otherwise.
    pub supports_prefill: bool,
    /// USD per million prompt tokens read from the provider's cache (unset: `prompt_price`).
    pub cache_read_price: Option<f64>,
    /// USD per million prompt tokens written to the provider's cache (unset: `prompt_price`).
    pub cache_write_price: Option<f64>,
    /// USD per million reasoning tokens (unset: `completion_price`).
    pub reasoning_price: Option<f64>,
    /// The vector length of an embedding endpoint.
    pub dimensions: Option<u64>,
}

impl Endpoint {
    #[must_use]
    pub fn is_free(&self) -> bool {
        self.prompt_price == 0.0 && self.completion_price == 0.0 && self.request_price == 0.0
    }
}

impl Config {
    #[must_use]
    pub fn provider(&self, slug: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == slug)
    }

    #[must_use]
    pub fn model(&self, id: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.id == id)
    }
}
