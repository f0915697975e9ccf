#!/usr/bin/env python3
"""Health feedback and hedging, measured end to end (issue 4's figures).

Starts `switchyard mock` and `switchyard serve` on loopback and reports:

1. Three equal-price providers, one failing every request: the share of requests (after the
   first 30) whose first attempt went to the failing one, whether every client request
   succeeded, and how long after healing it is back in use.
2. Hedging on, one provider with a 5 s first token, one fast: the client's p99 time to first
   token against the fast provider's own p95 (the target: p99 <= 1.5 x p95 + 100 ms).

    python3 bench/health_and_hedge.py [path/to/switchyard]

Standard library only. Every loop is bounded in count and time.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "target", "release", "switchyard")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(port, deadline_s=20):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"nothing answered on port {port}")


def request(port, method, path, body=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def set_behaviour(mock_port, name, behaviour):
    status, _, data = request(mock_port, "PUT", f"/admin/providers/{name}", behaviour)
    assert status == 200, data


def ttft(port, body, timeout=60):
    """Seconds from sending a streaming request to its first content chunk."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.monotonic()
    c.request("POST", "/api/v1/chat/completions", body=json.dumps(dict(body, stream=True)),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 200, r.read()
    first = None
    while True:
        line = r.readline()
        if not line:
            break
        if first is None and line.startswith(b"data: {") and b'"content":"' in line and b'"content":""' not in line:
            first = time.monotonic() - t0
        if line.strip() == b"data: [DONE]":
            break
    return first


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, round((len(v) - 1) * q))]


def start(config_text, mock_port, gw_port, work):
    path = os.path.join(work, "switchyard.toml")
    with open(path, "w") as f:
        f.write(config_text)
    env = dict(os.environ, RUST_LOG="warn")
    gw = subprocess.Popen([BIN, "serve", "--config", path, "--listen", f"127.0.0.1:{gw_port}"], cwd=work, env=env,
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "gw.log"), "wb"))
    wait_health(gw_port)
    return gw


def catalog(mock_port, providers, routing=""):
    out = ["[routing]", "outage_window_s = 30", "first_token_timeout_s = 10", routing, ""]
    for p in providers:
        out += ["[[providers]]", f'name = "{p}"', f'base_url = "http://127.0.0.1:{mock_port}/p/{p}/v1"', ""]
    out += ["[[models]]", 'id = "bench/m"', "context_length = 32768"]
    for p in providers:
        out += ["[[models.endpoints]]", f'provider = "{p}"', 'upstream_model = "m"', "prompt_price = 1.0",
                "completion_price = 1.0"]
    return "\n".join(out) + "\n"


def main():
    work = tempfile.mkdtemp()
    mock_port, gw_port = free_port(), free_port()
    mock = subprocess.Popen([BIN, "mock", "--listen", f"127.0.0.1:{mock_port}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    procs = [mock]
    try:
        wait_health(mock_port)
        body = {"model": "bench/m", "messages": [{"role": "user", "content": "hello there"}]}

        # 1. one failing provider of three
        for p in ("alpha", "beta", "gamma"):
            set_behaviour(mock_port, p, {})
        set_behaviour(mock_port, "gamma", {"status": 500})
        gw = start(catalog(mock_port, ["alpha", "beta", "gamma"]), mock_port, gw_port, work)
        procs.append(gw)
        n, first_to_failing_after_30, ok = 200, 0, 0
        for i in range(n):
            status, headers, data = request(gw_port, "POST", "/api/v1/chat/completions", body)
            ok += status == 200
            gen = json.loads(data)["id"]
            _, _, rec = request(gw_port, "GET", f"/api/v1/generation?id={gen}")
            first = json.loads(rec)["data"]["attempts"][0]["provider"]
            if i >= 30 and first == "gamma":
                first_to_failing_after_30 += 1
        set_behaviour(mock_port, "gamma", {})
        healed = time.monotonic()
        back = None
        while time.monotonic() - healed < 30:
            _, headers, _ = request(gw_port, "POST", "/api/v1/chat/completions", body)
            if headers.get("x-switchyard-provider") == "gamma":
                back = time.monotonic() - healed
                break
            time.sleep(0.1)
        gw.terminate()
        gw.wait(10)
        print("## One failing provider of three (equal prices)\n")
        print("| figure | value |\n|---|---:|")
        print(f"| client requests that succeeded | {ok}/{n} |")
        print(f"| first attempt on the failing provider, requests 31-{n} | {first_to_failing_after_30}/{n - 30} "
              f"({100 * first_to_failing_after_30 / (n - 30):.1f} %) |")
        print(f"| back in use after healing (steady traffic, one request / 100 ms) | "
              f"{'not within 30 s' if back is None else f'{back:.2f} s'} |\n")

        # 2. hedging
        gw_port = free_port()
        set_behaviour(mock_port, "slow", {"ttft_ms": 5000})
        set_behaviour(mock_port, "fast", {"ttft_ms": 100})
        gw = start(catalog(mock_port, ["slow", "fast"], "hedge = true"), mock_port, gw_port, work)
        procs.append(gw)
        ttft(gw_port, dict(body, provider={"only": ["slow"]}))  # one measurement of the slow endpoint
        fast = [ttft(gw_port, dict(body, provider={"only": ["fast"]})) for _ in range(40)]
        hedged = [ttft(gw_port, body) for _ in range(200)]
        fast_p95 = pct(fast, 0.95)
        target = 1.5 * fast_p95 + 0.1
        print("## Hedging (one provider's first token takes 5 s)\n")
        print("| figure | ms |\n|---|---:|")
        print(f"| fast provider alone: p50 / p95 time to first token | {1000 * pct(fast, 0.5):.0f} / {1000 * fast_p95:.0f} |")
        print(f"| with hedging, 200 requests: p50 / p99 time to first token | {1000 * pct(hedged, 0.5):.0f} / "
              f"{1000 * pct(hedged, 0.99):.0f} |")
        print(f"| target: 1.5 x fast p95 + 100 ms | {1000 * target:.0f} |")
        print(f"\nhedged p99 within target: {'yes' if pct(hedged, 0.99) <= target else 'NO'}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
