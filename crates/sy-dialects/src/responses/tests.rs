use serde_json::{json, Value};
use sy_api::{Event, Family, Finish, Part, Role, ToolChoice, Usage};

use super::*;
use crate::{End, Meta};

fn meta(family: Family) -> Meta<'static> {
    Meta {
        gen_id: "gen-abc",
        created: 1,
        model: "m/x",
        provider: "p",
        family,
        prompt_estimate: 3,
    }
}

fn events(sse: &[u8]) -> Vec<Value> {
    let text = String::from_utf8(sse.to_vec()).unwrap();
    text.split("\n\n")
        .filter(|b| !b.is_empty())
        .map(|b| {
            let data = b.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            serde_json::from_str(data).unwrap()
        })
        .collect()
}

#[test]
fn items_become_turns() {
    let body = json!({
        "model": "m/x", "instructions": "be brief", "models": ["m/y"],
        "input": [
            {"role": "user", "content": "weather?"},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}],
             "encrypted_content": "enc"},
            {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{\"a\":1}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"role": "user", "content": [{"type": "input_text", "text": "thanks"}]}
        ],
        "tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}}],
        "tool_choice": "required", "max_output_tokens": 50,
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
        "reasoning": {"effort": "low"},
        "usage": {"include": true}, "transforms": []
    });
    let req = Responses.parse(body.to_string().as_bytes(), &[]).unwrap();
    assert_eq!(req.family, Family::Responses);
    assert_eq!(req.routing.model.as_deref(), Some("m/x"));
    assert_eq!(req.routing.models, ["m/y"]);
    assert!(!req.body.contains_key("models") && !req.body.contains_key("model"));
    assert!(!req.body.contains_key("usage") && !req.body.contains_key("transforms"));
    assert!(req.body.contains_key("reasoning"));
    let c = &req.conv;
    assert_eq!(c.system, vec![Part::text("be brief")]);
    let roles: Vec<Role> = c.turns.iter().map(|t| t.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool, Role::User]);
    assert_eq!(c.turns[1].parts.len(), 3);
    assert!(matches!(
        &c.turns[1].parts[1],
        Part::Encrypted {
            origin: Family::Responses,
            ..
        }
    ));
    assert_eq!(c.tool_choice, ToolChoice::Required);
    assert_eq!(req.max_tokens, Some(50));
    assert!(c.params.format.is_some());
    assert_eq!(
        c.params.reasoning.as_ref().unwrap().effort.as_deref(),
        Some("low")
    );

    let bad = Responses
        .parse(br#"{"model":"m","input":7}"#, &[])
        .unwrap_err();
    assert_eq!(bad.status, 400);
    let v: Value = serde_json::from_slice(&Responses.error_body(&bad)).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["param"], "input");
    let web = Responses
        .parse(
            br#"{"model":"m","input":"x","tools":[{"type":"web_search"}]}"#,
            &[],
        )
        .unwrap();
    assert!(web.untranslatable.unwrap().contains("web_search"));
}

#[test]
fn history_goes_before_the_new_input() {
    let mut body = json!({"model": "m", "input": "again", "previous_response_id": "gen-1"});
    let body = body.as_object_mut().unwrap();
    with_history(body, vec![json!({"role": "user", "content": "first"})]);
    assert!(!body.contains_key("previous_response_id"));
    assert_eq!(body["input"][0]["content"], "first");
    assert_eq!(body["input"][1]["content"], "again");
    let out = output_items(
        &json!({"output": [{"type": "reasoning", "id": "rs", "summary": [], "encrypted_content": "e"},
                           {"type": "message", "status": "completed", "role": "assistant", "content": []}]}),
        "prov",
    );
    assert_eq!(out[0][ISSUER], "prov");
    assert!(out[1].get("status").is_none());
}

#[test]
fn a_stream_of_reasoning_text_and_a_call() {
    let mut r = Responses.render(true);
    let m = meta(Family::Responses);
    let mut out = Vec::new();
    for e in [
        Event::Reasoning("hmm".into()),
        Event::EncryptedReasoning("enc".into()),
        Event::Text("Hel".into()),
        Event::Text("lo".into()),
        Event::ToolStart {
            index: 0,
            id: "call_1".into(),
            name: "get".into(),
        },
        Event::ToolArgs {
            index: 0,
            delta: "{}".into(),
        },
        Event::Finish(Finish::ToolCalls),
    ] {
        r.event(&e, &m, &mut out);
    }
    let usage = Usage {
        prompt_tokens: 3,
        completion_tokens: 4,
        total_tokens: 7,
        cost: 0.5,
        ..Usage::default()
    };
    r.finish(
        &End {
            meta: m,
            usage: &usage,
            finish: None,
        },
        &mut out,
    );
    let evs = events(&out);
    let names: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        names[..3],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added"
        ]
    );
    assert_eq!(*names.last().unwrap(), "response.completed");
    for (i, e) in evs.iter().enumerate() {
        assert_eq!(e["sequence_number"], i);
    }
    let added = names
        .iter()
        .filter(|n| **n == "response.output_item.added")
        .count();
    let done = names
        .iter()
        .filter(|n| **n == "response.output_item.done")
        .count();
    assert_eq!((added, done), (3, 3));
    let resp = &evs.last().unwrap()["response"];
    assert_eq!(resp["id"], "gen-abc");
    assert_eq!(resp["usage"]["cost"], 0.5);
    assert_eq!(resp["usage"]["total_tokens"], 7);
    assert_eq!(resp["output"][0]["encrypted_content"], "enc");
    assert_eq!(resp["output"][1]["content"][0]["text"], "Hello");
    assert_eq!(resp["output"][2]["call_id"], "call_1");
    assert_eq!(resp["output"][2]["arguments"], "{}");
    assert_eq!(r.response().unwrap(), *resp);
}

#[test]
fn a_collected_answer_and_encrypted_reasoning_from_elsewhere() {
    let mut r = Responses.render(false);
    let m = meta(Family::Messages);
    let mut out = Vec::new();
    r.event(&Event::EncryptedReasoning("anthropic".into()), &m, &mut out);
    r.event(&Event::Text("hi".into()), &m, &mut out);
    r.event(&Event::Finish(Finish::Length), &m, &mut out);
    assert!(out.is_empty());
    let usage = Usage::default();
    let body: Value = serde_json::from_slice(&r.body(&End {
        meta: m,
        usage: &usage,
        finish: None,
    }))
    .unwrap();
    assert_eq!(body["status"], "incomplete");
    assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(body["output"].as_array().unwrap().len(), 1);
    assert_eq!(body["output"][0]["content"][0]["text"], "hi");
}

#[test]
fn items_of_other_kinds_pass_through_whole() {
    let mut r = Responses.render(true);
    let m = meta(Family::Responses);
    let mut out = Vec::new();
    let raw = sy_api::RawFrame {
        event: Some("response.output_item.done".into()),
        data: json!({"type": "response.output_item.done", "output_index": 0,
            "item": {"id": "ws_1", "type": "web_search_call", "status": "completed"}})
        .to_string(),
    };
    r.pass(&raw, &[], &m, &mut out);
    r.event(&Event::Text("found".into()), &m, &mut out);
    let usage = Usage::default();
    r.finish(
        &End {
            meta: m,
            usage: &usage,
            finish: None,
        },
        &mut out,
    );
    let evs = events(&out);
    let resp = &evs.last().unwrap()["response"];
    assert_eq!(resp["output"][0]["type"], "web_search_call");
    assert_eq!(resp["output"][1]["content"][0]["text"], "found");
    assert_eq!(resp["output"][1]["id"], "msg_abc1");
}
