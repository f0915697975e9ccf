#!/usr/bin/env python3
"""Writes every config and request body `bench/run` needs into one scratch directory.

    render.py WORK BASE_PORT [MAX_CONNECTIONS]

Ports, counted from BASE_PORT (bench/run uses 19200):
  +0  fixed upstream, nginx: a chat.completion JSON answer
  +1  fixed upstream, nginx: an SSE answer (20 chunk events and [DONE], all at once)
  +2  `switchyard mock`: providers slow20 (20 ms before the answer), paced (20 content chunks
      10 ms apart) and long (48 chunks at 4 a second: a ~12 s stream)
  +10 / +11 / +12  nginx reverse proxy in front of +0 / +1 / +2 (the floor)
  +20 Switchyard, one model per upstream (bench/json, bench/sse, bench/slow20, bench/paced,
      bench/long)

The dialect phases use models bench/d-openai and bench/d-anthropic (and bench/d-responses with
BENCH_RESPONSES=1), one Switchyard provider of that protocol each over the instant simulated
provider `dialects`; bodies body-<chat|messages|responses>-<model>[-stream].json.

Files written: upstream.conf, proxy.conf, mock.toml, switchyard.toml (and, given
MAX_CONNECTIONS, switchyard-streams.toml: the same with `[server] max_connections`), request bodies
body-<model>.json / body-<model>-stream.json, plus ports.env for the shell.
Standard library only.
"""
import json
import os
import sys

work, base = sys.argv[1], int(sys.argv[2])
max_connections = int(sys.argv[3]) if len(sys.argv) > 3 else 0
P = {
    "up_json": base, "up_sse": base + 1, "mock": base + 2,
    "px_json": base + 10, "px_sse": base + 11, "px_mock": base + 12,
    "sy": base + 20,
}


def write(name, text):
    with open(os.path.join(work, name), "w") as f:
        f.write(text)


# ------------------------------------------------------------------ the fixed answers
ANSWER = ("Switchyard routes each request to the provider that serves its model best, "
          "fails over when a provider breaks, and records what every request cost. "
          "This answer is fixed so that the benchmark measures the gateway, not the model.")
STAMP = 1767225600
CID = "chatcmpl-swyd-bench-000000000000000001"
UPSTREAM_MODEL = "bench-upstream-model"

completion = {
    "id": CID, "object": "chat.completion", "created": STAMP, "model": UPSTREAM_MODEL,
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                 "message": {"role": "assistant", "content": ANSWER}}],
    "usage": {"prompt_tokens": 38, "completion_tokens": 44, "total_tokens": 82},
}


