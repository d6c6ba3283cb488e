"""Proposals: list/get/confirm/reject, 409 with the current status, confirm-once."""

from __future__ import annotations

import asyncio

import httpx

from .conftest import LiveServer, new_session, random_day, say


def propose_booking(api: httpx.Client, day: str, hour: int = 10) -> tuple[str, str]:
    s = new_session(api)
    turn = say(api, s["session_id"], f"book a haircut on {day} at {hour}")
    proposals = turn["proposals"]
    assert isinstance(proposals, list) and len(proposals) == 1
    return str(s["session_id"]), str(proposals[0]["proposal_id"])


def test_list_get_filters_newest_first(api: httpx.Client) -> None:
    day = random_day()
    sid, p1 = propose_booking(api, day, 10)
    p2 = say(api, sid, f"book a coloring on {day} at 12")["proposals"][0]["proposal_id"]  # type: ignore[index]

    r = api.get("/v1/proposals", params={"session_id": sid})
    assert r.status_code == 200
    listed = r.json()["proposals"]
    assert [p["proposal_id"] for p in listed] == [p2, p1]
    created = [p["created_at"] for p in listed]
    assert created == sorted(created, reverse=True)

    assert api.post(f"/v1/proposals/{p1}/reject").status_code == 200
    pending = api.get("/v1/proposals", params={"session_id": sid, "status": "PENDING"})
    assert [p["proposal_id"] for p in pending.json()["proposals"]] == [p2]
    rejected = api.get("/v1/proposals", params={"session_id": sid, "status": "REJECTED"})
    assert [p["proposal_id"] for p in rejected.json()["proposals"]] == [p1]

    got = api.get(f"/v1/proposals/{p2}")
    assert got.status_code == 200
    assert got.json() == listed[0]

    everything = {p["proposal_id"] for p in api.get("/v1/proposals").json()["proposals"]}
    assert {p1, p2} <= everything


def test_confirm_executes_then_409_with_status(api: httpx.Client) -> None:
    day = random_day()
    _, pid = propose_booking(api, day)
    r = api.post(f"/v1/proposals/{pid}/confirm")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "EXECUTED"
    assert body["result"]["date"] == day and body["result"]["time"] == "10:00"

    again = api.post(f"/v1/proposals/{pid}/confirm")
    assert again.status_code == 409
    err = again.json()["error"]
    assert err["type"] == "invalid_transition"
    assert err["status"] == "EXECUTED"
    assert "EXECUTED" in err["message"]

    rej = api.post(f"/v1/proposals/{pid}/reject")
    assert rej.status_code == 409 and rej.json()["error"]["status"] == "EXECUTED"


def test_reject_then_confirm_409(api: httpx.Client) -> None:
    _, pid = propose_booking(api, random_day())
    r = api.post(f"/v1/proposals/{pid}/reject")
    assert r.status_code == 200 and r.json()["status"] == "REJECTED"
    c = api.post(f"/v1/proposals/{pid}/confirm")
    assert c.status_code == 409
    assert c.json()["error"] == {
        "type": "invalid_transition",
        "message": c.json()["error"]["message"],
        "status": "REJECTED",
    }
    assert api.post(f"/v1/proposals/{pid}/reject").json()["error"]["status"] == "REJECTED"


def test_unknown_proposal_404(api: httpx.Client) -> None:
    for method, path in [
        ("GET", "/v1/proposals/p_nope"),
        ("POST", "/v1/proposals/p_nope/confirm"),
        ("POST", "/v1/proposals/p_nope/reject"),
    ]:
        r = api.request(method, path)
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"


async def test_concurrent_confirms_execute_once(server: LiveServer, api: httpx.Client) -> None:
    day = random_day()
    sid, pid = propose_booking(api, day)
    async with server.async_client("A") as c:
        results = await asyncio.gather(*(c.post(f"/v1/proposals/{pid}/confirm") for _ in range(10)))
        events = (await c.get("/v1/audit", params={"session_id": sid})).json()["events"]
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 9
    assert all(r.json()["error"]["status"] == "EXECUTED" for r in results if r.status_code == 409)
    executed = [e for e in events if e.get("proposal_id") == pid and e.get("to") == "EXECUTED"]
    assert len(executed) == 1
