//! Table tests in rust-analyzer's style: every case is TOML in and text out through one
//! `check` helper. The text is the loaded config rendered line by line (secrets shown,
//! so interpolation is visible) or the errors exactly as `switchyard check` prints them.

mod clouds;
mod errors;

use std::fmt::Write as _;

use secrecy::ExposeSecret;

use crate::{load, Config};

/// The injected environment: a fixed map, never the process's.
fn env(name: &str) -> Option<String> {
    let value = match name {
        "SWITCHYARD_MASTER_KEY" => "sk-master",
        "GROQ_API_KEY" => "gsk-test",
        "ANTHROPIC_API_KEY" => "sk-ant-test",
        "REDIS_HOST" => "10.1.2.3",
        "REGION" => "eu",
        "TEAM" => "infra",
        _ => return None,
    };
    Some(value.to_owned())
}

/// Loads `input` (a block is dedented, so line 1 is the line after `r"`) as `sy.toml`
/// and compares the rendered outcome with `expect`.
#[track_caller]
fn check(input: &str, expect: &str) {
    // Only block inputs (starting with a newline) are dedented; a one-line input is used
    // byte for byte, so CRLF and odd spacing can be tested.
    let input = if input.starts_with('\n') {
        trim_indent(input)
    } else {
        input.to_owned()
    };
    let actual = match load(&input, "sy.toml", &env) {
        Ok(config) => render(&config),
        Err(errors) => errors.to_string(),
    };
    let expect = trim_indent(expect);
    assert_eq!(
        actual.trim_end(),
        expect.trim_end(),
        "\n--- input ---\n{input}\n--- actual ---\n{actual}\n"
    );
}

/// Drops a leading newline and the indentation common to all non-blank lines.
fn trim_indent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line.get(indent..).unwrap_or("").trim_end());
        out.push('\n');
    }
    out
}

fn render(c: &Config) -> String {
    let mut out = String::new();
    let s = &c.server;
    writeln!(
        out,
        "server listen={} max_body_bytes={} max_connections={}",
        s.listen, s.max_body_bytes, s.max_connections
    )
    .unwrap();
    if let Some(a) = &c.auth {
        writeln!(out, "auth master_key={}", a.master_key.expose_secret()).unwrap();
    }
    writeln!(out, "storage url={}", c.storage.url).unwrap();
    if let Some(cl) = &c.cluster {
        writeln!(out, "cluster redis_url={}", cl.redis_url.expose_secret()).unwrap();
    }
    let r = &c.routing;
    writeln!(
        out,
        "routing outage={} connect={} first_token={} idle={} request={} attempts={} retry_wait={} resume={} hedge={}",
        r.outage_window_s,
        r.connect_timeout_s,
        r.first_token_timeout_s,
        r.stream_idle_timeout_s,
        r.request_timeout_s,
        r.max_attempts,
        r.max_retry_wait_s,
        r.stream_resume,
        r.hedge
    )
    .unwrap();
    for p in &c.providers {
        let key = p.api_key.as_ref().map_or("-", |k| k.expose_secret());
        let headers: Vec<String> = p.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        writeln!(
            out,
            "provider {} api={} base_url={} api_key={key} data_collection={} zdr={} max_concurrency={} headers=[{}]",
            p.name,
            p.api.as_str(),
            p.base_url,
            if p.data_collection_allowed { "allow" } else { "deny" },
            p.zdr,
            p.max_concurrency,
            headers.join(", ")
        )
        .unwrap();
    }
    for m in &c.models {
        writeln!(
            out,
            "model {} name={:?} context_length={} fallbacks=[{}]",
            m.id,
            m.name,
            m.context_length,
            m.fallbacks.join(", ")
        )
        .unwrap();
        for e in &m.endpoints {
            let max = e
                .max_completion_tokens
                .map_or("-".to_owned(), |n| n.to_string());
            writeln!(
                out,
                "  endpoint {} upstream={} prices={}/{}/{} context_length={} max_completion={max} quant={} params=[{}] prefill={}",
                e.provider,
                e.upstream_model,
                e.prompt_price,
                e.completion_price,
                e.request_price,
                e.context_length,
                e.quantization,
                e.supported_parameters.join(","),
                e.supports_prefill
            )
            .unwrap();
        }
    }
    out
}

