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
    # the window (1.5 s) starts when the turn is saved, a moment after it began
    assert p["status"] == "PENDING" and 1.5 <= p["expires_at"] - p["created_at"] < 2.0
    return sid, str(p["proposal_id"])


def _services(api: httpx.Client, sid: str) -> str:
    return str(say(api, sid, "!tools list_services")["reply"])


def test_reply_inside_window_confirms(api: httpx.Client) -> None:
    sid, pid = _propose(api, "inside")
    r = say(api, sid, "sounds right")
    assert [(p["proposal_id"], p["status"]) for p in r["proposals"]] == [(pid, "EXECUTED")]  # type: ignore[union-attr]
    assert "inside" in _services(api, sid)


def test_refusal_rejects(api: httpx.Client) -> None:
    sid, pid = _propose(api, "refused")
    r = say(api, sid, "no, don't do that")
    assert [(p["proposal_id"], p["status"]) for p in r["proposals"]] == [(pid, "REJECTED")]  # type: ignore[union-attr]
    assert api.get(f"/v1/proposals/{pid}").json()["status"] == "REJECTED"
    assert "refused" not in _services(api, sid)


def test_reply_after_window_finds_it_expired(api: httpx.Client) -> None:
    sid, pid = _propose(api, "late")
    time.sleep(2.2)  # past the window; the sweeper expires it
    assert api.get(f"/v1/proposals/{pid}").json()["status"] == "EXPIRED"
    say(api, sid, "yes")
    assert api.get(f"/v1/proposals/{pid}").json()["status"] == "EXPIRED"
    assert "late" not in _services(api, sid)
    events = api.get("/v1/audit", params={"session_id": sid}).json()["events"]
    assert [e["to"] for e in events if e.get("proposal_id") == pid] == ["PENDING", "EXPIRED"]


def _metric(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_each_window_outcome(api: httpx.Client, anon: httpx.Client) -> None:
    names = {
        r: f'soft_confirm_window_hits{{result="{r}",tier="T2"}}'
        for r in ("success", "rejected", "expired")
    }
    chat = 'orchestrator_chat_duration_ms_count{agent="lab"}'
    depth = 'recursion_depth_used_count{agent="lab",tier="T2"}'
    tool = 'tool_execution_duration_ms_count{result="ok",tier="T2",tool="create_service"}'
    before = anon.get("/metrics").text
    sid, _ = _propose(api, "m-yes")
    say(api, sid, "yes")  # success: executes create_service once
    sid, _ = _propose(api, "m-no")
    say(api, sid, "no")  # rejected
    _propose(api, "m-late")
    time.sleep(2.2)  # expired by the sweeper
    after = anon.get("/metrics").text
    delta = {r: _metric(after, n) - _metric(before, n) for r, n in names.items()}
    assert delta == {"success": 1.0, "rejected": 1.0, "expired": 1.0}
    assert _metric(after, chat) - _metric(before, chat) == 5.0  # five messages, five turns
    assert _metric(after, depth) - _metric(before, depth) == 5.0
    assert _metric(after, tool) - _metric(before, tool) == 1.0
