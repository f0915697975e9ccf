"""openai's `AzureOpenAI` against the simulated Azure OpenAI: deployments with api-version and
the `api-key` header, streaming with usage (Azure's prompt-annotation chunk first, filter results
on every chunk), tool calls, Azure's errors; and the v1 form through the plain `OpenAI` client."""
from __future__ import annotations

import json

import openai
import pytest

from clouds_common import WEATHER_SCHEMA, hello

DEPLOYMENT = "gpt-4o-prod"
API_VERSION = "2024-10-21"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                           "parameters": WEATHER_SCHEMA}}]
ASK = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]


def azure(mock, key: str = "azure-key-1") -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=f"{mock.url}/p/az", api_key=key,
                              api_version=API_VERSION, max_retries=0)


def test_deployment_create_and_stream(mock):
    c = azure(mock)
    r = c.chat.completions.create(model=DEPLOYMENT, messages=ASK)
    assert r.choices[0].message.content == hello("az")
    assert r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (4, 12)
    # Azure's filter verdicts, on the prompt and on each choice
    body = r.model_dump()
    assert body["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert body["choices"][0]["content_filter_results"]["violence"]["severity"] == "safe"
    seen = mock.last_request("az")
    assert seen["path"] == f"/openai/deployments/{DEPLOYMENT}/chat/completions"

    chunks = list(c.chat.completions.create(model=DEPLOYMENT, messages=ASK, stream=True,
                                            stream_options={"include_usage": True}))
    # Azure's first chunk is the prompt annotation: no choices
    assert chunks[0].choices == [] and chunks[0].prompt_filter_results
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == hello("az")
    assert any(ch.choices and ch.choices[0].finish_reason == "stop" for ch in chunks)
    assert all(ch.model_dump()["choices"][0]["content_filter_results"] for ch in chunks if ch.choices)
    assert chunks[-1].usage.completion_tokens == 12


def test_tool_calls(mock):
    mock.set("az", tool_call=True, tool_arguments={"location": "Oslo"})
    c = azure(mock)
    r = c.chat.completions.create(model=DEPLOYMENT, messages=ASK, tools=TOOLS)
    (call,) = r.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Oslo"}
    assert r.choices[0].finish_reason == "tool_calls"

    with c.chat.completions.stream(model=DEPLOYMENT, messages=ASK, tools=TOOLS) as s:
        final = s.get_final_completion()
    (call,) = final.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Oslo"}


def test_an_answer_the_filter_stopped(mock):
    mock.set("az", text="I cannot", content_filter=True)
    chunks = list(azure(mock).chat.completions.create(model=DEPLOYMENT, messages=ASK, stream=True))
    (last,) = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert last.choices[0].finish_reason == "content_filter"
    assert last.model_dump()["choices"][0]["content_filter_results"]["violence"]["filtered"] is True


def test_v1_form(mock):
    c = openai.OpenAI(base_url=f"{mock.url}/p/az/openai/v1/", api_key="azure-key-1", max_retries=0)
    r = c.chat.completions.create(model=DEPLOYMENT, messages=ASK)
    assert r.choices[0].message.content == hello("az")
    assert mock.last_request("az")["path"] == "/openai/v1/chat/completions"


def test_errors(mock):
    # the deployment form without api-version is not Azure's
    c = openai.OpenAI(base_url=f"{mock.url}/p/az/openai/deployments/{DEPLOYMENT}",
                      api_key="azure-key-1", default_headers={"api-key": "azure-key-1"}, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model=DEPLOYMENT, messages=ASK)

    mock.set("az", status=400, error_body={"error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                   "management policy.", "type": None, "param": "prompt", "code": "content_filter",
        "status": 400, "innererror": {"code": "ResponsibleAIPolicyViolation"}}})
    with pytest.raises(openai.BadRequestError) as e:
        azure(mock).chat.completions.create(model=DEPLOYMENT, messages=ASK)
    assert e.value.code == "content_filter"

    mock.set("az", status=429, retry_after=2)
    with pytest.raises(openai.RateLimitError) as e:
        azure(mock).chat.completions.create(model=DEPLOYMENT, messages=ASK)
    assert e.value.response.headers["retry-after"] == "2"
