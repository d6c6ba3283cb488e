"""`Outbox` and `Hold` (actors/outbox.py) on a plain event loop: what leaves a
session host when, without Ray."""

from __future__ import annotations

import asyncio
import time

from actors.ops import OpOutcome
from actors.outbox import HOLD_MISSES, HOLD_PROBE_EVERY, Hold, Outbox
from runtime.events import StartEvent, TokenEvent


def later(seconds: float, hold: Hold, op_id: int) -> None:
    asyncio.get_running_loop().call_later(seconds, hold.outcome, OpOutcome(op_id, True, op_id))


async def test_a_hold_answers_with_what_ended_together_and_leaves_the_rest_to_the_outbox() -> None:
    box = Outbox()
    hold = Hold(box, 4)
    for op_id in (0, 1, 2):
        later(0.02, hold, op_id)  # three turns that end in the same iteration
    later(0.3, hold, 3)  # and a slow one
    t0 = time.monotonic()
    held = await hold.wait(5.0)
    assert time.monotonic() - t0 < 0.2  # the first to end closed it: nobody waited for op 3
    assert sorted(o.op_id for o in held) == [0, 1, 2]
    delivery = await box.next(5.0)  # op 3 comes through the poll
    assert [o.op_id for o in delivery.outcomes] == [3]


async def test_a_hold_gives_up_after_its_time_and_answers_empty() -> None:
    box = Outbox()
    hold = Hold(box, 1)
    later(0.2, hold, 7)
    t0 = time.monotonic()
    assert await hold.wait(0.02) == ()
    assert time.monotonic() - t0 < 0.15
    assert [o.op_id for o in (await box.next(5.0)).outcomes] == [7]


async def test_a_hold_of_nothing_answers_at_once() -> None:
    assert await asyncio.wait_for(Hold(Outbox(), 0).wait(5.0), 0.5) == ()


def test_a_caller_whose_holds_catch_nothing_is_answered_at_once_and_probed_now_and_then() -> None:
    box = Outbox()
    assert [box.hold_s(0.005) for _ in range(3)] == [0.005] * 3  # holds while they may pay
    for _ in range(HOLD_MISSES):
        box.held(0)  # turns that wait on a model: every hold ran out empty
    holds = [box.hold_s(0.005) for _ in range(4 * HOLD_PROBE_EVERY)]
    assert holds.count(0.005) == 4  # only the probes still hold
    assert holds.count(0.0) == 4 * HOLD_PROBE_EVERY - 4
    box.held(2)  # a probe caught outcomes (quick turns again): holding resumes at once
    assert [box.hold_s(0.005) for _ in range(3)] == [0.005] * 3
    box.held(0)  # one empty hold among caught ones does not stop it
    assert box.hold_s(0.005) == 0.005


async def test_a_streams_first_token_leaves_at_once_and_the_rest_wait_for_the_window() -> None:
    box = Outbox(token_flush_s=0.3)
    poll = asyncio.ensure_future(box.next(5.0))
    await asyncio.sleep(0)
    t0 = time.monotonic()
    box.event(1, TokenEvent("Hel"))
    first = await poll
    assert time.monotonic() - t0 < 0.1 and [e for _, e in first.events] == [TokenEvent("Hel")]
    box.event(1, TokenEvent("lo"))  # the same stream's next token waits for the window
    t1 = time.monotonic()
    second = await box.next(5.0)
    assert [e.text for _, e in second.events] == ["lo"] and time.monotonic() - t1 > 0.2
    box.event(1, TokenEvent("!"))
    poll = asyncio.ensure_future(box.next(5.0))
    await asyncio.sleep(0.01)
    assert not poll.done()
    box.event(2, TokenEvent("Hi"))  # another stream's first token goes now, with what waits
    third = await asyncio.wait_for(poll, 0.1)
    assert [(op, e.text) for op, e in third.events] == [(1, "!"), (2, "Hi")]


async def test_the_first_token_leaves_at_once_after_other_events_too() -> None:
    """A turn's internal start event (and its tool events) come first: the first
    token must not lose its urgency to them."""
    box = Outbox(token_flush_s=0.3)
    box.event(1, StartEvent())
    assert [e.kind for _, e in (await asyncio.wait_for(box.next(5.0), 0.1)).events] == ["start"]
    poll = asyncio.ensure_future(box.next(5.0))
    await asyncio.sleep(0)
    box.event(1, TokenEvent("Hi"))
    assert [e.kind for _, e in (await asyncio.wait_for(poll, 0.1)).events] == ["token"]
