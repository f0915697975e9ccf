//! Error cases: each kind of mistake, with the exact line and column it is reported at.

use super::check;

#[test]
fn syntax_error_is_one_located_error() {
    check(
        r#"
        [server]
        listen = "127.0.0.1:8080
        [routing]
        bogus = 1
        "#,
        r"
        sy.toml:2:25: invalid basic string
        ",
    );
}

#[test]
fn duplicate_toml_key_is_a_syntax_error() {
    check(
        r"
        [routing]
        hedge = true
        hedge = false
        ",
        r"
        sy.toml:3:1: duplicate key `hedge` in table `routing`
        ",
    );
}

#[test]
fn unknown_keys_everywhere() {
    check(
        r#"
        [routing]
        max_attempts = 3
        bogus_conformance_key = 1

        [routing_typo]
        x = 1

        [[providers]]
        name = "groq"
        base_url = "https://api.groq.com/openai/v1"
        apikey = "k"

        [[models]]
        id = "m"
        context_length = 8
        contextlength = 8

          [[models.endpoints]]
          provider = "groq"
          upstream_model = "m"
          prompt_price = 1
          completion_price = 1
          price = 2
        "#,
        r"
        sy.toml:3:1: `routing.bogus_conformance_key`: unknown key; expected one of: outage_window_s, connect_timeout_s, first_token_timeout_s, stream_idle_timeout_s, request_timeout_s, max_attempts, max_retry_wait_s, stream_resume, hedge
        sy.toml:5:2: `routing_typo`: unknown key; expected one of: server, auth, storage, cluster, routing, providers, models
        sy.toml:11:1: `providers[0].apikey`: unknown key; expected one of: name, api, base_url, api_key, data_collection, zdr, max_concurrency, headers, api_version, region, aws_access_key_id, aws_secret_access_key, aws_session_token, project, credentials_file
        sy.toml:16:1: `models[0].contextlength`: unknown key; expected one of: id, name, kind, context_length, fallbacks, endpoints
        sy.toml:23:3: `models[0].endpoints[0].price`: unknown key; expected one of: provider, upstream_model, prompt_price, completion_price, request_price, context_length, max_completion_tokens, quantization, supported_parameters, supports_prefill, cache_read_price, cache_write_price, reasoning_price, dimensions
        ",
    );
}

#[test]
fn wrong_types_name_key_and_expected_type() {
    check(
        r#"
        auth = "secret"
        [server]
        listen = 8080
        max_body_bytes = 1.5
        [routing]
        connect_timeout_s = "5"
        max_attempts = 2.0
        hedge = "yes"
        [[providers]]
        name = "p"
        base_url = "http://p"
        zdr = 1
        headers = ["X-A"]
        [[models]]
        id = "m"
        context_length = "big"
        fallbacks = "other"
        endpoints = 3
        "#,
        r"
        sy.toml:1:8: `auth`: expected a table, found string
        sy.toml:3:10: `server.listen`: expected a string, found integer
        sy.toml:4:18: `server.max_body_bytes`: expected a positive integer, found float
        sy.toml:6:21: `routing.connect_timeout_s`: expected a number, found string
        sy.toml:7:16: `routing.max_attempts`: expected a positive integer, found float
        sy.toml:8:9: `routing.hedge`: expected a boolean (true or false), found string
        sy.toml:12:7: `providers[0].zdr`: expected a boolean (true or false), found integer
        sy.toml:13:11: `providers[0].headers`: expected a table, found array
        sy.toml:16:18: `models[0].context_length`: expected a positive integer, found string
        sy.toml:17:13: `models[0].fallbacks`: expected an array of strings, found string
        sy.toml:18:13: `models[0].endpoints`: expected an array of tables, found integer
        ",
    );
}

