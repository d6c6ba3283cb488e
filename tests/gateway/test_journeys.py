"""The three journeys of API.md, over HTTP only."""

from __future__ import annotations

import random
import string

import httpx

from .conftest import new_session, random_day
from .conftest import say as say_to


def say(client: httpx.Client, session_id: object, text: str) -> dict[str, object]:
    """One message; its reply is for people: sentences, never a JSON dump."""
    body = say_to(client, session_id, text)
    reply = str(body["reply"])
    assert '{"' not in reply and '":' not in reply and "[{" not in reply, reply
    return body


def letters(n: int = 6) -> str:
    return "".join(random.choices(string.ascii_lowercase, k=n))


def proposals_of(api: httpx.Client, sid: object) -> list[dict[str, object]]:
    r = api.get("/v1/proposals", params={"session_id": str(sid)})
    assert r.status_code == 200
    found: list[dict[str, object]] = r.json()["proposals"]
    return found


def test_chatbot_booking_with_t3_confirm(api: httpx.Client) -> None:
    day = random_day()
    s = new_session(api, "chatbot")
    sid = s["session_id"]
    turn = say(api, sid, f"book a haircut on {day} at 10")
    assert [c["tool"] for c in turn["tool_calls"]] == ["check_availability", "book_appointment"]  # type: ignore[union-attr, index]
    (proposal,) = turn["proposals"]  # type: ignore[misc]
    pid = proposal["proposal_id"]
    assert (proposal["tier"], proposal["status"]) == ("T3", "PENDING")

    # a T3 is never confirmed by chatting
    later = say(api, sid, "yes please, go ahead")
    assert api.get(f"/v1/proposals/{pid}").json()["status"] == "PENDING"
    assert later["proposals"] == []

    done = api.post(f"/v1/proposals/{pid}/confirm")
    assert done.status_code == 200
    assert done.json()["status"] == "EXECUTED"
    appointment = done.json()["result"]
    assert (appointment["service"], appointment["date"], appointment["time"]) == (
        "haircut",
        day,
        "10:00",
    )
    assert appointment["customer"] == s["subject"]

    second = api.post(f"/v1/proposals/{pid}/confirm")
    assert second.status_code == 409
    assert second.json()["error"]["status"] == "EXECUTED"

    events = api.get("/v1/audit", params={"session_id": str(sid)}).json()["events"]
    executed = [e for e in events if e.get("proposal_id") == pid and e.get("to") == "EXECUTED"]
    assert len(executed) == 1

    # only one appointment: the slot is gone, and booking it again fails
    check = say(api, sid, f"check availability for haircut on {day}")
    assert " 10:00" not in str(check["reply"]) and " 11:00" in str(check["reply"])
    other = new_session(api, "chatbot")
    retry = say(api, other["session_id"], f"book a haircut on {day} at 10")
    # a taken slot is said plainly, with the nearest free ones: no booking to fail later
    assert [c["tool"] for c in retry["tool_calls"]] == ["check_availability"]  # type: ignore[union-attr, index]
    assert retry["proposals"] == []
    assert "at 10:00 is already taken; the nearest free times are 9:00 and 11:00" in str(
        retry["reply"]
    )


def test_onboarding_four_soft_confirmed_steps(api: httpx.Client) -> None:
    s = new_session(api, "onboarding")
    sid = s["session_id"]
    name = f"Glow {letters().capitalize()}"
    steps = [
        (f"My business is called {name}", "set_business_profile"),
        ("add service facial 60 min $50", "add_service"),
        ("we are open 9am to 6pm", "set_hours"),
        ("publish the site", "publish_site"),
    ]
    previous: str | None = None
    for text, tool in steps:
        turn = say(api, sid, text)
        by_tool = {p["tool"]: p for p in turn["proposals"]}  # type: ignore[union-attr, index]
        assert by_tool[tool]["status"] == "PENDING" and by_tool[tool]["tier"] == "T2"
        if previous is not None:
            assert by_tool[previous]["status"] == "EXECUTED"  # soft-confirmed by this message
        previous = tool
    final = say(api, sid, "great, thanks")
    assert [(p["tool"], p["status"]) for p in final["proposals"]] == [  # type: ignore[union-attr, index]
        ("publish_site", "EXECUTED")
    ]
    listed = proposals_of(api, sid)
    assert sorted(str(p["tool"]) for p in listed) == sorted(t for _, t in steps)
    assert all(p["status"] == "EXECUTED" for p in listed)
    publish = next(p for p in listed if p["tool"] == "publish_site")
    assert publish["result"]["published"] is True  # type: ignore[index]

    profile = say(api, sid, "show my profile")
    assert "the site is published." in str(profile["reply"])
    assert name in str(profile["reply"])


def test_admin_create_update_then_delete(api: httpx.Client) -> None:
    s = new_session(api, "admin")
    sid = s["session_id"]
    svc = "svc" + letters()

    created = say(api, sid, f"create service {svc} 45 min $70")
    (create_p,) = created["proposals"]  # type: ignore[misc]
    assert (create_p["tool"], create_p["tier"], create_p["status"]) == (
        "create_service",
        "T2",
        "PENDING",
    )
    assert create_p["expires_at"] is not None

    updated = say(api, sid, f"update {svc} to $80")
    by_tool = {p["tool"]: p for p in updated["proposals"]}  # type: ignore[union-attr, index]
    assert by_tool["create_service"]["status"] == "EXECUTED"
    assert by_tool["update_service"]["status"] == "PENDING"

    ok = say(api, sid, "ok")
    (upd,) = ok["proposals"]  # type: ignore[misc]
    assert upd["tool"] == "update_service" and upd["status"] == "EXECUTED"
    assert upd["result"]["price"] == 80.0

    listing = say(api, sid, "list the services")
    assert svc in str(listing["reply"])

    deleting = say(api, sid, f"delete the service {svc}")
    (delete_p,) = deleting["proposals"]  # type: ignore[misc]
    assert (delete_p["tool"], delete_p["tier"], delete_p["status"]) == (
        "delete_service",
        "T3",
        "PENDING",
    )
    # chatting does not confirm a T3
    say(api, sid, "yes")
    assert api.get(f"/v1/proposals/{delete_p['proposal_id']}").json()["status"] == "PENDING"
    confirmed = api.post(f"/v1/proposals/{delete_p['proposal_id']}/confirm")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "EXECUTED"
    assert confirmed.json()["result"] == {"deleted": svc}

    after = say(api, sid, "list the services")
    assert svc not in str(after["reply"])

    events = api.get("/v1/audit", params={"session_id": str(sid)}).json()["events"]
    types = {e["type"] for e in events}
    assert {"message", "tool_call", "proposal"} <= types
    assert all({"type", "at", "session_id"} <= set(e) for e in events)
    for e in events:
        if e["type"] == "proposal":
            assert {"proposal_id", "from", "to"} <= set(e)
    executed = [e for e in events if e["type"] == "proposal" and e["to"] == "EXECUTED"]
    assert len(executed) == 3  # create, update, delete: one event each
