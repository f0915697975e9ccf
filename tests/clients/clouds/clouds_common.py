"""What the cloud SDK tests share: the simulated clouds' credentials (test values the mock
knows, public by design) and the simulated Vertex AI service account, fetched from the mock."""
from __future__ import annotations

from pathlib import Path

import httpx

# sy_mock::MOCK_AWS_ACCESS_KEY_ID / MOCK_AWS_SECRET_ACCESS_KEY: the only key pair whose SigV4
# signatures the simulated Bedrock accepts.
AWS_ACCESS_KEY_ID = "AKIASWITCHYARDMOCK01"
AWS_SECRET_ACCESS_KEY = "mockSecretKey/SwitchyardSimulatedBedrock0"
REGION = "us-east-1"

# A Bedrock model id whose ':' the SDKs percent-encode in the path, and sign as sent.
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"
PROJECT = "mock-project"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"

WEATHER_SCHEMA = {"type": "object", "properties": {"location": {"type": "string"}},
                  "required": ["location"]}


def hello(name: str) -> str:
    """The mock's default answer from provider `name`."""
    return f"Hello from {name}. The quick brown fox jumps over the lazy dog."


def service_account_file(mock, tmp: Path) -> Path:
    """The simulated service account's JSON (its token_uri the mock's token endpoint), written
    where google-auth can load it."""
    r = httpx.get(f"{mock.url}/admin/vertex/service_account", timeout=5)
    assert r.status_code == 200, r.text
    path = tmp / "service-account.json"
    path.write_text(r.text)
    return path


def google_credentials(mock, tmp: Path):
    """google-auth's service-account credentials on the simulated service account."""
    from google.oauth2 import service_account

    return service_account.Credentials.from_service_account_file(
        str(service_account_file(mock, tmp)), scopes=[CLOUD_PLATFORM])


def token_exchanges(mock) -> int:
    """Access tokens the simulated token endpoint has issued."""
    return httpx.get(f"{mock.url}/admin/vertex/tokens", timeout=5).json()["exchanges"]
