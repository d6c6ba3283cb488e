"""Sessions: one active per (tenant, agent, subject), closing, FIFO turns, isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runtime.errors import BadRequest, NotFound, NotOwner, SessionClosed, Unavailable
from runtime.inbound import Inbound
from runtime.models.scripted import ScriptedModel
from runtime.sessions.session import SessionPool
from runtime.store.memory import MemoryStore

from .conftest import OTHER_TENANT, TENANT, Harness, MakeHarness, TickingClock


async def test_concurrent_creates_yield_one_session(h: Harness) -> None:
    results = await asyncio.gather(
        *(h.rt.create_session(TENANT, "clerk", "erin") for _ in range(50))
    )
    ids = {info["session_id"] for info, _ in results}
    assert len(ids) == 1
    assert sum(created for _, created in results) == 1
    assert len(h.store.sessions) == 1


async def test_sessions_are_keyed_by_tenant_agent_subject(h: Harness) -> None:
    a, _ = await h.rt.create_session(TENANT, "clerk", "erin")
    again, created = await h.rt.create_session(TENANT, "clerk", "erin")
    assert again == a and created is False
    others = [
        await h.rt.create_session(TENANT, "clerk", "frank"),
        await h.rt.create_session(TENANT, "lab", "erin"),
        await h.rt.create_session(OTHER_TENANT, "clerk", "erin"),
    ]
    assert len({a["session_id"], *(o["session_id"] for o, _ in others)}) == 4
    assert all(created for _, created in others)
    assert a["status"] == "active" and a["agent"] == "clerk" and a["subject"] == "erin"


async def test_unknown_agent_is_a_bad_request(h: Harness) -> None:
    with pytest.raises(BadRequest):
        await h.rt.create_session(TENANT, "sales", "x")


@pytest.mark.parametrize("loaded", [True, False])
async def test_close_then_messages_raise_session_closed(h: Harness, loaded: bool) -> None:
    sid = await h.session()
    if loaded:
        await h.send(sid, "hi")
    assert await h.rt.close_session(TENANT, sid) == {"status": "closed"}
    assert await h.rt.close_session(TENANT, sid) == {"status": "closed"}  # idempotent
    with pytest.raises(SessionClosed):
        await h.send(sid, "are you there?")
    assert (await h.rt.get_session(TENANT, sid))["status"] == "closed"
    fresh = await h.session()
    assert fresh != sid
    assert (await h.send(fresh, "hi"))["reply"]


async def test_close_unknown_or_foreign_session_is_not_found(h: Harness) -> None:
    sid = await h.session()
    with pytest.raises(NotFound):
        await h.rt.close_session(TENANT, "s_nope")
    with pytest.raises(NotFound):
        await h.rt.close_session(OTHER_TENANT, sid)
    assert (await h.rt.get_session(TENANT, sid))["status"] == "active"


async def test_another_tenant_cannot_see_or_use_a_session(h: Harness) -> None:
    sid = await h.session()
    await h.send(sid, "hello")
    for call in (
        h.rt.get_session(OTHER_TENANT, sid),
        h.rt.send_message(Inbound(OTHER_TENANT, sid, "hi")),
        h.rt.list_messages(OTHER_TENANT, sid),
        h.rt.audit(OTHER_TENANT, sid),
    ):
        with pytest.raises(NotFound):
            await call
    assert await h.rt.audit(OTHER_TENANT, None) == []
    assert len(await h.rt.list_messages(TENANT, sid)) == 2


async def test_foreign_tenant_while_loading_is_not_found(h: Harness) -> None:
    sid = await h.session()
    outcomes = await asyncio.gather(
        h.rt.get_session(TENANT, sid), h.rt.get_session(OTHER_TENANT, sid), return_exceptions=True
    )
    assert outcomes[0]["session_id"] == sid  # type: ignore[index]
    assert isinstance(outcomes[1], NotFound)


@pytest.mark.parametrize("preloaded", [True, False])
async def test_concurrent_messages_run_one_at_a_time_in_order(
    make_harness: MakeHarness, preloaded: bool
) -> None:
    h = make_harness(inner=ScriptedModel(latency_s=0.003))
    sid = await h.session()
    if preloaded:
        await h.rt.get_session(TENANT, sid)
    active = 0
    peak = 0
    original = h.model.complete

    async def tracking(request: Any) -> Any:
        nonlocal active, peak
        if request.purpose == "summary":  # made beside the next turn, by design
            return await original(request)
        active += 1
        peak = max(peak, active)
        try:
            return await original(request)
        finally:
            active -= 1

    h.model.complete = tracking  # type: ignore[method-assign]
    texts = [f"message {i:02d}" for i in range(20)]
    replies = await asyncio.gather(*(h.send(sid, t) for t in texts))
    assert peak == 1  # never two turns' model calls of this session at once
    assert len(replies) == 20
    history = await h.rt.list_messages(TENANT, sid)
    users = [m["content"] for m in history if m["role"] == "user"]
    assert users == texts  # arrival order, each exactly once
    assert [m["role"] for m in history] == ["user", "assistant"] * 20
    prompts = [r.messages[-1].text for r in h.model.chats()]
    assert prompts == texts


async def test_audit_events_in_order(h: Harness) -> None:
    sid = await h.session()
    await h.send(sid, "!tools echo; fail")
    h.clock.advance(1)
    await h.send(sid, "plain")
    events = await h.rt.audit(TENANT, sid)
    shape = [(e["type"], e.get("role") or e.get("tool")) for e in events]
    assert shape == [
        ("message", "user"),
        ("tool_call", "echo"),
        ("tool_call", "fail"),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "assistant"),
    ]
    assert [e["status"] for e in events if e["type"] == "tool_call"] == ["ok", "error"]
    ats = [e["at"] for e in events]
    assert ats == sorted(ats) and ats[-1] == ats[0] + 1
    assert all(e["session_id"] == sid and e["tenant_id"] == TENANT for e in events)
    everything = await h.rt.audit(TENANT, None)
    assert everything == events


async def test_audit_trail_of_a_soft_confirmed_write_is_causal(make_harness: MakeHarness) -> None:
    h = make_harness(clock=TickingClock())
    sid = await h.session()
    await h.send(sid, '!tools create_record {"name": "yoga", "price": 9}')
    await h.send(sid, "ok")
    events = await h.rt.audit(TENANT, sid)
    shape = [(e["type"], e.get("role") or e.get("to")) for e in events]
    assert shape == [
        ("message", "user"),
        ("tool_call", None),
        ("message", "assistant"),
        ("proposal", "PENDING"),  # born with the turn's save, after the reply it shows in
        ("message", "user"),
        ("proposal", "CONFIRMED"),  # the next message soft-confirms ...
        ("proposal", "EXECUTED"),
        ("message", "assistant"),  # ... before the reply
    ]
    ats = [e["at"] for e in events]
    assert ats == sorted(ats) and len(set(ats)) == len(ats)


async def test_messages_api_shape(h: Harness) -> None:
    sid = await h.session()
    await h.send(sid, "!tools echo")
    msgs = await h.rt.list_messages(TENANT, sid)
    assert [m["role"] for m in msgs] == ["user", "assistant"]  # tool exchanges left out
    assert msgs[0] == {"role": "user", "content": "!tools echo", "at": h.clock()}
    with pytest.raises(NotFound):
        await h.rt.list_messages(TENANT, "s_missing")


class FailingSaves(MemoryStore):
    fail = False

    async def save_turn(self, *args: Any, **kw: Any) -> None:
        if self.fail:
            raise ConnectionError("store down")
        await super().save_turn(*args, **kw)


async def test_failed_save_reloads_before_the_next_turn(make_harness: MakeHarness) -> None:
    store = FailingSaves()
    h = make_harness(store=store)
    sid = await h.session()
    await h.send(sid, "first")
    store.fail = True
    with pytest.raises(Unavailable):
        await h.send(sid, "lost")
    store.fail = False
    await h.send(sid, "third")
    users = [m["content"] for m in await h.rt.list_messages(TENANT, sid) if m["role"] == "user"]
    assert users == ["first", "third"]
    sent = [m.text for m in h.model.chats()[-1].messages if m.role == "user"]
    assert sent == ["first", "third"]  # memory was reloaded: "lost" is gone there too


async def test_idle_sessions_are_evicted_and_reloaded(h: Harness) -> None:
    sid = await h.session()
    await h.send(sid, "hello")
    assert h.rt.pool.evict_idle(3600) == 0
    assert h.rt.pool.evict_idle(-1) == 1
    assert h.rt.pool.queue_depth() == 0
    r = await h.send(sid, "back again")
    assert r["reply"]
    assert len(await h.rt.list_messages(TENANT, sid)) == 4


async def test_ready_and_metrics(h: Harness) -> None:
    sid = await h.session()
    await h.send(sid, "!tools echo")
    assert await h.rt.ready() is True
    [text] = await h.rt.metrics_texts()
    assert b"orchestra_messages_total" in text
    assert b"tool_execution_duration_ms" in text


# -- idempotent messages (message_id) ----------------------------------------------------


async def test_a_repeated_message_id_returns_the_first_result(h: Harness) -> None:
    sid = await h.session()
    text = '!tools create_record {"name": "yoga", "price": 9}'
    results = await asyncio.gather(
        *(h.rt.send_message(Inbound(TENANT, sid, text, message_id="m-1")) for _ in range(5))
    )
    assert all(r == results[0] for r in results)
    assert len(await h.rt.list_proposals(TENANT, sid, None)) == 1  # proposed once
    assert len(await h.rt.list_messages(TENANT, sid)) == 2  # one turn
    h.rt.pool.evict_idle(-1)  # the ids are saved with the turn
    again = await h.rt.send_message(Inbound(TENANT, sid, text, message_id="m-1"))
    assert again == results[0]
    assert len(await h.rt.list_messages(TENANT, sid)) == 2
    other = await h.rt.send_message(Inbound(TENANT, sid, "ok", message_id="m-2"))
    assert [p["status"] for p in other["proposals"]] == ["EXECUTED"]


async def test_only_the_newest_message_ids_are_remembered(h: Harness) -> None:
    sid = await h.session()
    for i in range(9):
        await h.rt.send_message(Inbound(TENANT, sid, f"msg {i}", message_id=f"m-{i}"))
    chats = len(h.model.chats())
    await h.rt.send_message(Inbound(TENANT, sid, "msg 8", message_id="m-8"))
    assert len(h.model.chats()) == chats  # still remembered
    await h.rt.send_message(Inbound(TENANT, sid, "msg 0", message_id="m-0"))
    assert len(h.model.chats()) == chats + 1  # forgotten: runs again


async def test_a_message_whose_save_failed_runs_again_on_retry(make_harness: MakeHarness) -> None:
    store = FailingSaves()
    h = make_harness(store=store)
    sid = await h.session()
    store.fail = True
    with pytest.raises(Unavailable):
        await h.rt.send_message(Inbound(TENANT, sid, "hello", message_id="m-1"))
    store.fail = False
    r = await h.rt.send_message(Inbound(TENANT, sid, "hello", message_id="m-1"))
    assert r["reply"]
    assert [m["content"] for m in await h.rt.list_messages(TENANT, sid)] == ["hello", r["reply"]]


# -- one owner, and closing closes (issue 15) ------------------------------------------------


class SlowLoads(MemoryStore):
    """Loading a session takes a while (a store round trip under load): the record
    is read, then arrives late, so a close can land in between and the load
    returns the record as it was read (still `active`)."""

    def __init__(self) -> None:
        super().__init__()
        self.record_read = asyncio.Event()

    async def get_session(self, tenant_id: str, session_id: str) -> Any:
        rec = await super().get_session(tenant_id, session_id)
        self.record_read.set()
        await asyncio.sleep(0.05)
        return rec


async def test_a_close_while_the_session_loads_closes_it(make_harness: MakeHarness) -> None:
    store = SlowLoads()
    h = make_harness(store=store)
    sid = await h.session()
    h.rt.pool.evict_idle(-1)  # not in memory: the next message loads it

    async def close_mid_load() -> Any:
        await store.record_read.wait()  # the load holds an `active` record now
        return await h.rt.close_session(TENANT, sid)

    first, closed = await asyncio.gather(h.send(sid, "!tools echo"), close_mid_load())
    assert first["tool_calls"][0]["status"] == "ok"  # sent before the close: it ran
    assert closed == {"status": "closed"}
    with pytest.raises(SessionClosed):
        await h.send(sid, "!tools echo")  # not for idle_evict_s more: never
    assert (await h.rt.get_session(TENANT, sid))["status"] == "closed"


async def test_a_message_queued_behind_a_close_is_refused(make_harness: MakeHarness) -> None:
    h = make_harness(store=SlowLoads())
    sid = await h.session()
    h.rt.pool.evict_idle(-1)
    outcomes = await asyncio.gather(
        h.rt.close_session(TENANT, sid), h.send(sid, "!tools echo"), return_exceptions=True
    )
    assert outcomes[0] == {"status": "closed"}
    assert isinstance(outcomes[1], SessionClosed)


async def test_another_tenant_probing_a_loading_session_is_no_404_for_its_owner(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(store=SlowLoads())
    sid = await h.session()
    h.rt.pool.evict_idle(-1)
    probe, owner = await asyncio.gather(
        h.rt.get_session(OTHER_TENANT, sid), h.rt.get_session(TENANT, sid), return_exceptions=True
    )
    assert isinstance(probe, NotFound)
    assert isinstance(owner, dict) and owner["session_id"] == sid


async def test_a_second_pool_cannot_save_a_session_the_first_holds(
    make_harness: MakeHarness,
) -> None:
    h = make_harness()
    sid = await h.session()
    await h.send(sid, "!tools echo")  # the runtime's pool holds the session now
    await h.store.heartbeat(h.rt.pool.name, h.rt.pool.owner.partition("|")[2], 60)
    other = SessionPool(h.store, h.rt.pool.catalog, h.rt.book, name="other-host")
    with pytest.raises(NotOwner) as info:
        await other.send(Inbound(TENANT, sid, "!tools echo"), redirected=True)
    assert info.value.owner == h.rt.pool.name  # where to send it instead
    assert len([m for m in await h.rt.list_messages(TENANT, sid) if m["role"] == "user"]) == 1
