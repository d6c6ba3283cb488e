"""Routing: rendezvous hashing, and per-session order across gateway processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
import ray

from actors import RayBackend, rendezvous
from actors.ops import Ack, Delivery, OpOutcome, SendOp
from actors.outbox import Hold, Outbox
from actors.router import HostClient, MakeOp, SessionRouter
from runtime.config.settings import Settings
from runtime.errors import NotOwner, Unavailable, error_to_wire
from runtime.events import StartEvent, TokenEvent, TurnEvent
from runtime.inbound import Inbound
from runtime.store.tenants import add_tenant
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
        *(backend.send_message(Inbound(t.tenant_id, sid, f"!tools echo c-{i}")) for i in range(10))
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


@dataclass(frozen=True)
class Nap:
    """A stand-in op: its outcome is `name`, `seconds` after it is dispatched."""

    op_id: int
    name: str
    seconds: float


def nap(name: str, seconds: float) -> MakeOp:
    return lambda op_id, redirected: Nap(op_id, name, seconds)  # type: ignore[return-value]


@ray.remote(num_cpus=0)
class BatchRecorder:
    """A real actor with SessionHost's `run`/`poll` protocol (and its real `Outbox`):
    records each batch, acknowledges it after `ack_s` (holding it up to `hold_s`
    more for its first outcomes, `Hold`), and finishes each op after its own
    `seconds`."""

    def __init__(self, ack_s: float = 0.0, hold_s: float = 0.0) -> None:
        self.ack_s = ack_s
        self.hold_s = hold_s
        self.batches: list[list[str]] = []
        self.seqs: list[tuple[int, int]] = []
        self.box = Outbox()

    async def run(self, caller: str, seq: int, ops: list[Nap], floor: int) -> Ack:
        self.batches.append([op.name for op in ops])
        self.seqs.append((seq, floor))
        hold = Hold(self.box, len(ops))
        loop = asyncio.get_running_loop()
        start = loop.time()  # ops of equal `seconds` end at the same instant: together
        for op in ops:
            loop.call_at(start + op.seconds, hold.outcome, OpOutcome(op.op_id, True, op.name))
        await asyncio.sleep(self.ack_s)
        return Ack(len(ops), await hold.wait(self.hold_s))

    async def deliveries(self) -> int:
        return self.box._seq

    async def poll(self, caller: str) -> Delivery:
        return await self.box.next(20.0)

    async def seen(self) -> list[list[str]]:
        return self.batches

    async def seen_seqs(self) -> list[tuple[int, int]]:
        return self.seqs


async def value(fut: asyncio.Future[OpOutcome]) -> object:
    return (await fut).value


@pytest.mark.ray
async def test_what_arrives_while_a_batch_is_on_its_way_travels_in_one_call(
    ray_session: None,
) -> None:
    client = HostClient(BatchRecorder.remote(0.3), "recorder", max_wait_s=5.0)  # type: ignore[attr-defined]
    await client.handle.seen.remote()  # the actor is up
    first = client.submit(nap("a", 0.0), False, None)
    await asyncio.sleep(0.05)  # "a" is on its way (the host takes 0.3 s to take it)
    rest = [client.submit(nap(f"m{i}", 0.0), False, None) for i in range(20)]
    assert [await value(first)] + [await value(f) for f in rest] == ["a"] + [
        f"m{i}" for i in range(20)
    ]
    assert await client.handle.seen.remote() == [["a"], [f"m{i}" for i in range(20)]]
    assert client.calls == 2


@pytest.mark.ray
async def test_a_slow_op_never_holds_another_ops_reply(ray_session: None) -> None:
    client = HostClient(BatchRecorder.remote(), "recorder", max_wait_s=0.05)  # type: ignore[attr-defined]
    await client.handle.seen.remote()
    # one batch, one slow op (a model that takes its time) and one fast one
    slow = client.submit(nap("slow", 30.0), False, None)
    quick = client.submit(nap("quick", 0.0), False, None)
    done, _ = await asyncio.wait([slow, quick], timeout=5, return_when=asyncio.FIRST_COMPLETED)
    assert done == {quick} and quick.result().value == "quick"
    assert await client.handle.seen.remote() == [["slow", "quick"]]
    # a later op goes at once (the slow op's batch was acknowledged when dispatched)
    t0 = time.monotonic()
    later = client.submit(nap("later", 0.0), False, None)
    assert await value(later) == "later" and time.monotonic() - t0 < 1.0
    assert await client.handle.seen.remote() == [["slow", "quick"], ["later"]]
    assert await client.handle.seen_seqs.remote() == [(0, 0), (1, 1)]
    await client.close()


@pytest.mark.ray
async def test_a_closed_client_stops_polling_for_the_ops_it_abandoned(ray_session: None) -> None:
    """`close` (the gateway going away) with an op still out: the poll for it ends
    and nothing starts another (one left behind outlives the event loop, and dies
    with it raising out of its `finally`)."""
    client = HostClient(BatchRecorder.remote(), "recorder", max_wait_s=0.05)  # type: ignore[attr-defined]
    await client.handle.seen.remote()
    slow = client.submit(nap("slow", 30.0), False, None)
    for _ in range(100):  # acknowledged, and polled for
        if client.polls:
            break
        await asyncio.sleep(0.05)
    assert client.polls and not slow.done()
    await client.close()
    await asyncio.sleep(0.05)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert client._poller is None and not others


@pytest.mark.ray
async def test_replies_made_together_come_back_in_the_batchs_own_call(ray_session: None) -> None:
    """Zero-latency turns end together: their outcomes ride in `run`'s answer (one
    Ray call per batch), not in a poll delivery each; a slow op still leaves later."""
    client = HostClient(BatchRecorder.remote(0.0, 1.0), "recorder", max_wait_s=5.0)  # type: ignore[attr-defined]
    await client.handle.seen.remote()
    fast = [client.submit(nap(f"f{i}", 0.01), False, None) for i in range(10)]
    slow = client.submit(nap("slow", 3.0), False, None)
    t0 = time.monotonic()
    assert [await value(f) for f in fast] == [f"f{i}" for i in range(10)]
    assert time.monotonic() - t0 < 2.0  # not held for the slow op (room for a loaded machine)
    assert client.calls == 1 and await client.handle.deliveries.remote() == 0
    assert await value(slow) == "slow"
    assert await client.handle.deliveries.remote() == 1  # the slow one came by poll


@ray.remote(num_cpus=0)
class LeaseLoser:
    """A session host with SessionHost's `run`/`poll` protocol for sends. With an
    `owner`, it loses the session to `owner` at save (`not_owner`), after the turn's
    first events went out if `streams` (a lease lost mid-turn), before any if not
    (a plain redirect). Without one, it streams and answers the turn."""

    def __init__(self, owner: str = "", streams: bool = True) -> None:
        self.owner = owner
        self.streams = streams
        self.box = Outbox()
        self.ops = 0

    async def run(self, caller: str, seq: int, ops: list[SendOp], floor: int) -> Ack:
        for op in ops:
            self.ops += 1
            if op.stream and (self.streams or not self.owner):
                self.box.event(op.op_id, StartEvent())
                self.box.event(op.op_id, TokenEvent("Hel" if self.owner else "Hello"))
            if self.owner:
                lost = NotOwner("the lease was lost at save", self.owner)
                self.box.outcome(OpOutcome(op.op_id, False, error_to_wire(lost)))
            else:
                reply = {"reply": "Hello", "proposals": [], "tool_calls": [], "usage": {}}
                self.box.outcome(OpOutcome(op.op_id, True, reply))
        return Ack(len(ops))

    async def poll(self, caller: str) -> Delivery:
        return await self.box.next(20.0)

    async def count(self) -> int:
        return self.ops


async def moving_session(streams: bool) -> tuple[SessionRouter, str, list[Any]]:
    """A router over two stand-in hosts; the session's ring host loses it to the other."""
    settings = Settings(namespace=f"orc-test-move-{uuid.uuid4().hex[:8]}", hosts=2)
    router = SessionRouter(settings)
    sid = "s_moving"
    first = router.actor_name(sid)
    other = next(h for h in router.hosts if h != first)
    hosts = [
        LeaseLoser.options(name=first, namespace=settings.namespace).remote(other, streams),  # type: ignore[attr-defined]
        LeaseLoser.options(name=other, namespace=settings.namespace).remote(),  # type: ignore[attr-defined]
    ]
    await asyncio.gather(*(h.count.remote() for h in hosts))  # both are up
    return router, sid, hosts


