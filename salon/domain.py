"""The salon's business: one JSON document per tenant, and the operations on it.

The document (name, services, hours, appointments, published) lives in
Orchestra's tenant data (`runtime.store.data`, document `business`). Writes are named
operations applied by `apply_op()`, a pure function, so the store applies
each atomically, once per idempotency key (the proposal id).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypedDict

import orjson

from runtime import ToolValidationError

DOCUMENT = "business"


class Service(TypedDict):
    name: str  # lower case: its key in `services`
    price: float
    duration_min: int


class Hours(TypedDict):
    open: str  # HH:MM
    close: str
    days: str  # "Mon-Sat"


class Appointment(TypedDict):
    id: str
    service: str
    date: str  # ISO date
    time: str  # HH:MM
    customer: str


class Business(TypedDict):
    """The business document."""

    name: str
    description: str
    services: dict[str, Service]
    hours: Hours
    appointments: list[Appointment]
    published: bool


DEFAULT_BUSINESS: Business = {
    "name": "Demo Salon",
    "description": "A friendly neighbourhood salon",
    "services": {
        "haircut": {"name": "haircut", "price": 30.0, "duration_min": 30},
        "coloring": {"name": "coloring", "price": 80.0, "duration_min": 90},
        "manicure": {"name": "manicure", "price": 25.0, "duration_min": 45},
    },
    "hours": {"open": "09:00", "close": "17:00", "days": "Mon-Sat"},
    "appointments": [],
    "published": False,
}


def new_business() -> Business:
    # a JSON round trip is a deep copy at a fifth of copy.deepcopy's cost (every turn
    # of a tenant that never edited its business asks for one)
    doc: Business = orjson.loads(orjson.dumps(DEFAULT_BUSINESS))
    return doc


def service_of(doc: Business, name: str) -> Service:
    svc = doc["services"].get(name.lower())
    if svc is None:
        known = ", ".join(sorted(doc["services"])) or "none"
        raise ToolValidationError(f"no service named {name!r} (known: {known})")
    return svc


def slots_of(doc: Business) -> list[str]:
    start = int(doc["hours"]["open"][:2])
    end = int(doc["hours"]["close"][:2])
    return [f"{h:02d}:00" for h in range(start, end)]


def apply_op(doc: Business, op: str, args: dict[str, Any]) -> object:
    """Apply write `op` to `doc` in place and return its result (JSON-able); `args`
    are the write tool's validated arguments."""
    services = doc["services"]
    if op == "set_business_profile":
        doc["name"] = args["name"]
        if args.get("description"):
            doc["description"] = args["description"]
        return {"name": doc["name"]}
    if op in ("add_service", "create_service"):
        key = args["name"].lower()
        if key in services and op == "create_service":  # onboarding's add is an upsert
            raise ToolValidationError(f"service {key!r} already exists")
        services[key] = {"name": key, "price": args["price"], "duration_min": args["duration_min"]}
        return services[key]
    if op == "update_service":
        svc = service_of(doc, args["name"])
        if args.get("price") is not None:
            svc["price"] = args["price"]
        if args.get("duration_min") is not None:
            svc["duration_min"] = args["duration_min"]
        return dict(svc)
    if op == "delete_service":
        svc = service_of(doc, args["name"])
        del services[svc["name"]]
        return {"deleted": svc["name"]}
    if op == "set_hours":
        doc["hours"] = {"open": args["open"], "close": args["close"], "days": args["days"]}
        return doc["hours"]
    if op == "publish_site":
        doc["published"] = True
        return {"published": True, "url": f"https://sites.example/{_slug(doc['name'])}"}
    if op == "book_appointment":
        service_of(doc, args["service"])
        taken = {(a["date"], a["time"]) for a in doc["appointments"]}
        if args["time"] not in slots_of(doc) or (args["day"], args["time"]) in taken:
            raise ToolValidationError(f"{args['day']} {args['time']} is not available")
        appt: Appointment = {
            "id": f"appt-{len(doc['appointments']) + 1}",
            "service": args["service"].lower(),
            "date": args["day"],
            "time": args["time"],
            "customer": args.get("customer", ""),
        }
        doc["appointments"].append(appt)
        return appt
    raise ToolValidationError(f"unknown operation {op!r}")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "site"


def resolve_day(day: str, today: dt.date | None = None) -> str:
    """'today', 'tomorrow', a weekday name or an ISO date -> ISO date."""
    base = today or dt.datetime.now(dt.UTC).date()
    text = day.strip().lower()
    if text in ("", "today"):
        return base.isoformat()
    if text == "tomorrow":
        return (base + dt.timedelta(days=1)).isoformat()
    names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    if text in names:
        ahead = (names.index(text) - base.weekday()) % 7 or 7
        return (base + dt.timedelta(days=ahead)).isoformat()
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise ValueError(f"cannot understand the day {day!r}") from exc


def context_summary(doc: Business) -> dict[str, str]:
    """The business facts a system prompt shows (sanitised by the caller)."""
    services = ", ".join(
        f"{s['name']} (${s['price']:g}, {s['duration_min']} min)" for s in doc["services"].values()
    )
    hours = doc["hours"]
    return {
        "name": str(doc["name"]),
        "services": services or "none yet",
        "hours": f"{hours['days']} {hours['open']}-{hours['close']}",
    }
