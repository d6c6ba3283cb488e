"""A host fences itself only on the store's evidence, never for its own lateness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import ray
import redis.asyncio as aioredis

from actors import RayBackend, kill_actors
from actors.common import host_name
from actors.host import LEASE_TTL_S
from actors.store.redis import RedisStore
from runtime.inbound import Inbound
from runtime.store.tenants import add_tenant
from runtime.testing.agents import HOG_SLICE_S
from tests.conftest import LAB_AGENT, Stack, make_stack

pytestmark = [pytest.mark.ray, pytest.mark.store]

HOGS = 7  # turns crowding the loop at once: one round of them outlasts LEASE_TTL_S / 2
SLOW_LAB = {"agents": {"lab": {"executor_timeout_ms": 10_000}}}


@pytest.fixture(scope="module")
def one_host(ray_session: None, store_redis_url: str) -> Iterator[Stack]:
    s = make_stack(store_redis_url, "hosted", hosts=1, config_data=SLOW_LAB, extra_agents=LAB_AGENT)
    yield s
    kill_actors(s.settings.namespace)


@pytest.fixture
async def warm(one_host: Stack) -> AsyncIterator[tuple[RayBackend, str, list[str]]]:
    """Lab sessions held by the one host (after one turn each)."""
    b = await one_host.backend()
    try:
        t, _ = await add_tenant(b.store, "Leased")
        sids = []
        for i in range(HOGS + 2):
            rec, _ = await b.create_session(t.tenant_id, "lab", f"user-{i}")
            sids.append(str(rec["session_id"]))
            await b.send_message(Inbound(t.tenant_id, sids[-1], "!tools echo"))
        yield b, t.tenant_id, sids
    finally:
        await b.close()


async def _held(stack: Stack) -> int:
    host = ray.get_actor(host_name(0), namespace=stack.settings.namespace)
    stats = await host.stats.remote()
    return int(stats["sessions"])


async def test_a_host_whose_loop_is_blocked_keeps_its_sessions(
    one_host: Stack, warm: tuple[RayBackend, str, list[str]]
) -> None:
    b, tenant, sids = warm
    before = await _held(one_host)
    assert before >= HOGS + 2
    # A burst: turns that crowd the host's event loop, so one round of its callbacks
    # takes longer than half the lease time; a message for another session arrives
    # in the middle of it.
    hogs = [
        asyncio.ensure_future(b.send_message(Inbound(tenant, sid, '!tools hog {"seconds": 0.75}')))
        for sid in sids[:HOGS]
    ]
    await asyncio.sleep(1.0)
    assert HOGS * HOG_SLICE_S > LEASE_TTL_S / 2
    late = await b.send_message(Inbound(tenant, sids[HOGS], "!tools echo"))
    assert late["tool_calls"] == [{"tool": "echo", "tier": "T1", "status": "ok"}]
    for done in await asyncio.gather(*hogs):
        assert done["tool_calls"] == [{"tool": "hog", "tier": "T1", "status": "ok"}]
    assert await _held(one_host) == before  # nothing dropped: the store kept answering
    await b.send_message(Inbound(tenant, sids[HOGS + 1], "!tools echo"))
    assert await _held(one_host) == before


async def test_a_host_whose_lease_is_gone_drops_its_sessions_within_the_lease_time(
    one_host: Stack, warm: tuple[RayBackend, str, list[str]]
) -> None:
    b, tenant, sids = warm
    assert await _held(one_host) >= HOGS + 2
    assert isinstance(b.store, RedisStore)
    client = aioredis.Redis.from_url(one_host.settings.redis_url)
    try:
        assert await client.delete(b.store.live_key(host_name(0))) == 1
    finally:
        await client.aclose()
    lost_at = time.monotonic()
    while await _held(one_host) > 0:
        assert time.monotonic() - lost_at < LEASE_TTL_S, "the host kept sessions it lost"
        await asyncio.sleep(0.05)
    # it renews its liveness and serves again, from the store
    r = await b.send_message(Inbound(tenant, sids[0], "!tools echo"))
    assert r["tool_calls"] == [{"tool": "echo", "tier": "T1", "status": "ok"}]
