"""The servers a benchmark run measures, each started in its own process group.

* `orchestra serve` through `runtime.testing.served` (own ORCHESTRA_HOME in the
  run's work directory, embedded Valkey, local Ray; the run waits for its
  `--ready-file`, not for its banner), optionally with a config file (the
  latency scenarios' model settings and the lab agent);
* the bare ceiling, `loadtests/bare_app.py` (`--sleeper` adds the latency
  yardstick's endpoint);
* the LangGraph peer of shared/bench/peers in a venv of its own, created on first
  use (skipped, with a message, when it cannot be installed).

Each joins `PROCS`, so the run stops it at the end, also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import PEER_PACKAGES, ROOT, say
from .procs import PROCS, Proc, clean_env, free_port, retrying, wait_http


@dataclass
class Serve:
    proc: Proc
    url: str
    key: str
    home: Path
    pids: dict[str, int]

    def host_processes(self) -> list[Any]:
        import psutil

        found = []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.popen.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "SessionHost" in " ".join(child.cmdline()):
                        found.append(child)
        return found

    def gateway_pid(self) -> int:
        return self.proc.popen.pid


def start_serve(
    work: Path, hosts: int, tag: str, config: Path | None = None, env: dict[str, str] | None = None
) -> Serve:
    """`orchestra serve --hosts N [--config FILE]`, ready and answering HTTP."""
    from runtime.testing.serve import start

    home = work / f"home-{tag}"
    args = ["--hosts", str(hosts), *(["--config", str(config)] if config else [])]
    say(f"starting orchestra serve {' '.join(args)} (ORCHESTRA_HOME={home}) ...")
    served = start(
        *args, home=home, base_env=clean_env(**(env or {})), log=work / f"serve-{tag}.log", cwd=ROOT
    )
    proc = PROCS.adopt(
        Proc(
            f"orchestra serve ({tag})", served.proc, work / f"serve-{tag}.log", on_stop=served.stop
        )
    )
    say(f"orchestra serve ({tag}) is up on {served.url}: pids {served.pids}")
    return Serve(proc, served.url, served.key, home, served.pids)


def start_bare(work: Path, sleeper: bool = False) -> tuple[Proc, str]:
    return retrying(_start_bare, work, sleeper)  # type: ignore[no-any-return]


def _start_bare(work: Path, sleeper: bool) -> tuple[Proc, str]:
    port = free_port()
    say(f"starting the bare ceiling (loadtests/bare_app.py) on :{port} ...")
    proc = PROCS.start(
        "bare ceiling",
        [
            sys.executable,
            "-m",
            "loadtests.bare_app",
            "--port",
            str(port),
            *(["--sleeper"] if sleeper else []),
        ],
        work / "bare.log",
        env=clean_env(),
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", proc)
    PROCS.remember_descendants(proc)
    return proc, url


def ensure_peer_venv(venv: Path, peer_dir: Path) -> Path | None:
    """The peer's venv (created on first use); None, with a message, when it can't be."""
    app = peer_dir / "langgraph_app.py"
    if not app.exists():
        say(f"SKIP LangGraph peer: {app} not found (pass --peer-dir)")
        return None
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import langgraph, fastapi, uvicorn, uvloop, httptools"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    say(f"creating the peer venv {venv} and installing {' '.join(PEER_PACKAGES)} ...")
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        say(f"SKIP LangGraph peer: could not install it ({exc}): {err.decode()[-800:]}")
        return None
    if subprocess.run(check, capture_output=True).returncode != 0:
        say("SKIP LangGraph peer: installed, but `import langgraph` still fails")
        return None
    return python


def start_peer(
    work: Path, python: Path, peer_dir: Path, env: dict[str, str] | None = None
) -> tuple[Proc, str]:
    return retrying(_start_peer, work, python, peer_dir, env)  # type: ignore[no-any-return]


def _start_peer(
    work: Path, python: Path, peer_dir: Path, env: dict[str, str] | None
) -> tuple[Proc, str]:
    port = free_port()
    say(f"starting the LangGraph peer on :{port} ...")
    proc = PROCS.start(
        "langgraph peer",
        [
            str(python),
            "-m",
            "uvicorn",
            "langgraph_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        work / "peer.log",
        env=clean_env(**(env or {})),
        cwd=peer_dir,
        graceful=signal.SIGTERM,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/docs", proc)
    return proc, url
