"""OpenRouter's own Python SDK (`openrouter`, pinned) unchanged against Switchyard (SPEC §4):
chat stream and not (plain, tools, structured output), models, one model, the count, endpoints,
the key, a generation, a broken stream's error chunk, embeddings, a typed error — each parsed by
the SDK's own validation, with the right values."""
from __future__ import annotations

import httpx
import pytest
from openrouter import OpenRouter, errors
from openrouter.utils import RetryConfig

from or_common import EMBED, MASTER, MODEL, TEXT, config, healthy, make_key

TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                        "required": ["city"]}}}
ONLY_ALPHA = {"only": ["alpha"]}


@pytest.fixture
def gw(mock, gateways):
    healthy(mock)
    return gateways(config(mock))


@pytest.fixture
def client(gw):
    key = make_key(gw, limit=100)
    # the SDK retries 5xx for up to an hour by default: off, so a failure shows at once
    return OpenRouter(api_key=key, server_url=f"{gw.url}/api/v1", retry_config=RetryConfig("none", None, False),
                      timeout_ms=30000)


def test_chat_plain_tools_and_structured_output(client, mock, gw):
    r = client.chat.send(model=MODEL, messages=[{"role": "user", "content": "Say hello"}], provider=ONLY_ALPHA)
    assert r.choices[0].message.content == TEXT
    assert r.choices[0].finish_reason == "stop"
    assert r.model == MODEL and r.id.startswith("gen-")
    assert r.usage.cost > 0 and r.usage.prompt_tokens > 0
    mock.set("alpha", text=TEXT, tool_call=True, tool_arguments={"city": "Paris"})
    t = client.chat.send(model=MODEL, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[TOOL],
                         provider=ONLY_ALPHA)
    call = t.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments == '{"city":"Paris"}'
    assert t.choices[0].finish_reason == "tool_calls"
    mock.set("alpha", text='{"answer":"hi"}')
    schema = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": {
        "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
        "additionalProperties": False}}}
    s = client.chat.send(model=MODEL, messages=[{"role": "user", "content": "Say hi"}], response_format=schema,
                         provider=ONLY_ALPHA)
    assert s.choices[0].message.content == '{"answer":"hi"}'
    sent = mock.last_request("alpha")["body"]
    assert sent["response_format"]["json_schema"]["name"] == "answer"
    assert "provider" not in sent and "usage" not in sent


def test_chat_stream_plain_and_tools(client, mock):
    chunks = list(client.chat.send(model=MODEL, messages=[{"role": "user", "content": "Say hello"}], stream=True,
                                   provider=ONLY_ALPHA))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == TEXT
    last = chunks[-1]
    assert last.usage is not None and last.usage.cost > 0
    mock.set("alpha", text=TEXT, tool_call=True, tool_arguments={"city": "Oslo"})
    chunks = list(client.chat.send(model=MODEL, messages=[{"role": "user", "content": "Weather?"}], stream=True,
                                   tools=[TOOL], provider=ONLY_ALPHA))
    args = "".join(tc.function.arguments or "" for c in chunks if c.choices
                   for tc in (c.choices[0].delta.tool_calls or []) if tc.function)
    assert args == '{"city":"Oslo"}'
    assert any(c.choices and c.choices[0].finish_reason == "tool_calls" for c in chunks)


def test_a_broken_stream_ends_with_a_typed_error_chunk(mock, gateways):
    mock.set("alpha", text=TEXT, cut_after=3)
    mock.set("beta", text=TEXT)
    gw = gateways(config(mock, stream_resume="false"))
    c = OpenRouter(api_key=make_key(gw), server_url=f"{gw.url}/api/v1", retry_config=RetryConfig("none", None, False))
    chunks = list(c.chat.send(model=MODEL, messages=[{"role": "user", "content": "Say hello"}], stream=True,
                              provider=ONLY_ALPHA))
    last = chunks[-1]
    assert last.error is not None, last
    assert last.error.code == 502
    assert last.error.metadata.error_type == "provider_unavailable"
    assert last.choices[0].finish_reason == "error"


