"""The per-session cache of the tenant's records context in the system prompt."""

from __future__ import annotations

from runtime.config.presets import PRESETS

from .conftest import OTHER_TENANT, TENANT, Harness, MakeHarness

TTL_MS = 5_000


def admin_harness(make_harness: MakeHarness) -> Harness:
    config = PRESETS["admin"].model_copy(update={"context_cache_ttl_ms": TTL_MS})
    return make_harness(configs={"clerk": config})


async def sneak_price(h: Harness, item: str, price: float, tenant: str = TENANT) -> None:
    """Change the records document behind the runtime's back (no version bump)."""
    doc = await h.records(tenant)
    doc["items"][item]["price"] = price
    h.store.data[(tenant, "records")] = (h.store.data.get((tenant, "records"), (0, None))[0], doc)


async def test_turns_inside_the_ttl_use_the_cached_context(make_harness: MakeHarness) -> None:
    h = admin_harness(make_harness)
    sid = await h.session("clerk")
    await h.send(sid, "hello")
    assert "alpha ($30)" in h.model.last_system()
    await sneak_price(h, "alpha", 99)
    h.clock.advance(TTL_MS / 1000 - 0.5)
    r = await h.send(sid, "!tools list_records")  # a T1 read
    assert r["tool_calls"] == [{"tool": "list_records", "tier": "T1", "status": "ok"}]
    assert "alpha 99" in r["reply"]  # the tool reads live data ...
    assert "alpha ($30)" in h.model.last_system()  # ... the prompt is cached


async def test_ttl_expiry_refreshes(make_harness: MakeHarness) -> None:
    h = admin_harness(make_harness)
    sid = await h.session("clerk")
    await h.send(sid, "hello")
    await sneak_price(h, "alpha", 99)
    h.clock.advance(TTL_MS / 1000)
    await h.send(sid, "hello again")
    assert "alpha ($99)" in h.model.last_system()


async def test_soft_confirmed_write_shows_in_the_same_turn(make_harness: MakeHarness) -> None:
    h = admin_harness(make_harness)
    sid = await h.session("clerk")
    await h.send(sid, '!tools create_record {"name": "yoga", "price": 40}')
    assert "yoga" not in h.model.last_system()
    await h.send(sid, "yes")
    assert "yoga ($40)" in h.model.last_system()


async def test_explicitly_confirmed_write_shows_next_turn(make_harness: MakeHarness) -> None:
    h = admin_harness(make_harness)
    sid = await h.session("clerk")
    r = await h.send(sid, '!tools delete_record {"name": "alpha"}')
    [p] = r["proposals"]
    assert p["tool"] == "delete_record" and p["tier"] == "T3"
    await h.send(sid, "still there?")
    assert "alpha" in h.model.last_system()
    await h.rt.confirm(TENANT, p["proposal_id"])
    await h.send(sid, "and now?")
    assert "alpha" not in h.model.last_system()
    assert "beta ($80)" in h.model.last_system()


async def test_write_from_another_session_of_the_tenant_invalidates(
    make_harness: MakeHarness,
) -> None:
    h = admin_harness(make_harness)
    watcher = await h.session("clerk", subject="watcher")
    writer = await h.session("clerk", subject="writer")
    await h.send(watcher, "hello")
    await h.send(writer, '!tools update_record {"name": "gamma", "price": 27}')
    await h.send(writer, "ok")
    await h.send(watcher, "anything new?")
    assert "gamma ($27)" in h.model.last_system()


async def test_another_tenants_write_does_not_leak(make_harness: MakeHarness) -> None:
    h = admin_harness(make_harness)
    mine = await h.session("clerk")
    theirs = await h.session("clerk", tenant=OTHER_TENANT)
    await h.send(theirs, '!tools create_record {"name": "secret", "price": 1}', OTHER_TENANT)
    await h.send(theirs, "ok", OTHER_TENANT)
    assert "secret" in (await h.records(OTHER_TENANT))["items"]
    await h.send(mine, "hello")
    assert "secret" not in h.model.last_system()
    assert "secret" not in (await h.records())["items"]
