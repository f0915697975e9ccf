"""The catalog the Responses client tests run against: one model served by a simulated
OpenAI Responses provider (`oai`, first: cheapest), a simulated Anthropic one (`claude`) and a
simulated chat-completions one (`chat`), all saying the same text; the gateway keeps responses
in its SQLite store."""

# no slash: the Agents SDK takes a prefix before one for a provider name
MODEL = "switchyard-gpt"
TEXT = "Hello from the simulated model. Switchyard kept this conversation and can move it between providers."


def config(mock) -> str:
    return f"""
[routing]
first_token_timeout_s = 5
stream_idle_timeout_s = 5

[storage]
url = "sqlite://switchyard.db"

[[providers]]
name = "oai"
api = "openai-responses"
base_url = "{mock.base('oai')}"

[[providers]]
name = "claude"
api = "anthropic"
base_url = "{mock.base('claude')}"

[[providers]]
name = "chat"
api = "openai"
base_url = "{mock.base('chat')}"

[[models]]
id = "{MODEL}"
context_length = 200000

  [[models.endpoints]]
  provider = "oai"
  upstream_model = "gpt-test"
  prompt_price = 0.001
  completion_price = 0.001

  [[models.endpoints]]
  provider = "claude"
  upstream_model = "claude-test"
  prompt_price = 1.0
  completion_price = 1.0

  [[models.endpoints]]
  provider = "chat"
  upstream_model = "gpt-test-chat"
  prompt_price = 2.0
  completion_price = 2.0
"""


def healthy(mock) -> None:
    for name in ("oai", "claude", "chat"):
        mock.set(name, text=TEXT)
