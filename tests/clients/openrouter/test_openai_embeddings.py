"""Embeddings (SPEC §4.8) through the official `openai` SDK: floats, base64 (the SDK asks for it
by default and decodes it), batch order, usage with cost, failover inside the model and never a
silent move to another model."""
from __future__ import annotations

import base64
import struct

import openai
import pytest

from or_common import EMBED, MASTER, config, healthy


@pytest.fixture
def client(mock, gateways):
    healthy(mock)
    gw = gateways(config(mock))
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=MASTER, max_retries=0)


def test_floats_base64_order_usage_and_cost(client):
    inputs = ["first", "second text", "third one here"]
    f = client.embeddings.create(model=EMBED, input=inputs, encoding_format="float",
                                 extra_body={"provider": {"only": ["alpha"]}})
    assert [d.index for d in f.data] == [0, 1, 2]
    assert all(len(d.embedding) == 8 for d in f.data)
    assert f.model == EMBED
    assert f.usage.prompt_tokens == 6 and f.usage.total_tokens == 6
    assert abs(f.usage.model_extra["cost"] - 6 * 0.02 / 1e6) < 1e-15
    # the SDK's default: base64 on the wire, floats to the caller — the same vectors
    d = client.embeddings.create(model=EMBED, input=inputs, extra_body={"provider": {"only": ["alpha"]}})
    for got, want in zip(d.data, f.data):
        assert got.embedding == pytest.approx(want.embedding, abs=1e-6)
    raw = client.embeddings.with_raw_response.create(model=EMBED, input="first", encoding_format="base64",
                                                     extra_body={"provider": {"only": ["alpha"]}}).parse()
    b = raw.data[0].embedding
    floats = list(struct.unpack(f"<{len(base64.b64decode(b)) // 4}f", base64.b64decode(b)))
    assert floats == pytest.approx(f.data[0].embedding, abs=1e-6)


def test_failover_inside_the_model_never_to_another(client, mock):
    mock.set("alpha", status=503)
    r = client.embeddings.with_raw_response.create(model=EMBED, input="first")
    assert r.headers["x-switchyard-provider"] == "beta"
    mock.set("beta", status=500)
    with pytest.raises(openai.APIStatusError) as e:
        client.embeddings.create(model=EMBED, input="first")
    assert e.value.status_code == 502
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="openai/gpt-test", input="a chat model has no vectors")
