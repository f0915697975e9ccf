//! Table tests: every malformed body names its field.

use super::*;
use sy_api::{Partition, SortBy, SortSpec};

fn check_err(body: &str, field: &str) {
    let err = parse(body.as_bytes()).expect_err(body);
    assert_eq!(err.status, 400, "{body}");
    assert!(err.message.contains(field), "{body}: {}", err.message);
}

#[test]
fn wrong_types_name_the_field() {
    let cases = [
        (r#"{"model":"m","messages":"hello"}"#, "messages"),
        (
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#,
            "temperature",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#,
            "stream",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":"ten"}"#,
            "max_tokens",
        ),
        (
            r#"{"model":42,"messages":[{"role":"user","content":"x"}]}"#,
            "model",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"provider":"groq"}"#,
            "provider",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"models":"a"}"#,
            "models",
        ),
        (r#"{"model":"m"}"#, "messages"),
        (r#"{"model":"m","messages":[]}"#, "messages"),
        (
            r#"{"model":"m","messages":[{"content":"x"}]}"#,
            "messages[0].role",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user"}],"max_tokens":-5}"#,
            "max_tokens",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user"}],"provider":{"sort":"cheap"}}"#,
            "provider.sort",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user"}],"provider":{"ordr":["a"]}}"#,
            "provider.ordr",
        ),
        (r#"{"messages":[{"role":"user"}]}"#, "model"),
        (r#"{"model":"m","messages":["#, "JSON"),
        (r#"[1,2]"#, "object"),
    ];
    for (body, field) in cases {
        check_err(body, field);
    }
}

#[test]
fn routing_fields_are_lifted_and_the_rest_kept() {
    let r = parse(
        br#"{"model":"a/b","models":["c"],"messages":[{"role":"user","content":"hi"}],
            "provider":{"order":["Groq"],"sort":{"by":"price","partition":"none"}},
            "temperature":0.5,"x_vendor":{"k":1},"max_completion_tokens":7}"#,
    )
    .unwrap();
    assert_eq!(r.routing.model_ids(), vec!["a/b", "c"]);
    assert_eq!(r.routing.prefs.order, vec!["groq"]);
    assert_eq!(
        r.routing.prefs.sort,
        Some(SortSpec {
            by: SortBy::Price,
            partition: Partition::None
        })
    );
    assert!(
        r.body.contains_key("x_vendor")
            && !r.body.contains_key("provider")
            && !r.body.contains_key("model")
    );
    assert_eq!(r.max_tokens, Some(7));
    assert_eq!(r.used_parameters, vec!["temperature", "max_tokens"]);
}

/// Fuzzing/hostile-body regression: `max_tokens` near `u64::MAX` passed validation and the
/// planner's `prompt + completion` overflowed (a panic in debug builds, a wrapped sum that let
/// a too-small endpoint through in release).
#[test]
fn absurd_max_tokens_is_refused_before_it_reaches_the_planner() {
    for body in [
        r#"{"model":"m","messages":[{"role":"user"}],"max_tokens":18446744073709551615}"#,
        r#"{"model":"m","messages":[{"role":"user"}],"max_completion_tokens":4294967296}"#,
    ] {
        let err = parse(body.as_bytes()).expect_err(body);
        assert_eq!(err.status, 400, "{body}");
        assert!(err.message.contains("at most"), "{body}: {}", err.message);
    }
    let ok =
        parse(br#"{"model":"m","messages":[{"role":"user"}],"max_tokens":4294967295}"#).unwrap();
    assert_eq!(ok.max_tokens, Some(MAX_COMPLETION_TOKENS));
}

#[test]
fn messages_become_typed_turns() {
    let r = parse(
        br#"{"model":"m","messages":[
            {"role":"system","content":"Be brief."},
            {"role":"user","content":[{"type":"text","text":"Look","cache_control":{"type":"ephemeral"}},
                                      {"type":"image_url","image_url":{"url":"data:image/png;base64,AAA"}}]},
            {"role":"assistant","content":null,"reasoning":"thinking...",
             "tool_calls":[{"id":"c1","type":"function","function":{"name":"get","arguments":"{\"a\":1}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"42"}],
            "tools":[{"type":"function","function":{"name":"get","parameters":{"type":"object"}}}],
            "tool_choice":"required","reasoning":{"effort":"high"},"stop":"END"}"#,
    )
    .unwrap();
    let c = &r.conv;
    assert_eq!(c.system, vec![Part::text("Be brief.")]);
    assert_eq!(c.turns.len(), 3);
    assert!(matches!(
        &c.turns[0].parts[0],
        Part::Text { cache: Some(_), .. }
    ));
    assert!(
        matches!(&c.turns[0].parts[1], Part::Image { source: Media::Base64 { media_type, .. }, .. } if media_type == "image/png")
    );
    assert!(matches!(&c.turns[1].parts[0], Part::Reasoning { text, .. } if text == "thinking..."));
    assert!(
        matches!(&c.turns[1].parts[1], Part::ToolCall { id, arguments, .. } if id == "c1" && arguments == "{\"a\":1}")
    );
    assert!(matches!(&c.turns[2].parts[0], Part::ToolResult { call_id, .. } if call_id == "c1"));
    assert_eq!(c.tools[0].name, "get");
    assert_eq!(c.tool_choice, ToolChoice::Required);
    assert_eq!(c.params.stop, vec!["END".to_owned()]);
    assert_eq!(
        c.params
            .reasoning
            .as_ref()
            .and_then(|r| r.effort.as_deref()),
        Some("high")
    );
    assert_eq!(r.needs_when_translated, vec!["tools"]);
}
