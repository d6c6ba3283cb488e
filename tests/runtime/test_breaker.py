"""The per-session circuit breaker: the state machine, and through LocalBackend."""

from __future__ import annotations

import itertools

import pytest

from runtime.breaker import OPEN_MESSAGE, BreakerState, CircuitBreaker
from runtime.errors import BreakerTransitionError

from . import probe
from .conftest import TENANT, FakeClock, Harness

B = BreakerState
ALLOWED = {
    (B.CLOSED, B.OPEN),
    (B.OPEN, B.HALF_OPEN),
    (B.HALF_OPEN, B.CLOSED),
    (B.HALF_OPEN, B.OPEN),
}


def make_breaker(clock: FakeClock) -> tuple[CircuitBreaker, list[tuple[B, B]]]:
    changes: list[tuple[B, B]] = []
    breaker = CircuitBreaker(3, 60.0, clock=clock, on_change=lambda a, b: changes.append((a, b)))
    return breaker, changes


def open_breaker(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        breaker.record_failure()


# -- unit -------------------------------------------------------------------------


def test_opens_after_three_consecutive_failures(clock: FakeClock) -> None:
    breaker, changes = make_breaker(clock)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.current() is B.CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.current() is B.OPEN
    assert breaker.allow() is False
    assert breaker.opened_at == clock()
    assert changes == [(B.CLOSED, B.OPEN)]


def test_success_resets_the_count(clock: FakeClock) -> None:
    breaker, changes = make_breaker(clock)
    for outcome in ["f", "f", "s", "f", "f", "s", "f", "f"]:
        if outcome == "f":
            breaker.record_failure()
        else:
            breaker.record_success()
    assert breaker.current() is B.CLOSED
    assert breaker.failures == 2
    assert changes == []


def test_half_open_after_reset_time(clock: FakeClock) -> None:
    breaker, changes = make_breaker(clock)
    open_breaker(breaker)
    clock.advance(59.9)
    assert breaker.current() is B.OPEN and not breaker.allow()
    clock.advance(0.1)
    assert breaker.current() is B.HALF_OPEN
    assert changes == [(B.CLOSED, B.OPEN), (B.OPEN, B.HALF_OPEN)]


def test_half_open_lets_one_trial_through(clock: FakeClock) -> None:
    breaker, _ = make_breaker(clock)
    open_breaker(breaker)
    clock.advance(60)
    assert breaker.allow() is True
    assert [breaker.allow() for _ in range(5)] == [False] * 5
    assert breaker.current() is B.HALF_OPEN


def test_trial_success_closes(clock: FakeClock) -> None:
    breaker, changes = make_breaker(clock)
    open_breaker(breaker)
    clock.advance(61)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.current() is B.CLOSED
    assert breaker.failures == 0
    assert all(breaker.allow() for _ in range(3))
    assert changes[-1] == (B.HALF_OPEN, B.CLOSED)


def test_trial_failure_reopens_for_another_period(clock: FakeClock) -> None:
    breaker, changes = make_breaker(clock)
    open_breaker(breaker)
    clock.advance(60)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.current() is B.OPEN
    assert breaker.opened_at == clock()
    clock.advance(30)
    assert not breaker.allow()
    clock.advance(30)
    assert breaker.allow()  # a new trial after a full period
    assert changes == [
        (B.CLOSED, B.OPEN),
        (B.OPEN, B.HALF_OPEN),
        (B.HALF_OPEN, B.OPEN),
        (B.OPEN, B.HALF_OPEN),
    ]


def test_neutral_outcome_frees_the_trial(clock: FakeClock) -> None:
    breaker, _ = make_breaker(clock)
    open_breaker(breaker)
    clock.advance(60)
    assert breaker.allow()
    breaker.record_neutral()  # e.g. the tool rejected its input: says nothing about health
    assert breaker.current() is B.HALF_OPEN
    assert breaker.allow() is True


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(B, B)))
def test_transition_table(clock: FakeClock, src: B, dst: B) -> None:
    breaker, changes = make_breaker(clock)
    breaker.restore({"state": src.value, "failures": 0, "opened_at": clock()})
    if (src, dst) in ALLOWED:
        breaker.transition(dst)
        assert breaker.state is dst
        assert changes == [(src, dst)]
    else:
        with pytest.raises(BreakerTransitionError) as info:
            breaker.transition(dst)
        assert (info.value.current, info.value.target) == (src.value, dst.value)
        assert breaker.state is src
        assert changes == []


