"""The official `openai` Python SDK (pinned) against Switchyard's Responses API (SPEC §4.7):
`responses.create`, the stream (the SDK's own accumulator must agree with the events), a
function-tool round trip, `previous_response_id` across two providers of different protocols,
`retrieve` and `delete` (then 404)."""
from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from resp_common import MODEL, TEXT, config, healthy

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"location": {"type": "string"},
                                                          "unit": {"type": "string"}},
                          "required": ["location", "unit"], "additionalProperties": False}}


@pytest.fixture
def gw(mock, gateways):
    healthy(mock)
    return gateways(config(mock))


@pytest.fixture
def client(gw):
    return OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=30)


def only(name: str) -> dict:
    return {"provider": {"only": [name]}}


def test_create_and_stream(client, mock):
    r = client.responses.create(model=MODEL, input="Say hello", instructions="Be brief.", extra_body=only("oai"))
    assert r.output_text == TEXT
    assert r.status == "completed" and r.model == MODEL
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.model_extra.get("provider") == "oai"
    assert r.usage.model_extra["cost"] > 0
    # translated from an Anthropic endpoint, streamed, through the SDK's own accumulator
    with client.responses.stream(model=MODEL, input="Say hello", extra_body=only("claude")) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert final.output_text == TEXT
    assert final.usage.model_extra["cost"] > 0
    sent = mock.last_request("claude")
    assert sent["path"].endswith("/messages")


def test_a_function_tool_round_trip(client, mock):
    mock.set("oai", text=TEXT, tool_call=True, tool_arguments={"location": "Paris", "unit": "celsius"})
    first = client.responses.create(model=MODEL, input=[{"role": "user", "content": "Weather in Paris?"}],
                                    tools=[WEATHER], extra_body=only("oai"))
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert calls[0].arguments == '{"location":"Paris","unit":"celsius"}'
    mock.set("oai", text=TEXT)
    second = client.responses.create(
        model=MODEL, tools=[WEATHER], extra_body=only("oai"),
        input=[{"role": "user", "content": "Weather in Paris?"},
               {"type": "function_call", "call_id": calls[0].call_id, "name": "get_weather",
                "arguments": calls[0].arguments},
               {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21 C"}])
    assert second.output_text == TEXT
    sent = mock.last_request("oai")["body"]["input"]
    assert sent[-1] == {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21 C"}


def test_previous_response_id_across_protocols_then_retrieve_and_delete(client, mock):
    first = client.responses.create(model=MODEL, input="My name is Ada.", extra_body=only("oai"))
    mock.set("claude", echo=True)
    second = client.responses.create(model=MODEL, input="What is my name?", previous_response_id=first.id,
                                     extra_body=only("claude"))
    assert second.previous_response_id == first.id
    assert second.output_text == "Hello from claude. You said: What is my name?"
    messages = mock.last_request("claude")["body"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert "My name is Ada." in str(messages[0]) and TEXT in str(messages[1])
    # a third turn on a chat-completions endpoint carries the whole chain
    third = client.responses.create(model=MODEL, input="Thanks.", previous_response_id=second.id,
                                    extra_body=only("chat"))
    assert third.output_text == TEXT
    assert len(mock.last_request("chat")["body"]["messages"]) == 5
    got = client.responses.retrieve(second.id)
    assert got.id == second.id and got.output_text == second.output_text
    client.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(second.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model=MODEL, input="x", previous_response_id=second.id)
    # store=False keeps nothing
    r = client.responses.create(model=MODEL, input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
