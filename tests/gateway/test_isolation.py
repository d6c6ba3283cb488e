"""Tenant isolation: B sees 404 for everything of A's, never a hint that it exists."""

from __future__ import annotations

import httpx
import pytest

from .conftest import new_session, say


@pytest.fixture(scope="module")
def a_world(api: httpx.Client) -> dict[str, str]:
    """A session of tenant A with two pending T3 proposals."""
    s = new_session(api)
    sid = str(s["session_id"])
    first = say(api, sid, "book a haircut on 2035-01-08 at 10")["proposals"]
    second = say(api, sid, "book a manicure on 2035-01-08 at 11")["proposals"]
    assert isinstance(first, list) and isinstance(second, list)
    return {"sid": sid, "p1": first[0]["proposal_id"], "p2": second[0]["proposal_id"]}


def same_404(r: httpx.Response, twin: httpx.Response) -> None:
    """A 404 for A's id looks exactly like the 404 for an id that never existed."""
    assert r.status_code == 404, r.text
    assert twin.status_code == 404
    assert r.json()["error"]["type"] == twin.json()["error"]["type"] == "not_found"
    assert set(r.json()["error"]) == set(twin.json()["error"])


def test_b_cannot_see_a_session(api_b: httpx.Client, a_world: dict[str, str]) -> None:
    sid = a_world["sid"]
    ghost = "s_" + "0" * 32
    for method, path in [
        ("GET", "/v1/sessions/{}"),
        ("GET", "/v1/sessions/{}/messages"),
        ("DELETE", "/v1/sessions/{}"),
    ]:
        same_404(api_b.request(method, path.format(sid)), api_b.request(method, path.format(ghost)))
    same_404(
        api_b.post(f"/v1/sessions/{sid}/messages", json={"text": "hi"}),
        api_b.post(f"/v1/sessions/{ghost}/messages", json={"text": "hi"}),
    )
    same_404(
        api_b.get("/v1/audit", params={"session_id": sid}),
        api_b.get("/v1/audit", params={"session_id": ghost}),
    )


def test_b_cannot_touch_a_proposals(
    api: httpx.Client, api_b: httpx.Client, a_world: dict[str, str]
) -> None:
    ghost = "p_" + "0" * 16
    for pid in (a_world["p1"], a_world["p2"]):
        same_404(api_b.get(f"/v1/proposals/{pid}"), api_b.get(f"/v1/proposals/{ghost}"))
        same_404(
            api_b.post(f"/v1/proposals/{pid}/confirm"),
            api_b.post(f"/v1/proposals/{ghost}/confirm"),
        )
        same_404(
            api_b.post(f"/v1/proposals/{pid}/reject"),
            api_b.post(f"/v1/proposals/{ghost}/reject"),
        )
        # and nothing happened to them
        assert api.get(f"/v1/proposals/{pid}").json()["status"] == "PENDING"


def test_b_listings_never_show_a(
    api: httpx.Client, api_b: httpx.Client, a_world: dict[str, str]
) -> None:
    b_session = new_session(api_b)
    say(api_b, b_session["session_id"], "book a haircut on 2035-01-09 at 10")
    mine = {a_world["p1"], a_world["p2"]}
    for params in (
        {},
        {"session_id": a_world["sid"]},
        {"status": "PENDING"},
        {"session_id": a_world["sid"], "status": "PENDING"},
    ):
        r = api_b.get("/v1/proposals", params=params)
        assert r.status_code == 200
        ids = {p["proposal_id"] for p in r.json()["proposals"]}
        assert not ids & mine, params
        assert all(p["session_id"] != a_world["sid"] for p in r.json()["proposals"])
    b_all = api_b.get("/v1/proposals").json()["proposals"]
    assert b_all and all(p["session_id"] != a_world["sid"] for p in b_all)

    events = api_b.get("/v1/audit").json()["events"]
    assert all(e.get("session_id") != a_world["sid"] for e in events)
    assert all(e.get("proposal_id") not in mine for e in events)

    # A sees its own
    a_ids = {p["proposal_id"] for p in api.get("/v1/proposals").json()["proposals"]}
    assert mine <= a_ids


def test_same_subject_in_two_tenants_is_two_sessions(
    api: httpx.Client, api_b: httpx.Client
) -> None:
    body = {"agent": "chatbot", "subject": "shared-subject-name"}
    a = api.post("/v1/sessions", json=body).json()
    b = api_b.post("/v1/sessions", json=body).json()
    assert a["session_id"] != b["session_id"]