def event(delta, finish=None, usage=None):
    e = {"id": CID, "object": "chat.completion.chunk", "created": STAMP, "model": UPSTREAM_MODEL,
         "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
    if usage:
        e["usage"] = usage
    return "data: " + json.dumps(e, separators=(",", ":")) + "\n\n"


# 20 events: the role, 18 pieces of text (none empty), the finish with usage
words = ANSWER.split(" ")
pieces, per, extra = [], *divmod(len(words), 18)
at = 0
for i in range(18):
    n = per + (1 if i < extra else 0)
    pieces.append((" " if i else "") + " ".join(words[at:at + n]))
    at += n
assert "".join(pieces) == ANSWER and all(p.strip() for p in pieces)
sse = event({"role": "assistant", "content": ""})
sse += "".join(event({"content": p}) for p in pieces)
sse += event({}, "stop", completion["usage"])
sse += "data: [DONE]\n\n"
assert sse.count("data: ") == 21


def nginx_string(s):
    """A single-quoted nginx string; nginx understands \\n inside it."""
    assert "'" not in s and "$" not in s and "\\" not in s
    return "'" + s.replace("\n", "\\n") + "'"


def nginx_body(var, s, piece=2048):
    """`set` lines plus a `return 200` that joins them: one config token holds at most ~4 KiB."""
    parts = [s[i:i + piece] for i in range(0, len(s), piece)]
    lines = [f"      set ${var}{i} {nginx_string(p)};" for i, p in enumerate(parts)]
    lines.append("      return 200 \"" + "".join("${%s%d}" % (var, i) for i in range(len(parts))) + "\";")
    return "\n".join(lines)


COMMON = f"""worker_processes 1;
daemon off;
events {{ worker_connections 16384; multi_accept on; }}
"""

write("upstream.conf", COMMON + f"""error_log {work}/upstream.err warn;
pid {work}/upstream.pid;
http {{
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  server {{
    listen 127.0.0.1:{P['up_json']} backlog=8192;
    location / {{
      default_type application/json;
{nginx_body("a", json.dumps(completion, separators=(",", ":")))}
    }}
  }}
  server {{
    listen 127.0.0.1:{P['up_sse']} backlog=8192;
    location / {{
      default_type text/event-stream;
      add_header Cache-Control no-cache;
{nginx_body("b", sse)}
    }}
  }}
}}
""")

proxy_servers = ""
for listen, up in (("px_json", "up_json"), ("px_sse", "up_sse"), ("px_mock", "mock")):
    proxy_servers += f"""  upstream {up} {{ server 127.0.0.1:{P[up]}; keepalive 1024; }}
  server {{
    listen 127.0.0.1:{P[listen]} backlog=8192;
    location / {{
      proxy_pass http://{up};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 120s;
    }}
  }}
"""
write("proxy.conf", COMMON + f"""error_log {work}/proxy.err warn;
pid {work}/proxy.pid;
http {{
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
{proxy_servers}}}
""")

# ------------------------------------------------------------------ the simulated provider
long_text = " ".join(f"w{i:02d}" for i in range(48))  # 48 chunks
paced_text = " ".join(f"t{i:02d}" for i in range(20))  # 20 chunks
write("mock.toml", f"""listen = "127.0.0.1:{P['mock']}"

[[providers]]
name = "slow20"
latency_ms = 20
text = {json.dumps(ANSWER)}

[[providers]]
name = "paced"
tokens_per_s = 100.0
text = "{paced_text}"

[[providers]]
name = "long"
tokens_per_s = 4.0
text = "{long_text}"

[[providers]]
name = "dialects"
text = {json.dumps(ANSWER)}
""")

# ------------------------------------------------------------------ Switchyard
ROUTES = {  # model -> (provider, base_url)
    "bench/json": ("fixed", f"http://127.0.0.1:{P['up_json']}/v1"),
    "bench/sse": ("fixedsse", f"http://127.0.0.1:{P['up_sse']}/v1"),
    "bench/slow20": ("slow20", f"http://127.0.0.1:{P['mock']}/p/slow20/v1"),
    "bench/paced": ("paced", f"http://127.0.0.1:{P['mock']}/p/paced/v1"),
    "bench/long": ("long", f"http://127.0.0.1:{P['mock']}/p/long/v1"),
}
toml = f"""# rendered by bench/render.py
[server]
listen = "127.0.0.1:{P['sy']}"
#MAXCONN

[storage]
url = "sqlite://{work}/switchyard.db"

[routing]
first_token_timeout_s = 30
stream_idle_timeout_s = 30
"""
for model, (prov, url) in ROUTES.items():
    toml += f"""
[[providers]]
name = "{prov}"
base_url = "{url}"
max_concurrency = 100000
"""
for model, (prov, url) in ROUTES.items():
    toml += f"""
[[models]]
id = "{model}"
context_length = 32768
  [[models.endpoints]]
  provider = "{prov}"
  upstream_model = "{UPSTREAM_MODEL}"
  prompt_price = 0.15
  completion_price = 0.60
"""
# The dialect phases: one instant simulated provider ("dialects") behind one Switchyard provider
# per protocol, so a request of each dialect is passed through (same protocol) or translated.
DIALECT_ROUTES = {  # model -> (provider, api)
    "bench/d-openai": ("d_openai", "openai"),
    "bench/d-anthropic": ("d_anthropic", "anthropic"),
}
if os.environ.get("BENCH_RESPONSES") == "1":
    DIALECT_ROUTES["bench/d-responses"] = ("d_responses", "openai-responses")
for model, (prov, api) in DIALECT_ROUTES.items():
    toml += f"""
[[providers]]
name = "{prov}"
api = "{api}"
base_url = "http://127.0.0.1:{P['mock']}/p/dialects/v1"
api_key = "sk-bench-{prov}"
max_concurrency = 100000

[[models]]
id = "{model}"
context_length = 32768
  [[models.endpoints]]
  provider = "{prov}"
  upstream_model = "{UPSTREAM_MODEL}"
  prompt_price = 0.15
  completion_price = 0.60
"""
write("switchyard.toml", toml.replace("#MAXCONN\n", ""))
if max_connections:
    write("switchyard-streams.toml", toml.replace("#MAXCONN", f"max_connections = {max_connections}"))

# ------------------------------------------------------------------ request bodies
for model in ["gpt-4o-mini", *ROUTES]:
    for stream in (False, True):
        body = {
            "model": model,
            "messages": [
                {"role": "system", "content": "You answer questions about the company's gateway in plain words."},
                {"role": "user", "content": "In two sentences: what does the gateway do when a provider fails mid-answer?"},
            ],
            "temperature": 0.3,
            "max_tokens": 256,
            "user": "bench-client-7",
        }
        if stream:
            body["stream"] = True
        name = model.replace("/", "_") + ("-stream" if stream else "")
        write(f"body-{name}.json", json.dumps(body, separators=(",", ":")))

# the same question in each dialect, for the dialect phases: body-<dialect>-<model>[-stream].json
SYSTEM = "You answer questions about the company's gateway in plain words."
QUESTION = "In two sentences: what does the gateway do when a provider fails mid-answer?"
for model in DIALECT_ROUTES:
    for stream in (False, True):
        chat = {"model": model, "messages": [{"role": "system", "content": SYSTEM},
                                             {"role": "user", "content": QUESTION}],
                "temperature": 0.3, "max_tokens": 256}
        messages = {"model": model, "system": SYSTEM, "messages": [{"role": "user", "content": QUESTION}],
                    "temperature": 0.3, "max_tokens": 256}
        responses = {"model": model, "instructions": SYSTEM, "input": QUESTION, "temperature": 0.3,
                     "max_output_tokens": 256, "store": False}
        for dialect, body in (("chat", chat), ("messages", messages), ("responses", responses)):
            if stream:
                body = {**body, "stream": True}
            name = f"{dialect}-{model.replace('/', '_')}" + ("-stream" if stream else "")
            write(f"body-{name}.json", json.dumps(body, separators=(",", ":")))

write("ports.env", "".join(f"PORT_{k.upper()}={v}\n" for k, v in P.items()))
