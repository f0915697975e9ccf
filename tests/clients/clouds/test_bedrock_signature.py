"""Switchyard's own SigV4 signatures, recomputed by botocore: a small recording proxy on loopback
stands in for Bedrock's endpoint, keeps the exact request the gateway sent (method, path, headers,
body) and forwards it unchanged (Host included) to the simulated Bedrock, which verifies it too.
botocore's SigV4Auth then signs the same method, URL, signed headers, body and instant, with the
same credentials, and must produce the same Authorization header, byte for byte."""
from __future__ import annotations

import http.server
import threading
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from clouds_common import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, BEDROCK_MODEL, REGION, hello

ARN = ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
       "us.anthropic.claude-sonnet-4-20250514-v1:0")


class Recorder:
    """An HTTP server that records each request and relays it to `upstream` as it came."""

    def __init__(self, upstream: str):
        self.requests: list[dict] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = [(k.lower(), v) for k, v in self.headers.items()]
                recorder.requests.append({"method": "POST", "path": self.path,
                                          "headers": headers, "body": body})
                with httpx.Client(timeout=10) as c:
                    r = c.post(upstream + self.path, content=body,
                               headers=[(k, v) for k, v in headers if k != "content-length"])
                payload = r.content
                self.send_response(r.status_code)
                for k in ("content-type", "x-amzn-errortype"):
                    if k in r.headers:
                        self.send_header(k, r.headers[k])
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder(mock):
    r = Recorder(mock.url)
    yield r
    r.close()


def config(recorder, model: str, token: str | None) -> str:
    session = f'aws_session_token = "{token}"\n' if token else ""
    return f"""
[routing]
first_token_timeout_s = 5
max_attempts = 1

[[providers]]
name = "br"
api = "bedrock"
base_url = "{recorder.url}/p/br"
region = "{REGION}"
aws_access_key_id = "{AWS_ACCESS_KEY_ID}"
aws_secret_access_key = "{AWS_SECRET_ACCESS_KEY}"
{session}
[[models]]
id = "anthropic/claude-sonnet-4"
context_length = 200000

  [[models.endpoints]]
  provider = "br"
  upstream_model = "{model}"
  prompt_price = 3.0
  completion_price = 15.0
"""


def botocore_authorization(seen: dict, token: str | None) -> str:
    """The Authorization botocore computes for the recorded request."""
    headers = dict(seen["headers"])
    auth = headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 "), auth
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "host" in signed and "x-amz-date" in signed, signed
    if token:
        assert "x-amz-security-token" in signed, signed
    url = f"http://{headers['host']}{seen['path']}"
    # exactly the headers the gateway signed; botocore adds x-amz-date (the recorded instant)
    # and the session token itself
    request = AWSRequest(method=seen["method"], url=url, data=seen["body"],
                         headers={k: v for k, v in seen["headers"]
                                  if k in signed and k not in ("x-amz-date", "x-amz-security-token")})
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, token), "bedrock", REGION)
    # what SigV4Auth.add_auth does, at the recorded instant instead of now
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    signature = signer.signature(string_to_sign, request)
    signer._inject_signature_to_request(request, signature)
    assert urlsplit(url).path == seen["path"].split("?")[0]
    return request.headers["Authorization"]


@pytest.mark.parametrize("model,token", [(BEDROCK_MODEL, None), (ARN, "session-token-xyz")])
@pytest.mark.parametrize("stream", [False, True])
def test_botocore_recomputes_the_gateways_signature(mock, gateways, recorder, model, token, stream):
    gw = gateways(config(recorder, model, token))
    body = {"model": "anthropic/claude-sonnet-4", "stream": stream,
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Say hello — in ünïcode"}]}
    r = httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 200, r.text
    if not stream:
        assert r.json()["choices"][0]["message"]["content"] == hello("br")
    assert len(recorder.requests) == 1
    seen = recorder.requests[0]
    assert "/model/" in seen["path"] and "%3A" in seen["path"]
    assert botocore_authorization(seen, token) == dict(seen["headers"])["authorization"]
    # the simulated Bedrock (aws-sigv4) accepted the same signature
    assert mock.stats("br")["requests"] == 1
