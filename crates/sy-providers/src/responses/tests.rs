use serde_json::{json, Value};
use sy_api::{Conversation, Family, Part, Request, Role, Routing, Tool, Turn, RESPONSES_ISSUER};
use sy_config::Api;

use super::OpenAiResponses;
use crate::testing::{assert_golden, decode, provider, render, target};
use crate::{Continue, Protocol};

const STREAM: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\n\n\
event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[]}}\n\n\
event: response.reasoning_summary_text.delta\ndata: {\"type\":\"response.reasoning_summary_text.delta\",\"item_id\":\"rs_1\",\"delta\":\"think\"}\n\n\
event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":\"gAAA\"}}\n\n\
event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"delta\":\"Hi\"}\n\n\
event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":2,\"item\":{\"id\":\"fc_1\",\"type\":\"function_call\",\"call_id\":\"call_a\",\"name\":\"get\",\"arguments\":\"\"}}\n\n\
event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"item_id\":\"fc_1\",\"delta\":\"{}\"}\n\n\
event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":2,\"item\":{\"id\":\"fc_1\",\"type\":\"function_call\",\"call_id\":\"call_a\",\"name\":\"get\",\"arguments\":\"{}\"}}\n\n\
event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":5,\"input_tokens_details\":{\"cached_tokens\":1},\"output_tokens\":7,\"output_tokens_details\":{\"reasoning_tokens\":2},\"total_tokens\":12}}}\n\n";

#[test]
fn the_event_stream_decodes() {
    let frames = decode(&OpenAiResponses, Api::OpenAiResponses, STREAM, false).unwrap();
    assert!(frames.iter().all(|f| f.raw.is_some()));
    assert_golden(
        &render(&frames),
        r#"
        reasoning "think"
        encrypted "gAAA"
        text "Hi"
        tool 0 call_a get
        args 0 "{}"
        usage prompt=5 completion=7 cached=1 write=- reasoning=2
        finish tool_calls
        done
        "#,
    );
    let failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"server_error\",\"message\":\"boom\"}}}\n\n";
    assert_golden(
        &render(&decode(&OpenAiResponses, Api::OpenAiResponses, failed, false).unwrap()),
        "error kind=- code=server_error message=boom",
    );
}

#[test]
fn a_whole_response_decodes() {
    let whole = json!({"id": "r", "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hel"}]}],
        "usage": {"input_tokens": 3, "output_tokens": 1}});
    assert_golden(
        &render(
            &decode(
                &OpenAiResponses,
                Api::OpenAiResponses,
                &whole.to_string(),
                true,
            )
            .unwrap(),
        ),
        r#"
        text "Hel"
        usage prompt=3 completion=1 cached=- write=- reasoning=-
        finish length
        done
        "#,
    );
}

#[test]
fn responses_requests_pass_through_and_reasoning_stays_with_its_issuer() {
    let mut p = provider(Api::OpenAiResponses);
    p.name = "alpha".to_owned();
    let t = target(&p);
    let mut req = Request::new(
        Family::Responses,
        Routing::default(),
        Conversation::default(),
    );
    let body = json!({"input": [
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "a", RESPONSES_ISSUER: "alpha"},
            {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "b", RESPONSES_ISSUER: "beta"}],
        "metadata": {"k": "v"}, "store": true, "text": {"format": {"type": "text"}}, "unknown_field": 1});
    req.body = body.as_object().unwrap().clone();
    let call = OpenAiResponses.encode(&req, &t, Continue::Fresh).unwrap();
    assert_eq!(call.path, "/responses");
    let sent: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(sent["model"], "up-model");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["metadata"], body["metadata"]);
    assert_eq!(sent["unknown_field"], 1);
    let items = sent["input"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["encrypted_content"], "a");
    assert!(items[1].get(RESPONSES_ISSUER).is_none());
}

#[test]
fn other_dialects_are_translated_into_items() {
    let p = provider(Api::OpenAiResponses);
    let t = target(&p);
    let conv = Conversation {
        system: vec![Part::text("be brief")],
        turns: vec![
            Turn {
                role: Role::User,
                parts: vec![Part::text("weather?")],
            },
            Turn {
                role: Role::Assistant,
                parts: vec![
                    Part::Reasoning {
                        text: "x".into(),
                        signature: Some("s".into()),
                        origin: Some(Family::Messages),
                    },
                    Part::ToolCall {
                        id: "c1".into(),
                        name: "get".into(),
                        arguments: "{}".into(),
                    },
                ],
            },
            Turn {
                role: Role::Tool,
                parts: vec![Part::ToolResult {
                    call_id: "c1".into(),
                    name: None,
                    content: vec![Part::text("sunny")],
                    is_error: false,
                    cache: None,
                }],
            },
        ],
        tools: vec![Tool {
            name: "get".into(),
            description: None,
            parameters: json!({"type": "object"}),
            strict: None,
            cache: None,
        }],
        ..Conversation::default()
    };
    let mut req = Request::new(Family::Chat, Routing::default(), conv);
    req.conv.params.max_tokens = Some(9);
    let call = OpenAiResponses
        .encode(&req, &t, Continue::Prefill("Sun"))
        .unwrap();
    let sent: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(sent["instructions"], "be brief");
    assert_eq!(sent["max_output_tokens"], 9);
    assert_eq!(sent["store"], false);
    assert_eq!(
        sent["tools"][0],
        json!({"type": "function", "name": "get", "parameters": {"type": "object"}})
    );
    let items = sent["input"].as_array().unwrap();
    assert_eq!(items[0], json!({"role": "user", "content": "weather?"}));
    assert_eq!(items[1]["type"], "function_call");
    assert_eq!(
        items[2],
        json!({"type": "function_call_output", "call_id": "c1", "output": "sunny"})
    );
    assert_eq!(items[3], json!({"role": "assistant", "content": "Sun"}));
}
