"""Codex CLI (npm `@openai/codex`, pinned) in `codex exec` mode with a custom model provider
(`wire_api = "responses"`) pointed at Switchyard, in a throw-away CODEX_HOME: it answers a
prompt from a simulated model, through the Responses API."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from resp_common import MODEL, TEXT, config, healthy


def codex_bin() -> Path:
    return Path(os.environ.get("CLIENTS_NODE_MODULES", "")) / ".bin" / "codex"


@pytest.fixture
def gw(mock, gateways):
    healthy(mock)
    return gateways(config(mock))


def test_codex_exec_answers_from_a_simulated_model(gw, mock, tmp_path):
    assert codex_bin().exists(), f"codex is not installed at {codex_bin()}"
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(f"""
model = "{MODEL}"
model_provider = "switchyard"

[model_providers.switchyard]
name = "Switchyard"
base_url = "{gw.url}/v1"
env_key = "SWITCHYARD_API_KEY"
wire_api = "responses"
""")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    env.update({"CODEX_HOME": str(home), "SWITCHYARD_API_KEY": "unused", "NO_COLOR": "1",
                "HOME": str(tmp_path)})
    r = subprocess.run([str(codex_bin()), "exec", "--skip-git-repo-check", "--sandbox", "read-only",
                        "Say hello in one sentence."],
                       cwd=work, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"codex failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    assert TEXT in r.stdout, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    sent = mock.last_request("oai")
    assert sent["path"].endswith("/responses")
    assert sent["body"]["model"] == "gpt-test"
