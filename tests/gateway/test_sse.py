"""Server-sent events: token..., tool_call, proposal, done; done == the JSON turn."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.sse import stream_events
from runtime import StartEvent, TokenEvent, ToolCallEvent, TurnStream

from .conftest import new_session, random_day

SSE = {"Accept": "text/event-stream"}


def parse_sse(raw: str) -> list[tuple[str, Any]]:
    events = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        events.append((name, json.loads("\n".join(data))))
    return events


def stream(api: httpx.Client, sid: object, text: str) -> tuple[httpx.Response, str]:
    with api.stream("POST", f"/v1/sessions/{sid}/messages", json={"text": text}, headers=SSE) as r:
        raw = r.read().decode()
    return r, raw


def deterministic(turn: dict[str, Any]) -> dict[str, Any]:
    keep = ("tool", "tier", "status", "preview", "depends_on", "expires_at", "result")
    return {
        "reply": turn["reply"],
        "tool_calls": turn["tool_calls"],
        "usage": turn["usage"],
        "proposals": [{k: p[k] for k in keep} for p in turn["proposals"]],
    }


def test_sse_events_in_order_and_done_equals_json(api: httpx.Client) -> None:
    text = f"book a haircut on {random_day()} at 14"
    streamed_session = new_session(api)
    r, raw = stream(api, streamed_session["session_id"], text)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-request-id"]
    events = parse_sse(raw)
    names = [n for n, _ in events]

    n_tokens = names.count("token")
    assert n_tokens >= 2
    # as they happen: the read tool starts and ends, the booking is proposed, the
    # model's answer streams, the save creates the proposal (its event), then done
    assert names == ["tool_call"] * 3 + ["token"] * n_tokens + ["proposal", "done"]

    done = events[-1][1]
    assert set(done) == {"reply", "proposals", "tool_calls", "usage"}
    tokens = [d for n, d in events if n == "token"]
    assert all(set(t) == {"text"} for t in tokens)
    assert "".join(t["text"] for t in tokens) == done["reply"]
    calls = [d for n, d in events if n == "tool_call"]
    assert calls[0] == {"tool": "check_availability", "tier": "T1", "status": "started"}
    assert [c for c in calls if c["status"] != "started"] == done["tool_calls"]
    assert [d for n, d in events if n == "proposal"] == done["proposals"]

    # the same turn, not streamed, in a twin session
    twin = new_session(api)
    plain = api.post(f"/v1/sessions/{twin['session_id']}/messages", json={"text": text})
    assert plain.status_code == 200
    assert deterministic(done) == deterministic(plain.json())

    # the streamed turn really happened: it is in history and its proposal exists
    pid = done["proposals"][0]["proposal_id"]
    assert api.get(f"/v1/proposals/{pid}").json()["status"] == "PENDING"
    history = api.get(f"/v1/sessions/{streamed_session['session_id']}/messages").json()
    assert [m["content"] for m in history["messages"]] == [text, done["reply"]]


def test_sse_plain_reply_is_tokens_then_done(api: httpx.Client) -> None:
    s = new_session(api)
    _, raw = stream(api, s["session_id"], "hello, what can you do?")
    events = parse_sse(raw)
    assert [n for n, _ in events][-1] == "done"
    assert {n for n, _ in events[:-1]} == {"token"}
    done = events[-1][1]
    assert done["tool_calls"] == [] and done["proposals"] == []
    assert "".join(d["text"] for n, d in events if n == "token") == done["reply"]


def test_sse_errors_are_plain_json(api: httpx.Client) -> None:
    r = api.post("/v1/sessions/s_nope/messages", json={"text": "hi"}, headers=SSE)
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "not_found"
    s = new_session(api)
    api.delete(f"/v1/sessions/{s['session_id']}")
    r = api.post(f"/v1/sessions/{s['session_id']}/messages", json={"text": "hi"}, headers=SSE)
    assert r.status_code == 409 and r.json()["error"]["type"] == "session_closed"


def test_json_accept_is_not_streamed(api: httpx.Client) -> None:
    s = new_session(api)
    r = api.post(
        f"/v1/sessions/{s['session_id']}/messages",
        json={"text": "hello"},
        headers={"Accept": "application/json"},
    )
    assert r.headers["content-type"].startswith("application/json")


def test_a_repeated_message_replays_its_saved_turn(api: httpx.Client) -> None:
    s = new_session(api)
    body = {"text": f"book a haircut on {random_day()} at 11", "message_id": "m-replay-1"}
    url = f"/v1/sessions/{s['session_id']}/messages"
    with api.stream("POST", url, json=body, headers=SSE) as r:
        first = parse_sse(r.read().decode())
    with api.stream("POST", url, json=body, headers=SSE) as r:
        again = parse_sse(r.read().decode())
    assert again[-1] == first[-1] and again[-1][0] == "done"
    assert api.post(url, json=body).json() == first[-1][1]  # and as JSON
    history = api.get(f"/v1/sessions/{s['session_id']}/messages").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"]  # one turn, not three


def test_tool_call_events_speak_api_md_statuses(api: httpx.Client) -> None:
    """A `tool_call` event ends with one of API.md's statuses; the JSON body's finer
    one (`unknown`, `invalid`, `exhausted`...) comes along as `reason`. Refused calls
    never ran: they have no `started` event. A replay says the same."""
    s = new_session(api, "lab")
    url = f"/v1/sessions/{s['session_id']}/messages"
    body = {"text": '!tools nope; slow {"seconds": -1}; echo*10', "message_id": "m-statuses"}
    with api.stream("POST", url, json=body, headers=SSE) as r:
        events = parse_sse(r.read().decode())
    calls = [d for n, d in events if n == "tool_call"]
    ran = [{"tool": "echo", "tier": "T1", "status": status} for status in ("started", "ok")]
    assert calls == [
        {"tool": "nope", "tier": "T1", "status": "error", "reason": "unknown"},
        {"tool": "slow", "tier": "T1", "status": "error", "reason": "invalid"},
        *ran * 9,
        {"tool": "echo", "tier": "T1", "status": "blocked", "reason": "exhausted"},
    ]
    done = events[-1][1]
    assert [c["status"] for c in done["tool_calls"]] == ["unknown", "invalid"] + ["ok"] * 9 + [
        "exhausted"
    ]  # the JSON body keeps the detail
    with api.stream("POST", url, json=body, headers=SSE) as r:
        replayed = parse_sse(r.read().decode())
    ended = [c for c in calls if c["status"] != "started"]
    assert [d for n, d in replayed if n == "tool_call"] == ended
    assert replayed[-1] == events[-1]


async def test_what_arrives_together_is_written_in_one_send() -> None:
    """A host delivery brings several of a stream's events at once: they go out as
    one write (numbered on), not one ASGI send each; a later event is a write of its
    own."""
    stream = TurnStream()
    stream.feed(StartEvent())
    response = await stream_events(stream)
    chunks = aiter(response.body_iterator)
    for event in (TokenEvent("Hi "), TokenEvent("there"), ToolCallEvent("t", "T1", "started")):
        stream.feed(event)
    first = await anext(chunks)
    assert isinstance(first, bytes) and first.count(b"\n\n") == 3
    assert [line for line in first.split(b"\n") if line.startswith(b"id: ")] == [
        b"id: 0",
        b"id: 1",
        b"id: 2",
    ]
    stream.finish({"reply": "Hi there", "proposals": [], "tool_calls": [], "usage": {}})
    last = await anext(chunks)
    assert isinstance(last, bytes) and last.startswith(b"id: 3\nevent: done\n")
    with pytest.raises(StopAsyncIteration):
        await anext(chunks)
