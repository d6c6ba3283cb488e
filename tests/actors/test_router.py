"""Routing: rendezvous hashing, and per-session order across gateway processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter

import pytest
import ray

from actors import RayBackend, rendezvous
from actors.router import Batcher
from runtime.tenants import add_tenant
from tests.conftest import Stack

HOSTS = [f"orchestra-host-{i}" for i in range(4)]


def test_rendezvous_is_deterministic_and_balanced() -> None:
    keys = [f"s_{i}" for i in range(4000)]
    first = [rendezvous(k, HOSTS) for k in keys]
    assert first == [rendezvous(k, list(reversed(HOSTS))) for k in keys]  # order-independent
    counts = Counter(first)
    assert set(counts) == set(HOSTS)
    assert min(counts.values()) > 4000 / 4 * 0.8


def test_removing_a_host_moves_only_its_sessions() -> None:
    keys = [f"s_{i}" for i in range(2000)]
    before = {k: rendezvous(k, HOSTS) for k in keys}
    after = {k: rendezvous(k, HOSTS[:3]) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert moved and all(before[k] == HOSTS[3] for k in moved)


def test_adding_a_host_takes_a_fair_share_only() -> None:
    keys = [f"s_{i}" for i in range(2000)]
    before = {k: rendezvous(k, HOSTS) for k in keys}
    after = {k: rendezvous(k, [*HOSTS, "orchestra-host-4"]) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert all(after[k] == "orchestra-host-4" for k in moved)
    assert 2000 / 5 * 0.7 < len(moved) < 2000 / 5 * 1.3


@pytest.mark.ray
@pytest.mark.store
async def test_two_gateway_processes_keep_one_session_serialized(
    stack: Stack, backend: RayBackend
) -> None:
    t, _ = await add_tenant(backend.store, "Two Gateways")
    rec, _ = await backend.create_session(t.tenant_id, "lab", "shared")
    sid = rec["session_id"]
    gcs = ray.get_runtime_context().gcs_address
    raw = stack.settings.model_dump_json()
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.sender",
            gcs,
            raw,
            t.tenant_id,
            sid,
            tag,
            "10",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for tag in ("a", "b")
    ]
    local = asyncio.gather(
        *(backend.send_message(t.tenant_id, sid, f"!tools echo c-{i}") for i in range(10))
    )
    codes = [await p.wait() for p in procs]
    await local
    errors = [(await p.stderr.read()).decode()[-2000:] for p in procs if p.stderr]
    assert codes == [0, 0], errors
    history = await backend.list_messages(t.tenant_id, sid)
    assert [m["role"] for m in history] == ["user", "assistant"] * 30  # one turn at a time
    users = [m["content"].removeprefix("!tools echo ") for m in history if m["role"] == "user"]
    for tag in "abc":  # each gateway's messages in its own arrival order, none lost
        assert [u for u in users if u.startswith(tag)] == [f"{tag}-{i}" for i in range(10)]


@ray.remote(num_cpus=0)
class BatchRecorder:
    """A real actor with SessionHost's `run` signature: records each batch, and
    holds it for as long as its slowest op asks (op = (name, seconds))."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.seqs: list[tuple[int, int]] = []

    async def run(
        self, caller: str, seq: int, ops: list[tuple[str, float]], floor: int
    ) -> list[object]:
        self.batches.append([name for name, _ in ops])
        self.seqs.append((seq, floor))
        await asyncio.sleep(max(delay for _, delay in ops))
        return [(True, name) for name, _ in ops]

    async def seen(self) -> list[list[str]]:
        return self.batches

    async def seen_seqs(self) -> list[tuple[int, int]]:
        return self.seqs


@pytest.mark.ray
async def test_batcher_sends_what_arrives_while_a_call_is_busy_in_one_call(
    ray_session: None,
) -> None:
    batcher = Batcher(BatchRecorder.remote(), max_wait_s=5.0)  # type: ignore[attr-defined]
    await batcher.handle.seen.remote()  # the actor is up
    first = batcher.submit(("a", 0.3))
    await asyncio.sleep(0.05)  # "a" is in flight: these wait for it
    rest = [batcher.submit((f"m{i}", 0.0)) for i in range(20)]
    assert [await first] + [await f for f in rest] == [(True, "a")] + [
        (True, f"m{i}") for i in range(20)
    ]
    assert await batcher.handle.seen.remote() == [["a"], [f"m{i}" for i in range(20)]]
    assert batcher.calls == 2


@pytest.mark.ray
async def test_a_slow_call_holds_later_messages_back_by_max_wait_only(ray_session: None) -> None:
    batcher = Batcher(BatchRecorder.remote(), max_wait_s=0.05)  # type: ignore[attr-defined]
    await batcher.handle.seen.remote()  # the actor is up: "slow" reaches it first
    slow = batcher.submit(("slow", 30.0))  # e.g. a model that takes its time
    await asyncio.sleep(0.2)
    fast = batcher.submit(("fast", 0.0))
    done, _ = await asyncio.wait([slow, fast], timeout=20, return_when=asyncio.FIRST_COMPLETED)
    assert done == {fast} and fast.result() == (True, "fast")
    assert await batcher.handle.seen.remote() == [["slow"], ["fast"]]
    # "slow" is unanswered: "fast" tells the host its caller's floor is still 0
    assert await batcher.handle.seen_seqs.remote() == [(0, 0), (1, 0)]
    slow.cancel()
