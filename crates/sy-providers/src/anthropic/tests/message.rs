//! Whole Anthropic answers (and error bodies) in, events out.

use super::*;
use crate::parse_error_body;

fn check(body: &str, expect: &str) {
    assert_golden(&render(&whole(body).expect("decodes")), expect);
}

#[test]
fn text_answer() {
    check(
        r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-up-1",
            "content":[{"type":"text","text":"Hello from claude."}],
            "stop_reason":"stop_sequence","stop_sequence":"fox",
            "usage":{"input_tokens":7,"cache_read_input_tokens":3,"output_tokens":4}}"#,
        r#"
        text "Hello from claude."
        finish stop
        usage prompt=10 completion=4 cached=3 write=- reasoning=-
        done
        "#,
    );
}

#[test]
fn tool_use_answer_with_signed_thinking() {
    check(
        r#"{"id":"msg_2","type":"message","role":"assistant","model":"m",
            "content":[{"type":"thinking","thinking":"Need weather.","signature":"x"},
                       {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Oslo"}},
                       {"type":"tool_use","id":"toolu_2","name":"now","input":{}}],
            "stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":12}}"#,
        r#"
        reasoning "Need weather."
        signature "x"
        tool 0 toolu_1 get_weather
        args 0 "{\"location\":\"Oslo\"}"
        tool 1 toolu_2 now
        args 1 "{}"
        finish tool_calls
        usage prompt=20 completion=12 cached=- write=- reasoning=-
        done
        "#,
    );
    // every frame is kept raw: a Messages client gets the answer as a stream of Anthropic events
    let frames = whole(r#"{"type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn"}"#).unwrap();
    assert!(frames.iter().all(|f| f.raw.is_some()));
}

#[test]
fn errors_and_empty_answers() {
    check(
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        "error kind=overloaded_error code=- message=Overloaded",
    );
    for bad in [
        "<html>this is not json",
        r#"{"type":"message","content":[]}"#,
        r#"{"type":"message"}"#,
    ] {
        assert!(whole(bad).is_err(), "{bad}");
    }
    assert!(
        whole("").unwrap().is_empty(),
        "nothing at all is an empty answer"
    );
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
