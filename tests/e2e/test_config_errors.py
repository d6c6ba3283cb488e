"""`orchestra serve --config FILE` with a mistake in FILE stops before anything
starts (no store, no Ray), with one message naming the file, the key and why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[agents.ops]\ntols = ['refund']\n", "agents.ops.tols: unknown key"),
        ("[tools.refund]\nkind = 'http'\ntier = 'T9'\nurl = 'http://x'\n", "tools.refund.tier"),
        (
            "[agents.desk]\nsystem_prompt = 'hi'\ntools = ['refund']\n",
            "agents.desk.tools: no tool 'refund'",
        ),
        ("[mcp.crm]\nurl = 'http://127.0.0.1:9/mcp'\n", "mcp.crm"),
    ],
)
def test_a_config_mistake_stops_serve_with_one_message(
    tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / "orchestra.toml"
    path.write_text(content)
    env = {**os.environ, "ORCHESTRA_HOME": str(tmp_path / "home")}
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    errors = [line for line in out.stdout.splitlines() if line.startswith("orchestra: error:")]
    assert len(errors) == 1, out.stdout
    assert errors[0].startswith(f"orchestra: error: {path}: "), errors[0]  # the file, first
    assert says in errors[0]
    assert "valkey" not in out.stdout.lower() and "Ray" not in out.stdout  # nothing started
    assert "Traceback" not in out.stderr
