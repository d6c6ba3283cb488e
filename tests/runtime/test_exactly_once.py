"""Exactly-once execution: the ledger, recovery after a crash, timed-out writes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from runtime import metrics
from runtime.errors import Conflict, InvalidTransition, NotFound
from runtime.proposals.model import Proposal, ProposalStatus
from runtime.store.memory import MemoryStore
from runtime.store.protocol import LedgerEntry, LedgerState
from runtime.testing import records_version, records_write
from runtime.testing.agents import EFFECTS

from .conftest import TENANT, FakeClock, Harness, MakeHarness, lab_config

S = ProposalStatus


async def confirmed_with_ledger(h: Harness, pid: str) -> None:
    """Simulate a crash after CONFIRMED and the DISPATCHING ledger record."""
    p = await h.proposal(pid)
    await h.store.save_proposals([p.transition(S.CONFIRMED, at=h.clock())], [])
    assert await h.store.ledger_claim(TENANT, pid, h.clock()) is None


def counted(name: str, tool: str) -> float:
    return metrics.REGISTRY.get_sample_value(f"orchestra_{name}_total", {"tool": tool}) or 0.0


# -- the ledger and recovery, over a T3 write of the test agents' records ---------------
# (tests/salon/test_exactly_once_booking.py holds the same rules over the salon's booking)

DELETE = '!tools delete_record {"name": "alpha"}'


async def pending_t3(h: Harness) -> str:
    sid = await h.session(subject="carol")
    r = await h.send(sid, DELETE)
    [p] = r["proposals"]
    assert p["tool"] == "delete_record" and p["tier"] == "T3" and p["status"] == "PENDING"
    return str(p["proposal_id"])


async def test_confirm_twice_second_is_a_conflict_and_applies_once(h: Harness) -> None:
    pid = await pending_t3(h)
    first = await h.rt.confirm(TENANT, pid)
    assert first["status"] == "EXECUTED" and first["result"] == {"deleted": "alpha"}
    with pytest.raises(InvalidTransition) as info:
        await h.rt.confirm(TENANT, pid)
    assert isinstance(info.value, Conflict)  # the API maps Conflict to 409
    assert (info.value.current, info.value.target) == ("EXECUTED", "CONFIRMED")
    assert (await records_version(h.store, TENANT)) == 1
    assert "alpha" not in (await h.records())["items"]
    assert h.store.ledger[(TENANT, pid)].state is LedgerState.DONE
    with pytest.raises(InvalidTransition):
        await h.rt.reject(TENANT, pid)


async def test_recover_dispatching_already_applied_does_not_apply_again(h: Harness) -> None:
    pid = await pending_t3(h)
    p = await h.proposal(pid)
    await confirmed_with_ledger(h, pid)
    applied = await records_write(h.store, TENANT, pid, "delete_record", dict(p.args))
    assert (await records_version(h.store, TENANT)) == 1
    [done] = await h.rt.book.recover()
    assert done.proposal_id == pid and done.status is S.EXECUTED
    assert done.result == applied
    assert (await records_version(h.store, TENANT)) == 1  # no second application
    assert h.store.ledger[(TENANT, pid)].state is LedgerState.DONE


async def test_recover_dispatching_not_applied_applies_once(h: Harness) -> None:
    pid = await pending_t3(h)
    await confirmed_with_ledger(h, pid)
    await h.rt.start()  # start() runs recovery
    await h.rt.stop()
    assert (await h.proposal(pid)).status is S.EXECUTED
    assert (await records_version(h.store, TENANT)) == 1
    assert "alpha" not in (await h.records())["items"]
    assert await h.rt.book.recover() == []  # nothing left to do


async def test_recover_ledger_done_finishes_without_reapplying(h: Harness) -> None:
    pid = await pending_t3(h)
    p = await h.proposal(pid)
    await confirmed_with_ledger(h, pid)
    result = await records_write(h.store, TENANT, pid, "delete_record", dict(p.args))
    await h.store.ledger_put(TENANT, pid, LedgerEntry(state=LedgerState.DONE, result=result))
    [done] = await h.rt.book.recover()
    assert done.status is S.EXECUTED and done.result == result  # the journaled result
    assert (await records_version(h.store, TENANT)) == 1


async def test_recover_ledger_failed_marks_failed(h: Harness) -> None:
    pid = await pending_t3(h)
    await confirmed_with_ledger(h, pid)
    await h.store.ledger_put(TENANT, pid, LedgerEntry(state=LedgerState.FAILED))
    [failed] = await h.rt.book.recover()
    assert failed.status is S.FAILED and failed.error == "execution failed earlier"
    assert "alpha" in (await h.records())["items"]


async def test_an_idempotent_redispatch_is_counted(h: Harness) -> None:
    pid = await pending_t3(h)
    await confirmed_with_ledger(h, pid)  # a crash in DISPATCHING
    unknown = counted("outcome_unknown", "delete_record")
    again = counted("redispatches", "delete_record")
    [done] = await h.rt.book.recover()
    assert done.status is S.EXECUTED
    assert counted("redispatches", "delete_record") == again + 1
    assert counted("outcome_unknown", "delete_record") == unknown
    assert (await records_version(h.store, TENANT)) == 1


async def test_confirming_unknown_or_finished_ids_keeps_no_locks(h: Harness) -> None:
    for i in range(2000):
        with pytest.raises(NotFound):
            await h.rt.confirm(TENANT, f"p_unknown_{i}")
    pid = await pending_t3(h)
    await h.rt.confirm(TENANT, pid)
    for _ in range(100):
        with pytest.raises(InvalidTransition):
            await h.rt.reject(TENANT, pid)
    assert len(h.rt.book._locks) == 0


async def test_a_cut_short_non_idempotent_call_is_counted_as_outcome_unknown(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, '!tools slow_effect {"seconds": 0}')
    pid = r["proposals"][0]["proposal_id"]
    await confirmed_with_ledger(h, pid)  # a crash in DISPATCHING
    unknown = counted("outcome_unknown", "slow_effect")
    again = counted("redispatches", "slow_effect")
    effects = len(EFFECTS)
    [failed] = await h.rt.book.recover()
    assert failed.status is S.FAILED and failed.error_kind == "outcome_unknown"
    assert len(EFFECTS) == effects  # never sent twice
    assert counted("outcome_unknown", "slow_effect") == unknown + 1
    assert counted("redispatches", "slow_effect") == again
    [event] = [e for e in await h.rt.audit(TENANT, sid) if e.get("to") == "FAILED"]
    assert event["reason"] == "outcome_unknown"


async def test_timed_out_write_that_did_not_apply_is_failed(make_harness: MakeHarness) -> None:
    h = make_harness(configs={"lab": lab_config(executor_timeout_ms=50)})
    sid = await h.session()
    r = await h.send(sid, '!tools slow_write {"name": "spa", "seconds": 0.2}')
    [p] = r["proposals"]
    t0 = time.perf_counter()
    out = await h.rt.confirm(TENANT, p["proposal_id"])
    assert time.perf_counter() - t0 < 0.15
    assert out["status"] == "FAILED"
    assert "timed out after 0.05s; it did not run" in out["result"]["error"]
    await asyncio.sleep(0.2)  # the cancelled write never lands later
    assert "spa" not in (await h.records())["items"]
    assert h.store.ledger[(TENANT, p["proposal_id"])].state is LedgerState.FAILED


async def test_timed_out_write_that_did_apply_is_executed(make_harness: MakeHarness) -> None:
    h = make_harness(configs={"lab": lab_config(executor_timeout_ms=50)})
    sid = await h.session()
    r = await h.send(sid, '!tools slow_write {"name": "spa", "seconds": 0.1}')
    pid = r["proposals"][0]["proposal_id"]
    # The write landed (e.g. the tool hung after writing): same idempotency key.
    first = await records_write(h.store, TENANT, pid, "add_record", {"name": "spa", "price": 1.0})
    out = await h.rt.confirm(TENANT, pid)
    assert out["status"] == "EXECUTED"
    assert out["result"] == first
    assert (await records_version(h.store, TENANT)) == 1


async def test_failing_write_is_failed_with_reason(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, '!tools create_record {"name": "alpha", "price": 5}')
    out = await h.rt.confirm(TENANT, r["proposals"][0]["proposal_id"])
    assert out["status"] == "FAILED"
    assert out["result"] == {"error": "record 'alpha' already exists"}
    assert (await h.records())["items"]["alpha"]["price"] == 30.0


class BrokenWrites(MemoryStore):
    async def data_update(self, tenant_id: str, name: str, key: str, change: Any) -> Any:
        raise RuntimeError("disk on fire")


async def test_unexpected_error_fails_the_proposal(make_harness: MakeHarness) -> None:
    h = make_harness(store=BrokenWrites())
    sid = await h.session()
    r = await h.send(sid, '!tools create_record {"name": "spa", "price": 5}')
    out = await h.rt.confirm(TENANT, r["proposals"][0]["proposal_id"])
    assert out["status"] == "FAILED"
    assert out["result"] == {"error": "RuntimeError: disk on fire"}


async def test_tool_that_no_longer_exists_fails(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, '!tools create_record {"name": "spa", "price": 5}')
    pid = r["proposals"][0]["proposal_id"]
    ghost = (await h.proposal(pid)).model_copy(update={"tool": "ghost_tool"})
    await h.store.save_proposals([ghost], [])
    out = await h.rt.confirm(TENANT, pid)
    assert out["status"] == "FAILED"
    assert out["result"] == {"error": "tool ghost_tool no longer exists"}


async def test_timed_out_effect_outside_the_store_has_an_unknown_outcome(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(configs={"lab": lab_config(executor_timeout_ms=50)})
    sid = await h.session()
    r = await h.send(sid, '!tools slow_effect {"seconds": 0.2}')
    pid = r["proposals"][0]["proposal_id"]
    out = await h.rt.confirm(TENANT, pid)
    assert EFFECTS[-1] == pid  # the handler ran: its effect happened
    assert out["status"] == "FAILED"
    assert out["result"]["error_kind"] == "outcome_unknown"
    assert "unknown" in out["result"]["error"] and "did not run" not in out["result"]["error"]


class LosesTheExecutedWrite(MemoryStore):
    """The side effect happens, then the store fails to record EXECUTED (once)."""

    lose = True

    async def save_proposals(
        self, proposals: list[Proposal], audit: list[dict[str, Any]], ledger: Any = None
    ) -> None:
        if self.lose and any(p.status is S.EXECUTED for p in proposals):
            self.lose = False
            raise ConnectionError("store blip")
        await super().save_proposals(proposals, audit, ledger)


async def test_the_sweeper_finishes_a_proposal_left_confirmed(
    make_harness: MakeHarness, clock: FakeClock
) -> None:
    h = make_harness(store=LosesTheExecutedWrite())
    sid = await h.session()
    r = await h.send(sid, '!tools create_record {"name": "spa", "price": 5}')
    pid = r["proposals"][0]["proposal_id"]
    with pytest.raises(ConnectionError):
        await h.rt.confirm(TENANT, pid)
    assert (await h.proposal(pid)).status is S.CONFIRMED  # the write happened, though
    assert (await records_version(h.store, TENANT)) == 1
    clock.advance(10)
    await h.rt.book.sweep()
    assert (await h.proposal(pid)).status is S.EXECUTED
    assert (await records_version(h.store, TENANT)) == 1  # through the same exactly-once path: once
    with pytest.raises(InvalidTransition) as info:
        await h.rt.confirm(TENANT, pid)
    assert info.value.current == "EXECUTED"
    moves = [e["to"] for e in await h.rt.audit(TENANT, sid) if e.get("proposal_id") == pid]
    assert moves.count("EXECUTED") == 1
