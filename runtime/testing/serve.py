"""`served()`: a real `orchestra serve` in a subprocess, for end-to-end tests and benchmarks.

    with served("--hosts", "1") as s:
        httpx.post(s.url + "/v1/sessions", headers={"Authorization": f"Bearer {s.key}"}, ...)

Each harness used to start the CLI its own way and scrape its banner for the
demo key. Here the serve is started with `--ready-file` and the harness waits
for that file (written atomically once the store, Ray and the actors are up),
which gives the URL, the key and the pids of the serve, its embedded Valkey and
Ray's daemons; then it waits until the gateway answers `/healthz`, because
uvicorn binds right after the file is written.

The process gets its own ORCHESTRA_HOME (a temporary directory unless one is
given), a free port, no REDIS_URL and no RAY_ADDRESS (a newcomer's defaults,
unless `env` sets them), and its own process group: a Ctrl-C meant for the
caller is not its, and `stop(group=True)` can signal the group as systemd
would. Its output (stdout and stderr) is kept: in memory (`output`, drained
by a thread so that the serve never blocks on a full pipe) or, with `log=`,
in a file, which costs the caller no CPU under load. Stopping sends SIGINT (a
Ctrl-C), waits, then kills the group after `timeout`.

Only the standard library is used here (`runtime` never imports Ray or
FastAPI); `Served.client()` imports httpx when called.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

if TYPE_CHECKING:
    import httpx

READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 90.0
BIND_ERROR = "address already in use"


def free_port() -> int:
    """A free port outside the kernel's ephemeral range (32768-60999) and Ray's worker
    ports (10002-19999): the serve binds it only after Ray has started, and Ray and
    its workers bind ephemeral ports meanwhile."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


class ServeFailed(RuntimeError):
    """The serve exited, or did not get ready in time (the message has its output)."""

    def __init__(self, message: str, bind_error: bool = False) -> None:
        super().__init__(message)
        self.bind_error = bind_error


@dataclass
class Served:
    """A running `orchestra serve`: where it listens, its demo key, its processes."""

    proc: subprocess.Popen[str]
    url: str
    key: str
    home: Path
    ready: dict[str, Any]  # the ready file's JSON
    log: Path | None = None
    _lines: list[str] = field(default_factory=list)
    _drain: threading.Thread | None = None
    _cleanup: list[Path] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def pids(self) -> dict[str, int]:
        """serve, valkey (embedded store), ray_gcs and raylet (a Ray it started)."""
        return {str(k): int(v) for k, v in self.ready.get("pids", {}).items()}

    @property
    def ray_address(self) -> str:
        return str(self.ready.get("ray_address", ""))

    @property
    def output(self) -> list[str]:
        """Its output lines so far (with their line ends)."""
        if self.log is None:
            return self._lines
        try:
            return self.log.read_text(errors="replace").splitlines(keepends=True)
        except OSError:
            return []

    @property
    def text(self) -> str:
        return "".join(self.output)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def client(self, key: str | None = None, timeout: float = 60) -> httpx.Client:
        import httpx

        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key or self.key}"},
            timeout=timeout,
        )

    def stop(self, group: bool = False, timeout: float = STOP_TIMEOUT_S) -> tuple[int, str]:
        """Ctrl-C to the CLI, or (`group`) SIGTERM to its whole process group; the
        group is killed if it has not exited after `timeout`. Returns (exit code,
        output). Stopping a stopped serve just returns them again."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if group:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                else:
                    self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        if self._drain is not None:
            self._drain.join(timeout=10)  # it ends at EOF, after the last lines
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        text = self.text
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)
        self._cleanup.clear()
        return self.proc.returncode, text


def _wait_ready(served: Served, ready_file: Path, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready_file.exists():
            data: dict[str, Any] = json.loads(ready_file.read_text())
            return data
        if served.proc.poll() is not None:
            break
        time.sleep(0.1)
    what = "exited early" if served.proc.poll() is not None else f"not ready in {timeout:.0f}s"
    raise ServeFailed(f"orchestra serve {what}:\n{_tail(served.text)}")


def _wait_http(served: Served, timeout: float) -> None:
    """Until /healthz answers, and it is this serve that answers: a port can be
    taken between choosing and binding it, and uvicorn then exits saying so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(served.url + "/healthz", timeout=1) as r:
                ok = r.status == 200
        except (urllib.error.URLError, OSError):
            ok = False
        if ok:
            time.sleep(0.3)  # a bind error is logged at once
            if served.proc.poll() is None and BIND_ERROR not in served.text:
                return
            break
        time.sleep(0.05)
    text = served.text
    raise ServeFailed(f"orchestra serve did not answer:\n{_tail(text)}", BIND_ERROR in text)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