#[test]
fn unset_variables_are_located_and_named() {
    check(
        r#"
        [auth]
        master_key = "${SY_MASTER}"
        [cluster]
        redis_url = "redis://${SY_HOST}:${SY_PORT}/0"
        [[providers]]
        name = "groq"
        base_url = "https://${REGION}.example.com"
        api_key = "${SY_X}"
        headers = { X-Team = "${TEAM}/${SY_TEAM_SUFFIX}", X-Bad = "${lower-case}" }
        [[models]]
        id = "m"
        context_length = 8
        fallbacks = ["${SY_FALLBACK}"]
          [[models.endpoints]]
          provider = "groq"
          upstream_model = "m-${SY_UNCLOSED"
          prompt_price = 0
          completion_price = 0
        "#,
        r"
        sy.toml:2:14: `auth.master_key`: environment variable SY_MASTER is not set
        sy.toml:4:13: `cluster.redis_url`: environment variable SY_HOST is not set
        sy.toml:4:13: `cluster.redis_url`: environment variable SY_PORT is not set
        sy.toml:8:11: `providers[0].api_key`: environment variable SY_X is not set
        sy.toml:9:22: `providers[0].headers.X-Team`: environment variable SY_TEAM_SUFFIX is not set
        sy.toml:9:59: `providers[0].headers.X-Bad`: `${lower-case}` is not a valid environment variable name
        sy.toml:13:14: `models[0].fallbacks[0]`: environment variable SY_FALLBACK is not set
        sy.toml:16:20: `models[0].endpoints[0].upstream_model`: unterminated `${`: missing `}`
        ",
    );
}

#[test]
fn negative_and_invalid_numbers() {
    check(
        r#"
        [routing]
        outage_window_s = 0
        request_timeout_s = -1
        max_retry_wait_s = nan
        max_attempts = 0
        [[providers]]
        name = "p"
        base_url = "http://p"
        max_concurrency = -3
        [[models]]
        id = "m"
        context_length = 0
          [[models.endpoints]]
          provider = "p"
          upstream_model = "m"
          prompt_price = -0.5
          completion_price = -2
          request_price = inf
          max_completion_tokens = 0
        "#,
        r"
        sy.toml:2:19: `routing.outage_window_s`: must be > 0, got 0
        sy.toml:3:21: `routing.request_timeout_s`: must be > 0, got -1
        sy.toml:4:20: `routing.max_retry_wait_s`: must be a finite number, got NaN
        sy.toml:5:16: `routing.max_attempts`: must be a positive integer, got 0
        sy.toml:9:19: `providers[0].max_concurrency`: must be a positive integer, got -3
        sy.toml:12:18: `models[0].context_length`: must be a positive integer, got 0
        sy.toml:16:18: `models[0].endpoints[0].prompt_price`: must be >= 0, got -0.5
        sy.toml:17:22: `models[0].endpoints[0].completion_price`: must be >= 0, got -2
        sy.toml:18:19: `models[0].endpoints[0].request_price`: must be a finite number, got inf
        sy.toml:19:27: `models[0].endpoints[0].max_completion_tokens`: must be a positive integer, got 0
        ",
    );
}

#[test]
fn duplicates_point_at_the_second() {
    check(
        r#"
        [[providers]]
        name = "groq"
        base_url = "https://a"
        [[providers]]
        name = "groq"
        base_url = "https://b"
        [[models]]
        id = "m"
        context_length = 8
          [[models.endpoints]]
          provider = "groq"
          upstream_model = "a"
          prompt_price = 1
          completion_price = 1
          [[models.endpoints]]
          provider = "groq"
          upstream_model = "b"
          prompt_price = 1
          completion_price = 1
        [[models]]
        id = "m"
        context_length = 8
          [[models.endpoints]]
          provider = "groq"
          upstream_model = "c"
          prompt_price = 1
          completion_price = 1
        "#,
        r"
        sy.toml:5:8: `providers[1].name`: duplicate provider `groq` (first defined at line 2)
        sy.toml:16:14: `models[0].endpoints[1].provider`: provider `groq` already serves this model in `models[0].endpoints[0]`
        sy.toml:21:6: `models[1].id`: duplicate model id `m` (first defined at line 8)
        ",
    );
}

#[test]
fn references_must_resolve() {
    check(
        r#"
        [[providers]]
        name = "groq"
        base_url = "https://a"
        [[providers]]
        name = "together"
        base_url = "https://b"
        [[models]]
        id = "a"
        context_length = 8
        fallbacks = ["b", "a", "c"]
          [[models.endpoints]]
          provider = "Groq"
          upstream_model = "a"
          prompt_price = 1
          completion_price = 1
          [[models.endpoints]]
          provider = "fireworks"
          upstream_model = "a"
          prompt_price = 1
          completion_price = 1
        [[models]]
        id = "b"
        context_length = 8
        endpoints = []
        [[models]]
        id = "c"
        context_length = 8
        "#,
        r"
        sy.toml:10:19: `models[0].fallbacks[1]`: a model cannot fall back to itself
        sy.toml:12:14: `models[0].endpoints[0].provider`: unknown provider `Groq`; did you mean `groq`?
        sy.toml:17:14: `models[0].endpoints[1].provider`: unknown provider `fireworks`; defined providers: groq, together
        sy.toml:24:13: `models[1].endpoints`: a model needs at least one endpoint
        sy.toml:25:1: `models[2].endpoints`: a model needs at least one endpoint ([[models.endpoints]])
        ",
    );
}

