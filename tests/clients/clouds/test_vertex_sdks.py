"""The simulated Vertex AI through Google's and Anthropic's own SDKs: google-auth exchanges the
simulated service account's signed assertion at the mock's token endpoint; `AnthropicVertex`
calls Claude through rawPredict / streamRawPredict, `google-genai` in Vertex mode calls Gemini
through generateContent / streamGenerateContent. One token serves every call."""
from __future__ import annotations

import anthropic
import google.auth.transport.requests
import pytest
from google import genai
from google.genai import types

from clouds_common import PROJECT, WEATHER_SCHEMA, google_credentials, hello, token_exchanges

CLAUDE = "claude-sonnet-4@20250514"
WEATHER = {"name": "get_weather", "description": "Weather in a city", "input_schema": WEATHER_SCHEMA}


@pytest.fixture
def credentials(mock, tmp_path):
    return google_credentials(mock, tmp_path)


def claude(mock, credentials) -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(region="us-east5", project_id=PROJECT, credentials=credentials,
                                     base_url=f"{mock.url}/p/vx/v1", max_retries=0)


def test_anthropic_vertex_create_stream_and_tools(mock, credentials):
    c = claude(mock, credentials)
    m = c.messages.create(model=CLAUDE, max_tokens=100, system="Be brief.",
                          messages=[{"role": "user", "content": "Say hello"}])
    assert m.type == "message" and m.content[0].text == hello("vx")
    assert m.stop_reason == "end_turn"
    assert (m.usage.input_tokens, m.usage.output_tokens) == (4, 12)
    seen = mock.last_request("vx")
    assert seen["path"].endswith(f"/v1/projects/{PROJECT}/locations/us-east5/publishers/anthropic/"
                                 f"models/{CLAUDE}:rawPredict")
    assert "model" not in seen["body"] and seen["body"]["anthropic_version"]

    with c.messages.stream(model=CLAUDE, max_tokens=100,
                           messages=[{"role": "user", "content": "Say hello"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == hello("vx") and final.stop_reason == "end_turn"
    assert mock.last_request("vx")["path"].endswith(":streamRawPredict")

    mock.set("vx", tool_call=True, tool_arguments={"location": "Oslo"})
    m = c.messages.create(model=CLAUDE, max_tokens=100, tools=[WEATHER],
                          messages=[{"role": "user", "content": "Weather in Oslo?"}])
    assert m.stop_reason == "tool_use"
    call = next(b for b in m.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"location": "Oslo"}
    # one token exchange for every call of these credentials
    assert token_exchanges(mock) == 1


def test_anthropic_vertex_with_an_access_token(mock, credentials):
    credentials.refresh(google.auth.transport.requests.Request())
    c = anthropic.AnthropicVertex(region="global", project_id=PROJECT, access_token=credentials.token,
                                  base_url=f"{mock.url}/p/vx/v1", max_retries=0)
    m = c.messages.create(model=CLAUDE, max_tokens=100, messages=[{"role": "user", "content": "Hi"}])
    assert m.content[0].text == hello("vx")
    # a token the token endpoint never issued is refused
    bad = anthropic.AnthropicVertex(region="global", project_id=PROJECT, access_token="ya29.forged",
                                    base_url=f"{mock.url}/p/vx/v1", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model=CLAUDE, max_tokens=100, messages=[{"role": "user", "content": "Hi"}])


def gemini_on_vertex(mock, credentials) -> genai.Client:
    return genai.Client(vertexai=True, project=PROJECT, location="us-central1",
                        credentials=credentials,
                        http_options=types.HttpOptions(base_url=f"{mock.url}/p/vx/"))


def test_genai_vertex_generate_stream_and_tools(mock, credentials):
    c = gemini_on_vertex(mock, credentials)
    r = c.models.generate_content(model="gemini-2.5-flash", contents="Say hello",
                                  config=types.GenerateContentConfig(
                                      system_instruction="Be brief.", max_output_tokens=100))
    assert r.text == hello("vx")
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    assert r.usage_metadata.prompt_token_count == 4
    assert r.usage_metadata.candidates_token_count == 12
    assert "/publishers/google/models/gemini-2.5-flash:generateContent" in mock.last_request("vx")["path"]

    text = "".join(chunk.text or "" for chunk in
                   c.models.generate_content_stream(model="gemini-2.5-flash", contents="Say hello"))
    assert text == hello("vx")
    assert mock.last_request("vx")["path"].endswith(":streamGenerateContent")

    mock.set("vx", tool_call=True, tool_arguments={"location": "Oslo"})
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather in a city", parameters_json_schema=WEATHER_SCHEMA)])
    r = c.models.generate_content(model="gemini-2.5-flash", contents="Weather in Oslo?",
                                  config=types.GenerateContentConfig(
                                      tools=[tool],
                                      automatic_function_calling=types.AutomaticFunctionCallingConfig(
                                          disable=True)))
    (call,) = r.function_calls
    assert call.name == "get_weather" and call.args == {"location": "Oslo"}
    assert token_exchanges(mock) == 1
