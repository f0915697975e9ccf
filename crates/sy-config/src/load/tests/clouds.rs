//! The cloud protocols' provider keys (SPEC §5): defaults, required credentials, and errors.

use super::check;

const MODEL: &str = r#"
[[models]]
id = "m"
context_length = 1000
  [[models.endpoints]]
  provider = "g"
  upstream_model = "gemini-2.5-flash"
  prompt_price = 1
  completion_price = 1
"#;

#[test]
fn gemini_has_a_default_address_and_needs_a_key() {
    check(
        &format!("[[providers]]\nname = \"g\"\napi = \"gemini\"\napi_key = \"AIza-x\"\n{MODEL}"),
        r#"
        server listen=127.0.0.1:8080 max_body_bytes=4194304 max_connections=4096
        storage url=sqlite://switchyard.db
        routing outage=30 connect=5 first_token=10 idle=15 request=600 attempts=6 retry_wait=5 resume=true hedge=false
        provider g api=gemini base_url=https://generativelanguage.googleapis.com/v1beta api_key=AIza-x data_collection=allow zdr=false max_concurrency=256 headers=[]
        model m name="m" context_length=1000 fallbacks=[]
          endpoint g upstream=gemini-2.5-flash prices=1/1/0 context_length=1000 max_completion=- quant=unknown params=[] prefill=false
        "#,
    );
    check(
        &format!("[[providers]]\nname = \"g\"\napi = \"gemini\"\n{MODEL}"),
        "sy.toml:1:1: `providers[0].api_key`: missing required key",
    );
}
