"""Soft-confirm windows over HTTP, with the lab agent's short window (1.5 s)."""

from __future__ import annotations

import time

import httpx

from tests.gateway.conftest import new_session, say

WRITE = '!tools create_service {"name": "%s", "price": 12}'


def _propose(api: httpx.Client, name: str) -> tuple[str, str]:
    sid = str(new_session(api, "lab")["session_id"])
    r = say(api, sid, WRITE % name)
    [p] = r["proposals"]  # type: ignore[misc]
    assert p["status"] == "PENDING" and p["expires_at"] - p["created_at"] == 1.5
    return sid, str(p["proposal_id"])


def _services(api: httpx.Client, sid: str) -> str:
    return str(say(api, sid, "!tools list_services")["reply"])


def test_reply_inside_window_confirms(api: httpx.Client) -> None:
    sid, pid = _propose(api, "inside")
    r = say(api, sid, "sounds right")
    assert [(p["proposal_id"], p["status"]) for p in r["proposals"]] == [(pid, "EXECUTED")]  # type: ignore[union-attr]
    assert '"inside"' in _services(api, sid)


def test_refusal_rejects(api: httpx.Client) -> None:
    sid, pid = _propose(api, "refused")
    r = say(api, sid, "no, don't do that")
    assert [(p["proposal_id"], p["status"]) for p in r["proposals"]] == [(pid, "REJECTED")]  # type: ignore[union-attr]
    assert api.get(f"/v1/proposals/{pid}").json()["status"] == "REJECTED"
    assert '"refused"' not in _services(api, sid)


def test_reply_after_window_finds_it_expired(api: httpx.Client) -> None:
    sid, pid = _propose(api, "late")
    time.sleep(2.2)  # past the window; the sweeper expires it
    assert api.get(f"/v1/proposals/{pid}").json()["status"] == "EXPIRED"
    say(api, sid, "yes")
    assert api.get(f"/v1/proposals/{pid}").json()["status"] == "EXPIRED"
    assert '"late"' not in _services(api, sid)
    events = api.get("/v1/audit", params={"session_id": sid}).json()["events"]
    assert [e["to"] for e in events if e.get("proposal_id") == pid] == ["PENDING", "EXPIRED"]
