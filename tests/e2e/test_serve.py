"""`orchestra serve` as a newcomer runs it: a real process, real HTTP, Ctrl-C, restart.

These tests start the CLI in a subprocess with its own ORCHESTRA_HOME (so its
embedded Valkey and demo key are private) through `runtime.testing.served()`,
which reads the key from the serve's `--ready-file`, and talk to it only over
HTTP.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from runtime.testing import Served
from runtime.testing import served as orchestra_serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with orchestra_serve(
        "--hosts",
        "1",
        home=tmp_path_factory.mktemp("home"),
        env={"ORCHESTRA_MODEL_LATENCY_MS": "300"},
    ) as s:
        yield s


def test_chatbot_booking_over_http(served: Served) -> None:
    with served.client() as api:
        s = api.post("/v1/sessions", json={"agent": "chatbot", "subject": "ann"})
        assert s.status_code == 201, s.text
        sid = s.json()["session_id"]
        r = api.post(f"/v1/sessions/{sid}/messages", json={"text": "book a haircut tomorrow at 10"})
        assert r.status_code == 200, r.text
        [p] = r.json()["proposals"]
        assert (p["tier"], p["status"]) == ("T3", "PENDING")
        c = api.post(f"/v1/proposals/{p['proposal_id']}/confirm")
        assert c.status_code == 200 and c.json()["status"] == "EXECUTED"
        again = api.post(f"/v1/proposals/{p['proposal_id']}/confirm")
        assert again.status_code == 409
        events = api.get("/v1/audit", params={"session_id": sid}).json()["events"]
        assert [e["to"] for e in events if e["type"] == "proposal"].count("EXECUTED") == 1


def test_tenant_add_command_while_serving(served: Served) -> None:
    env = {**os.environ}
    env.pop("REDIS_URL", None)
    env["ORCHESTRA_HOME"] = next(
        arg
        for arg in psutil.Process(served.proc.pid).environ().items()
        if arg[0] == "ORCHESTRA_HOME"
    )[1]
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "tenant", "add", "Second Shop"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    key_b = re.search(r'"api_key": "([^"]+)"', out.stdout)
    assert key_b, out.stdout + out.stderr
    with served.client() as a, served.client(key_b.group(1)) as b:
        sid = a.post("/v1/sessions", json={"agent": "admin", "subject": "x"}).json()["session_id"]
        assert b.get(f"/v1/sessions/{sid}").status_code == 404
        assert b.post("/v1/sessions", json={"agent": "admin", "subject": "x"}).status_code == 201


def _cli(served: Served, *args: str) -> Any:
    env = {**os.environ}
    env.pop("REDIS_URL", None)
    env["ORCHESTRA_HOME"] = psutil.Process(served.proc.pid).environ()["ORCHESTRA_HOME"]
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "tenant", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def _refused_within(client: httpx.Client, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while client.get("/v1/sessions").status_code != 401:
        assert time.monotonic() < deadline, "still accepted"
        time.sleep(0.05)


def test_tenant_list_keys_rotate_revoke_commands(served: Served) -> None:
    tenants = _cli(served, "list")
    demo = next(t for t in tenants if t["name"] == "Demo Salon")
    keys = _cli(served, "keys", demo["tenant_id"])
    assert ("owner", "owner") in [(k["name"], k["role"]) for k in keys]
    assert served.key not in json.dumps(keys)
    with served.client() as owner:
        made = owner.post("/v1/keys", json={"name": "desk", "role": "staff"}).json()
    assert made["key_id"] in {k["key_id"] for k in _cli(served, "keys", demo["tenant_id"])}
    rotated = _cli(served, "rotate", demo["tenant_id"], made["key_id"])
    assert rotated["name"] == "desk" and rotated["api_key"].startswith("orc_")
    with served.client(made["key"]) as old, served.client(rotated["api_key"]) as new:
        assert new.get("/v1/sessions").status_code == 200
        _refused_within(old, 2.0)  # revoked by another process: the cache forgets it
        _cli(served, "revoke", demo["tenant_id"], rotated["key_id"])
        _refused_within(new, 2.0)


def _host_processes(served: Served) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(served.proc.pid).children(recursive=True):
        try:
            if "SessionHost" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def test_host_killed_mid_turn_is_retried_and_runs_once(served: Served) -> None:
    """The gateway gives every message an idempotency key, so the router retries a
    message whose host died and the restarted host runs it exactly once."""
    with served.client() as api:
        sid = api.post("/v1/sessions", json={"agent": "admin", "subject": "kill"}).json()[
            "session_id"
        ]
        first = api.post(f"/v1/sessions/{sid}/messages", json={"text": "list services"})
        assert first.status_code == 200
        hosts = _host_processes(served)
        assert hosts, "no SessionHost process found"
        result: dict[str, httpx.Response] = {}
        t = threading.Thread(
            target=lambda: result.update(
                r=api.post(f"/v1/sessions/{sid}/messages", json={"text": "list services again"})
            )
        )
        t.start()
        time.sleep(0.3)  # the turn is inside the (slow) model call
        for h in hosts:
            h.kill()
        t.join(60)
        r = result["r"]
        assert r.status_code == 200, r.text  # retried on the restarted host
        assert r.json()["tool_calls"] == [{"tool": "list_services", "tier": "T1", "status": "ok"}]
        assert _host_processes(served), "the host was not restarted"
        msgs = api.get(f"/v1/sessions/{sid}/messages").json()["messages"]
        users = [m["content"] for m in msgs if m["role"] == "user"]
        assert users == ["list services", "list services again"]  # once, not twice


def test_same_idempotency_key_runs_once(served: Served) -> None:
    with served.client() as api:
        sid = api.post("/v1/sessions", json={"agent": "admin", "subject": "idem"}).json()[
            "session_id"
        ]
        body = {"text": "create service beard trim 20 min $15", "message_id": "m-1"}
        a = api.post(f"/v1/sessions/{sid}/messages", json=body)
        b = api.post(f"/v1/sessions/{sid}/messages", json=body)
        assert a.status_code == b.status_code == 200
        assert a.json() == b.json()
        c = api.post(
            f"/v1/sessions/{sid}/messages",
            json={"text": "create service beard trim 20 min $15"},
            headers={"Idempotency-Key": "m-1"},
        )
        assert c.json() == a.json()
        listed = api.get("/v1/proposals", params={"session_id": sid}).json()["proposals"]
        assert len(listed) == 1
        msgs = api.get(f"/v1/sessions/{sid}/messages").json()["messages"]
        assert [m["role"] for m in msgs] == ["user", "assistant"]


def test_ctrl_c_stops_everything_and_data_survives_restart(tmp_path: Path) -> None:
    with orchestra_serve("--hosts", "1", home=tmp_path) as first:
        with first.client() as api:
            sid = api.post("/v1/sessions", json={"agent": "chatbot", "subject": "bob"}).json()[
                "session_id"
            ]
            api.post(f"/v1/sessions/{sid}/messages", json={"text": "what services do you have?"})
        children = psutil.Process(first.proc.pid).children(recursive=True)
        assert children, "serve started no child processes?"
        code, out = first.stop()
    assert code == 0, out
    assert "stopped cleanly" in out
    time.sleep(1.0)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [c.cmdline() for c in alive]
    with orchestra_serve("--hosts", "1", home=tmp_path) as second:
        assert second.key == first.key  # the demo tenant is kept
        with second.client() as api:
            msgs = api.get(f"/v1/sessions/{sid}/messages").json()["messages"]
            assert [m["role"] for m in msgs] == ["user", "assistant"]
            again = api.post("/v1/sessions", json={"agent": "chatbot", "subject": "bob"})
            assert again.status_code == 200 and again.json()["session_id"] == sid


def _ray_logs_dir(served: Served) -> Path:
    for child in psutil.Process(served.proc.pid).children(recursive=True):
        try:
            m = re.search(r"--log_dir=(\S+)", " ".join(child.cmdline()))
        except psutil.Error:
            continue
        if m:
            return Path(m.group(1))
    raise AssertionError("no Ray log dir found")


def test_request_id_follows_a_message_through_gateway_host_and_registry(served: Served) -> None:
    rid = f"rid-{uuid.uuid4().hex[:12]}"
    with served.client() as api:
        sid = api.post("/v1/sessions", json={"agent": "admin", "subject": "trace"}).json()[
            "session_id"
        ]
        api.post(f"/v1/sessions/{sid}/messages", json={"text": "create service yoga 30 min $20"})
        r = api.post(
            f"/v1/sessions/{sid}/messages", json={"text": "great"}, headers={"X-Request-ID": rid}
        )
        assert r.headers["x-request-id"] == rid
        assert [p["status"] for p in r.json()["proposals"]] == ["EXECUTED"]
    found: dict[str, dict[str, object]] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(found) < 3:
        for line in "".join(served.output).splitlines() + [
            ln
            for f in _ray_logs_dir(served).glob("worker-*.err")
            for ln in f.read_text(errors="replace").splitlines()
        ]:
            if rid in line and line.startswith("{"):
                event = json.loads(line)
                found.setdefault(str(event["event"]), event)
        time.sleep(0.3)
    assert {"http", "turn", "proposal"} <= set(found), found  # gateway, host, registry
    assert found["turn"]["session_id"] == sid and found["proposal"]["to_status"] == "CONFIRMED"
    assert found["http"]["route"] == "/v1/sessions/{session_id}/messages"


def test_sigterm_to_the_whole_group_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    """systemd's default KillMode (and `timeout`, `kill -- -PGID`) signal every process
    of the group at once: Ray's GCS dies with the CLI, whose shutdown must not then
    wait 60 s for it and be aborted by Ray, and the store must keep what it saved."""
    with orchestra_serve("--hosts", "1", home=tmp_path) as first:  # its own group
        with first.client() as api:
            sid = api.post("/v1/sessions", json={"agent": "chatbot", "subject": "eve"}).json()[
                "session_id"
            ]
            r = api.post(
                f"/v1/sessions/{sid}/messages", json={"text": "what services do you have?"}
            )
            assert r.status_code == 200, r.text
        children = psutil.Process(first.proc.pid).children(recursive=True)
        # before the fix: 60 s on the GCS, then Ray aborted it
        code, out = first.stop(group=True, timeout=45)
    assert code == 0, out
    assert "Ray had already stopped" in out and "stopped cleanly" in out, out
    time.sleep(1.0)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [c.cmdline() for c in alive]
    with orchestra_serve("--hosts", "1", home=tmp_path) as second:
        assert second.key == first.key
        with second.client() as api:
            msgs = api.get(f"/v1/sessions/{sid}/messages").json()["messages"]
            assert [m["role"] for m in msgs] == ["user", "assistant"]


def test_ready_file_names_the_url_key_and_processes(served: Served) -> None:
    """`--ready-file` (what `served()` waits for) agrees with the banner and names the
    serve's own processes: the CLI, its embedded Valkey and the Ray it started."""
    text = "".join(served.output)
    assert f"demo tenant API key: {served.key}" in text
    assert f"gateway on {served.url} " in text
    assert f"Ray is up at {served.ray_address};" in text
    assert served.ready["pid"] == served.pids["serve"] == served.proc.pid
    names = {role: psutil.Process(pid).name() for role, pid in served.pids.items()}
    assert names["valkey"].startswith("valkey-server"), names
    assert (names["ray_gcs"], names["raylet"]) == ("gcs_server", "raylet"), names
    descendants = {p.pid for p in psutil.Process(served.proc.pid).children(recursive=True)}
    assert {served.pids[r] for r in ("valkey", "ray_gcs", "raylet")} <= descendants


