//! The simulated providers of the built-in demo: four hosts with distinct
//! speeds, one of them flaky, and a simulated Anthropic API, each answering
//! with its own short paragraph.

/// A [`crate::MockConfig`] in TOML for the demo's simulated providers.
pub const DEMO_MOCK_TOML: &str = r#"# Simulated providers of the Switchyard demo (`switchyard mock` format).
# Each is served at http://ADDR/p/{name}/v1 (OpenAI and Anthropic APIs).

[[providers]]
name = "swiftcloud"
ttft_ms = 80
tokens_per_s = 120
text = "Hello from swiftcloud. I am the fast one: my first token left after about 80 ms and the rest followed at 120 tokens a second. Switchyard picked me because I was healthy and quick, and it keeps measuring every answer I give so that the next request goes wherever is best."

[[providers]]
name = "budgetgpu"
ttft_ms = 400
tokens_per_s = 35
text = "Hello from budgetgpu. I am the cheap one, and you can tell: about 400 ms before my first word, then a leisurely 35 tokens a second. When you sort by price, Switchyard sends traffic my way; when you need speed, it knows better."

[[providers]]
name = "steadyai"
ttft_ms = 200
tokens_per_s = 70
text = "Hello from steadyai. Neither the fastest nor the cheapest, I answer in about 200 ms and stream 70 tokens a second, every time. Steady providers like me are what the health scores reward when the others have a bad day."

[[providers]]
name = "flakyhost"
ttft_ms = 150
tokens_per_s = 90
fail_rate = 0.3
status = 503
retry_after = 1
text = "Hello from flakyhost. This time I answered, but about three requests in ten get a 503 from me. When that happens, Switchyard fails over to another provider before you notice, and my uptime score shows what kind of host I am."

[[providers]]
name = "anthropic"
ttft_ms = 250
tokens_per_s = 80
fail_rate = 0.3
status = 529
text = "Hello from the simulated Anthropic API. I speak the Messages protocol: ask me for extended thinking and I think first, in a signed block; give me tools and I call one. I am overloaded about one request in three; then Switchyard asks Amazon Bedrock, Google Vertex AI or steadyai for the same model, and you never see the difference."

[[providers]]
name = "bedrock"
ttft_ms = 300
tokens_per_s = 60
text = "Hello from Claude on Amazon Bedrock. Switchyard signed this request with AWS Signature V4, read my answer from an AWS event stream, and translated it for you."

[[providers]]
name = "vertex"
ttft_ms = 300
tokens_per_s = 60
text = "Hello from Claude on Google Vertex AI. Switchyard exchanged a service account's signed assertion for an access token once, and reuses it for every request."
"#;
