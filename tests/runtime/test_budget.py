"""Trust tiers and the per-message recursion budget, unit and through LocalBackend."""

from __future__ import annotations

import json

import pytest

from runtime.tiers import RecursionBudget, Tier, TierCounter, exhausted_message

from .conftest import Harness, MakeHarness, lab_config


def directive(*calls: str) -> str:
    return "!tools " + "; ".join(calls)


def create(name: str, price: float = 1) -> str:
    return "create_record " + json.dumps({"name": name, "price": price})


DELETE_HAIRCUT = 'delete_record {"name": "alpha"}'


def statuses(result: dict[str, object], tier: str | None = None) -> list[str]:
    calls = result["tool_calls"]
    assert isinstance(calls, list)
    return [c["status"] for c in calls if tier is None or c["tier"] == tier]


# -- unit ---------------------------------------------------------------------


def test_exhausted_message_text() -> None:
    assert exhausted_message(Tier.T1) == "I've exhausted my capability for T1 operations."
    assert exhausted_message(Tier.T3) == "I've exhausted my capability for T3 operations."


def test_tier_counter_per_tier_limits() -> None:
    counter = TierCounter(RecursionBudget(T1=2, T2=1, T3=0))
    assert [counter.try_take(Tier.T1) for _ in range(3)] == [True, True, False]
    assert counter.try_take(Tier.T2) is True  # T1 exhausted does not block T2
    assert counter.try_take(Tier.T2) is False
    assert counter.try_take(Tier.T3) is False
    assert counter.usage() == {"T1": 2, "T2": 1, "T3": 0}  # refusals take nothing
    assert counter.used(Tier.T1) == 2


def test_budget_limit_and_validation() -> None:
    budget = RecursionBudget()
    assert [budget.limit(t) for t in Tier] == [10, 3, 1]
    with pytest.raises(ValueError):
        RecursionBudget(T2=-1)


# -- through the runtime ----------------------------------------------------------


async def test_t1_t2_t3_in_one_message_all_succeed(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, directive("echo", create("yoga"), DELETE_HAIRCUT))
    assert r["tool_calls"] == [
        {"tool": "echo", "tier": "T1", "status": "ok"},
        {"tool": "create_record", "tier": "T2", "status": "proposed"},
        {"tool": "delete_record", "tier": "T3", "status": "proposed"},
    ]
    assert r["usage"] == {"T1": 1, "T2": 1, "T3": 1}
    assert [(p["tier"], p["status"]) for p in r["proposals"]] == [
        ("T2", "PENDING"),
        ("T3", "PENDING"),
    ]
    assert "exhausted" not in r["reply"]


async def test_t1_exhaustion_does_not_block_t2(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, "!tools list_records*11; " + create("x"))
    assert statuses(r, "T1") == ["ok"] * 10 + ["exhausted"]
    assert statuses(r, "T2") == ["proposed"]
    assert r["usage"] == {"T1": 10, "T2": 1, "T3": 0}
    assert r["reply"].count("I've exhausted my capability for T1 operations.") == 1
    assert "T2 operations" not in r["reply"]
    assert len(r["proposals"]) == 1 and r["proposals"][0]["tool"] == "create_record"
    assert r["proposals"][0]["status"] == "PENDING"


async def test_three_t2_do_not_block_a_t3(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, directive(create("a"), create("b"), create("c"), DELETE_HAIRCUT))
    assert statuses(r) == ["proposed"] * 4
    assert r["usage"] == {"T1": 0, "T2": 3, "T3": 1}
    assert "exhausted" not in r["reply"]


async def test_fourth_t2_is_refused(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, directive(*(create(n) for n in "abcd")))
    assert statuses(r) == ["proposed"] * 3 + ["exhausted"]
    assert r["reply"].count(exhausted_message(Tier.T2)) == 1  # said once, not twice
    assert r["usage"]["T2"] == 3
    assert len(r["proposals"]) == 3
    stored = await h.rt.list_proposals("acme", sid, None)
    assert sorted(p["preview"] for p in stored) == sorted(
        f"create_record(name={n}, price=1.0)" for n in "abc"
    )


async def test_second_t3_is_refused(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, directive(DELETE_HAIRCUT, 'delete_record {"name": "gamma"}'))
    assert statuses(r) == ["proposed", "exhausted"]
    assert r["reply"].count(exhausted_message(Tier.T3)) == 1


async def test_counters_reset_per_message(h: Harness) -> None:
    sid = await h.session()
    first = await h.send(sid, "!tools echo*12")
    assert statuses(first) == ["ok"] * 10 + ["exhausted"] * 2
    second = await h.send(sid, "!tools echo*10")
    assert statuses(second) == ["ok"] * 10
    assert second["usage"] == {"T1": 10, "T2": 0, "T3": 0}
    assert "exhausted" not in second["reply"]
    info = await h.rt.get_session("acme", sid)
    assert info["usage"] == {"T1": 10, "T2": 0, "T3": 0}


async def test_custom_budget_and_step_cap(make_harness: MakeHarness) -> None:
    budget = RecursionBudget(T1=2, T2=1, T3=1)
    h = make_harness(configs={"lab": lab_config(recursion_budget=budget)})
    sid = await h.session()
    r = await h.send(sid, "!tools echo*10")
    # 2 + 1 + 1 + 3 model steps at most; every call after the second is refused.
    assert statuses(r) == ["ok", "ok"] + ["exhausted"] * 5
    assert r["reply"].endswith("I stopped here because this request needed too many steps.")


async def test_unknown_and_invalid_tools_are_reported(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, '!tools nope; slow {"seconds": -1}')
    assert statuses(r) == ["unknown", "invalid"]
    assert "No tool named nope." in r["reply"]