def test_models_count_one_model_and_endpoints(client):
    page = client.models.list()
    ids = [m.id for m in page.result.data]
    assert ids == [MODEL, EMBED]
    assert page.result.total_count == 2
    assert client.models.count().data.count == 2
    author, slug = MODEL.split("/")
    one = client.models.get(author=author, slug=slug)
    assert one.data.id == MODEL and one.data.pricing.prompt == "0.00000015"
    eps = client.endpoints.list(author=author, slug=slug)
    names = sorted(e.provider_name for e in eps.data.endpoints)
    assert names == ["alpha", "beta"]
    assert all(e.status == 0 for e in eps.data.endpoints)


def test_key_and_generation(client):
    r = client.chat.send(model=MODEL, messages=[{"role": "user", "content": "Say hello"}], provider=ONLY_ALPHA)
    key = client.api_keys.get_current_key_metadata()
    assert key.data.label == "sdk"
    assert key.data.limit == 100
    g = client.generations.get_generation(id=r.id)
    assert g.data.id == r.id
    assert g.data.provider_name == "alpha"
    assert abs(g.data.total_cost - r.usage.cost) < 1e-12
    assert g.data.provider_responses[0].status == 200
    # the key's usage includes the request (charged off the request path: poll)
    import time
    deadline = time.monotonic() + 10
    while client.api_keys.get_current_key_metadata().data.usage < r.usage.cost - 1e-12:
        assert time.monotonic() < deadline, "the key was not charged"
        time.sleep(0.05)


def test_embeddings_and_typed_errors(client):
    e = client.embeddings.generate(model=EMBED, input=["one", "two words"], provider=ONLY_ALPHA)
    assert [d.index for d in e.data] == [0, 1]
    assert len(e.data[0].embedding) == 8
    assert e.usage.prompt_tokens == 3 and e.usage.cost > 0
    with pytest.raises(errors.BadRequestResponseError):
        client.chat.send(model="no/such-model", messages=[{"role": "user", "content": "hi"}])


def test_key_management_and_guardrails(gw):
    """SPEC §8 "Keys as guardrails": OpenRouter's SDK manages keys with the master key — create (with a
    limit that resets), list, get, update without a new secret — and a key held to `allowed_models`
    is refused with a typed 403 before any upstream call; `/models` lists only what it may use."""
    master = OpenRouter(api_key=MASTER, server_url=f"{gw.url}/api/v1", retry_config=RetryConfig("none", None, False))
    made = master.api_keys.create(name="sdk-guarded", limit=5, limit_reset="weekly")
    assert made.data.limit_reset == "weekly" and made.data.limit_remaining == 5
    assert isinstance(made.data.created_at, str)
    assert any(k.hash == made.data.hash for k in master.api_keys.list().data)
    assert master.api_keys.get(hash=made.data.hash).data.name == "sdk-guarded"
    upd = master.api_keys.update(hash=made.data.hash, name="renamed", limit_reset="monthly")
    assert upd.data.name == "renamed" and upd.data.limit_reset == "monthly"
    # the guardrail itself through Switchyard's own field: embeddings only
    r = httpx.patch(f"{gw.url}/api/v1/keys/{made.data.hash}", headers={"authorization": f"Bearer {MASTER}"},
                    json={"allowed_models": [EMBED]}, timeout=10)
    assert r.status_code == 200, r.text
    user = OpenRouter(api_key=made.key, server_url=f"{gw.url}/api/v1", retry_config=RetryConfig("none", None, False))
    cur = user.api_keys.get_current_key_metadata().data
    assert cur.label == "renamed" and cur.limit_reset == "monthly" and cur.limit_remaining == 5
    assert [m.id for m in user.models.list().result.data] == [EMBED] and user.models.count().data.count == 1
    with pytest.raises(errors.OpenRouterError) as refused:
        user.chat.send(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 403 and "allowed_models" in str(refused.value.body)
