"""anthropic's `AnthropicBedrock` against the simulated Amazon Bedrock: Claude's Messages body
through InvokeModel and InvokeModelWithResponseStream (each Anthropic event in a `chunk` frame of
the AWS event stream), signed by the SDK with SigV4 (through botocore) and verified by the mock."""
from __future__ import annotations

import anthropic
import pytest

from clouds_common import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, BEDROCK_MODEL, REGION, hello

WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}


def client(mock, secret: str = AWS_SECRET_ACCESS_KEY) -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(aws_access_key=AWS_ACCESS_KEY_ID, aws_secret_key=secret,
                                      aws_region=REGION, base_url=f"{mock.url}/p/br", max_retries=0)


def test_create_stream_and_tools(mock):
    c = client(mock)
    m = c.messages.create(model=BEDROCK_MODEL, max_tokens=100, system="Be brief.",
                          messages=[{"role": "user", "content": "Say hello"}])
    assert m.content[0].text == hello("br") and m.stop_reason == "end_turn"
    assert (m.usage.input_tokens, m.usage.output_tokens) == (4, 12)
    seen = mock.last_request("br")
    assert seen["path"].endswith("/invoke") and "model" not in seen["body"] and seen["body"]["anthropic_version"]

    with c.messages.stream(model=BEDROCK_MODEL, max_tokens=100,
                           messages=[{"role": "user", "content": "Say hello"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == hello("br") and final.stop_reason == "end_turn"
    assert mock.last_request("br")["path"].endswith("/invoke-with-response-stream")

    mock.set("br", tool_call=True, tool_arguments={"location": "Oslo"})
    m = c.messages.create(model=BEDROCK_MODEL, max_tokens=100, tools=[WEATHER],
                          messages=[{"role": "user", "content": "Weather in Oslo?"}])
    call = next(b for b in m.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"location": "Oslo"}


def test_a_wrong_secret_is_refused(mock):
    with pytest.raises(anthropic.PermissionDeniedError):
        client(mock, secret="not-the-secret").messages.create(
            model=BEDROCK_MODEL, max_tokens=100, messages=[{"role": "user", "content": "Hi"}])
