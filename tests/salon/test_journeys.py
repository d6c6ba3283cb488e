"""The three demo journeys through LocalBackend with the ScriptedModel."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from runtime.models.base import ModelRequest, ToolSpec, user_text
from runtime.models.scripted import ScriptedModel, directive
from salon.domain import resolve_day
from salon.script import plan

from .conftest import TENANT, Harness


def tools_of(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["tool"], c["tier"], c["status"]) for c in r["tool_calls"]]


def readable(r: dict[str, Any]) -> str:
    """The reply, which people read: sentences, never a JSON dump."""
    reply: str = r["reply"]
    assert '{"' not in reply and '":' not in reply and "[{" not in reply, reply
    return reply


def tomorrow_label() -> str:
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    return f"Tomorrow ({day:%a} {day.day} {day:%b})"


async def test_chatbot_booking_journey(h: Harness) -> None:
    info, created = await h.rt.create_session(TENANT, "chatbot", "dana")
    assert created and info["greeting"].startswith("Hi! I'm the assistant of Demo Salon")
    sid = info["session_id"]

    r = await h.send(sid, "Is there availability for a haircut tomorrow?")
    assert tools_of(r) == [("check_availability", "T1", "ok")]
    assert readable(r) == (
        f"{tomorrow_label()} is free at 9:00, 10:00, 11:00, 12:00, 13:00, 14:00, 15:00 and 16:00."
    )

    r = await h.send(sid, "Please book a haircut tomorrow at 3pm")
    assert tools_of(r) == [
        ("check_availability", "T1", "ok"),
        ("book_appointment", "T3", "proposed"),
    ]
    [p] = r["proposals"]
    assert p["status"] == "PENDING" and p["expires_at"] is None
    assert "time=15:00" in p["preview"]
    assert readable(r).endswith("Waiting for your confirmation.")
    assert "Confirm button" not in r["reply"]  # neutral: API and CLI users have no button

    r = await h.send(sid, "yes please")  # a T3 is never soft-confirmed
    assert (await h.business())["appointments"] == []

    done = await h.rt.confirm(TENANT, p["proposal_id"])
    assert done["status"] == "EXECUTED"
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    appt = {"id": "appt-1", "service": "haircut", "date": tomorrow, "time": "15:00"}
    assert (await h.business())["appointments"] == [appt | {"customer": "dana"}]
    r = await h.send(sid, "any availability tomorrow?")
    assert "15:00" not in readable(r) and "14:00" in r["reply"]  # the slot is taken now


async def test_onboarding_journey(h: Harness) -> None:
    sid = await h.session("onboarding", subject="owner")
    steps = [
        ("My business is called Bella Hair Studio", "set_business_profile"),
        ("Add massage for $50, 60 min", "add_service"),
        ("We are open 9am to 6pm", "set_hours"),
        ("Publish the site", "publish_site"),
    ]
    previous: str | None = None
    for text, tool in steps:
        r = await h.send(sid, text)
        proposed = [p for p in r["proposals"] if p["status"] == "PENDING"]
        assert [(p["tool"], p["tier"]) for p in proposed] == [(tool, "T2")]
        if previous is not None:  # this message soft-confirmed the previous step
            executed = [p["proposal_id"] for p in r["proposals"] if p["status"] == "EXECUTED"]
            assert executed == [previous]
        previous = proposed[0]["proposal_id"]
    r = await h.send(sid, "thanks!")
    [published] = r["proposals"]
    assert published["status"] == "EXECUTED"
    assert published["result"]["url"] == "https://sites.example/bella-hair-studio"

    doc = await h.business()
    assert doc["name"] == "Bella Hair Studio"
    assert doc["services"]["massage"] == {"name": "massage", "price": 50.0, "duration_min": 60}
    assert doc["hours"] == {"open": "09:00", "close": "18:00", "days": "Mon-Sat"}
    assert doc["published"] is True
    r = await h.send(sid, "how is my setup progress?")
    assert tools_of(r) == [("get_profile", "T1", "ok")]
    assert readable(r) == (
        "Bella Hair Studio: open Mon-Sat 9:00-18:00; services: coloring, haircut, manicure, "
        "massage; the site is published."
    )


async def test_onboarding_no_cancels_a_step(h: Harness) -> None:
    sid = await h.session("onboarding", subject="owner")
    await h.send(sid, "My business is called Wrong Name")
    r = await h.send(sid, "no, wait")
    assert [p["status"] for p in r["proposals"]] == ["REJECTED"]
    assert (await h.business())["name"] == "Demo Salon"


async def test_admin_journey(h: Harness) -> None:
    sid = await h.session("admin", subject="manager")
    r = await h.send(sid, "Create service massage for $50")
    assert tools_of(r) == [("create_service", "T2", "proposed")]
    r = await h.send(sid, "Update massage price to $60")
    assert tools_of(r) == [("update_service", "T2", "proposed")]
    assert [p["status"] for p in r["proposals"]] == ["EXECUTED", "PENDING"]
    r = await h.send(sid, "Delete the haircut service")
    assert tools_of(r) == [("delete_service", "T3", "proposed")]
    delete = next(p for p in r["proposals"] if p["tool"] == "delete_service")
    assert delete["status"] == "PENDING"
    services = (await h.business())["services"]
    assert services["massage"]["price"] == 60.0
    assert "haircut" in services  # the T3 waits for the button
    done = await h.rt.confirm(TENANT, delete["proposal_id"])
    assert done["result"] == {"deleted": "haircut"}
    services = (await h.business())["services"]
    assert sorted(services) == ["coloring", "manicure", "massage"]
    r = await h.send(sid, "list the services")
    assert tools_of(r) == [("list_services", "T1", "ok")]
    assert readable(r) == (
        "We offer a coloring ($80, 90 min), a manicure ($25, 45 min) and a massage ($60, 30 min)."
    )


async def test_a_taken_slot_is_said_plainly_with_the_nearest_free_ones(h: Harness) -> None:
    first = await h.session("chatbot", subject="ann")
    r = await h.send(first, "book a haircut tomorrow at 10")
    assert tools_of(r)[-1] == ("book_appointment", "T3", "proposed")
    assert (await h.rt.confirm(TENANT, r["proposals"][0]["proposal_id"]))["status"] == "EXECUTED"

    second = await h.session("chatbot", subject="bob")
    r = await h.send(second, "book a haircut tomorrow at 10")
    assert tools_of(r) == [("check_availability", "T1", "ok")]  # no booking proposed
    assert r["proposals"] == []
    assert readable(r).endswith(
        f"{tomorrow_label()} at 10:00 is already taken; the nearest free times are "
        "9:00 and 11:00. Which one would you like?"
    )
    r = await h.send(second, "book a haircut tomorrow at 11")  # a free one is proposed
    assert tools_of(r)[-1] == ("book_appointment", "T3", "proposed")
    r = await h.send(second, "book a haircut tomorrow at 7")
    assert "7:00 is not a time we offer; the nearest free times are 9:00 and 11:00" in r["reply"]


# -- the scripted model itself ---------------------------------------------------------


ALL_TOOLS = {
    "list_services",
    "check_availability",
    "book_appointment",
    "set_business_profile",
    "add_service",
    "set_hours",
    "publish_site",
    "get_profile",
}


@pytest.mark.parametrize(
    ("text", "calls"),
    [
        ("what services do you offer?", [("list_services", {})]),
        (
            "openings on friday for coloring",
            [("check_availability", {"service": "coloring", "day": "friday"})],
        ),
        (
            "book a manicure on 2030-01-02 at 9:30am",
            [
                ("check_availability", {"service": "manicure", "day": "2030-01-02"}),
                ("book_appointment", {"service": "manicure", "day": "2030-01-02", "time": "09:30"}),
            ],
        ),
        ("hours 10 to 4", [("set_hours", {"open": "10:00", "close": "16:00"})]),
        (
            "can I book a haircut tomorrow?",  # no time: the day's free slots first
            [("check_availability", {"service": "haircut", "day": "tomorrow"})],
        ),
        ("show my profile", [("get_profile", {})]),
        ("hello there", []),
    ],
)
def test_the_demo_script(text: str, calls: list[tuple[str, dict[str, Any]]]) -> None:
    assert plan(text, ALL_TOOLS) == calls


def test_a_directive_calls_any_tool() -> None:
    assert directive('!tools echo*2; slow {"seconds": 1}') == [
        ("echo", {}),
        ("echo", {}),
        ("slow", {"seconds": 1}),
    ]


async def test_scripted_model_answers() -> None:
    model = ScriptedModel()
    tools = (ToolSpec("list_services", "", {}),)
    r = await model.complete(ModelRequest("", (user_text("hello"),), tools))
    assert r.text.startswith("Got it.")
    r = await model.complete(ModelRequest("", (user_text(" "),), tools))
    assert r.text == "How can I help?"
    menu = ModelRequest("", (user_text("what's on the menu"),), tools, script=plan)
    r = await model.complete(menu)
    assert r.tool_uses[0].name == "list_services" and r.stop_reason == "tool_use"


def test_resolve_day() -> None:
    monday = dt.date(2030, 1, 7)
    assert resolve_day("today", monday) == "2030-01-07"
    assert resolve_day("Tomorrow", monday) == "2030-01-08"
    assert resolve_day("monday", monday) == "2030-01-14"  # next week, not today
    assert resolve_day("friday", monday) == "2030-01-11"
    assert resolve_day("2030-02-03", monday) == "2030-02-03"
    with pytest.raises(ValueError, match="cannot understand"):
        resolve_day("someday", monday)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("!tools list_services*100000000", "at most 50 calls"),
        ("!tools " + "; ".join(["echo"] * 51), "at most 50 calls"),
        ("!tools echo " + "x" * 5000, "at most 4096 characters"),
        ("!tools echo {not json", "are not JSON"),
        ("!tools echo*two", "must be a whole number"),
        ("!tools echo*\u00b2", "must be a whole number"),  # superscript two: int() refuses it
        ("!tools echo*\u0663", "must be a whole number"),  # Arabic-Indic three: int() takes it
        ("!tools echo*\uff13", "must be a whole number"),  # fullwidth three
    ],
)
async def test_a_bad_directive_is_answered_clearly_and_runs_nothing(
    h: Harness, text: str, says: str
) -> None:
    sid = await h.session()
    r = await h.send(sid, text)
    assert r["tool_calls"] == []
    assert says in r["reply"]