class ServeOptions(TypedDict, total=False):
    """How `start()` and `served()` run the serve (each optional).

    `home` is its ORCHESTRA_HOME (a temporary directory, removed afterwards, by
    default); `env` is added to the environment (`base_env`, by default this
    process's); `log` sends the output to a file instead of memory; `cwd` is its
    working directory; `timeout` is how long it may take to be ready (s).
    """

    home: str | Path | None
    env: Mapping[str, str] | None
    base_env: Mapping[str, str] | None
    log: Path | None
    cwd: str | Path | None
    timeout: float


def start(*args: str, attempts: int = 3, **options: Unpack[ServeOptions]) -> Served:
    """Start `orchestra serve ARGS` and return it once it answers over HTTP (retried
    on another port when the chosen one was taken meanwhile). Prefer `served()`."""
    for attempt in range(1, attempts + 1):
        try:
            return _start_once(args, options)
        except ServeFailed as exc:
            if not exc.bind_error or attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start_once(args: tuple[str, ...], options: ServeOptions) -> Served:
    home, env, base_env = options.get("home"), options.get("env"), options.get("base_env")
    log, timeout = options.get("log"), options.get("timeout", READY_TIMEOUT_S)
    scratch = Path(tempfile.mkdtemp(prefix="orchestra-served-"))
    cleanup = [scratch]
    if home is None:
        home = scratch / "home"
    home = Path(home)
    full_env = dict(os.environ if base_env is None else base_env)
    full_env.pop("REDIS_URL", None)  # a newcomer's default: the embedded store
    full_env.pop("RAY_ADDRESS", None)  # and a Ray of its own
    full_env.update({"ORCHESTRA_HOME": str(home), **(env or {})})
    port = free_port()
    ready_file = scratch / "ready.json"
    cmd = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)]
    cmd += ["--ready-file", str(ready_file), *args]
    out: Any = subprocess.PIPE
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "w")  # noqa: SIM115 - the child holds it; we close our copy below
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=full_env,
            cwd=options.get("cwd"),
            start_new_session=True,  # a process group of its own, as under systemd
        )
    finally:
        if log is not None:
            out.close()
    served = Served(proc, f"http://127.0.0.1:{port}", "", home, {}, log, _cleanup=cleanup)
    if log is None:
        stdout = proc.stdout
        assert stdout is not None
        lines = served._lines
        served._drain = threading.Thread(
            target=lambda: lines.extend(iter(stdout.readline, "")), daemon=True
        )
        served._drain.start()
    try:
        served.ready = _wait_ready(served, ready_file, timeout)
        served.url = str(served.ready["url"])
        served.key = str(served.ready["key"])
        _wait_http(served, timeout=30)
    except BaseException:  # also a pytest-timeout: never leave a half-started server behind
        served.stop(timeout=30)
        raise
    return served


@contextlib.contextmanager
def served(
    *args: str, stop_timeout: float = STOP_TIMEOUT_S, **options: Unpack[ServeOptions]
) -> Iterator[Served]:
    """`orchestra serve ARGS` for the duration of the block (see `ServeOptions`),
    stopped cleanly after it (killed if it has not exited after `stop_timeout`)."""
    s = start(*args, **options)
    try:
        yield s
    finally:
        s.stop(timeout=stop_timeout)
