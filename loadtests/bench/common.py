"""What every part of the benchmark shares: where things are, the message, `say`."""

from __future__ import annotations

import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRK_SCRIPT = ROOT / "loadtests" / "wrk" / "messages.lua"
DEFAULT_PEER_DIR = ROOT.parent / "shared" / "bench" / "peers"
DEFAULT_VENV = Path(tempfile.gettempdir()) / "orchestra-bench" / "peer-venv"
PEER_PACKAGES = ["langgraph", "fastapi", "uvicorn[standard]"]
TEXT = "what services do you have?"


def say(msg: str) -> None:
    print(f"bench: {msg}", flush=True)