#[test]
fn empty_file_is_all_defaults() {
    check(
        "",
        r"
        server listen=127.0.0.1:8080 max_body_bytes=4194304 max_connections=4096
        storage url=sqlite://switchyard.db
        routing outage=30 connect=5 first_token=10 idle=15 request=600 attempts=6 retry_wait=5 resume=true hedge=false
        ",
    );
}

#[test]
fn defaults_match_model_defaults() {
    let config = load("", "sy.toml", &env).unwrap();
    assert_eq!(config.routing, crate::RoutingConfig::default());
    assert_eq!(config.server.listen, crate::ServerConfig::default().listen);
    assert_eq!(
        config.server.max_body_bytes,
        crate::ServerConfig::default().max_body_bytes
    );
    assert_eq!(config.storage.url, crate::StorageConfig::default().url);
    assert!(config.auth.is_none() && config.cluster.is_none() && !config.demo);
}

/// SPEC §3's example, every table present, plus a second provider and the fallback
/// model it names, with `${VAR}` whole, embedded and repeated.
#[test]
fn full_config() {
    check(
        r#"
        [server]
        listen = "0.0.0.0:9090"
        max_body_bytes = 1_048_576
        max_connections = 20_000

        [auth]
        master_key = "${SWITCHYARD_MASTER_KEY}"

        [storage]
        url = "postgres://sy@db/${TEAM}"

        [cluster]
        redis_url = "redis://${REDIS_HOST}:6379"

        [routing]
        outage_window_s = 60
        connect_timeout_s = 2.5
        first_token_timeout_s = 8
        stream_idle_timeout_s = 12
        request_timeout_s = 300
        max_attempts = 4
        max_retry_wait_s = 3
        stream_resume = false
        hedge = true

        [[providers]]
        name = "groq"
        api = "openai"
        base_url = "https://api.groq.com/openai/v1/"
        api_key = "${GROQ_API_KEY}"
        data_collection = "deny"
        zdr = true
        max_concurrency = 64
        headers = { "X-Custom" = "v", "X-Team" = "${TEAM}-${REGION}", X-Literal = "$${NOT_A_VAR} $5" }

        [[providers]]
        name = "anthropic"
        api = "anthropic"
        base_url = "https://api.anthropic.com/v1"
        api_key = "${ANTHROPIC_API_KEY}"

        [[models]]
        id = "meta-llama/llama-4-scout"
        name = "Llama 4 Scout"
        context_length = 131072
        fallbacks = ["openai/gpt-4o-mini"]

          [[models.endpoints]]
          provider = "groq"
          upstream_model = "meta-llama/llama-4-scout-17b-16e-instruct"
          prompt_price = 0.11
          completion_price = 0.34
          request_price = 0.0
          context_length = 65536
          max_completion_tokens = 8192
          quantization = "fp8"
          supported_parameters = ["temperature", "top_p", "max_tokens", "stop",
                                  "tools", "tool_choice", "response_format", "seed"]
          supports_prefill = false

          [[models.endpoints]]
          provider = "anthropic"
          upstream_model = "scout-${REGION}"
          prompt_price = 0
          completion_price = 1

        [[models]]
        id = "openai/gpt-4o-mini"
        context_length = 128000

          [[models.endpoints]]
          provider = "anthropic"
          upstream_model = "gpt-4o-mini"
          prompt_price = 0.15
          completion_price = 0.6
          supports_prefill = false
        "#,
        r#"
        server listen=0.0.0.0:9090 max_body_bytes=1048576 max_connections=20000
        auth master_key=sk-master
        storage url=postgres://sy@db/infra
        cluster redis_url=redis://10.1.2.3:6379
        routing outage=60 connect=2.5 first_token=8 idle=12 request=300 attempts=4 retry_wait=3 resume=false hedge=true
        provider groq api=openai base_url=https://api.groq.com/openai/v1 api_key=gsk-test data_collection=deny zdr=true max_concurrency=64 headers=[X-Custom: v, X-Team: infra-eu, X-Literal: ${NOT_A_VAR} $5]
        provider anthropic api=anthropic base_url=https://api.anthropic.com/v1 api_key=sk-ant-test data_collection=allow zdr=false max_concurrency=256 headers=[]
        model meta-llama/llama-4-scout name="Llama 4 Scout" context_length=131072 fallbacks=[openai/gpt-4o-mini]
          endpoint groq upstream=meta-llama/llama-4-scout-17b-16e-instruct prices=0.11/0.34/0 context_length=65536 max_completion=8192 quant=fp8 params=[temperature,top_p,max_tokens,stop,tools,tool_choice,response_format,seed] prefill=false
          endpoint anthropic upstream=scout-eu prices=0/1/0 context_length=131072 max_completion=- quant=unknown params=[] prefill=true
        model openai/gpt-4o-mini name="openai/gpt-4o-mini" context_length=128000 fallbacks=[]
          endpoint anthropic upstream=gpt-4o-mini prices=0.15/0.6/0 context_length=128000 max_completion=- quant=unknown params=[] prefill=false
        "#,
    );
}

