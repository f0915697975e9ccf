"""The catalog the OpenRouter-SDK and embedding tests run against: a chat model served by two
simulated OpenAI-protocol providers, an embedding model, and keys ([auth] with a master key)."""

MODEL = "openai/gpt-test"
EMBED = "openai/embed-test"
MASTER = "sk-master-client-tests"
TEXT = "Hello from the simulated GPT. Switchyard answered in OpenRouter's shapes."


def config(mock, **routing) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in routing.items())
    return f"""
[auth]
master_key = "{MASTER}"

[storage]
url = "sqlite://records.db"

[routing]
first_token_timeout_s = 5
stream_idle_timeout_s = 5
{extra}
[[providers]]
name = "alpha"
base_url = "{mock.base('alpha')}"

[[providers]]
name = "beta"
base_url = "{mock.base('beta')}"

[[models]]
id = "{MODEL}"
name = "GPT test"
context_length = 128000

  [[models.endpoints]]
  provider = "alpha"
  upstream_model = "gpt-test"
  prompt_price = 0.15
  completion_price = 0.6
  supported_parameters = ["temperature", "max_tokens", "tools", "tool_choice", "response_format"]

  [[models.endpoints]]
  provider = "beta"
  upstream_model = "gpt-test"
  prompt_price = 150
  completion_price = 600

[[models]]
id = "{EMBED}"
kind = "embedding"
context_length = 8192

  [[models.endpoints]]
  provider = "alpha"
  upstream_model = "embed-test"
  prompt_price = 0.02
  dimensions = 8

  [[models.endpoints]]
  provider = "beta"
  upstream_model = "embed-test"
  prompt_price = 20
  dimensions = 8
"""


def healthy(mock) -> None:
    for name in ("alpha", "beta"):
        mock.set(name, text=TEXT)


def make_key(gw, **body) -> str:
    import httpx
    r = httpx.post(f"{gw.url}/api/v1/keys", headers={"authorization": f"Bearer {MASTER}"},
                   json={"label": "sdk", **body}, timeout=10)
    assert r.status_code in (200, 201), r.text
    return r.json()["key"]
