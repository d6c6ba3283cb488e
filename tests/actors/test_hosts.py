"""Session hosts by command (actors/hosts.py) on the test session's Ray: what
`orchestra hosts add|remove|list` does, and what it refuses. The multi-node
run under load is tests/actors/test_multinode.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import ray

from actors import add_hosts, kill_actors, list_hosts, remove_hosts
from runtime import Inbound
from runtime.errors import ConfigError, Unavailable
from runtime.store.tenants import add_tenant
from tests.conftest import Stack, make_stack

pytestmark = [pytest.mark.ray, pytest.mark.store]


@pytest.fixture
def one_host(ray_session: None, store_redis_url: str) -> Iterator[Stack]:
    s = make_stack(store_redis_url, "hosted", hosts=1)
    yield s
    kill_actors(s.settings.namespace)


async def test_add_remove_and_refusals(one_host: Stack) -> None:
    ns = one_host.settings.namespace
    with pytest.raises(ConfigError, match="at least one must stay"):
        await asyncio.to_thread(remove_hosts, ns, 1)
    with pytest.raises(ConfigError, match="no such session host: orchestra-host-9"):
        await asyncio.to_thread(remove_hosts, ns, 1, ["orchestra-host-9"])

    b = await one_host.backend()
    try:
        t, _ = await add_tenant(b.store, "Hosts")
        tid = t.tenant_id
        sids = [(await b.create_session(tid, "lab", f"u{i}"))[0]["session_id"] for i in range(6)]
        sent = dict.fromkeys(sids, 0)

        async def send_all() -> None:
            for sid in sids:
                await b.send_message(Inbound(tid, sid, "!tools echo", f"{sid}-{sent[sid]}"))
                sent[sid] += 1

        await send_all()
        assert await asyncio.to_thread(add_hosts, ns, 1) == ["orchestra-host-1"]
        listed = await asyncio.to_thread(list_hosts, ns)
        assert [h["name"] for h in listed] == ["orchestra-host-0", "orchestra-host-1"]
        new = ray.get_actor("orchestra-host-1", namespace=ns)
        # the new host runs with the deployment's settings, copied from host 0
        assert (await new.settings_payload.remote()) == one_host.settings.model_dump()

        on_new = 0
        for _ in range(120):  # router and host 0 take it in by themselves (2 s each)
            await send_all()
            on_new = (await new.stats.remote())["sessions"]
            if on_new:
                break
            await asyncio.sleep(0.25)
        assert "orchestra-host-1" in b.router.hosts
        assert on_new >= 1  # idle sessions the ring now puts on host 1 went there

        assert await asyncio.to_thread(remove_hosts, ns) == ["orchestra-host-1"]
        with pytest.raises(ValueError):
            ray.get_actor("orchestra-host-1", namespace=ns)
        await send_all()  # every session answers again, from host 0
        for sid in sids:
            users = [m["content"] for m in await b.list_messages(tid, sid) if m["role"] == "user"]
            assert users == ["!tools echo"] * sent[sid]  # each message once
        host0 = ray.get_actor("orchestra-host-0", namespace=ns)
        assert (await host0.stats.remote())["sessions"] == len(sids)
    finally:
        await b.close()


def test_adding_to_a_namespace_without_a_deployment_says_so(ray_session: None) -> None:
    with pytest.raises(Unavailable, match="start `orchestra serve` first"):
        add_hosts("orc-test-nothing-here", 1)
