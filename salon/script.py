"""The salon agents' script: which tools the ScriptedModel calls for which words.

The agents' `script()` (see `runtime.BaseOrchestrator.script`): the demo
journeys of API.md ("book a haircut tomorrow at 10", "add service massage for
50 dollars", "open 9am to 5pm", ...) become tool calls, so the demo runs offline.
"""

from __future__ import annotations

import re
from typing import Any

from runtime import Plan

_DAY = r"(today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|\d{4}-\d\d-\d\d)"


def _day(text: str) -> str:
    m = re.search(_DAY, text)
    return m.group(1) if m else "today"


def _clock(hour: str, minute: str | None, ampm: str | None) -> str:
    h = int(hour)
    if ampm == "pm" and h < 12:
        h += 12
    if ampm == "am" and h == 12:
        h = 0
    return f"{h % 24:02d}:{int(minute or 0):02d}"


def _price(text: str) -> float | None:
    m = re.search(r"\$?\s?(\d+(?:\.\d+)?)\s*(?:dollars|usd|\$)?", text)
    return float(m.group(1)) if m else None


def plan(text: str, tools: set[str]) -> Plan:
    """The tool calls the demo agents make for `text` (only tools they have)."""
    raw = text.strip()
    t = raw.lower()
    plan: Plan = []

    def want(name: str, args: dict[str, Any] | None = None) -> None:
        if name in tools:
            plan.append((name, args or {}))

    book = re.search(r"\bbook (?:an? |the |me an? )?([a-z]+)", t)
    at = re.search(r"\bat (\d{1,2})(?::(\d\d))?\s*(am|pm)?", t)
    if book and at and "book_appointment" in tools:
        svc, day = book.group(1), _day(t)
        want("check_availability", {"service": svc, "day": day})
        want("book_appointment", {"service": svc, "day": day, "time": _clock(*at.groups())})
        return plan
    if book and "book_appointment" in tools and book.group(1) not in ("a", "an", "the", "me"):
        # no time yet: the free slots of that day, for the customer to pick one
        want("check_availability", {"service": book.group(1), "day": _day(t)})
        return plan
    if re.search(r"availab|free slot|openings", t):
        svc = re.search(r"(?:for (?:an? )?)([a-z]+)", t)
        want("check_availability", {"service": svc.group(1) if svc else "", "day": _day(t)})
    name = re.search(r"(?:called|named|name is)\s+([^.,!?]+)", raw, re.I) or re.search(
        r"business is\s+([^.,!?]+)", raw, re.I
    )
    if name and "set_business_profile" in tools:
        want("set_business_profile", {"name": name.group(1).strip()})
    svc_add = re.search(r"\b(add|create)\b(?: an?| the)?(?: service)?\s+([a-z]+)", t)
    if svc_add and svc_add.group(2) not in ("service", "a"):
        op = "add_service" if "add_service" in tools else "create_service"
        dur = re.search(r"(\d+)\s*min", t)
        price_text = t[svc_add.end() :]
        if dur:
            price_text = price_text.replace(dur.group(0), "")
        args: dict[str, Any] = {"name": svc_add.group(2), "price": _price(price_text) or 0.0}
        if dur:
            args["duration_min"] = int(dur.group(1))
        want(op, args)
    upd = re.search(
        r"\b(?:update|change)\b(?: the)? ([a-z]+)(?: service)?(?: price)? to \$?(\d+)", t
    )
    if upd:
        want("update_service", {"name": upd.group(1), "price": float(upd.group(2))})
    rm = re.search(r"\b(?:delete|remove)\b(?: the)?(?: service)? ([a-z]+)", t)
    if rm:
        want("delete_service", {"name": rm.group(1)})
    hours = re.search(
        r"(?:open|hours)\D*(\d{1,2})(?::(\d\d))?\s*(am|pm)?\s*(?:to|-|until)\s*"
        r"(\d{1,2})(?::(\d\d))?\s*(am|pm)?",
        t,
    )
    if hours:
        h = hours.groups()
        close_ampm = h[5] or ("pm" if int(h[3]) < int(h[0]) else None)
        want(
            "set_hours", {"open": _clock(h[0], h[1], h[2]), "close": _clock(h[3], h[4], close_ampm)}
        )
    if re.search(r"\bpublish", t):
        want("publish_site")
    if not plan and re.search(r"service|price|menu|offer", t):
        want("list_services")
    if not plan and re.search(r"profile|progress|status|set ?up", t):
        want("get_profile")
    return plan
