"""Claude Code (`claude -p`, print mode) pointed at Switchyard by ANTHROPIC_BASE_URL, with a
throw-away HOME, answering from the simulated Claude: with its first provider healthy, with it
failing, and with it cutting the stream mid-answer (resumed on the other provider's protocol)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from claude_common import MODEL, TEXT, config, healthy

CLAUDE = Path(os.environ.get("CLIENTS_NODE_MODULES", "")) / ".bin" / "claude"


def ask_claude_code(gw, home: Path) -> dict:
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "ANTHROPIC_BASE_URL": gw.url, "ANTHROPIC_API_KEY": "sk-unused",
           "ANTHROPIC_MODEL": MODEL, "ANTHROPIC_SMALL_FAST_MODEL": MODEL, "ANTHROPIC_DEFAULT_HAIKU_MODEL": MODEL,
           "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
    r = subprocess.run([str(CLAUDE), "-p", "Say hello", "--output-format", "json"], cwd=home, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"claude -p failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return json.loads(r.stdout)


def test_claude_code_answers_from_the_first_provider(mock, gateways, tmp_path):
    healthy(mock)
    gw = gateways(config(mock))
    out = ask_claude_code(gw, tmp_path / "home")
    assert out["is_error"] is False, out
    assert out["result"] == TEXT
    assert mock.stats("claude")["requests"] >= 1
    assert mock.stats("relay")["requests"] == 0


def test_claude_code_survives_its_provider_failing(mock, gateways, tmp_path):
    healthy(mock)
    mock.set("claude", text=TEXT, status=529)
    gw = gateways(config(mock))
    out = ask_claude_code(gw, tmp_path / "home")
    assert out["is_error"] is False, out
    assert out["result"] == TEXT
    assert mock.stats("relay")["requests"] >= 1


def test_claude_code_survives_a_stream_cut_mid_answer(mock, gateways, tmp_path):
    healthy(mock)
    mock.set("claude", text=TEXT, cut_after=6)
    gw = gateways(config(mock))
    out = ask_claude_code(gw, tmp_path / "home")
    assert out["is_error"] is False, out
    assert out["result"] == TEXT, "one seamless answer"
    assert mock.stats("claude")["requests"] >= 1 and mock.stats("relay")["requests"] >= 1