@pytest.mark.ray
async def test_a_streamed_turn_whose_host_lost_the_session_is_not_sent_again(
    ray_session: None,
) -> None:
    """Its tokens reached the client: a re-send to the new owner would stream the
    turn twice. It fails `unavailable` with retry advice (the stream's `error`
    event), and no other host runs it."""
    router, sid, (lost, owner) = await moving_session(streams=True)
    seen: list[TurnEvent] = []
    try:
        with pytest.raises(Unavailable) as caught:
            await router.send(Inbound("t_1", sid, "hello", "m-1"), sink=seen.append)
        assert type(caught.value) is Unavailable and caught.value.retry_after == 1.0
        assert seen == [StartEvent(), TokenEvent("Hel")]  # the turn's tokens, once
        assert await lost.count.remote() == 1 and await owner.count.remote() == 0
    finally:
        await router.shutdown()
        for h in (lost, owner):
            ray.kill(h)


@pytest.mark.ray
async def test_a_redirect_before_the_turn_streamed_is_followed(ray_session: None) -> None:
    """The usual redirect (nothing streamed yet): the op goes on to the owner, and
    the client sees its turn once."""
    router, sid, (lost, owner) = await moving_session(streams=False)
    seen: list[TurnEvent] = []
    try:
        result = await router.send(Inbound("t_1", sid, "hello", "m-1"), sink=seen.append)
        assert result["reply"] == "Hello"
        assert seen == [StartEvent(), TokenEvent("Hello")]
        assert await lost.count.remote() == 1 and await owner.count.remote() == 1
    finally:
        await router.shutdown()
        for h in (lost, owner):
            ray.kill(h)
