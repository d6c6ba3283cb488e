"""The per-session cache of the tenant's business context in the system prompt."""

from __future__ import annotations

from runtime.config.presets import PRESETS

from .conftest import OTHER_TENANT, TENANT, Harness, MakeHarness

TTL_MS = 5_000


def admin_harness(make_harness: MakeHarness) -> Harness:
    config = PRESETS["admin"].model_copy(update={"context_cache_ttl_ms": TTL_MS})
    return make_harness(configs={"admin": config})


async def sneak_price(h: Harness, service: str, price: float, tenant: str = TENANT) -> None:
    """Change the business document behind the runtime's back (no version bump)."""
    doc = await h.business(tenant)
    doc["services"][service]["price"] = price
    h.store.data[(tenant, "business")] = (h.store.data.get((tenant, "business"), (0, None))[0], doc)


async def test_turns_inside_the_ttl_use_the_cached_context(make_harness: MakeHarness) -> None:
    h = admin_harness(make_harness)
    sid = await h.session("admin")
    await h.send(sid, "hello")
    assert "haircut ($30, 30 min)" in h.model.last_system()
    await sneak_price(h, "haircut", 99)
    h.clock.advance(TTL_MS / 1000 - 0.5)
    r = await h.send(sid, "show me the services")  # a T1 read
    assert r["tool_calls"] == [{"tool": "list_services", "tier": "T1", "status": "ok"}]
    assert "a haircut ($99, 30 min)" in r["reply"]  # the tool reads live data ...
    assert "haircut ($30, 30 min)" in h.model.last_system()  # ... the prompt is cached


async def test_ttl_expiry_refreshes(make_harness: MakeHarness) -> None:
    h = admin_harness(make_harness)
    sid = await h.session("admin")
    await h.send(sid, "hello")
    await sneak_price(h, "haircut", 99)
    h.clock.advance(TTL_MS / 1000)
    await h.send(sid, "hello again")
    assert "haircut ($99, 30 min)" in h.model.last_system()


async def test_soft_confirmed_write_shows_in_the_same_turn(make_harness: MakeHarness) -> None:
    h = admin_harness(make_harness)
    sid = await h.session("admin")
    await h.send(sid, '!tools create_service {"name": "yoga", "price": 40}')
    assert "yoga" not in h.model.last_system()
    await h.send(sid, "yes")
    assert "yoga ($40, 30 min)" in h.model.last_system()


async def test_explicitly_confirmed_write_shows_next_turn(make_harness: MakeHarness) -> None:
    h = admin_harness(make_harness)
    sid = await h.session("admin")
    r = await h.send(sid, "delete the haircut service")
    [p] = r["proposals"]
    assert p["tool"] == "delete_service" and p["tier"] == "T3"
    await h.send(sid, "still there?")
    assert "haircut" in h.model.last_system()
    await h.rt.confirm(TENANT, p["proposal_id"])
    await h.send(sid, "and now?")
    assert "haircut" not in h.model.last_system()
    assert "coloring ($80, 90 min)" in h.model.last_system()


async def test_write_from_another_session_of_the_tenant_invalidates(
    make_harness: MakeHarness,
) -> None:
    h = admin_harness(make_harness)
    watcher = await h.session("admin", subject="watcher")
    writer = await h.session("admin", subject="writer")
    await h.send(watcher, "hello")
    await h.send(writer, '!tools update_service {"name": "manicure", "price": 27}')
    await h.send(writer, "ok")
    await h.send(watcher, "anything new?")
    assert "manicure ($27, 45 min)" in h.model.last_system()


async def test_another_tenants_write_does_not_leak(make_harness: MakeHarness) -> None:
    h = admin_harness(make_harness)
    mine = await h.session("admin")
    theirs = await h.session("admin", tenant=OTHER_TENANT)
    await h.send(theirs, '!tools create_service {"name": "secret", "price": 1}', OTHER_TENANT)
    await h.send(theirs, "ok", OTHER_TENANT)
    assert "secret" in (await h.business(OTHER_TENANT))["services"]
    await h.send(mine, "hello")
    assert "secret" not in h.model.last_system()
    assert "secret" not in (await h.business())["services"]
