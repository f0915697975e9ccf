"""The official `anthropic` Python SDK through Switchyard's Messages dialect (SPEC §4.6), against
an Anthropic-protocol endpoint (passed through) and an OpenAI-protocol one (translated): create,
stream, a tool-use round trip, count_tokens, thinking signatures sent back."""
from __future__ import annotations

import anthropic
import pytest

from claude_common import MODEL, TEXT, config, healthy

WEATHER = {"name": "get_weather", "description": "Current weather in a city",
           "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                            "required": ["location"]}}


@pytest.fixture
def client(mock, gateways):
    healthy(mock)
    gw = gateways(config(mock))
    return anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)


def only(kind: str) -> dict:
    return {"provider": {"only": [kind]}}


@pytest.mark.parametrize("kind", ["claude", "relay"])
def test_create(client, kind):
    m = client.messages.create(model=MODEL, max_tokens=256, extra_body=only(kind),
                               messages=[{"role": "user", "content": "Say hello"}])
    assert m.type == "message" and m.role == "assistant"
    assert m.model == MODEL
    assert [b.type for b in m.content] == ["text"]
    assert m.content[0].text == TEXT
    assert m.stop_reason == "end_turn"
    assert m.usage.output_tokens > 0 and m.usage.input_tokens > 0


@pytest.mark.parametrize("kind", ["claude", "relay"])
def test_stream(client, kind):
    with client.messages.stream(model=MODEL, max_tokens=256, extra_body=only(kind),
                                messages=[{"role": "user", "content": "Say hello"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == TEXT
    assert final.content[0].text == TEXT
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("kind", ["claude", "relay"])
def test_tool_use_round_trip(client, mock, kind):
    mock.set(kind, text=TEXT, tool_call=True, tool_arguments={"location": "Oslo"})
    ask = [{"role": "user", "content": "Weather in Oslo?"}]
    m = client.messages.create(model=MODEL, max_tokens=256, tools=[WEATHER], messages=ask,
                               extra_body=only(kind))
    assert m.stop_reason == "tool_use"
    call = next(b for b in m.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"location": "Oslo"}
    mock.set(kind, text=TEXT)
    follow = ask + [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                                  "content": "12 degrees, windy"}]}]
    with client.messages.stream(model=MODEL, max_tokens=256, tools=[WEATHER], messages=follow,
                                extra_body=only(kind)) as s:
        final = s.get_final_message()
    assert final.content[0].text == TEXT
    sent = mock.last_request(kind)["body"]
    blob = str(sent)
    assert call.id in blob and "12 degrees, windy" in blob, f"the tool result reached {kind}: {sent}"


@pytest.mark.parametrize("kind", ["claude", "relay"])
def test_count_tokens(client, kind):
    n = client.messages.count_tokens(model=MODEL, extra_body=only(kind),
                                     messages=[{"role": "user", "content": "one two three four five"}])
    assert n.input_tokens >= 5
    if kind == "claude":
        assert n.input_tokens == 5  # the simulated Anthropic counts words


def test_thinking_signatures_survive_a_round_trip(client):
    ask = [{"role": "user", "content": "Think, then say hello"}]
    with client.messages.stream(model=MODEL, max_tokens=4096, messages=ask, extra_body=only("claude"),
                                thinking={"type": "enabled", "budget_tokens": 1024}) as s:
        final = s.get_final_message()
    thinking = final.content[0]
    assert thinking.type == "thinking" and thinking.signature.startswith("EqMockSig")
    assert final.content[1].text == TEXT
    # the simulated Anthropic checks the signature of thinking sent back, as Anthropic does
    again = ask + [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
                   {"role": "user", "content": "Again"}]
    m = client.messages.create(model=MODEL, max_tokens=4096, messages=again, extra_body=only("claude"),
                               thinking={"type": "enabled", "budget_tokens": 1024})
    assert m.content[-1].text == TEXT


def test_errors_are_the_sdk_typed_errors(client, mock):
    mock.set("claude", status=529)
    mock.set("relay", status=503)
    with pytest.raises(anthropic.APIStatusError) as e:
        client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 502
    assert e.value.body["type"] == "error"
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="no/such-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