#[test]
fn unknown_fallback_and_no_providers() {
    check(
        r#"
        [[models]]
        id = "a"
        context_length = 8
        fallbacks = ["nope"]
          [[models.endpoints]]
          provider = "groq"
          upstream_model = "a"
          prompt_price = 1
          completion_price = 1
        "#,
        r"
        sy.toml:4:14: `models[0].fallbacks[0]`: unknown model `nope`; no [[models]] entry has this id
        sy.toml:6:14: `models[0].endpoints[0].provider`: unknown provider `groq`; no [[providers]] are defined
        ",
    );
}

#[test]
fn missing_required_keys_point_at_the_table() {
    check(
        r#"
        [auth]
        [cluster]
        [[providers]]
        api = "openai"
        [[models]]
        name = "nameless"
          [[models.endpoints]]
          quantization = "fp8"
        "#,
        r"
        sy.toml:1:1: `auth.master_key`: missing required key
        sy.toml:2:1: `cluster.redis_url`: missing required key
        sy.toml:3:1: `providers[0].name`: missing required key
        sy.toml:3:1: `providers[0].base_url`: missing required key
        sy.toml:5:1: `models[0].id`: missing required key
        sy.toml:5:1: `models[0].context_length`: missing required key
        sy.toml:7:3: `models[0].endpoints[0].provider`: missing required key
        sy.toml:7:3: `models[0].endpoints[0].upstream_model`: missing required key
        sy.toml:7:3: `models[0].endpoints[0].prompt_price`: missing required key
        sy.toml:7:3: `models[0].endpoints[0].completion_price`: missing required key
        ",
    );
}

#[test]
fn invalid_values() {
    check(
        r#"
        [server]
        listen = "localhost:8080"
        [auth]
        master_key = ""
        [storage]
        url = "mysql://u:pw@db/sy"
        [cluster]
        redis_url = "http://r:6379"
        [[providers]]
        name = "My Provider"
        api = "bogus"
        base_url = "ftp://x/"
        data_collection = "maybe"
        headers = { "Bad Header" = "v", X-Ok = "a\nb" }
        [[providers]]
        name = "ok"
        base_url = "https:///path"
        [[models]]
        id = "vendor/model:free"
        context_length = 8
          [[models.endpoints]]
          provider = "ok"
          upstream_model = ""
          prompt_price = 1
          completion_price = 1
          quantization = "q4_k_m"
          supported_parameters = ["temperature", 7]
        [[models]]
        id = "has space"
        context_length = 8
          [[models.endpoints]]
          provider = "ok"
          upstream_model = "x"
          prompt_price = 1
          completion_price = 1
        "#,
        r"
        sy.toml:2:10: `server.listen`: must be an IP address and port such as `127.0.0.1:8080`, got `localhost:8080`
        sy.toml:4:14: `auth.master_key`: must not be empty
        sy.toml:6:7: `storage.url`: must start with `sqlite:`, `postgres://` or `postgresql://`
        sy.toml:8:13: `cluster.redis_url`: must start with `redis://` or `rediss://`
        sy.toml:10:8: `providers[0].name`: must be a lowercase slug ([a-z0-9][a-z0-9._-]*), got `My Provider`
        sy.toml:11:7: `providers[0].api`: must be one of `openai`, `openai-responses`, `anthropic`, `gemini`, `azure`, `bedrock`, `vertex`, got `bogus`
        sy.toml:12:12: `providers[0].base_url`: must be an http:// or https:// URL
        sy.toml:13:19: `providers[0].data_collection`: must be one of `allow`, `deny`, got `maybe`
        sy.toml:14:13: `providers[0].headers.Bad Header`: `Bad Header` is not a valid HTTP header name
        sy.toml:14:40: `providers[0].headers.X-Ok`: header value must not contain control characters
        sy.toml:17:12: `providers[1].base_url`: must name a host after the scheme
        sy.toml:19:6: `models[0].id`: must not contain `:` (it introduces suffixes such as `:free`)
        sy.toml:23:20: `models[0].endpoints[0].upstream_model`: must not be empty
        sy.toml:26:18: `models[0].endpoints[0].quantization`: must be one of int4 int8 fp4 fp6 fp8 fp16 bf16 fp32 unknown, got `q4_k_m`
        sy.toml:27:42: `models[0].endpoints[0].supported_parameters[1]`: expected a string, found integer
        sy.toml:29:6: `models[1].id`: must not contain whitespace
        ",
    );
}

