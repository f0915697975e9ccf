//! Recorded Anthropic event streams in, pieces out.

use super::*;

fn check(capture: &str, expect: &str) {
    assert_golden(&render(&stream(capture, None)), expect);
}

#[test]
fn text_with_cache_usage() {
    check(
        r#"
event: message_start
data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-up-1","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}

event: message_stop
data: {"type":"message_stop"}
"#,
        r#"
        text "Hello"
        text "!"
        finish stop
        usage prompt=2125 completion=15 cached=2000 write=100 reasoning=-
        done
        "#,
    );
}

#[test]
fn tool_use_after_text_gets_call_index_zero() {
    // block 0 is text, blocks 1 and 2 are calls: OpenAI numbers the calls 0 and 1
    check(
        r#"
event: message_start
data: {"type":"message_start","message":{"id":"msg_02","type":"message","role":"assistant","content":[],"model":"claude-up-1","usage":{"input_tokens":472,"output_tokens":2}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"Oslo\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}
"#,
        r#"
        text "Checking."
        tool 0 toolu_01 get_weather
        args 0 "{\"location\":"
        args 0 " \"Oslo\"}"
        tool 1 toolu_02 get_time
        args 1 "{}"
        finish tool_calls
        usage prompt=472 completion=89 cached=- write=- reasoning=-
        done
        "#,
    );
}

/// The ending of a stream after one text delta, for the stop-reason table.
fn ending(stop_reason: &str) -> String {
    format!(
        r#"
event: message_start
data: {{"type":"message_start","message":{{"id":"msg_03","type":"message","role":"assistant","content":[],"model":"m","usage":{{"input_tokens":9,"output_tokens":1}}}}}}

event: content_block_start
data: {{"type":"content_block_start","index":0,"content_block":{{"type":"text","text":""}}}}

event: content_block_delta
data: {{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"The quick"}}}}

event: content_block_stop
data: {{"type":"content_block_stop","index":0}}

event: message_delta
data: {{"type":"message_delta","delta":{{"stop_reason":"{stop_reason}","stop_sequence":null}},"usage":{{"output_tokens":2}}}}

event: message_stop
data: {{"type":"message_stop"}}
"#
    )
}

#[test]
fn stop_reasons() {
    for (anthropic, openai) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
    ] {
        check(
            &ending(anthropic),
            &format!(
                r#"
                text "The quick"
                finish {openai}
                usage prompt=9 completion=2 cached=- write=- reasoning=-
                done
                "#
            ),
        );
    }
}

#[test]
fn overloaded_error_event_keeps_its_type() {
    check(
        r#"
event: message_start
data: {"type":"message_start","message":{"id":"msg_04","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":3,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type":"ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}

event: error
data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
"#,
        r#"
        text "Hel"
        error kind=overloaded_error code=- message=Overloaded
        "#,
    );
}

#[test]
fn broken_and_unknown_events() {
    // unparsable data is counted; unknown event and delta types are skipped quietly (Anthropic
    // may add them at any time); a known event without its fields is malformed
    check(
        r#"
event: content_block_delta
data: {"id": "broken", "choices": [{"delta": {"content": 

data: <html>this is not json

event: some_future_event
data: {"type":"some_future_event","x":1}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":0}

event: content_block_delta
data: {"type":"content_block_delta","index":7,"delta":{"type":"input_json_delta","partial_json":"{\"q\":1}"}}
"#,
        "
        malformed
        malformed
        malformed
        ",
    );
}

#[test]
fn thinking_becomes_reasoning() {
    check(
        r#"
event: message_start
data: {"type":"message_start","message":{"id":"msg_05","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":10,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me see."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"abc"}}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"4"}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":30}}

event: message_stop
data: {"type":"message_stop"}
"#,
        r#"
        reasoning "Let me see."
        signature "EqQBCgIYAhIM"
        encrypted "abc"
        text "4"
        finish stop
        usage prompt=10 completion=30 cached=- write=- reasoning=-
        done
        "#,
    );
}

#[test]
fn no_usage_reported_means_no_usage_piece() {
    // the relay then counts with a tokenizer and marks the usage estimated
    check(
        r#"
event: message_start
data: {"type":"message_start","message":{"id":"msg_06","type":"message","role":"assistant","content":[],"model":"m"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"}}
"#,
        r#"
        text "Hi"
        finish stop
        "#,
    );
}

#[test]
fn message_delta_may_restate_the_prompt_side() {
    // newer API versions repeat cumulative input and cache counts in message_delta
    check(
        r#"
event: message_start
data: {"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":6,"cache_read_input_tokens":0,"output_tokens":3}}
"#,
        r#"
        finish stop
        usage prompt=6 completion=3 cached=0 write=- reasoning=-
        "#,
    );
}

#[test]
fn event_name_alone_is_enough() {
    // a proxy that rewrote the data without `type`: the SSE event name still says what it is
    check(
        r#"
event: content_block_delta
data: {"index":0,"delta":{"type":"text_delta","text":"Hi"}}

event: message_stop
data: {}
"#,
        r#"
        text "Hi"
        done
        "#,
    );
}

#[test]
fn resumed_stream_does_not_repeat_trimmed_whitespace() {
    let capture = |first: &str| {
        let first = serde_json::Value::from(first);
        format!(
            r#"
event: content_block_delta
data: {{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":{first}}}}}

event: content_block_delta
data: {{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":" next"}}}}
"#
        )
    };
    for (prefill, first, expect) in [
        // "Hello " was delivered and sent as "Hello": the model's " world" starts with that space
        ("Hello ", " world", r#"text "world""#),
        ("Hello ", "world", r#"text "world""#),
        ("Hi\n\n", "\n", ""),
        ("Hi\n\n", "\n\nThere", r#"text "There""#),
        ("Hi\n\n", "\nThere", r#"text "There""#),
        ("Hello", " world", r#"text " world""#),
    ] {
        let out = render(&stream(&capture(first), Some(prefill)));
        let want = [expect, r#"text " next""#]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(out, want, "prefill {prefill:?}, first delta {first:?}");
    }
}
