"""`TurnStream`: one turn's events for a streaming client, as an async iterator.

Whoever runs the turn feeds it (`feed` for each event, then `finish` with the
result or `fail` with the error); the client iterates. The first item tells
what kind of stream this is:

- `StartEvent`: the turn is running; events follow, then `DoneEvent`, or
  `ErrorEvent` if it fails from here on (the stream has begun);
- `DoneEvent` straight away: the message was a repeat of a finished turn
  (the caller replays its result);
- an exception raised by the first `__anext__`: the turn never started (404,
  409, 503...), so the caller can answer with a plain error response.

The producer never waits for the consumer: a client that stops reading (it
disconnected) does not slow down or cancel the turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from runtime.shapes import TurnOut

from .errors import error_to_wire
from .events import DoneEvent, Emit, ErrorEvent, StartEvent, TurnEvent


class TurnStream:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[TurnEvent | BaseException] = asyncio.Queue()
        self._started = False
        self._done = False  # the last item was handed out

    def feed(self, event: TurnEvent) -> None:
        if isinstance(event, StartEvent):
            self._started = True
        self._queue.put_nowait(event)

    def finish(self, result: TurnOut) -> None:
        self._queue.put_nowait(DoneEvent(result))

    def fail(self, exc: BaseException) -> None:
        self._queue.put_nowait(ErrorEvent(error_to_wire(exc)) if self._started else exc)

    def __aiter__(self) -> TurnStream:
        return self

    async def __anext__(self) -> TurnEvent:
        if self._done:
            raise StopAsyncIteration
        return self._hand_out(await self._queue.get())

    async def batch(self, wait_s: float) -> list[TurnEvent]:
        """Every event that has arrived, waiting up to `wait_s` for the first: `[]`
        when none came in time, and raises `StopAsyncIteration` after the last.
        (A client writes what one delivery brought in one go: one wait, not one
        per event.)"""
        if self._done:
            raise StopAsyncIteration
        if self._queue.empty():
            try:
                async with asyncio.timeout(wait_s):
                    first = await self._queue.get()
            except TimeoutError:
                return []
        else:
            first = self._queue.get_nowait()
        events = [self._hand_out(first)]
        while not self._done and not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, BaseException):  # raised by the next call, after these
                self._queue.put_nowait(item)
                break
            events.append(self._hand_out(item))
        return events

    def _hand_out(self, item: TurnEvent | BaseException) -> TurnEvent:
        if isinstance(item, BaseException):
            self._done = True
            raise item
        self._done = isinstance(item, DoneEvent | ErrorEvent)
        return item


def start_turn(
    run: Callable[[Emit], Awaitable[TurnOut]],
    turns: set[asyncio.Task[None]],
    before_done: Callable[[TurnOut], Awaitable[None]] | None = None,
) -> TurnStream:
    """The stream of `run(feed)`, started now in a task of its own that the client
    never cancels (kept in `turns` until it ends): `run` feeds the events, its result
    finishes the stream (after `before_done`, if given) and its exception fails it."""
    stream = TurnStream()

    async def drive() -> None:
        try:
            result = await run(stream.feed)
            if before_done is not None:
                await before_done(result)
            stream.finish(result)
        except Exception as exc:
            stream.fail(exc)

    task = asyncio.get_running_loop().create_task(drive())
    turns.add(task)
    task.add_done_callback(turns.discard)
    return stream
