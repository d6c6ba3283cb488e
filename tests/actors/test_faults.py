"""Processes killed mid-turn: nothing lost, nothing executed twice."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest
import ray

from actors import RayBackend, kill_actors
from actors.common import registry_name
from runtime.errors import Unavailable
from runtime.inbound import Inbound
from runtime.store.tenants import add_tenant
from salon.testing import business
from tests.conftest import LAB_AGENT, Stack, make_stack

pytestmark = [pytest.mark.ray, pytest.mark.store]

SLOW_LAB = {"agents": {"lab": {"executor_timeout_ms": 10_000, "soft_confirm_window_ms": 60_000}}}


@pytest.fixture(scope="module", params=["hosted", "dedicated"])
def fault_stack(
    request: pytest.FixtureRequest, ray_session: None, store_redis_url: str
) -> Iterator[Stack]:
    s = make_stack(store_redis_url, request.param, config_data=SLOW_LAB, extra_agents=LAB_AGENT)
    yield s
    kill_actors(s.settings.namespace)


async def _setup(stack: Stack) -> tuple[RayBackend, str, str]:
    b = await stack.backend()
    t, _ = await add_tenant(b.store, "Faulty")
    rec, _ = await b.create_session(t.tenant_id, "lab", "victim")
    return b, t.tenant_id, str(rec["session_id"])


async def _wait_until_answering(b: RayBackend, tenant: str, sid: str) -> dict[str, object]:
    for _ in range(100):
        try:
            return await b.send_message(Inbound(tenant, sid, "!tools echo"))
        except Unavailable:
            await asyncio.sleep(0.2)
    raise AssertionError("session never came back")


@pytest.mark.parametrize("how", ["ray.kill", "SIGKILL"])
async def test_host_killed_mid_turn(fault_stack: Stack, how: str) -> None:
    b, tenant, sid = await _setup(fault_stack)
    try:
        await b.send_message(Inbound(tenant, sid, "!tools echo"))  # turn 1, saved
        r = await b.send_message(
            Inbound(tenant, sid, '!tools create_service {"name": "once", "price": 1}')
        )
        pid = r["proposals"][0]["proposal_id"]
        # Turn 3 soft-confirms the write (executed by the registry), then sleeps in a tool.
        inflight = asyncio.ensure_future(
            b.send_message(Inbound(tenant, sid, '!tools slow {"seconds": 3}'))
        )
        await asyncio.sleep(1.0)
        [handle] = [
            c.handle for name, c in b.router._clients.items() if name == b.router.actor_name(sid)
        ]
        if how == "ray.kill":
            ray.kill(handle, no_restart=False)
        else:
            pid_of_host = (await handle.stats.remote())["pid"]
            os.kill(pid_of_host, signal.SIGKILL)
        with pytest.raises(Unavailable):
            await inflight  # a clear, retryable error
        await _wait_until_answering(b, tenant, sid)  # restarted, rehydrated from the store
        history = await b.list_messages(tenant, sid)
        users = [m["content"] for m in history if m["role"] == "user"]
        assert users[:2] == ["!tools echo", '!tools create_service {"name": "once", "price": 1}']
        assert '!tools slow {"seconds": 3}' not in users  # the killed turn was never half-saved
        assert (await b.get_proposal(tenant, pid))["status"] == "EXECUTED"
        await b.send_message(
            Inbound(tenant, sid, "yes")
        )  # would soft-confirm again if it were pending
        doc = await business(b.store, tenant)
        assert doc["services"]["once"]["price"] == 1
        executed = [
            e
            for e in await b.audit(tenant, sid)
            if e.get("proposal_id") == pid and e["to"] == "EXECUTED"
        ]
        assert len(executed) == 1
    finally:
        await b.close()


async def test_registry_killed_mid_execution_recovers_once(fault_stack: Stack) -> None:
    b, tenant, sid = await _setup(fault_stack)
    try:
        pending = await b.send_message(
            Inbound(tenant, sid, '!tools delete_service {"name": "haircut"}')
        )
        t3 = pending["proposals"][0]["proposal_id"]  # a T3 waits for the button
        r = await b.send_message(
            Inbound(tenant, sid, '!tools slow_write {"name": "durable", "seconds": 2}')
        )
        pid = r["proposals"][0]["proposal_id"]
        # "ok" soft-confirms the slow write; kill the registry while it runs.
        inflight = asyncio.ensure_future(b.send_message(Inbound(tenant, sid, "ok")))
        await asyncio.sleep(0.8)
        registry = ray.get_actor(registry_name(0), namespace=fault_stack.settings.namespace)
        ray.kill(registry, no_restart=False)
        with pytest.raises(Unavailable):
            await inflight
        for _ in range(100):  # the restarted registry recovers CONFIRMED work by itself
            if (await b.get_proposal(tenant, pid))["status"] == "EXECUTED":
                break
            await asyncio.sleep(0.2)
        assert (await b.get_proposal(tenant, pid))["status"] == "EXECUTED"
        assert (await b.get_proposal(tenant, t3))["status"] == "PENDING"  # survived the kill
        assert (await b.confirm(tenant, t3))["status"] == "EXECUTED"
        doc = await business(b.store, tenant)
        assert "durable" in doc["services"] and "haircut" not in doc["services"]
        events = [e["to"] for e in await b.audit(tenant, sid) if e.get("proposal_id") == pid]
        assert events.count("EXECUTED") == 1 and events.count("CONFIRMED") == 1
    finally:
        await b.close()
