//! The built-in demo catalog (SPEC §2): served when `switchyard serve` finds no config file.
//! Its providers are simulated (`sy-mock`, started in-process); `${SWITCHYARD_DEMO_MOCK}` is
//! the simulated providers' address, filled in at start-up. No keys, no network.

/// The demo catalog in the ordinary config format, so it is validated like any other.
pub const DEMO_TOML: &str = r#"# Switchyard demo catalog: five simulated providers, six models.
[routing]
outage_window_s = 30
first_token_timeout_s = 5
stream_idle_timeout_s = 5

[[providers]]
name = "swiftcloud"          # fast, dearer
base_url = "${SWITCHYARD_DEMO_MOCK}/p/swiftcloud/v1"
data_collection = "deny"
zdr = true

[[providers]]
name = "budgetgpu"           # cheap, slow
base_url = "${SWITCHYARD_DEMO_MOCK}/p/budgetgpu/v1"
data_collection = "allow"

[[providers]]
name = "steadyai"            # middle of the road
base_url = "${SWITCHYARD_DEMO_MOCK}/p/steadyai/v1"
data_collection = "deny"

[[providers]]
name = "flakyhost"           # cheap, but about 3 requests in 10 get a 503
base_url = "${SWITCHYARD_DEMO_MOCK}/p/flakyhost/v1"
data_collection = "allow"

# Claude on three simulated clouds besides an OpenAI-compatible host: Anthropic's API (thinking
# with signatures, tool use; overloaded about one request in three), Amazon Bedrock (SigV4-signed,
# verified by the simulation) and Google Vertex AI (a service account's token). Ask for
# `anthropic/claude-sonnet-5.5` and watch it fail over across clouds.
[[providers]]
name = "anthropic"
api = "anthropic"
base_url = "${SWITCHYARD_DEMO_MOCK}/p/anthropic/v1"
api_key = "sk-ant-demo"
data_collection = "deny"
zdr = true

[[providers]]
name = "bedrock"
api = "bedrock"
base_url = "${SWITCHYARD_DEMO_MOCK}/p/bedrock"
region = "us-east-1"
aws_access_key_id = "${SWITCHYARD_DEMO_AWS_ACCESS_KEY_ID}"
aws_secret_access_key = "${SWITCHYARD_DEMO_AWS_SECRET_ACCESS_KEY}"
data_collection = "deny"

[[providers]]
name = "vertex"
api = "vertex"
base_url = "${SWITCHYARD_DEMO_MOCK}/p/vertex"
project = "mock-project"
region = "us-east5"
credentials_file = "${SWITCHYARD_DEMO_VERTEX_CREDENTIALS}"
data_collection = "deny"

[[models]]
id = "meta-llama/llama-4-scout"
name = "Llama 4 Scout (demo)"
context_length = 131072
fallbacks = ["mistralai/mistral-small"]

  [[models.endpoints]]
  provider = "swiftcloud"
  upstream_model = "llama-4-scout-17b"
  prompt_price = 0.18
  completion_price = 0.59
  quantization = "fp8"
  supported_parameters = ["temperature", "top_p", "max_tokens", "stop", "seed", "tools", "tool_choice"]

  [[models.endpoints]]
  provider = "budgetgpu"
  upstream_model = "llama-4-scout"
  prompt_price = 0.08
  completion_price = 0.30
  quantization = "int8"
  supported_parameters = ["temperature", "top_p", "max_tokens", "stop"]

  [[models.endpoints]]
  provider = "flakyhost"
  upstream_model = "Llama-4-Scout-17B-16E-Instruct"
  prompt_price = 0.10
  completion_price = 0.32
  quantization = "bf16"
  supported_parameters = ["temperature", "top_p", "max_tokens", "stop", "seed"]

[[models]]
id = "openai/gpt-4o-mini"
name = "GPT-4o mini (demo)"
context_length = 128000

  [[models.endpoints]]
  provider = "steadyai"
  upstream_model = "gpt-4o-mini"
  prompt_price = 0.15
  completion_price = 0.60
  supported_parameters = ["temperature", "top_p", "max_tokens", "stop", "seed", "tools", "tool_choice", "response_format"]

  [[models.endpoints]]
  provider = "flakyhost"
  upstream_model = "gpt-4o-mini"
  prompt_price = 0.12
  completion_price = 0.48
  supported_parameters = ["temperature", "top_p", "max_tokens", "stop"]

