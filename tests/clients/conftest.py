"""Shared machinery of the real-client tests: a `switchyard mock` process whose providers are
scripted through its admin API, and `switchyard serve` processes with a config written per test.
Everything on loopback, on free ports; every process is stopped when its test ends."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

BIN = os.environ.get("SWITCHYARD_BIN", "")
NODE_MODULES = os.environ.get("CLIENTS_NODE_MODULES", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout}s")


class Process:
    def __init__(self, args: list[str], cwd: Path, log: Path, env: dict | None = None):
        self.log = log
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                     env={**os.environ, "RUST_LOG": "info", **(env or {})})

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-n:])
        except OSError:
            return ""


class Mock:
    """`switchyard mock`: every provider at {url}/p/{name}/v1, behaviours set at run time."""

    def __init__(self, tmp: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = Process([BIN, "mock", "--listen", f"127.0.0.1:{self.port}"], tmp, tmp / "mock.log")
        wait_http(f"{self.url}/health")

    def base(self, name: str) -> str:
        return f"{self.url}/p/{name}/v1"

    def set(self, name: str, **behaviour) -> None:
        r = httpx.put(f"{self.url}/admin/providers/{name}", json=behaviour, timeout=5)
        assert r.status_code in (200, 201), r.text

    def stats(self, name: str) -> dict:
        return httpx.get(f"{self.url}/admin/providers/{name}", timeout=5).json()

    def last_request(self, name: str) -> dict:
        return httpx.get(f"{self.url}/admin/providers/{name}/last_request", timeout=5).json()


class Gateway:
    """`switchyard serve` with a config file written for the test."""

    def __init__(self, tmp: Path, config: str, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (tmp / "switchyard.toml").write_text(config)
        self.process = Process([BIN, "serve", "--config", "switchyard.toml", "--listen", f"127.0.0.1:{self.port}"],
                               tmp, tmp / "gateway.log", env)
        wait_http(f"{self.url}/health")

    def generation(self, gen_id: str) -> dict:
        return httpx.get(f"{self.url}/api/v1/generation", params={"id": gen_id}, timeout=5).json()["data"]


@pytest.fixture
def mock(tmp_path):
    m = Mock(tmp_path)
    yield m
    m.process.stop()


@pytest.fixture
def gateways(tmp_path, request):
    started: list[Gateway] = []

    def start(config: str, env: dict | None = None) -> Gateway:
        d = tmp_path / f"gw{len(started)}"
        d.mkdir()
        g = Gateway(d, config, env)
        started.append(g)
        return g

    yield start
    failed = getattr(request.node, "rep_call", None)
    for g in started:
        if failed is not None and failed.failed:
            print(f"--- gateway log ({g.url}) ---\n{g.process.tail()}")
        g.process.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def node_script(script: Path, env: dict, timeout: float = 60) -> dict:
    """Runs a Node script with the pinned modules; its last stdout line is JSON."""
    r = subprocess.run(["node", str(script)], env={**os.environ, "NODE_PATH": NODE_MODULES, **env},
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"node failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])
