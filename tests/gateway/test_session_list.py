"""GET /v1/sessions (newest first, filtered, paginated), GET /v1/agents, and the
breaker's half-open time in the session detail: what the web console reads."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from .conftest import say, subject
from .test_sessions import SESSION_KEYS


def page(client: httpx.Client, **params: object) -> dict[str, object]:
    r = client.get("/v1/sessions", params={k: str(v) for k, v in params.items()})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    assert set(body) == {"sessions", "next_cursor"}
    return body


def three_sessions(api: httpx.Client) -> tuple[str, list[str]]:
    """Sessions of one new subject with each agent, created in this order."""
    who = subject()
    ids = []
    for agent in ("chatbot", "onboarding", "admin"):
        r = api.post("/v1/sessions", json={"agent": agent, "subject": who})
        assert r.status_code == 201, r.text
        ids.append(r.json()["session_id"])
    return who, ids


def test_sessions_newest_first_in_pages(api: httpx.Client) -> None:
    who, ids = three_sessions(api)
    first = page(api, subject=who, limit=2)
    sessions = first["sessions"]
    assert isinstance(sessions, list)
    assert [s["session_id"] for s in sessions] == [ids[2], ids[1]]
    assert all(set(s) == SESSION_KEYS for s in sessions)
    assert [s["agent"] for s in sessions] == ["admin", "onboarding"]
    assert isinstance(first["next_cursor"], str)

    second = page(api, subject=who, limit=2, cursor=first["next_cursor"])
    assert [s["session_id"] for s in second["sessions"]] == [ids[0]]  # type: ignore[attr-defined]
    assert second["next_cursor"] is None

    whole = page(api, subject=who)
    assert [s["session_id"] for s in whole["sessions"]] == ids[::-1]  # type: ignore[attr-defined]
    assert whole["next_cursor"] is None
    exact = page(api, subject=who, limit=3)
    assert exact["next_cursor"] is None  # exactly one page: no empty page after it


def test_the_whole_tenant_pages_through_every_session_once(api: httpx.Client) -> None:
    _, ids = three_sessions(api)
    seen: list[str] = []
    cursor: object = None
    created: list[float] = []
    while True:
        body = page(api, limit=7, **({"cursor": cursor} if cursor else {}))
        seen += [s["session_id"] for s in body["sessions"]]  # type: ignore[attr-defined]
        created += [s["created_at"] for s in body["sessions"]]  # type: ignore[attr-defined]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert set(ids) <= set(seen)
    assert created == sorted(created, reverse=True)


def test_filters_by_agent_and_status_follow_closing(api: httpx.Client) -> None:
    who, ids = three_sessions(api)
    only = page(api, subject=who, agent="onboarding")["sessions"]
    assert [s["session_id"] for s in only] == [ids[1]]  # type: ignore[attr-defined]

    assert api.delete(f"/v1/sessions/{ids[1]}").status_code == 200
    active = page(api, subject=who, status="active")["sessions"]
    assert [s["session_id"] for s in active] == [ids[2], ids[0]]  # type: ignore[attr-defined]
    closed = page(api, subject=who, status="closed")["sessions"]
    assert [(s["session_id"], s["status"]) for s in closed] == [(ids[1], "closed")]  # type: ignore[attr-defined]

    # a new active session of the same (agent, subject) lists beside the closed one
    again = api.post("/v1/sessions", json={"agent": "onboarding", "subject": who})
    assert again.status_code == 201
    both = page(api, subject=who, agent="onboarding")["sessions"]
    assert [s["status"] for s in both] == ["active", "closed"]  # type: ignore[attr-defined]


def test_sessions_are_tenant_scoped(api: httpx.Client, api_b: httpx.Client) -> None:
    who, _ = three_sessions(api)
    assert page(api_b, subject=who) == {"sessions": [], "next_cursor": None}
    first = page(api, subject=who, limit=1)
    # another tenant's cursor names a position, not a right: B still sees only B's
    assert page(api_b, subject=who, cursor=first["next_cursor"])["sessions"] == []


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_bad_limit_is_422(api: httpx.Client, limit: str) -> None:
    r = api.get("/v1/sessions", params={"limit": limit})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["type"] == "validation_error"


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        base64.urlsafe_b64encode(b"{}").decode(),
        base64.urlsafe_b64encode(b'["x", "s1"]').decode(),
        base64.urlsafe_b64encode(b"[1e999, 1]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_cursor_is_400(api: httpx.Client, cursor: str) -> None:
    r = api.get("/v1/sessions", params={"cursor": cursor})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "bad_request"
    assert "cursor" in r.json()["error"]["message"]


def test_bad_status_is_422_and_no_key_is_401(api: httpx.Client, anon: httpx.Client) -> None:
    assert api.get("/v1/sessions", params={"status": "open"}).status_code == 422
    assert anon.get("/v1/sessions").status_code == 401
    assert anon.get("/v1/agents").status_code == 401


def test_agents_lists_the_catalog(api: httpx.Client) -> None:
    r = api.get("/v1/agents")
    assert r.status_code == 200, r.text
    agents = r.json()["agents"]
    assert all(set(a) == {"name", "preset", "tools"} for a in agents)
    chatbot = next(a for a in agents if a["name"] == "chatbot")
    assert chatbot["preset"] == "chatbot"
    assert [(t["name"], t["tier"], t["source"]) for t in chatbot["tools"]] == [
        ("list_services", "T1", "python"),
        ("check_availability", "T1", "python"),
        ("book_appointment", "T3", "python"),
    ]
    book = chatbot["tools"][2]
    assert book["idempotent"] is True and "explicit confirm" in book["description"]
    names = [a["name"] for a in agents]
    assert names[:3] == ["onboarding", "chatbot", "admin"]
    assert "lab" in names  # configured agents too (the suite's servers add "lab")
    assert not any("@" in n for n in names)  # canary variants are not agents of their own
    for name in names:  # each one opens a session
        created = api.post("/v1/sessions", json={"agent": name, "subject": subject()})
        assert created.status_code == 201, created.text


def test_session_detail_says_when_an_open_breaker_half_opens(api: httpx.Client) -> None:
    r = api.post("/v1/sessions", json={"agent": "lab", "subject": subject()})
    sid = r.json()["session_id"]
    fresh = api.get(f"/v1/sessions/{sid}").json()
    assert (fresh["breaker"], fresh["breaker_half_open_at"]) == ("closed", None)

    before = time.time()
    turn = say(api, sid, "!tools fail*3")
    after = time.time()
    assert [c["status"] for c in turn["tool_calls"]] == ["error"] * 3  # type: ignore[union-attr]
    detail = api.get(f"/v1/sessions/{sid}").json()
    assert detail["breaker"] == "open"
    reset_s = 60.0  # the preset's breaker_reset_ms
    assert before + reset_s <= detail["breaker_half_open_at"] <= after + reset_s
