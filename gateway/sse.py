"""Server-sent events for a message turn (`Accept: text/event-stream`).

Events are sent as the turn makes them (`Backend.stream_message`): `token`
(data `{"text": delta}`, model text as it is produced), `tool_call` (a tool
starts, and again when it ends), `proposal` (created or changed), then `done`,
whose data is byte for byte the JSON body the non-streaming call returns, or
`error` (`{"error": {...}}`) when the turn fails after the stream began. Errors
found before the turn starts (404, 409, 503...) are ordinary JSON errors. A
repeat of a finished message (same `message_id`) is replayed from its saved
result: the reply in word chunks, its tool calls and proposals, then `done`.
While a turn is quiet (a slow tool), a comment line every `KEEPALIVE_S` keeps
proxies from closing the connection.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

from starlette.responses import StreamingResponse

from runtime import (
    DoneEvent,
    ErrorEvent,
    StartEvent,
    ToolCallEvent,
    TurnEvent,
    TurnOut,
    TurnStream,
)

from .delivery import Delivery
from .errors import public_error
from .responses import dumps

MEDIA_TYPE = "text/event-stream"
_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def wants_event_stream(accept: str | None) -> bool:
    """Does the Accept header ask for `text/event-stream` (with a quality above 0)?"""
    if not accept:
        return False
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        if media.strip().lower() == MEDIA_TYPE and _quality(params) > 0:
            return True
    return False


def word_chunks(text: str) -> list[str]:
    """Split into words, each with its trailing whitespace ("".join gives `text` back)."""
    return [c for c in _BOUNDARY.split(text) if c]


def turn_events(result: TurnOut) -> Iterator[tuple[str, bytes]]:
    for chunk in word_chunks(str(result.get("reply", ""))):
        yield "token", dumps({"text": chunk})
    for call in result.get("tool_calls", []):
        ended = ToolCallEvent.ended(call["tool"], call["tier"], call["status"])
        yield "tool_call", dumps(ended.data())
    for proposal in result.get("proposals", []):
        yield "proposal", dumps(proposal)
    yield "done", dumps(result)


def frame(event: str, data: bytes, event_id: int) -> bytes:
    """One SSE frame (compact JSON has no raw newlines, so one data line suffices)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, event.encode(), data)


_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEPALIVE_S = 15.0


def replay_turn(result: TurnOut, deliver: Delivery | None = None) -> StreamingResponse:
    """A finished turn as SSE (a repeat of its message)."""

    async def body() -> AsyncIterator[bytes]:
        for i, (event, data) in enumerate(turn_events(result)):
            if event == "done" and deliver is not None:
                await deliver(result)
            yield frame(event, data, i)

    return StreamingResponse(body(), media_type=MEDIA_TYPE, headers=_HEADERS)


def _data(event: TurnEvent) -> object:
    """An event's data; an `error` is the same error object as a response's."""
    if isinstance(event, ErrorEvent):
        return {"error": public_error(event.error)}
    return event.data()


async def stream_events(events: TurnStream, deliver: Delivery | None = None) -> StreamingResponse:
    """The response for a turn's event stream; raises (before any byte is sent)
    when the turn never started, so that error is a plain JSON response. What
    has arrived together (a host's delivery) is written in one send. `deliver`
    records the turn's proposals as delivered just before `done` is written (a
    client that left earlier has cancelled this body by then)."""
    first = await anext(events)
    if isinstance(first, DoneEvent):
        return replay_turn(first.result, deliver)

    async def body() -> AsyncIterator[bytes]:
        i = 0
        while True:  # a client that leaves cancels this wait; the turn goes on
            try:
                batch = await events.batch(KEEPALIVE_S)
            except StopAsyncIteration:
                return
            if not batch:
                yield b": keep-alive\n\n"
                continue
            frames = []
            for event in batch:
                if not isinstance(event, StartEvent):
                    frames.append(frame(event.kind, dumps(_data(event)), i))
                    i += 1
            last = batch[-1]
            if isinstance(last, DoneEvent) and deliver is not None:
                await deliver(last.result)
            if frames:
                yield b"".join(frames)
            if isinstance(batch[-1], DoneEvent | ErrorEvent):
                return

    return StreamingResponse(body(), media_type=MEDIA_TYPE, headers=_HEADERS)
