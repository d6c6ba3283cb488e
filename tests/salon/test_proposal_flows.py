"""Proposals in the salon's journeys: a write runs only when a user message answered
it (issue 15), shown with the onboarding and chatbot agents' scripted flows
(moved from tests/runtime/test_proposals.py: the runtime's tests use no demo)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runtime.errors import Unavailable
from runtime.inbound import Inbound
from runtime.models.scripted import ScriptedModel
from runtime.proposals.model import ProposalStatus as S
from runtime.store.memory import MemoryStore

from .conftest import TENANT, Harness, MakeHarness

# -- a write runs only when a user message answered it (issue 15) --------------------------


class FailNextSave(MemoryStore):
    """A store blip: the next turn's save fails once."""

    fail = False

    async def save_turn(self, *args: Any, **kw: Any) -> None:
        if self.fail:
            self.fail = False
            raise ConnectionError("store blip")
        await super().save_turn(*args, **kw)


async def test_a_retried_turn_does_not_confirm_what_its_failed_attempt_proposed(
    make_harness: MakeHarness,
) -> None:
    store = FailNextSave()
    h = make_harness(store=store)
    sid = await h.session("onboarding")
    await h.send(sid, "my business is called Ann's Nails")
    store.fail = True
    text, mid = "add service massage for 50 dollars", "m-retried"
    with pytest.raises(Unavailable):
        await h.rt.send_message(Inbound(TENANT, sid, text, mid))
    r = await h.rt.send_message(Inbound(TENANT, sid, text, mid))  # the retry: the same turn
    statuses = {p["tool"]: p["status"] for p in r["proposals"]}
    assert statuses == {"set_business_profile": "EXECUTED", "add_service": "PENDING"}
    assert "massage" not in (await h.business())["services"]
    adds = [p for p in h.store.proposals.values() if p.tool == "add_service"]
    assert len(adds) == 1  # the failed attempt's proposal never existed
    assert (await h.business())["name"] == "Ann's Nails"


async def test_a_retried_booking_leaves_one_pending_t3(make_harness: MakeHarness) -> None:
    store = FailNextSave()
    h = make_harness(store=store)
    sid = await h.session("chatbot")
    store.fail = True
    with pytest.raises(Unavailable):
        await h.rt.send_message(Inbound(TENANT, sid, "book a haircut tomorrow at 10", "m-book"))
    r = await h.rt.send_message(Inbound(TENANT, sid, "book a haircut tomorrow at 10", "m-book"))
    [booking] = r["proposals"]
    pending = await h.rt.list_proposals(TENANT, sid, S.PENDING)
    assert [p["proposal_id"] for p in pending] == [booking["proposal_id"]]


async def test_a_message_sent_before_the_proposal_existed_does_not_confirm_it(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(inner=ScriptedModel(latency_s=0.05))
    sid = await h.session("onboarding")
    first, second = await asyncio.gather(
        h.send(sid, "my business is called Evil Corp"),
        h.send(sid, "what is my setup progress?"),  # queued behind the first, blind to it
    )
    [proposed] = first["proposals"]
    assert second["proposals"] == []
    assert (await h.proposal(proposed["proposal_id"])).status is S.PENDING
    assert (await h.business())["name"] != "Evil Corp"
    third = await h.send(sid, "sounds good")  # sent after the reply that showed it
    assert [p["status"] for p in third["proposals"]] == ["EXECUTED"]
    assert (await h.business())["name"] == "Evil Corp"


class SlowSaves(MemoryStore):
    """A MemoryStore whose turn saves take a while (a store under load)."""

    def __init__(self) -> None:
        super().__init__()
        self.saving = asyncio.Event()

    async def save_turn(self, *args: Any, **kwargs: Any) -> None:
        self.saving.set()
        await asyncio.sleep(0.2)
        await super().save_turn(*args, **kwargs)


async def test_a_message_sent_while_the_proposing_turn_is_saved_does_not_confirm_it(
    make_harness: MakeHarness,
) -> None:
    store = SlowSaves()
    h = make_harness(store=store)
    sid = await h.session("onboarding")
    first = asyncio.ensure_future(h.send(sid, "my business is called Evil Corp"))
    await store.saving.wait()  # the proposal is stamped; its reply has not left
    store.saving.clear()
    second = await h.send(sid, "what is my setup progress?")  # sent blind to it
    [proposed] = (await first)["proposals"]
    assert second["proposals"] == []
    assert (await h.proposal(proposed["proposal_id"])).status is S.PENDING
    third = await h.send(sid, "sounds good")  # sent after the reply that showed it
    assert [p["status"] for p in third["proposals"]] == ["EXECUTED"]
    assert (await h.business())["name"] == "Evil Corp"


async def streamed(h: Harness, sid: str, text: str) -> list[Any]:
    return [e async for e in await h.rt.stream_message(Inbound(TENANT, sid, text))]


async def test_a_proposal_event_shows_the_saved_proposal_and_only_that(
    make_harness: MakeHarness,
) -> None:
    store = FailNextSave()
    h = make_harness(store=store)
    sid = await h.session("onboarding")
    store.fail = True  # the turn proposes, then its save fails: the draft is nobody's
    failed = await streamed(h, sid, "my business is called Evil Corp")
    assert [e.kind for e in failed if e.kind in ("proposal", "error")] == ["error"]
    events = await streamed(h, sid, "my business is called Evil Corp")
    [shown] = [e.data() for e in events if e.kind == "proposal"]
    [saved] = next(e for e in events if e.kind == "done").data()["proposals"]
    assert shown == saved  # with its window: it starts with the save
    assert shown["expires_at"] is not None and shown["status"] == "PENDING"
    kinds = [e.kind for e in events]
    assert kinds.index("proposal") > kinds.index("tool_call")  # after the tool's end
