"""Every server a benchmark run starts, in its own process group, and stopped at the end.

`PROCS` is the run's registry: `stop_all()` (at exit, on Ctrl-C or SIGTERM)
stops each server gracefully, kills it after a timeout and then kills whatever
its tree left behind (Ray's raylet, GCS and workers are remembered as they
appear). An `orchestra serve` started through `runtime.testing.served` joins the
registry with `adopt()`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.testing.serve import free_port

from .common import say

__all__ = ["PROCS", "Proc", "Processes", "clean_env", "free_port", "retrying", "wait_http"]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[Any]
    log: Path
    graceful: int = signal.SIGINT
    descendants: dict[int, Any] = field(default_factory=dict)  # pid -> psutil.Process
    on_stop: Callable[[], object] | None = None  # after it exited (a Served's clean-up)


class Processes:
    """Every server this run starts; `stop_all()` leaves no orphan behind."""

    def __init__(self) -> None:
        self.items: list[Proc] = []

    def start(
        self,
        name: str,
        cmd: list[str],
        log: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        graceful: int = signal.SIGINT,
    ) -> Proc:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,  # our Ctrl-C is not theirs: we stop them in order
            )
        proc = Proc(name, popen, log, graceful)
        self.items.append(proc)
        return proc

    def adopt(self, proc: Proc) -> Proc:
        """A process started elsewhere (e.g. by `served()`) that this run must stop."""
        self.items.append(proc)
        self.remember_descendants(proc)
        return proc

    def remember_descendants(self, proc: Proc) -> None:
        """Snapshot the process tree (Ray starts raylet, GCS, workers...)."""
        import psutil

        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(proc.popen.pid).children(recursive=True):
                proc.descendants.setdefault(child.pid, child)

    def stop(self, proc: Proc, timeout: float = 60.0) -> None:
        import psutil

        self.remember_descendants(proc)
        if proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.popen.send_signal(proc.graceful)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                say(f"{proc.name} did not stop within {timeout:.0f}s: killing it")
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(10)
        # Whatever the server left behind (it should be nothing) goes too.
        deadline = time.monotonic() + 10
        for child in proc.descendants.values():
            with contextlib.suppress(psutil.Error):
                if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                    child.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(psutil.Error):
                if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                    say(f"killing a leftover process of {proc.name}: {child.pid} {child.name()}")
                    child.kill()
        if proc.on_stop is not None:
            with contextlib.suppress(Exception):
                proc.on_stop()
        if proc in self.items:
            self.items.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.items)):
            try:
                self.stop(proc, timeout=30)
            except Exception as exc:
                say(f"could not stop {proc.name}: {exc!r}")


PROCS = Processes()


def wait_http(url: str, proc: Proc, timeout: float = 120.0) -> None:
    """Wait until `url` answers, and make sure it is `proc` that answers (still alive,
    no bind error in its log): a port can be taken between choosing and binding it."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early:\n{tail(proc.log)}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                time.sleep(0.5)
                log = proc.log.read_text(errors="replace")
                if proc.popen.poll() is not None or "address already in use" in log:
                    raise RuntimeError(f"{proc.name} could not bind its port:\n{tail(proc.log)}")
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not answer on {url} in {timeout:.0f}s:\n{tail(proc.log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def retrying(start: Any, *args: Any, attempts: int = 3) -> Any:
    """Start a server; on failure (e.g. its port was taken meanwhile) stop what it left
    and try again on a new port."""
    for attempt in range(1, attempts + 1):
        known = len(PROCS.items)
        try:
            return start(*args)
        except RuntimeError as exc:
            for proc in PROCS.items[known:]:
                PROCS.stop(proc)
            if attempt == attempts:
                raise
            say(f"start failed (attempt {attempt}), retrying on another port: {exc}")
    raise AssertionError("unreachable")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without what would change what a server does: an external
    store or Ray, a placement, model settings (a latency set in the shell would
    override a scenario's config file); the ScriptedModel."""
    env = dict(os.environ)
    for var in ("REDIS_URL", "RAY_ADDRESS", "ORCHESTRA_PLACEMENT", *MODEL_VARS):
        env.pop(var, None)
    env["ORCHESTRA_MODEL"] = "scripted"
    env.update(extra)
    return env


MODEL_VARS = (
    "ORCHESTRA_MODEL_LATENCY_MS",
    "ORCHESTRA_MODEL_TTFT_MS",
    "ORCHESTRA_MODEL_TOKENS_PER_S",
    "ORCHESTRA_MODEL_LATENCY_SIGMA",
    "ORCHESTRA_MODEL_SEED",
    "PEER_MODEL_LATENCY_MS",
    "PEER_MODEL_LATENCY_SIGMA",
)
