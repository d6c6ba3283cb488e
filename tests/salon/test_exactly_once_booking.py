"""Exactly-once with the salon's booking flow (a T3 from the chatbot's script): the
ledger and recovery after a crash (moved from tests/runtime/test_exactly_once.py:
the runtime's tests use no demo; the same rules over `runtime.testing`'s records
are tested there)."""

from __future__ import annotations

import pytest

from runtime import metrics
from runtime.errors import Conflict, InvalidTransition, NotFound
from runtime.proposals.model import ProposalStatus
from runtime.store.protocol import LedgerEntry, LedgerState
from salon.testing import business_version, business_write

from .conftest import TENANT, Harness

S = ProposalStatus
BOOK = "book a haircut tomorrow at 3pm"


async def pending_booking(h: Harness) -> str:
    sid = await h.session("chatbot", subject="carol")
    r = await h.send(sid, BOOK)
    assert [c["tool"] for c in r["tool_calls"]] == ["check_availability", "book_appointment"]
    [p] = r["proposals"]
    assert p["tier"] == "T3" and p["status"] == "PENDING"
    return str(p["proposal_id"])


async def test_confirm_twice_second_is_a_conflict_and_books_once(h: Harness) -> None:
    pid = await pending_booking(h)
    first = await h.rt.confirm(TENANT, pid)
    assert first["status"] == "EXECUTED"
    with pytest.raises(InvalidTransition) as info:
        await h.rt.confirm(TENANT, pid)
    assert isinstance(info.value, Conflict)  # the API maps Conflict to 409
    assert (info.value.current, info.value.target) == ("EXECUTED", "CONFIRMED")
    appts = (await h.business())["appointments"]
    assert len(appts) == 1
    assert appts[0]["service"] == "haircut" and appts[0]["time"] == "15:00"
    assert appts[0]["customer"] == "carol"
    assert h.store.ledger[(TENANT, pid)].state is LedgerState.DONE
    with pytest.raises(InvalidTransition):
        await h.rt.reject(TENANT, pid)


async def confirmed_with_ledger(h: Harness, pid: str) -> None:
    """Simulate a crash after CONFIRMED and the DISPATCHING ledger record."""
    p = await h.proposal(pid)
    await h.store.save_proposals([p.transition(S.CONFIRMED, at=h.clock())], [])
    assert await h.store.ledger_claim(TENANT, pid, h.clock()) is None


async def test_recover_dispatching_already_applied_does_not_apply_again(h: Harness) -> None:
    pid = await pending_booking(h)
    p = await h.proposal(pid)
    await confirmed_with_ledger(h, pid)
    args = p.args | {"customer": "carol"}
    applied = await business_write(h.store, TENANT, pid, "book_appointment", args)
    assert (await business_version(h.store, TENANT)) == 1
    [done] = await h.rt.book.recover()
    assert done.proposal_id == pid and done.status is S.EXECUTED
    assert done.result == applied
    assert (await business_version(h.store, TENANT)) == 1  # no second application
    assert len((await h.business())["appointments"]) == 1
    assert h.store.ledger[(TENANT, pid)].state is LedgerState.DONE


async def test_recover_dispatching_not_applied_applies_once(h: Harness) -> None:
    pid = await pending_booking(h)
    await confirmed_with_ledger(h, pid)
    await h.rt.start()  # start() runs recovery
    await h.rt.stop()
    assert (await h.proposal(pid)).status is S.EXECUTED
    assert len((await h.business())["appointments"]) == 1
    assert await h.rt.book.recover() == []  # nothing left to do


async def test_recover_ledger_done_finishes_without_reapplying(h: Harness) -> None:
    pid = await pending_booking(h)
    p = await h.proposal(pid)
    await confirmed_with_ledger(h, pid)
    result = await business_write(
        h.store, TENANT, pid, "book_appointment", p.args | {"customer": "c"}
    )
    await h.store.ledger_put(TENANT, pid, LedgerEntry(state=LedgerState.DONE, result=result))
    [done] = await h.rt.book.recover()
    assert done.status is S.EXECUTED and done.result == result  # the journaled result
    assert (await business_version(h.store, TENANT)) == 1


async def test_recover_ledger_failed_marks_failed(h: Harness) -> None:
    pid = await pending_booking(h)
    await confirmed_with_ledger(h, pid)
    await h.store.ledger_put(TENANT, pid, LedgerEntry(state=LedgerState.FAILED))
    [failed] = await h.rt.book.recover()
    assert failed.status is S.FAILED and failed.error == "execution failed earlier"
    assert (await h.business())["appointments"] == []


def counted(name: str, tool: str) -> float:
    return metrics.REGISTRY.get_sample_value(f"orchestra_{name}_total", {"tool": tool}) or 0.0


async def test_an_idempotent_redispatch_is_counted(h: Harness) -> None:
    pid = await pending_booking(h)
    await confirmed_with_ledger(h, pid)  # a crash in DISPATCHING
    unknown = counted("outcome_unknown", "book_appointment")
    again = counted("redispatches", "book_appointment")
    [done] = await h.rt.book.recover()
    assert done.status is S.EXECUTED
    assert counted("redispatches", "book_appointment") == again + 1
    assert counted("outcome_unknown", "book_appointment") == unknown
    assert len((await h.business())["appointments"]) == 1


async def test_confirming_unknown_or_finished_ids_keeps_no_locks(h: Harness) -> None:
    for i in range(2000):
        with pytest.raises(NotFound):
            await h.rt.confirm(TENANT, f"p_unknown_{i}")
    pid = await pending_booking(h)
    await h.rt.confirm(TENANT, pid)
    for _ in range(100):
        with pytest.raises(InvalidTransition):
            await h.rt.reject(TENANT, pid)
    assert len(h.rt.book._locks) == 0
