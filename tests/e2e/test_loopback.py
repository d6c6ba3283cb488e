"""A local Orchestra keeps Ray on 127.0.0.1: nothing it starts listens on another address.

Whoever reaches a Ray port can run code on it, so a development `orchestra
serve` (no --ray-address) and the test suite's own Ray must not be reachable
from the network. Each test finds the processes involved (the serve's tree,
and Ray's daemons through its session directory, see tests/support/listeners.py),
reads their listening sockets from `ss -ltnp` and requires every one of them
on loopback. The multi-node Cluster has the same check in
tests/actors/test_multinode.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import psutil
import pytest

from actors.cluster import SINGLE_MACHINE_ENV
from runtime.testing import served as orchestra_serve
from tests.support.listeners import Listener, listeners_of, ray_processes, with_descendants


def _exposed(sockets: list[Listener]) -> list[str]:
    return [str(s) for s in sockets if not s.loopback]


@pytest.mark.e2e
def test_a_local_serve_listens_on_loopback_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The session's own Ray may have put this process in Ray's single-machine
    # mode already; the serve has to get there by itself.
    monkeypatch.delenv(SINGLE_MACHINE_ENV, raising=False)
    home = tmp_path / "home"
    with orchestra_serve("--hosts", "1", home=home) as served:
        up = re.search(r"Ray is up at (\S+):(\d+);", "".join(served.output))
        pid = served.proc.pid
        sockets = listeners_of(with_descendants([pid]) | ray_processes(pid))
        gcs = [s for s in sockets if s.process == "gcs_server"]
        auth_mode = psutil.Process(gcs[0].pid).environ().get("RAY_AUTH_MODE") if gcs else None
        code, output = served.stop()
    assert code == 0, output
    assert up, output
    assert up.group(1) == "127.0.0.1", up.group(0)
    # The discovery saw everything: the GCS, raylet, a worker, the store, uvicorn.
    names = {s.process for s in sockets}
    assert {"gcs_server", "raylet", "valkey-server"} <= names, sorted(names)
    assert any(n.startswith("ray::") for n in names), sorted(names)
    ports = {s.port for s in sockets}
    assert int(up.group(2)) in ports
    assert urlparse((home / "store_url").read_text()).port in ports
    assert urlparse(served.url).port in ports
    assert _exposed(sockets) == []
    assert auth_mode == "token"  # loopback or not, Ray keeps its token authentication


@pytest.mark.ray
def test_the_fixture_ray_is_on_loopback_only(ray_session: None) -> None:
    import ray

    @ray.remote
    def worker() -> tuple[str, int]:
        return ray.util.get_node_ip_address(), os.getpid()

    node_ip, worker_pid = ray.get(worker.remote())
    assert node_ip == "127.0.0.1"
    assert [n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]] == ["127.0.0.1"]
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    pids = ray_processes(os.getpid())  # this process started the session's Ray
    assert worker_pid in pids
    sockets = listeners_of(pids)
    names = {s.process for s in sockets}
    assert {"gcs_server", "raylet"} <= names, sorted(names)
    assert worker_pid in {s.pid for s in sockets}
    assert _exposed(sockets) == []