[[models]]
id = "mistralai/mistral-small"
name = "Mistral Small (demo)"
context_length = 32768

  [[models.endpoints]]
  provider = "steadyai"
  upstream_model = "mistral-small-latest"
  prompt_price = 0.10
  completion_price = 0.30
  supported_parameters = ["temperature", "top_p", "max_tokens", "stop"]

  [[models.endpoints]]
  provider = "swiftcloud"
  upstream_model = "mistral-small-3.1"
  prompt_price = 0.20
  completion_price = 0.60
  supported_parameters = ["temperature", "top_p", "max_tokens", "stop", "seed"]

[[models]]
id = "anthropic/claude-sonnet-5.5"
name = "Claude Sonnet 5.5 (demo: Anthropic, Bedrock, Vertex and an OpenAI-compatible host)"
context_length = 200000

  [[models.endpoints]]
  provider = "anthropic"
  upstream_model = "claude-sonnet-5-5"
  prompt_price = 3.0
  completion_price = 15.0
  max_completion_tokens = 64000
  supported_parameters = ["temperature", "top_p", "top_k", "max_tokens", "stop", "tools", "tool_choice", "reasoning"]

  [[models.endpoints]]
  provider = "bedrock"
  upstream_model = "us.anthropic.claude-sonnet-5-5-v1:0"
  prompt_price = 3.0
  completion_price = 15.0
  max_completion_tokens = 64000
  supported_parameters = ["temperature", "top_p", "top_k", "max_tokens", "stop", "tools", "tool_choice", "reasoning"]

  [[models.endpoints]]
  provider = "vertex"
  upstream_model = "anthropic/claude-sonnet-5-5"
  prompt_price = 3.0
  completion_price = 15.0
  max_completion_tokens = 64000
  supported_parameters = ["temperature", "top_p", "top_k", "max_tokens", "stop", "tools", "tool_choice", "reasoning"]

  [[models.endpoints]]
  provider = "steadyai"
  upstream_model = "anthropic/claude-sonnet-5.5"
  prompt_price = 3.3
  completion_price = 16.5
  max_completion_tokens = 64000
  supported_parameters = ["temperature", "top_p", "max_tokens", "stop", "tools", "tool_choice", "reasoning"]

[[models]]
id = "openai/text-embedding-3-small"
name = "Text embedding 3 small (demo: simulated 8-dimensional vectors)"
kind = "embedding"
context_length = 8192

  [[models.endpoints]]
  provider = "steadyai"
  upstream_model = "text-embedding-3-small"
  prompt_price = 0.02
  dimensions = 8

  [[models.endpoints]]
  provider = "swiftcloud"
  upstream_model = "text-embedding-3-small"
  prompt_price = 0.03
  dimensions = 8

[[models]]
id = "google/gemma-3-27b"
name = "Gemma 3 27B (demo; free on budgetgpu, so also `google/gemma-3-27b:free`)"
context_length = 96000

  [[models.endpoints]]
  provider = "budgetgpu"
  upstream_model = "gemma-3-27b-it"
  prompt_price = 0.0
  completion_price = 0.0
  supported_parameters = ["temperature", "max_tokens"]

  [[models.endpoints]]
  provider = "steadyai"
  upstream_model = "gemma-3-27b"
  prompt_price = 0.09
  completion_price = 0.17
  supported_parameters = ["temperature", "top_p", "max_tokens", "stop"]
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn demo_catalog_is_valid() {
        let env = |k: &str| {
            k.starts_with("SWITCHYARD_DEMO_")
                .then(|| "http://127.0.0.1:1".to_owned())
        };
        let c = crate::load(super::DEMO_TOML, "<demo>", &env).unwrap();
        assert!(c.models.len() >= 3);
        assert!(c
            .models
            .iter()
            .any(|m| m.kind == crate::ModelKind::Embedding));
        assert!(c.models.iter().all(|m| m.endpoints.len() >= 2));
    }
}
