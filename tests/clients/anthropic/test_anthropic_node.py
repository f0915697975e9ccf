"""The official @anthropic-ai/sdk (Node) through Switchyard's Messages dialect, against an
Anthropic-protocol endpoint and an OpenAI-protocol one: create, stream, a tool-use round trip,
count_tokens (sdk_check.cjs does the calls)."""
from __future__ import annotations

from pathlib import Path

import pytest

from claude_common import MODEL, TEXT, config, healthy
from conftest import node_script


@pytest.mark.parametrize("kind", ["claude", "relay"])
def test_node_sdk(mock, gateways, kind):
    healthy(mock)
    gw = gateways(config(mock))
    out = node_script(Path(__file__).with_name("sdk_check.cjs"),
                      {"SY_URL": gw.url, "SY_MODEL": MODEL, "SY_PROVIDER": kind, "SY_MOCK": mock.url,
                       "SY_TEXT": TEXT})
    assert out["create"] == {"text": TEXT, "stop_reason": "end_turn",
                             "output_tokens": out["create"]["output_tokens"], "model": MODEL}
    assert out["create"]["output_tokens"] > 0
    assert out["stream"] == {"text": TEXT, "final": TEXT, "stop_reason": "end_turn"}
    assert out["tools"] == {"stop_reason": "tool_use", "name": "get_weather", "input": {"location": "Oslo"},
                            "answer": TEXT}
    assert out["count"] >= 5
