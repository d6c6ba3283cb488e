"""SessionHost batch ordering: a caller's batches dispatch in sequence order, and a
lost batch (sent to a host incarnation that died) cannot stall later ones forever."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import ray

from actors import RayBackend, kill_actors
from actors.common import host_name
from actors.ops import Ack, OpOutcome, SendOp
from runtime.inbound import Inbound
from runtime.store.tenants import add_tenant
from tests.conftest import Stack, make_stack

pytestmark = [pytest.mark.ray, pytest.mark.store]


@pytest.fixture(scope="module")
def hosted(ray_session: None, store_redis_url: str) -> Iterator[Stack]:
    s = make_stack(store_redis_url, "hosted")
    yield s
    kill_actors(s.settings.namespace)


@pytest.fixture
async def hb(hosted: Stack) -> AsyncIterator[RayBackend]:
    b = await hosted.backend()
    yield b
    await b.close()


async def _host_and_session(stack: Stack, backend: RayBackend) -> tuple[object, str, str]:
    t, _ = await add_tenant(backend.store, "Order")
    sid = (await backend.create_session(t.tenant_id, "lab", "o"))[0]["session_id"]
    name = backend.router.actor_name(sid)
    assert name == host_name(int(name.rsplit("-", 1)[1]))
    return ray.get_actor(name, namespace=stack.settings.namespace), t.tenant_id, sid


def send(op_id: int, tenant: str, sid: str, text: str) -> SendOp:
    return SendOp(op_id, Inbound(tenant, sid, text))


async def outcomes(host: Any, caller: str, n: int, acks: list[Ack]) -> list[OpOutcome]:
    """The outcomes `run` answered with, then `caller`'s polls until `n` ops finished."""
    found = [o for ack in acks for o in ack.outcomes]
    while len(found) < n:
        delivery = await host.poll.remote(caller)
        found.extend(delivery.outcomes)
    return found


async def test_out_of_order_batches_dispatch_in_sequence(hosted: Stack, hb: RayBackend) -> None:
    backend = hb
    host, tenant, sid = await _host_and_session(hosted, backend)
    caller = uuid.uuid4().hex

    def op(i: int) -> SendOp:
        return send(i, tenant, sid, f"!tools echo {i}")

    first: Ack = await host.run.remote(caller, 0, [op(0)])  # the host adopts the caller at 0
    assert first.dispatched == 1
    late = [host.run.remote(caller, seq, [op(seq)]) for seq in (3, 2, 1)]  # arrive reversed
    done = await outcomes(host, caller, 4, [first, *await asyncio.gather(*late)])
    assert all(o.ok for o in done)
    users = [m["content"] for m in await backend.list_messages(tenant, sid) if m["role"] == "user"]
    assert users == [f"!tools echo {i}" for i in range(4)]


async def test_a_missing_batch_stalls_its_caller_only_briefly(
    hosted: Stack, hb: RayBackend
) -> None:
    host, tenant, sid = await _host_and_session(hosted, hb)
    caller = uuid.uuid4().hex
    acks = [await host.run.remote(caller, 0, [send(0, tenant, sid, "!tools echo a")])]
    t0 = time.monotonic()
    # seq 1 is "lost"; seq 2 must still run, after the bounded wait.
    acks.append(await host.run.remote(caller, 2, [send(1, tenant, sid, "!tools echo b")]))
    assert 1.5 < time.monotonic() - t0 < 10
    assert all(o.ok for o in await outcomes(host, caller, 2, acks))


async def test_a_new_host_adopts_the_callers_floor_not_the_first_arrival(
    hosted: Stack, hb: RayBackend
) -> None:
    host, tenant, sid = await _host_and_session(hosted, hb)
    caller = uuid.uuid4().hex  # new to this host

    def op(i: int) -> SendOp:
        return send(i, tenant, sid, f"!tools echo {i}")

    # batch 2 overtakes 0 and 1 on the way; its floor says 0 is still unanswered
    calls = [host.run.remote(caller, 2, [op(2)], 0)]
    await asyncio.sleep(0.2)
    calls += [host.run.remote(caller, seq, [op(seq)], 0) for seq in (1, 0)]
    await outcomes(host, caller, 3, list(await asyncio.gather(*calls)))
    users = [m["content"] for m in await hb.list_messages(tenant, sid) if m["role"] == "user"]
    assert users == [f"!tools echo {i}" for i in range(3)]
