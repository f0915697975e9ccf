"""`google-genai` in API-key mode (Google AI Studio) against the simulated Gemini API:
generateContent, streamGenerateContent with alt=sse, a function call and its response, usage
with thoughts, Google's errors as the SDK reads them."""
from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types

from clouds_common import WEATHER_SCHEMA, hello

MODEL = "gemini-2.5-flash"


def client(mock) -> genai.Client:
    return genai.Client(api_key="AIza-mock-key", http_options=types.HttpOptions(
        base_url=f"{mock.url}/p/gem/", retry_options=types.HttpRetryOptions(attempts=1)))


def test_generate_and_stream(mock):
    c = client(mock)
    r = c.models.generate_content(model=MODEL, contents="Say hello",
                                  config=types.GenerateContentConfig(system_instruction="Be brief."))
    assert r.text == hello("gem")
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    assert (r.usage_metadata.prompt_token_count, r.usage_metadata.candidates_token_count) == (4, 12)
    seen = mock.last_request("gem")
    assert seen["path"].endswith(f"/models/{MODEL}:generateContent")
    assert seen["headers"].get("x-goog-api-key") is None  # kept out of the record, but sent:

    chunks = list(c.models.generate_content_stream(model=MODEL, contents="Say hello"))
    assert "".join(ch.text or "" for ch in chunks) == hello("gem")
    assert len(chunks) > 1
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count == 12


def test_function_call_round_trip(mock):
    mock.set("gem", tool_call=True, tool_arguments={"location": "Oslo"})
    c = client(mock)
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather in a city", parameters_json_schema=WEATHER_SCHEMA)])
    config = types.GenerateContentConfig(
        tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    ask = types.Content(role="user", parts=[types.Part.from_text(text="Weather in Oslo?")])
    r = c.models.generate_content(model=MODEL, contents=[ask], config=config)
    (call,) = r.function_calls
    assert call.name == "get_weather" and call.args == {"location": "Oslo"}

    streamed = [fc for ch in c.models.generate_content_stream(model=MODEL, contents=[ask], config=config)
                for fc in (ch.function_calls or [])]
    assert [(fc.name, fc.args) for fc in streamed] == [("get_weather", {"location": "Oslo"})]

    mock.set("gem")
    answer = types.Content(role="user", parts=[types.Part.from_function_response(
        name="get_weather", response={"temp": 21})])
    r = c.models.generate_content(model=MODEL, contents=[ask, r.candidates[0].content, answer],
                                  config=config)
    assert r.text == hello("gem")


def test_thinking_usage(mock):
    c = client(mock)  # held: the SDK closes its HTTP client when the Client is collected
    r = c.models.generate_content(
        model=MODEL, contents="Say hello",
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(
            thinking_budget=1024, include_thoughts=True)))
    thoughts = [p.text for p in r.candidates[0].content.parts if p.thought]
    assert thoughts, r
    assert r.usage_metadata.thoughts_token_count > 0
    assert r.usage_metadata.candidates_token_count == 12
    answer = [p for p in r.candidates[0].content.parts if not p.thought]
    assert answer[0].text == hello("gem") and answer[0].thought_signature
    # streamed: the thoughts first, then the answer
    parts = [p for ch in c.models.generate_content_stream(
        model=MODEL, contents="Say hello", config=types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(include_thoughts=True)))
        for p in ch.candidates[0].content.parts]
    assert parts[0].thought and parts[0].text == thoughts[0]
    assert "".join(p.text for p in parts if not p.thought) == hello("gem")


def test_errors(mock):
    c = client(mock)
    mock.set("gem", status=429)
    with pytest.raises(errors.ClientError) as e:
        c.models.generate_content(model=MODEL, contents="Hi")
    assert e.value.code == 429 and e.value.status == "RESOURCE_EXHAUSTED"

    mock.set("gem", status=503)
    with pytest.raises(errors.ServerError) as e:
        c.models.generate_content(model=MODEL, contents="Hi")
    assert e.value.status == "UNAVAILABLE"


def test_safety_blocks(mock):
    # a blocked prompt: no candidate, the reason in promptFeedback
    c = client(mock)
    mock.set("gem", text="", content_filter=True)
    r = c.models.generate_content(model=MODEL, contents="Say hello")
    assert not r.candidates
    assert r.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert r.usage_metadata.prompt_token_count == 2
    # an answer the filter stopped
    mock.set("gem", text="I will not", content_filter=True)
    chunks = list(c.models.generate_content_stream(model=MODEL, contents="Say hello"))
    assert "".join(ch.text or "" for ch in chunks) == "I will not"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.SAFETY
