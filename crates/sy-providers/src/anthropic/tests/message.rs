//! Whole Anthropic answers (and error bodies) in, pieces out.

use super::{assert_golden, decode_body, render};
use crate::chunk::parse_error_body;

fn check(body: &str, expect: &str) {
    let mut out = Vec::new();
    decode_body(body.as_bytes(), &mut out).expect("decodes");
    assert_golden(&render(&out), expect);
}

#[test]
fn text_answer() {
    check(
        r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-up-1",
            "content":[{"type":"text","text":"Hello from claude."}],
            "stop_reason":"stop_sequence","stop_sequence":"fox",
            "usage":{"input_tokens":7,"cache_read_input_tokens":3,"output_tokens":4}}"#,
        r#"
        usage prompt=10 completion=4 cached=3 write=-
        chunk {"content":"Hello from claude.","role":"assistant"} finish=stop
        done
        "#,
    );
}

#[test]
fn tool_use_answer() {
    check(
        r#"{"id":"msg_2","type":"message","role":"assistant","model":"m",
            "content":[{"type":"thinking","thinking":"Need weather.","signature":"x"},
                       {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Oslo"}},
                       {"type":"tool_use","id":"toolu_2","name":"now","input":{}}],
            "stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":12}}"#,
        r#"
        usage prompt=20 completion=12 cached=- write=-
        chunk {"content":null,"reasoning":"Need weather.","role":"assistant","tool_calls":[{"function":{"arguments":"{\"location\":\"Oslo\"}","name":"get_weather"},"id":"toolu_1","index":0,"type":"function"},{"function":{"arguments":"{}","name":"now"},"id":"toolu_2","index":1,"type":"function"}]} finish=tool_calls
        done
        "#,
    );
}

#[test]
fn max_tokens_without_usage() {
    check(
        r#"{"type":"message","role":"assistant","content":[{"type":"text","text":"Hello from"}],"stop_reason":"max_tokens"}"#,
        r#"
        chunk {"content":"Hello from","role":"assistant"} finish=length
        done
        "#,
    );
}

#[test]
fn errors_and_empty_answers() {
    check(
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        "error kind=overloaded_error code=- message=Overloaded",
    );
    for bad in [
        "",
        "<html>this is not json",
        r#"{"type":"message","content":[]}"#,
        r#"{"type":"message"}"#,
        r#"{"type":"message","content":[{"type":"server_tool_use","id":"s","name":"web_search","input":{}}]}"#,
    ] {
        assert!(
            decode_body(bad.as_bytes(), &mut Vec::new()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn http_error_bodies_keep_type_and_message() {
    // what the classifier reads: the type for overloaded (transient), the text for prompt length
    let e = parse_error_body(
        529,
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    );
    assert_eq!(e.kind.as_deref(), Some("overloaded_error"));
    let e = parse_error_body(
        400,
        br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
    );
    assert_eq!(e.kind.as_deref(), Some("invalid_request_error"));
    assert_eq!(
        e.message,
        "prompt is too long: 210000 tokens > 200000 maximum"
    );
}
