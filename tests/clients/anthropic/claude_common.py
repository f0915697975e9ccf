"""The catalog the Anthropic client tests run against: one Claude model served by a simulated
Anthropic-protocol provider (`claude`, first: 1000x cheaper) and a simulated OpenAI-protocol one
(`relay`), both saying the same text, so a stream can be resumed on either."""

MODEL = "anthropic/claude-test"
TEXT = ("Hello from the simulated Claude. Switchyard routed this answer, and it will keep routing "
        "when a provider fails.")


def config(mock, **routing) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in routing.items())
    return f"""
[routing]
first_token_timeout_s = 5
stream_idle_timeout_s = 5
{extra}
[[providers]]
name = "claude"
api = "anthropic"
base_url = "{mock.base('claude')}"

[[providers]]
name = "relay"
api = "openai"
base_url = "{mock.base('relay')}"

[[models]]
id = "{MODEL}"
context_length = 200000

  [[models.endpoints]]
  provider = "claude"
  upstream_model = "claude-sonnet-5-5"
  prompt_price = 0.001
  completion_price = 0.001
  supported_parameters = ["temperature", "max_tokens", "stop", "tools", "tool_choice", "reasoning"]

  [[models.endpoints]]
  provider = "relay"
  upstream_model = "anthropic/claude-sonnet-5.5"
  prompt_price = 1.0
  completion_price = 1.0
  supported_parameters = ["temperature", "max_tokens", "stop", "tools", "tool_choice", "reasoning"]
"""


def healthy(mock) -> None:
    for name in ("claude", "relay"):
        mock.set(name, text=TEXT)
