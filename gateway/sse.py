"""Server-sent events for a message turn (`Accept: text/event-stream`).

The backend answers a turn as a whole, so the stream is produced from that
answer: `token` events (the reply in word chunks, data `{"text": ...}`), one
`tool_call` per tool call, one `proposal` per proposal, then `done`, whose
data is byte for byte the JSON body the non-streaming call returns. Errors
(404, 409...) happen before the stream starts and are ordinary JSON errors.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.responses import StreamingResponse

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


def turn_events(result: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    for chunk in word_chunks(str(result.get("reply", ""))):
        yield "token", dumps({"text": chunk})
    for call in result.get("tool_calls", []):
        yield "tool_call", dumps(call)
    for proposal in result.get("proposals", []):
        yield "proposal", dumps(proposal)
    yield "done", dumps(result)


def frame(event: str, data: bytes, event_id: int) -> bytes:
    """One SSE frame (compact JSON has no raw newlines, so one data line suffices)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, event.encode(), data)


def stream_turn(result: dict[str, Any]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for i, (event, data) in enumerate(turn_events(result)):
            yield frame(event, data, i)

    return StreamingResponse(
        body(),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
