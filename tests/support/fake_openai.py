"""A local fake of an OpenAI-compatible Chat Completions server (`POST /v1/chat/completions`).

Its streams follow the documented wire format, which the SDK's parser
(openai/_streaming.py) reads: unnamed SSE events whose data is a
`chat.completion.chunk` (the first delta carries the role; `content` pieces;
tool calls as `tool_calls[i]` fragments, id, type and name in the first and
`function.arguments` split over the rest; a last choice chunk with the
`finish_reason`), then, with `stream_options.include_usage`, a chunk with no
choices and the `usage`, and the literal `data: [DONE]`. An error after the
stream began is a data line holding `{"error": {...}}`. HTTP errors are
`{"error": {"message", "type", "param", "code"}}`.

Unscripted requests get a 500 `server_error`; other paths a 404.
"""

from __future__ import annotations

from typing import Any

from .sse_server import Event, Received, Reply, Script, ScriptedServer, Stream, StreamItem

MODEL = "llama3.1:8b"
DONE = Event("[DONE]")


def error_json(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> Event:
    return Event(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": MODEL,
            "system_fingerprint": "fp_fake",
            "choices": choices,
            "usage": usage,
        }
    )


def delta(
    content: str | None = None,
    *,
    role: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    index: int = 0,
) -> Event:
    body: dict[str, Any] = {}
    if role is not None:
        body["role"] = role
    if content is not None:
        body["content"] = content
    if tool_calls is not None:
        body["tool_calls"] = tool_calls
    choice = {"index": index, "delta": body, "logprobs": None, "finish_reason": finish_reason}
    return chunk([choice])


def text(*pieces: str) -> list[Event]:
    """The role chunk, then one chunk per piece of text."""
    return [delta("", role="assistant"), *(delta(p) for p in pieces)]


def call_start(index: int, call_id: str, name: str) -> Event:
    fragment = {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    return delta(tool_calls=[fragment])


def call_args(index: int, arguments: str) -> Event:
    return delta(tool_calls=[{"index": index, "function": {"arguments": arguments}}])


def finish(reason: str) -> Event:
    return delta(finish_reason=reason)


def usage(prompt: int, completion: int) -> Event:
    total = prompt + completion
    return chunk(
        [], {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    )


def stream_error(message: str, kind: str = "server_error") -> Event:
    return Event(error_json(message, kind))


def stream(*items: StreamItem | list[Event], delay: float = 0.0) -> Stream:
    flat: list[StreamItem] = []
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    return Stream(tuple(flat), delay=delay)


def reply_text(*pieces: str, reason: str = "stop", tokens: tuple[int, int] = (9, 4)) -> Stream:
    """A whole plain-text answer, streamed."""
    return stream(text(*pieces), finish(reason), usage(*tokens), DONE)


class FakeOpenAI(ScriptedServer):
    @property
    def base_url(self) -> str:
        return f"{super().base_url}/v1"

    def answer(self, request: Received, scripted: Script | None) -> Script:
        if request.path != "/v1/chat/completions":
            return Reply(404, error_json(f"no route {request.path}", "invalid_request_error"))
        if scripted is None:
            return Reply(500, error_json("script exhausted", "server_error"))
        return scripted