/// Inline tables and arrays of inline tables are the same data as headers, so they load
/// the same; errors inside them still name the element.
#[test]
fn inline_forms() {
    check(
        r#"
        server = { listen = "[::1]:8080" }
        routing.hedge = true
        providers = [{ name = "local", base_url = "http://127.0.0.1:8000/v1" }]
        models = [{ id = "m", context_length = 4096, endpoints = [
          { provider = "local", upstream_model = "m", prompt_price = 0, completion_price = 0 },
        ] }]
        "#,
        r#"
        server listen=[::1]:8080 max_body_bytes=4194304 max_connections=4096
        storage url=sqlite://switchyard.db
        routing outage=30 connect=5 first_token=10 idle=15 request=600 attempts=6 retry_wait=5 resume=true hedge=true
        provider local api=openai base_url=http://127.0.0.1:8000/v1 api_key=- data_collection=allow zdr=false max_concurrency=256 headers=[]
        model m name="m" context_length=4096 fallbacks=[]
          endpoint local upstream=m prices=0/0/0 context_length=4096 max_completion=- quant=unknown params=[] prefill=false
        "#,
    );
}

#[test]
fn display_formats() {
    let errors = load("[routing]\nbogus = 1\nhedge = 2\n", "conf/sy.toml", &env).unwrap_err();
    assert_eq!(errors.len(), 2);
    assert_eq!(
        errors.0[1].to_string(),
        "conf/sy.toml:3:9: `routing.hedge`: expected a boolean (true or false), found integer"
    );
    assert_eq!(errors.to_string().lines().count(), 2);
    let e: &dyn std::error::Error = &errors;
    assert!(e
        .to_string()
        .starts_with("conf/sy.toml:2:1: `routing.bogus`: unknown key"));
}

#[test]
fn storage_journal_queue_and_public_metrics() {
    let text = "[server]\nmetrics_public = true\n[storage]\nurl = \"postgres://db/x\"\n\
                journal_dir = \"/var/lib/switchyard/journal\"\njournal_max_bytes = 1_048_576\n\
                max_queued_records = 500\n";
    let c = load(text, "sy.toml", &env).unwrap();
    assert!(c.server.metrics_public);
    assert_eq!(
        c.storage.journal_dir.as_deref(),
        Some("/var/lib/switchyard/journal")
    );
    assert_eq!(c.storage.journal_max_bytes, 1_048_576);
    assert_eq!(c.storage.max_queued_records, 500);
    let d = load("", "sy.toml", &env).unwrap();
    assert!(!d.server.metrics_public);
    assert_eq!(d.storage.journal_dir, None);
    assert_eq!(d.storage.max_queued_records, 10_000);
}
