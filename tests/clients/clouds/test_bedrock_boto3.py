"""boto3's `bedrock-runtime` client against the simulated Amazon Bedrock: Converse and
ConverseStream (AWS event-stream frames, decoded by botocore), text and tool calls, with the
SDK's own SigV4 signatures verified by the mock (a wrong secret is refused), session tokens, and
Bedrock's exceptions as botocore reads them."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from clouds_common import (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, BEDROCK_MODEL, REGION,
                           WEATHER_SCHEMA, hello)

TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather in a city",
                                 "inputSchema": {"json": WEATHER_SCHEMA}}}]}
ASK = [{"role": "user", "content": [{"text": "Say hello"}]}]


def client(mock, secret: str = AWS_SECRET_ACCESS_KEY, token: str | None = None):
    return boto3.client("bedrock-runtime", endpoint_url=f"{mock.url}/p/br", region_name=REGION,
                        aws_access_key_id=AWS_ACCESS_KEY_ID, aws_secret_access_key=secret,
                        aws_session_token=token,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


@pytest.mark.parametrize("token", [None, "session-token-xyz"])
def test_converse(mock, token):
    r = client(mock, token=token).converse(
        modelId=BEDROCK_MODEL, messages=ASK, system=[{"text": "Be brief."}],
        inferenceConfig={"maxTokens": 100, "temperature": 0.5})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["output"]["message"]["role"] == "assistant"
    assert r["output"]["message"]["content"] == [{"text": hello("br")}]
    assert r["stopReason"] == "end_turn"
    # the mock counts words: "Be brief." + "Say hello" = 4, its answer in 12 chunks
    assert r["usage"] == {"inputTokens": 4, "outputTokens": 12, "totalTokens": 16}
    # the mock records the path decoded; its signature check read it as sent (%3A)
    assert mock.last_request("br")["path"] == f"/model/{BEDROCK_MODEL}/converse"


def test_converse_stream(mock):
    r = client(mock).converse_stream(modelId=BEDROCK_MODEL, messages=ASK,
                                     inferenceConfig={"maxTokens": 100})
    kinds, text, stop, usage = [], "", None, None
    for event in r["stream"]:
        (kind, body), = event.items()
        kinds.append(kind)
        if kind == "contentBlockDelta":
            text += body["delta"]["text"]
        elif kind == "messageStop":
            stop = body["stopReason"]
        elif kind == "metadata":
            usage = body["usage"]
    assert text == hello("br")
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    assert stop == "end_turn"
    assert usage == {"inputTokens": 2, "outputTokens": 12, "totalTokens": 14}


def test_converse_tool_call_and_result(mock):
    mock.set("br", tool_call=True, tool_arguments={"location": "Oslo"})
    c = client(mock)
    r = c.converse(modelId=BEDROCK_MODEL, messages=[{"role": "user", "content": [
        {"text": "Weather in Oslo?"}]}], toolConfig=TOOLS)
    assert r["stopReason"] == "tool_use"
    (block,) = r["output"]["message"]["content"]
    use = block["toolUse"]
    assert use["name"] == "get_weather" and use["input"] == {"location": "Oslo"}
    assert use["toolUseId"].startswith("tooluse_")

    # streamed: the call starts with contentBlockStart, its input arrives in pieces
    s = client(mock).converse_stream(modelId=BEDROCK_MODEL, toolConfig=TOOLS, messages=[
        {"role": "user", "content": [{"text": "Weather in Oslo?"}]}])
    start, pieces, stop = None, [], None
    for event in s["stream"]:
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]["start"]["toolUse"]
        elif "contentBlockDelta" in event:
            pieces.append(event["contentBlockDelta"]["delta"]["toolUse"]["input"])
        elif "messageStop" in event:
            stop = event["messageStop"]["stopReason"]
    assert start["name"] == "get_weather" and start["toolUseId"].startswith("tooluse_")
    assert json.loads("".join(pieces)) == {"location": "Oslo"}
    assert stop == "tool_use"

    # the result goes back as a toolResult block; the model answers in text
    mock.set("br")
    r2 = c.converse(modelId=BEDROCK_MODEL, toolConfig=TOOLS, messages=[
        {"role": "user", "content": [{"text": "Weather in Oslo?"}]},
        r["output"]["message"],
        {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUseId"],
                                                     "content": [{"json": {"temp": 21}}]}}]}])
    assert r2["output"]["message"]["content"] == [{"text": hello("br")}]


def test_a_guardrail_intervening(mock):
    mock.set("br", text="Sorry, the model cannot answer this question.", content_filter=True)
    r = client(mock).converse(modelId=BEDROCK_MODEL, messages=ASK)
    assert r["stopReason"] == "guardrail_intervened"
    stops = [e["messageStop"]["stopReason"] for e in
             client(mock).converse_stream(modelId=BEDROCK_MODEL, messages=ASK)["stream"]
             if "messageStop" in e]
    assert stops == ["guardrail_intervened"]


def test_a_wrong_secret_is_refused_by_the_signature_check(mock):
    with pytest.raises(ClientError) as e:
        client(mock, secret="not-the-secret").converse(modelId=BEDROCK_MODEL, messages=ASK)
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert mock.stats("br")["requests"] == 0


def test_exceptions_as_botocore_reads_them(mock):
    mock.set("br", status=429)
    with pytest.raises(ClientError) as e:
        client(mock).converse(modelId=BEDROCK_MODEL, messages=ASK)
    assert e.value.response["Error"]["Code"] == "ThrottlingException"

    mock.set("br", status=400, error_body={"message": "Input is too long for requested model."})
    with pytest.raises(ClientError) as e:
        client(mock).converse(modelId=BEDROCK_MODEL, messages=ASK)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == "Input is too long for requested model."

    # an exception frame in the middle of a stream
    mock.set("br", error_after=3)
    s = client(mock).converse_stream(modelId=BEDROCK_MODEL, messages=ASK)
    text = ""
    with pytest.raises(EventStreamError) as e:
        for event in s["stream"]:
            text += event.get("contentBlockDelta", {}).get("delta", {}).get("text", "")
    assert e.value.response["Error"]["Code"] == "serviceUnavailableException"
    assert text == "Hello from br."


def test_converse_reasoning_and_its_signature_sent_back(mock):
    mock.set("br", text="Forty-two.")
    c = client(mock)
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    ask = [{"role": "user", "content": [{"text": "What is six times seven?"}]}]
    r = c.converse(modelId=BEDROCK_MODEL, messages=ask, inferenceConfig={"maxTokens": 2000},
                   additionalModelRequestFields=thinking)
    reasoning, answer = r["output"]["message"]["content"]
    text = reasoning["reasoningContent"]["reasoningText"]
    assert text["text"] and text["signature"]
    assert answer == {"text": "Forty-two."}

    s = c.converse_stream(modelId=BEDROCK_MODEL, messages=ask, inferenceConfig={"maxTokens": 2000},
                          additionalModelRequestFields=thinking)
    streamed, signature, answer_text = "", None, ""
    for event in s["stream"]:
        delta = event.get("contentBlockDelta")
        if not delta:
            continue
        if "reasoningContent" in delta["delta"]:
            assert delta["contentBlockIndex"] == 0
            streamed += delta["delta"]["reasoningContent"].get("text", "")
            signature = delta["delta"]["reasoningContent"].get("signature", signature)
        else:
            assert delta["contentBlockIndex"] == 1
            answer_text += delta["delta"]["text"]
    assert (streamed, signature, answer_text) == (text["text"], text["signature"], "Forty-two.")

    # the signed block goes back in the next turn; an altered one is refused
    follow = ask + [r["output"]["message"], {"role": "user", "content": [{"text": "And times eight?"}]}]
    assert c.converse(modelId=BEDROCK_MODEL, messages=follow, inferenceConfig={"maxTokens": 2000},
                      additionalModelRequestFields=thinking)["stopReason"] == "end_turn"
    text["signature"] = "forged"
    with pytest.raises(ClientError) as e:
        c.converse(modelId=BEDROCK_MODEL, messages=follow, inferenceConfig={"maxTokens": 2000},
                   additionalModelRequestFields=thinking)
    assert e.value.response["Error"]["Code"] == "ValidationException"