def test_the_session_hosts_run_at_the_gateways_priority(served: Served) -> None:
    """Ray starts its workers at nice 15 unless told otherwise; the local serve tells
    it 0, so the hosts do not yield to every other process under contention."""
    hosts = [
        p
        for p in psutil.Process(served.proc.pid).children(recursive=True)
        if "SessionHost" in " ".join(p.cmdline())
    ]
    assert hosts, "no session host process found"
    assert {p.nice() for p in hosts} == {psutil.Process(served.proc.pid).nice()}


@pytest.mark.timeout(300)  # five `orchestra hosts` processes, each joining Ray
def test_hosts_command_finds_the_local_serve_and_scales_it(served: Served) -> None:
    """`orchestra hosts` with no address joins the Ray of the serve running here
    (loopback, token), adds a host the gateway then routes to, and removes it."""
    env = {**os.environ, "ORCHESTRA_HOME": str(served.home)}
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)

    def hosts(*args: str) -> list[dict[str, object]]:
        out = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "hosts", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]

    assert [h["name"] for h in hosts("list")] == ["orchestra-host-0"]
    assert [h["name"] for h in hosts("add")] == ["orchestra-host-0", "orchestra-host-1"]
    with served.client() as api:
        sids = [
            api.post("/v1/sessions", json={"agent": "admin", "subject": f"h{i}"}).json()[
                "session_id"
            ]
            for i in range(8)
        ]
        deadline = time.monotonic() + 30
        on_new = 0
        while not on_new and time.monotonic() < deadline:
            for sid in sids:
                r = api.post(f"/v1/sessions/{sid}/messages", json={"text": "list services"})
                assert r.status_code == 200, r.text
            on_new = next(h["sessions"] for h in hosts("list") if h["name"] == "orchestra-host-1")
        assert on_new >= 1  # the gateway routed sessions to the new host by itself
        assert [h["name"] for h in hosts("remove")] == ["orchestra-host-0"]
        for sid in sids:  # each session answers from the host that is left
            r = api.post(f"/v1/sessions/{sid}/messages", json={"text": "list services"})
            assert r.status_code == 200, r.text
    [left] = hosts("list")
    assert left["name"] == "orchestra-host-0"
    assert int(str(left["sessions"])) >= len(sids)  # all of these (and earlier tests')
