"""A local fake of the Anthropic Messages API (`POST /v1/messages`), JSON and SSE.

Its streams follow the documented event sequence, which the SDK's own parser
(anthropic/_streaming.py) reads: `message_start` (the message with empty
content and the input usage), per content block `content_block_start`,
`content_block_delta`s (`text_delta` or `input_json_delta`) and
`content_block_stop`, a `ping` now and then, `message_delta` (stop reason and
cumulative output usage) and `message_stop`. A failure after the stream began
is an `error` event: `{"type": "error", "error": {"type": "overloaded_error", ...}}`.

A scripted 200 `Reply` holding a whole message is answered as JSON to a plain
request and as the equivalent event stream to a `"stream": true` one, so
scripts written for whole replies work for both. Unscripted requests get a 500
`api_error`; paths other than /v1/messages a 404.
"""

from __future__ import annotations

import json
from typing import Any

from .sse_server import Event, Received, Reply, Script, ScriptedServer, Stream, StreamItem

MODEL = "claude-sonnet-4-6"


def message_json(
    content: list[dict[str, Any]],
    stop_reason: str | None = "end_turn",
    usage: tuple[int, int] = (11, 7),
) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def error_json(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}


def event(data: dict[str, Any]) -> Event:
    return Event(data, event=str(data["type"]))


def message_start(input_tokens: int = 11) -> Event:
    return event({"type": "message_start", "message": message_json([], None, (input_tokens, 1))})


def ping() -> Event:
    return event({"type": "ping"})


def text_block(index: int, *pieces: str) -> list[Event]:
    start = {"type": "text", "text": ""}
    deltas = [{"type": "text_delta", "text": p} for p in pieces]
    return block(index, start, deltas)


def tool_block(index: int, tool_id: str, name: str, *fragments: str) -> list[Event]:
    start = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
    deltas = [{"type": "input_json_delta", "partial_json": f} for f in fragments]
    return block(index, start, deltas)


def block(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> list[Event]:
    return [
        event({"type": "content_block_start", "index": index, "content_block": start}),
        *(event({"type": "content_block_delta", "index": index, "delta": d}) for d in deltas),
        event({"type": "content_block_stop", "index": index}),
    ]


def message_end(stop_reason: str = "end_turn", output_tokens: int = 7) -> list[Event]:
    return [
        event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            }
        ),
        event({"type": "message_stop"}),
    ]


def error_event(kind: str, message: str) -> Event:
    return Event({"type": "error", "error": {"type": kind, "message": message}}, event="error")


def stream(*items: StreamItem | list[Event], delay: float = 0.0) -> Stream:
    flat: list[StreamItem] = []
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    return Stream(tuple(flat), delay=delay)


def message_stream(message: dict[str, Any], delay: float = 0.0) -> Stream:
    """The event stream of a whole message (its tool input in two fragments)."""
    blocks: list[Event] = []
    for index, b in enumerate(message["content"]):
        if b["type"] == "text":
            blocks += text_block(index, b["text"])
        else:
            raw = json.dumps(b["input"])
            blocks += tool_block(
                index, b["id"], b["name"], raw[: len(raw) // 2], raw[len(raw) // 2 :]
            )
    usage = message["usage"]
    return stream(
        message_start(usage["input_tokens"]),
        ping(),
        blocks,
        message_end(message["stop_reason"], usage["output_tokens"]),
        delay=delay,
    )


class FakeAnthropic(ScriptedServer):
    def answer(self, request: Received, scripted: Script | None) -> Script:
        if request.path != "/v1/messages":
            return Reply(404, error_json("not_found_error", request.path))
        if scripted is None:
            return Reply(500, error_json("api_error", "script exhausted"))
        if (
            request.body.get("stream")
            and isinstance(scripted, Reply)
            and scripted.status == 200
            and scripted.body.get("type") == "message"
        ):
            return message_stream(scripted.body, scripted.delay)
        return scripted
