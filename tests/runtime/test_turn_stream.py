"""`TurnStream.batch`: what arrived together is handed out together, and nothing is
lost or reordered around the turn's end or its failure."""

from __future__ import annotations

import asyncio

import pytest

from runtime import DoneEvent, ErrorEvent, NotFound, StartEvent, TokenEvent, TurnStream
from runtime.errors import error_to_wire

RESULT = {"reply": "Hi there", "proposals": [], "tool_calls": [], "usage": {}}


async def test_events_that_arrived_together_come_in_one_batch() -> None:
    stream = TurnStream()
    for event in (StartEvent(), TokenEvent("Hi "), TokenEvent("there")):
        stream.feed(event)
    assert await stream.batch(1.0) == [StartEvent(), TokenEvent("Hi "), TokenEvent("there")]
    stream.finish(RESULT)  # type: ignore[arg-type]
    assert await stream.batch(1.0) == [DoneEvent(RESULT)]  # type: ignore[arg-type]
    with pytest.raises(StopAsyncIteration):
        await stream.batch(1.0)


async def test_a_quiet_turn_gives_an_empty_batch_and_goes_on() -> None:
    stream = TurnStream()
    stream.feed(StartEvent())
    assert await stream.batch(1.0) == [StartEvent()]
    assert await stream.batch(0.05) == []  # (the SSE body writes a keep-alive)
    asyncio.get_running_loop().call_later(0.05, stream.feed, TokenEvent("late"))
    assert await stream.batch(5.0) == [TokenEvent("late")]


async def test_a_batch_waits_for_the_first_event_then_takes_what_came_with_it() -> None:
    stream = TurnStream()

    def deliver() -> None:  # one host delivery: several events in one callback
        stream.feed(StartEvent())
        stream.feed(TokenEvent("a"))
        stream.finish(RESULT)  # type: ignore[arg-type]

    asyncio.get_running_loop().call_later(0.05, deliver)
    assert await stream.batch(5.0) == [StartEvent(), TokenEvent("a"), DoneEvent(RESULT)]  # type: ignore[arg-type]


async def test_a_failure_after_the_start_is_an_error_event_in_the_batch() -> None:
    stream = TurnStream()
    stream.feed(StartEvent())
    stream.feed(TokenEvent("a"))
    stream.fail(NotFound("gone"))
    assert await stream.batch(1.0) == [
        StartEvent(),
        TokenEvent("a"),
        ErrorEvent(error_to_wire(NotFound("gone"))),
    ]
    with pytest.raises(StopAsyncIteration):
        await stream.batch(1.0)


async def test_a_turn_that_never_started_raises_its_error() -> None:
    stream = TurnStream()
    stream.fail(NotFound("no such session"))
    with pytest.raises(NotFound):
        await stream.batch(1.0)
    with pytest.raises(StopAsyncIteration):
        await stream.batch(1.0)


async def test_events_before_a_raised_error_are_handed_out_first() -> None:
    """(Not a path the runtime takes, since a started turn fails with an
    `ErrorEvent`; but a batch never drops what it already took.)"""
    stream = TurnStream()
    stream.feed(TokenEvent("a"))
    stream.fail(NotFound("no such session"))  # not started: raised, not an event
    assert await stream.batch(1.0) == [TokenEvent("a")]
    with pytest.raises(NotFound):
        await stream.batch(1.0)
