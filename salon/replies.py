"""The salon agents' words for the offline ScriptedModel: tool results as sentences.

`narrate()` phrases what the salon's reads return ("We offer a haircut ($30,
30 min), ...", "Tomorrow (Tue 8 Dec) is free at 9:00, 11:00, ..."); `gate()`
keeps the demo consistent: a booking is proposed only for a slot the
availability check found free, and a taken one is said plainly, with the
nearest free times instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from runtime import ToolOutcome


def _time(hhmm: str) -> str:
    """ "09:00" -> "9:00"."""
    return hhmm[1:] if hhmm.startswith("0") else hhmm


def _list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def day_label(iso: str, today: dt.date | None = None) -> str:
    """ "2026-12-08" -> "Tomorrow (Tue 8 Dec)" (or "Today", or the weekday)."""
    try:
        date = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    base = today or dt.datetime.now(dt.UTC).date()
    short = f"{date:%a} {date.day} {date:%b}"
    if date == base:
        return f"Today ({short})"
    if date == base + dt.timedelta(days=1):
        return f"Tomorrow ({short})"
    return f"{date:%A} ({short})"


def _load(outcome: ToolOutcome) -> Any:
    if outcome.is_error:
        return None
    try:
        return orjson.loads(outcome.content)
    except orjson.JSONDecodeError:
        return None


def narrate(outcome: ToolOutcome, today: dt.date | None = None) -> str | None:
    """A sentence for one of the salon's reads (None: the model's own summary)."""
    data = _load(outcome)
    if outcome.name == "list_services" and isinstance(data, list):
        if not data:
            return "We have no services listed yet."
        offers = [
            f"{_article(str(s['name']))} (${float(s['price']):g}, {s['duration_min']} min)"
            for s in data
        ]
        return f"We offer {_list(offers)}."
    if outcome.name == "check_availability" and isinstance(data, dict):
        label = day_label(str(data.get("date", "")), today)
        free = [_time(str(t)) for t in data.get("free", [])]
        if not free:
            return f"{label} is fully booked."
        return f"{label} is free at {_list(free)}."
    if outcome.name == "get_profile" and isinstance(data, dict):
        hours = data.get("hours") or {}
        services = ", ".join(data.get("services") or []) or "none yet"
        site = "published" if data.get("published") else "not published yet"
        return (
            f"{data.get('name')}: open {hours.get('days')} {_time(str(hours.get('open')))}"
            f"-{_time(str(hours.get('close')))}; services: {services}; the site is {site}."
        )
    return None


def _minutes(hhmm: str) -> int:
    h, _, m = hhmm.partition(":")
    return int(h) * 60 + int(m or 0)


def gate(tool: str, args: dict[str, Any], done: list[ToolOutcome]) -> str | None:
    """A booking goes ahead only for a slot its availability check found free."""
    if tool != "book_appointment":
        return None
    checks = [o for o in done if o.name == "check_availability"]
    if not checks:
        return None
    check = checks[-1]
    data = _load(check)
    if not isinstance(data, dict):
        return ""  # the check failed: its reason is said, no booking is proposed
    free = [str(t) for t in data.get("free", [])]
    wanted = str(args.get("time", ""))
    if wanted in free:
        return None
    label = day_label(str(data.get("date", "")))
    if not free:
        return f"{label} at {_time(wanted)} is not available: that day is fully booked."
    try:
        want = _minutes(wanted)
        nearest = sorted(free, key=lambda t: (abs(_minutes(t) - want), t))[:2]
        inside = want % 60 == 0 and _minutes(free[0]) <= want <= _minutes(free[-1])
    except ValueError:
        nearest, inside = free[:2], False
    nearest.sort()
    why = "is already taken" if inside else "is not a time we offer"
    return (
        f"{label} at {_time(wanted)} {why}; the nearest free times are "
        f"{_list([_time(t) for t in nearest])}. Which one would you like?"
    )
