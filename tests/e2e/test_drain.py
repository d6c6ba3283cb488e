"""SIGTERM drains `orchestra serve` over real HTTP: no request started before the
listener closes fails.

A real serve process (`runtime.testing.served()`) with a slow scripted model
(every model call takes 2 s, so a turn with a tool takes about 4 s) and
`[gateway] drain_s = 4` in its config file. SIGTERM goes to the serve process
alone, as Kubernetes sends it. During the drain window `/readyz` answers 503
with `Retry-After` while slow turns, SSE streams and quick reads, old
connections and new ones, are all served; after it, new connections are
refused while the last turn still finishes; then the process exits 0.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from runtime.testing import Served, served

pytestmark = pytest.mark.e2e

DRAIN_S = 4.0
SSE = {"Accept": "text/event-stream"}


class Calls:
    """Requests run on threads; every outcome is kept (a failure is an outcome too)."""

    def __init__(self, s: Served) -> None:
        self.s = s
        self.results: list[tuple[str, int | str, str]] = []  # (what, status or error, body)
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _keep(self, what: str, status: int | str, body: str) -> None:
        with self._lock:
            self.results.append((what, status, body))

    def start(self, what: str, call: Callable[[httpx.Client], httpx.Response]) -> None:
        def run() -> None:
            try:
                with self.s.client() as api:  # a new connection
                    r = call(api)
                self._keep(what, r.status_code, r.text)
            except httpx.HTTPError as exc:
                self._keep(what, type(exc).__name__, str(exc))

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)

    def turn(self, what: str, sid: str, text: str) -> None:
        self.start(what, lambda api: api.post(f"/v1/sessions/{sid}/messages", json={"text": text}))

    def stream(self, what: str, sid: str, text: str) -> None:
        def call(api: httpx.Client) -> httpx.Response:
            with api.stream(
                "POST", f"/v1/sessions/{sid}/messages", json={"text": text}, headers=SSE
            ) as r:
                r.read()
                return r

        self.start(what, call)

    def join(self, timeout: float) -> None:
        for t in self.threads:
            t.join(timeout)


def _session(api: httpx.Client, who: str) -> str:
    r = api.post("/v1/sessions", json={"agent": "admin", "subject": who})
    assert r.status_code == 201, r.text
    sid: str = r.json()["session_id"]
    return sid


def test_sigterm_drains_with_zero_failed_requests(tmp_path: Path) -> None:
    config = tmp_path / "orchestra.toml"
    config.write_text(f"[gateway]\ndrain_s = {DRAIN_S}\ngrace_s = 30\n")
    with served(
        "--hosts",
        "1",
        "--config",
        str(config),
        home=tmp_path / "home",
        env={"ORCHESTRA_MODEL_LATENCY_MS": "2000"},
    ) as s:
        calls = Calls(s)
        with s.client() as api:
            sids = [_session(api, f"u{i}") for i in range(5)]
            assert api.get("/readyz").status_code == 200
            calls.turn("turn before", sids[0], "list services")
            calls.stream("stream before", sids[1], "list services")
            time.sleep(0.5)  # both are inside their first model call
            s.proc.send_signal(signal.SIGTERM)  # the serve process only, as Kubernetes does
            sigterm_at = time.monotonic()

            ready = api.get("/readyz")  # the same keep-alive connection, still served
            assert ready.status_code == 503, ready.text
            assert int(ready.headers["retry-after"]) >= 1
            assert ready.json()["error"]["type"] == "unavailable"
            assert "draining" in ready.json()["error"]["message"]

            calls.turn("turn during", sids[2], "list services")
            calls.stream("stream during", sids[3], "list services")
            reads = 0
            while time.monotonic() - sigterm_at < DRAIN_S - 1.5:
                assert api.get(f"/v1/sessions/{sids[0]}").status_code == 200  # keep-alive
                with s.client() as fresh:  # and new connections
                    assert fresh.get("/readyz").status_code == 503
                reads += 1
                time.sleep(0.1)
            assert reads >= 1
            calls.turn("turn at the end of the drain", sids[4], "list services")
            time.sleep(0.5)

        # The window is over: the listener is closed, the last turn still runs.
        while time.monotonic() - sigterm_at < DRAIN_S + 1.0:
            time.sleep(0.05)
        assert s.alive(), s.text
        with pytest.raises(httpx.ConnectError), httpx.Client(timeout=2) as late:
            late.get(s.url + "/healthz")

        calls.join(timeout=60)
        s.proc.wait(timeout=60)  # it exits by itself
        code, out = s.stop()  # (this only collects it)

    assert code == 0, out
    assert '"event":"drain_started"' in out and "stopped cleanly" in out, out
    assert "Traceback" not in out, out
    assert len(calls.results) == 5
    failed = [(what, status) for what, status, _ in calls.results if status != 200]
    assert failed == [], calls.results
    for what, _, body in calls.results:
        if what.startswith("stream"):
            assert "event: done" in body and "event: error" not in body, body
        else:
            assert "list_services" in body, body