/// One file with a mix of mistakes: all are reported, in file order, though the walk
/// visits providers before models.
#[test]
fn every_error_is_reported_in_file_order() {
    check(
        r#"
        [[models]]
        id = "m"
        context_length = 8
        extra = true
          [[models.endpoints]]
          provider = "p"
          upstream_model = "${SY_MISSING}"
          prompt_price = -1
          completion_price = 0.5
        [routing]
        hedge = 1
        [[providers]]
        name = "p"
        base_url = "https://p"
        zdr = "no"
        "#,
        r"
        sy.toml:4:1: `models[0].extra`: unknown key; expected one of: id, name, kind, context_length, fallbacks, endpoints
        sy.toml:7:20: `models[0].endpoints[0].upstream_model`: environment variable SY_MISSING is not set
        sy.toml:8:18: `models[0].endpoints[0].prompt_price`: must be >= 0, got -1
        sy.toml:11:9: `routing.hedge`: expected a boolean (true or false), found integer
        sy.toml:15:7: `providers[0].zdr`: expected a boolean (true or false), found string
        ",
    );
}

/// Tables written in the wrong shape: each is reported once, at the header or key that
/// introduced it, and nothing inside it is reported again.
#[test]
fn wrong_table_shapes() {
    check(
        r#"
        routing.bogus = 1
        providers = [1, { name = "p", base_url = "http://p", colour = "red" }]
        [[server]]
        listen = "127.0.0.1:1"
        [models.endpoints]
        provider = "p"
        "#,
        r"
        sy.toml:1:9: `routing.bogus`: unknown key; expected one of: outage_window_s, connect_timeout_s, first_token_timeout_s, stream_idle_timeout_s, request_timeout_s, max_attempts, max_retry_wait_s, stream_resume, hedge
        sy.toml:2:14: `providers[0]`: expected a table, found integer
        sy.toml:2:54: `providers[1].colour`: unknown key; expected one of: name, api, base_url, api_key, data_collection, zdr, max_concurrency, headers, api_version, region, aws_access_key_id, aws_secret_access_key, aws_session_token, project, credentials_file
        sy.toml:3:1: `server`: expected a table, found array of tables
        sy.toml:5:2: `models`: expected an array of tables, found table
        ",
    );
}

/// Columns count characters, not bytes, and a CRLF file numbers lines like an LF one.
#[test]
fn columns_count_characters_and_crlf_lines() {
    check(
        "[[providers]]\r\nname = \"p\"\r\nbase_url = \"http://p\"\r\nheaders = { \"X-É\" = 1 }\r\n",
        r"
        sy.toml:4:13: `providers[0].headers.X-É`: `X-É` is not a valid HTTP header name
        sy.toml:4:21: `providers[0].headers.X-É`: expected a string, found integer
        ",
    );
}

#[test]
fn zero_connections_is_refused() {
    check(
        r"
        [server]
        max_connections = 0
        ",
        r"
        sy.toml:2:19: `server.max_connections`: must be a positive integer, got 0
        ",
    );
}

#[test]
fn storage_journal_and_queue_bounds_are_checked() {
    check(
        r#"
        [server]
        metrics_public = "yes"
        [storage]
        journal_dir = ""
        journal_max_bytes = 100
        max_queued_records = 0
        "#,
        r"
        sy.toml:2:18: `server.metrics_public`: expected a boolean (true or false), found string
        sy.toml:4:15: `storage.journal_dir`: must be a directory path (created if missing)
        sy.toml:5:21: `storage.journal_max_bytes`: must be at least 4096 bytes, got 100
        sy.toml:6:22: `storage.max_queued_records`: must be a positive integer, got 0
        ",
    );
}
