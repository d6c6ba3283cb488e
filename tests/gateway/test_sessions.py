"""Sessions and messages: happy paths, shapes, closing, unicode, request ids."""

from __future__ import annotations

import re

import httpx

from .conftest import new_session, say, subject

SESSION_KEYS = {"session_id", "agent", "subject", "status", "greeting", "created_at"}
TURN_KEYS = {"reply", "proposals", "tool_calls", "usage"}
PROPOSAL_KEYS = {
    "proposal_id",
    "session_id",
    "tool",
    "tier",
    "status",
    "preview",
    "depends_on",
    "created_at",
    "expires_at",
    "result",
    "requested_by",
    "approvals",
    "needs",
    "can_approve",
    "hint",
    "approval_text",
    "final",
}


def test_create_session_shape_201_then_200(api: httpx.Client) -> None:
    who = subject()
    r = api.post("/v1/sessions", json={"agent": "chatbot", "subject": who})
    assert r.status_code == 201
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) >= SESSION_KEYS
    assert body["agent"] == "chatbot"
    assert body["subject"] == who
    assert body["status"] == "active"
    assert isinstance(body["greeting"], str) and body["greeting"]
    assert isinstance(body["created_at"], int | float)

    again = api.post("/v1/sessions", json={"agent": "chatbot", "subject": who})
    assert again.status_code == 200
    assert again.json()["session_id"] == body["session_id"]

    other_agent = api.post("/v1/sessions", json={"agent": "admin", "subject": who})
    assert other_agent.status_code == 201
    assert other_agent.json()["session_id"] != body["session_id"]


def test_every_agent_type_starts(api: httpx.Client) -> None:
    for agent in ("onboarding", "chatbot", "admin", "lab"):
        s = new_session(api, agent)
        assert s["agent"] == agent


def test_get_session_has_usage_and_breaker(api: httpx.Client) -> None:
    s = new_session(api)
    r = api.get(f"/v1/sessions/{s['session_id']}")
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= SESSION_KEYS | {"usage", "breaker"}
    assert body["breaker"] == "closed"
    assert body["status"] == "active"

    say(api, s["session_id"], "book a haircut on 2034-02-03 at 11")
    body = api.get(f"/v1/sessions/{s['session_id']}").json()
    assert body["usage"] == {"T1": 1, "T2": 0, "T3": 1}


def test_message_turn_shape(api: httpx.Client) -> None:
    s = new_session(api)
    turn = say(api, s["session_id"], "book a haircut on 2034-02-04 at 11")
    assert set(turn) == TURN_KEYS
    assert isinstance(turn["reply"], str) and turn["reply"]
    assert turn["tool_calls"] == [
        {"tool": "check_availability", "tier": "T1", "status": "ok"},
        {"tool": "book_appointment", "tier": "T3", "status": "proposed"},
    ]
    assert turn["usage"] == {"T1": 1, "T2": 0, "T3": 1}
    proposals = turn["proposals"]
    assert isinstance(proposals, list) and len(proposals) == 1
    p = proposals[0]
    assert set(p) == PROPOSAL_KEYS
    assert p["session_id"] == s["session_id"]
    assert (p["tool"], p["tier"], p["status"]) == ("book_appointment", "T3", "PENDING")
    assert p["depends_on"] == [] and p["expires_at"] is None and p["result"] is None


def test_plain_message_has_no_tools(api: httpx.Client) -> None:
    s = new_session(api)
    turn = say(api, s["session_id"], "hello there")
    assert turn["tool_calls"] == [] and turn["proposals"] == []
    assert turn["usage"] == {"T1": 0, "T2": 0, "T3": 0}


def test_messages_history_in_order(api: httpx.Client) -> None:
    s = new_session(api)
    replies = [say(api, s["session_id"], f"hello number {i}")["reply"] for i in range(3)]
    r = api.get(f"/v1/sessions/{s['session_id']}/messages")
    assert r.status_code == 200
    messages = r.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert [m["content"] for m in messages[::2]] == [f"hello number {i}" for i in range(3)]
    assert [m["content"] for m in messages[1::2]] == replies
    stamps = [m["at"] for m in messages]
    assert stamps == sorted(stamps)
    assert all(set(m) == {"role", "content", "at"} for m in messages)


def test_new_session_has_empty_history(api: httpx.Client) -> None:
    s = new_session(api)
    r = api.get(f"/v1/sessions/{s['session_id']}/messages")
    assert r.status_code == 200 and r.json() == {"messages": []}


def test_unicode_round_trips(api: httpx.Client) -> None:
    s = new_session(api)
    text = (
        "Grüße 👋🏽 — 予約 できますか？ مرحبا e\u0301 "
        '\U0001f9d1\u200d\U0001f373 "quoted"\n\tnext line \u0000 nul'
    )
    say(api, s["session_id"], text)
    messages = api.get(f"/v1/sessions/{s['session_id']}/messages").json()["messages"]
    assert messages[0]["content"] == text


def test_close_session_then_409(api: httpx.Client) -> None:
    s = new_session(api)
    sid = s["session_id"]
    r = api.delete(f"/v1/sessions/{sid}")
    assert r.status_code == 200 and r.json() == {"status": "closed"}
    assert api.get(f"/v1/sessions/{sid}").json()["status"] == "closed"

    r = api.post(f"/v1/sessions/{sid}/messages", json={"text": "anyone there?"})
    assert r.status_code == 409
    assert r.json()["error"]["type"] == "session_closed"

    # closing is idempotent, and the subject can start afresh
    assert api.delete(f"/v1/sessions/{sid}").status_code == 200
    fresh = api.post("/v1/sessions", json={"agent": "chatbot", "subject": s["subject"]})
    assert fresh.status_code == 201 and fresh.json()["session_id"] != sid


def test_unknown_session_404(api: httpx.Client) -> None:
    for method, path in [
        ("GET", "/v1/sessions/s_nope"),
        ("GET", "/v1/sessions/s_nope/messages"),
        ("DELETE", "/v1/sessions/s_nope"),
    ]:
        r = api.request(method, path)
        assert r.status_code == 404, (method, path)
        assert r.json()["error"]["type"] == "not_found"
    r = api.post("/v1/sessions/s_nope/messages", json={"text": "hi"})
    assert r.status_code == 404


def test_request_id_echoed_or_generated(api: httpx.Client) -> None:
    r = api.get("/healthz", headers={"X-Request-ID": "req-abc.123"})
    assert r.headers["x-request-id"] == "req-abc.123"
    r = api.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    r = api.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"
    # errors carry one too
    r = api.get("/v1/sessions/s_nope", headers={"X-Request-ID": "err-1"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "err-1"
