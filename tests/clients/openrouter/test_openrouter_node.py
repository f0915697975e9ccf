"""OpenRouter's own TypeScript SDK (`@openrouter/sdk`, pinned) unchanged against Switchyard:
the calls of or_check.cjs (chat stream and not, tools, structured output, models, endpoints,
key, generation, embeddings, a broken stream), parsed by the SDK's own (strict) validation."""
from __future__ import annotations

from pathlib import Path

from or_common import EMBED, MODEL, TEXT, config, healthy, make_key
from conftest import node_script


def test_typescript_sdk(mock, gateways):
    healthy(mock)
    gw = gateways(config(mock))
    out = node_script(Path(__file__).with_name("or_check.cjs"),
                      {"SY_URL": f"{gw.url}/api/v1", "SY_KEY": make_key(gw, limit=50), "SY_MODEL": MODEL,
                       "SY_EMBED": EMBED, "SY_MOCK": mock.url, "SY_TEXT": TEXT})
    assert out["chat"] == TEXT
    assert out["stream"] == TEXT
    assert out["stream_cost"] > 0
    assert out["tool"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert out["structured"] == '{"answer":"hi"}'
    assert out["models"] == [MODEL, EMBED]
    assert out["endpoint_status"] == [0, 0]
    assert out["key_label"] == "sdk" and out["key_limit"] == 50
    assert out["generation_provider"] == "alpha"
    assert out["embedding_length"] == 8
    assert out["broken"] == {"code": 502, "error_type": "provider_unavailable"}
