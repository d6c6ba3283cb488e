"""Dedicated placement (one actor per session): only real sessions get an actor, an
idle one goes away, and a /metrics scrape stays bounded however many there are."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import ray

from actors import RayBackend, connect_store, kill_actors
from actors.common import SESSION_PREFIX
from runtime.errors import NotFound
from runtime.inbound import Inbound
from runtime.store.tenants import add_tenant
from tests.conftest import Stack, make_stack

pytestmark = [pytest.mark.ray, pytest.mark.store]


@pytest.fixture(scope="module")
def dedicated(ray_session: None, store_redis_url: str) -> Iterator[Stack]:
    s = make_stack(store_redis_url, "dedicated", idle_evict_s=1.0)
    yield s
    kill_actors(s.settings.namespace)


def session_actors(stack: Stack) -> set[str]:
    return {
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == stack.settings.namespace and a["name"].startswith(SESSION_PREFIX)
    }


async def test_an_unknown_session_id_creates_no_actor(dedicated: Stack) -> None:
    b = await dedicated.backend()
    try:
        t, _ = await add_tenant(b.store, "Prober")
        for i in range(5):
            with pytest.raises(NotFound):
                await b.send_message(Inbound(t.tenant_id, f"s_made_up_{i}", "hello", f"m{i}"))
        real, _ = await b.create_session(t.tenant_id, "lab", "someone")
        other, _ = await add_tenant(b.store, "Other")
        with pytest.raises(NotFound):  # another tenant's session is unknown too
            await b.send_message(Inbound(other.tenant_id, real["session_id"], "hello", "m-x"))
        assert not any("made_up" in n for n in session_actors(dedicated))
        assert SESSION_PREFIX + real["session_id"] not in session_actors(dedicated)
    finally:
        await b.close()


async def test_an_idle_dedicated_actor_goes_away_and_comes_back_on_demand(
    dedicated: Stack,
) -> None:
    b = await dedicated.backend()
    try:
        t, _ = await add_tenant(b.store, "Idle")
        rec, _ = await b.create_session(t.tenant_id, "lab", "sleepy")
        sid = rec["session_id"]
        await b.send_message(Inbound(t.tenant_id, sid, "!tools echo", "m1"))
        assert SESSION_PREFIX + sid in session_actors(dedicated)
        for _ in range(100):  # idle_evict_s is 1 s here
            if SESSION_PREFIX + sid not in session_actors(dedicated):
                break
            await asyncio.sleep(0.1)
        assert SESSION_PREFIX + sid not in session_actors(dedicated)
        r = await b.send_message(
            Inbound(t.tenant_id, sid, "!tools echo", "m2")
        )  # a new actor, same state
        assert r["tool_calls"][0]["status"] == "ok"
        history = await b.list_messages(t.tenant_id, sid)
        assert [m["role"] for m in history] == ["user", "assistant"] * 2
    finally:
        await b.close()


async def test_a_metrics_scrape_calls_a_bounded_number_of_session_actors(
    dedicated: Stack,
) -> None:
    b = await dedicated.backend()
    b.metrics_max_session_actors = 2
    try:
        t, _ = await add_tenant(b.store, "Many")
        sids = [
            (await b.create_session(t.tenant_id, "lab", f"u{i}"))[0]["session_id"] for i in range(4)
        ]
        await asyncio.gather(
            *(b.send_message(Inbound(t.tenant_id, s, "!tools echo", "m")) for s in sids)
        )
        assert len(session_actors(dedicated) & {SESSION_PREFIX + s for s in sids}) == 4
        texts = await b.metrics_texts()
        # this gateway, the registry, and two of the four session actors
        assert len(texts) == 1 + dedicated.settings.registry_shards + 2
    finally:
        await b.close()


class KillsAfterListing(RayBackend):
    """A backend whose scrape finds `victim` listed and then gone (evicted or
    killed between the listing and its call)."""

    victim = ""

    async def _named_actors(self) -> list[str]:
        names = await super()._named_actors()
        assert self.victim in names
        ray.kill(ray.get_actor(self.victim, namespace=self.settings.namespace), no_restart=True)
        return names


async def test_an_actor_gone_between_listing_and_scraping_is_left_out(dedicated: Stack) -> None:
    store = await connect_store(
        dedicated.settings.redis_url, prefix=dedicated.settings.store_prefix
    )
    b = KillsAfterListing(dedicated.settings, store)
    try:
        for _ in range(100):  # the other tests' idle actors go first (idle_evict_s is 1 s)
            if not session_actors(dedicated):
                break
            await asyncio.sleep(0.1)
        t, _ = await add_tenant(b.store, "Gone")
        sid = (await b.create_session(t.tenant_id, "lab", "brief"))[0]["session_id"]
        await b.send_message(Inbound(t.tenant_id, sid, "!tools echo", "m"))
        b.victim = SESSION_PREFIX + sid
        texts = await b.metrics_texts()
        # this gateway and the registry; the session actor is gone, not an error
        assert len(texts) == 1 + dedicated.settings.registry_shards
        assert b.victim not in session_actors(dedicated)
    finally:
        await b.close()


async def test_each_registry_shard_sweeps_its_own_tenants(
    ray_session: None, store_redis_url: str
) -> None:
    from actors import kill_actors
    from actors.common import shard_of

    stack = make_stack(
        store_redis_url,
        "hosted",
        registry_shards=2,
        config_data={"agents": {"lab": {"soft_confirm_window_ms": 300}}},
    )
    b = await stack.backend()
    try:
        tenants = []
        while {shard_of(t, 2) for t in tenants} != {0, 1}:  # one tenant on each shard
            tenants.append((await add_tenant(b.store, f"Shard {len(tenants)}"))[0].tenant_id)
        proposed = []
        for tenant in tenants[:1] + tenants[-1:]:
            sid = (await b.create_session(tenant, "lab", "s"))[0]["session_id"]
            r = await b.send_message(
                Inbound(tenant, sid, '!tools create_service {"name": "x", "price": 1}')
            )
            proposed.append((tenant, sid, r["proposals"][0]["proposal_id"]))
        for _ in range(100):  # each shard's sweeper expires its own tenant's proposal
            statuses = [(await b.get_proposal(t, p))["status"] for t, _, p in proposed]
            if statuses == ["EXPIRED", "EXPIRED"]:
                break
            await asyncio.sleep(0.1)
        assert statuses == ["EXPIRED", "EXPIRED"]
        for tenant, sid, pid in proposed:
            ends = [e for e in await b.audit(tenant, sid) if e.get("proposal_id") == pid]
            assert [e["to"] for e in ends] == ["PENDING", "EXPIRED"]  # once, by one shard
    finally:
        await b.close()
        kill_actors(stack.settings.namespace)
