"""The OpenAI Agents SDK (`openai-agents`, pinned) with its default model (the Responses API)
pointed at Switchyard: a one-tool agent whose simulated model first calls the tool, then
answers."""
from __future__ import annotations

import httpx
import pytest
from agents import Agent, Runner, function_tool, set_default_openai_client, set_tracing_disabled
from openai import AsyncOpenAI

from resp_common import MODEL, TEXT, config, healthy


@pytest.fixture
def gw(mock, gateways):
    healthy(mock)
    return gateways(config(mock))


def test_a_one_tool_agent(gw, mock):
    calls = []

    @function_tool
    def get_weather(location: str, unit: str) -> str:
        """The weather in a city."""
        calls.append((location, unit))
        # the simulated model answers with text once it has the tool's result
        httpx.put(f"{mock.url}/admin/providers/oai", json={"text": TEXT}, timeout=5)
        return "sunny, 21 C"

    mock.set("oai", text=TEXT, tool_call=True, tool_arguments={"location": "Paris", "unit": "celsius"})
    set_tracing_disabled(True)
    set_default_openai_client(AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0),
                              use_for_tracing=False)
    agent = Agent(name="weather", instructions="Answer with the weather.", model=MODEL, tools=[get_weather])
    result = Runner.run_sync(agent, "What is the weather in Paris?")
    assert calls == [("Paris", "celsius")]
    assert result.final_output == TEXT
    sent = mock.last_request("oai")
    assert sent["path"].endswith("/responses")
    kinds = [i.get("type") for i in sent["body"]["input"]]
    assert "function_call" in kinds and "function_call_output" in kinds