def test_snapshot_restore_round_trip(clock: FakeClock) -> None:
    breaker, _ = make_breaker(clock)
    open_breaker(breaker)
    snap = breaker.snapshot()
    assert snap == {"state": "open", "failures": 3, "opened_at": clock()}
    again, _ = make_breaker(clock)
    again.restore(snap)
    assert again.current() is B.OPEN and not again.allow()
    clock.advance(60)
    assert again.current() is B.HALF_OPEN


# -- through the runtime ----------------------------------------------------------------


async def open_session_breaker(h: Harness) -> str:
    sid = await h.session()
    r = await h.send(sid, "!tools fail*3")
    assert [c["status"] for c in r["tool_calls"]] == ["error"] * 3
    return sid


async def test_three_failing_tools_open_the_session_breaker(h: Harness) -> None:
    sid = await open_session_breaker(h)
    info = await h.rt.get_session(TENANT, sid)
    assert info["breaker"] == "open"
    r = await h.send(sid, "!tools echo")
    assert r["tool_calls"] == [{"tool": "echo", "tier": "T1", "status": "breaker_open"}]
    assert r["reply"].startswith(OPEN_MESSAGE)
    assert sid not in r["reply"]  # echo would have returned the session id


async def test_open_breaker_does_not_call_the_tool(h: Harness) -> None:
    probe.CALLS.clear()
    sid = await h.session("probe")
    await h.send(sid, "!tools fail*3")
    r = await h.send(sid, "!tools count*2")
    assert [c["status"] for c in r["tool_calls"]] == ["breaker_open"] * 2
    assert probe.CALLS == {"fail": 3}


async def test_breaker_is_per_session(h: Harness) -> None:
    await open_session_breaker(h)
    other = await h.session(subject="user-2")
    r = await h.send(other, "!tools echo")
    assert r["tool_calls"][0]["status"] == "ok"
    assert (await h.rt.get_session(TENANT, other))["breaker"] == "closed"


async def test_successful_trial_after_reset_closes(h: Harness) -> None:
    sid = await open_session_breaker(h)
    h.clock.advance(59)
    r = await h.send(sid, "!tools echo")
    assert r["tool_calls"][0]["status"] == "breaker_open"
    h.clock.advance(1)
    assert (await h.rt.get_session(TENANT, sid))["breaker"] == "half_open"
    r = await h.send(sid, "!tools echo*2")
    assert [c["status"] for c in r["tool_calls"]] == ["ok", "ok"]
    assert OPEN_MESSAGE not in r["reply"]
    assert (await h.rt.get_session(TENANT, sid))["breaker"] == "closed"


async def test_failed_trial_reopens_and_blocks_the_rest(h: Harness) -> None:
    sid = await open_session_breaker(h)
    h.clock.advance(60)
    r = await h.send(sid, "!tools fail; echo")
    assert [c["status"] for c in r["tool_calls"]] == ["error", "breaker_open"]
    assert OPEN_MESSAGE in r["reply"]
    assert (await h.rt.get_session(TENANT, sid))["breaker"] == "open"


async def test_invalid_input_during_trial_does_not_wedge_the_breaker(h: Harness) -> None:
    probe.CALLS.clear()
    sid = await h.session("probe")
    await h.send(sid, "!tools fail*3")
    h.clock.advance(60)
    r = await h.send(sid, "!tools reject_input; count")
    assert [c["status"] for c in r["tool_calls"]] == ["invalid", "ok"]
    assert probe.CALLS["count"] == 1
    assert (await h.rt.get_session(TENANT, sid))["breaker"] == "closed"


async def test_breaker_audit_events(h: Harness) -> None:
    t_open = h.clock()
    sid = await open_session_breaker(h)
    h.clock.advance(60)
    await h.send(sid, "!tools echo")
    events = [e for e in await h.rt.audit(TENANT, sid) if e["type"] == "breaker"]
    assert [(e["from"], e["to"]) for e in events] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert [e["at"] for e in events] == [t_open, t_open + 60, t_open + 60]
    assert all(e["session_id"] == sid and e["tenant_id"] == TENANT for e in events)


async def test_breaker_state_survives_reload(h: Harness) -> None:
    sid = await open_session_breaker(h)
    h.clock.advance(1)
    assert h.rt.pool.evict_idle(-1) == 1  # drop the in-memory core
    assert sid not in h.rt.pool.cores
    r = await h.send(sid, "!tools echo")
    assert r["tool_calls"][0]["status"] == "breaker_open"
    h.clock.advance(60)
    r = await h.send(sid, "!tools echo")
    assert r["tool_calls"][0]["status"] == "ok"
