"""The demo business domain every demo agent works on, and its tools.

A tenant's business is one JSON document (name, services, hours,
appointments, published). Writes are named operations applied by
`apply_op()`, a pure function, so any store can apply them atomically with
an idempotency key (exactly-once).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ToolValidationError
from ..tiers import Tier
from ..tools import NoArgs, Tool, ToolContext

DEFAULT_BUSINESS: dict[str, Any] = {
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


def new_business() -> dict[str, Any]:
    # a JSON round trip is a deep copy at a fifth of copy.deepcopy's cost (every turn
    # of a tenant that never edited its business asks for one)
    doc: dict[str, Any] = orjson.loads(orjson.dumps(DEFAULT_BUSINESS))
    return doc


def _service(doc: dict[str, Any], name: str) -> dict[str, Any]:
    svc = doc["services"].get(name.lower())
    if svc is None:
        known = ", ".join(sorted(doc["services"])) or "none"
        raise ToolValidationError(f"no service named {name!r} (known: {known})")
    result: dict[str, Any] = svc
    return result


def _slots(doc: dict[str, Any]) -> list[str]:
    start = int(doc["hours"]["open"][:2])
    end = int(doc["hours"]["close"][:2])
    return [f"{h:02d}:00" for h in range(start, end)]


def apply_op(doc: dict[str, Any], op: str, args: dict[str, Any]) -> Any:
    """Apply write `op` to `doc` in place and return its result."""
    services: dict[str, Any] = doc["services"]
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
        svc = _service(doc, args["name"])
        for field in ("price", "duration_min"):
            if args.get(field) is not None:
                svc[field] = args[field]
        return dict(svc)
    if op == "delete_service":
        svc = _service(doc, args["name"])
        del services[svc["name"]]
        return {"deleted": svc["name"]}
    if op == "set_hours":
        doc["hours"] = {"open": args["open"], "close": args["close"], "days": args["days"]}
        return doc["hours"]
    if op == "publish_site":
        doc["published"] = True
        return {"published": True, "url": f"https://sites.example/{_slug(doc['name'])}"}
    if op == "book_appointment":
        _service(doc, args["service"])
        taken = {(a["date"], a["time"]) for a in doc["appointments"]}
        if args["time"] not in _slots(doc) or (args["day"], args["time"]) in taken:
            raise ToolValidationError(f"{args['day']} {args['time']} is not available")
        appt = {
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


# -- argument schemas -------------------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProfileArgs(_Args):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)


class ServiceArgs(_Args):
    name: str = Field(min_length=1, max_length=60)
    price: float = Field(ge=0)
    duration_min: int = Field(default=30, gt=0, le=600)


class ServiceUpdateArgs(_Args):
    name: str = Field(min_length=1, max_length=60)
    price: float | None = Field(default=None, ge=0)
    duration_min: int | None = Field(default=None, gt=0, le=600)


class ServiceNameArgs(_Args):
    name: str = Field(min_length=1, max_length=60)


class HoursArgs(_Args):
    open: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    close: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    days: str = Field(default="Mon-Sat", max_length=40)


class DayArgs(_Args):
    service: str = Field(default="", max_length=60)
    day: str = "today"

    @field_validator("day")
    @classmethod
    def _day(cls, value: str) -> str:
        return resolve_day(value)


class BookingArgs(_Args):
    service: str = Field(min_length=1, max_length=60)
    day: str = "today"
    time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    customer: str = Field(default="", max_length=100)

    @field_validator("day")
    @classmethod
    def _day(cls, value: str) -> str:
        return resolve_day(value)


# -- tools ------------------------------------------------------------------


async def _read(ctx: ToolContext) -> dict[str, Any]:
    return await ctx.port().read()


async def _list_services(ctx: ToolContext, _: NoArgs) -> Any:
    doc = await _read(ctx)
    return sorted(doc["services"].values(), key=lambda s: str(s["name"]))


async def _get_profile(ctx: ToolContext, _: NoArgs) -> Any:
    doc = await _read(ctx)
    return {k: doc[k] for k in ("name", "description", "hours", "published")} | {
        "services": sorted(doc["services"])
    }


async def _check_availability(ctx: ToolContext, args: DayArgs) -> Any:
    doc = await _read(ctx)
    if args.service:
        _service(doc, args.service)
    taken = {a["time"] for a in doc["appointments"] if a["date"] == args.day}
    return {"date": args.day, "free": [s for s in _slots(doc) if s not in taken]}


def _writer(op: str) -> Any:
    async def handler(ctx: ToolContext, args: BaseModel) -> Any:
        key = ctx.idempotency_key
        if key is None:
            raise ToolValidationError(f"{op} is a write and needs a confirmed proposal")
        payload = args.model_dump()
        if op == "book_appointment":
            payload["customer"] = payload.get("customer") or ctx.subject
        return await ctx.port().write(key, op, payload)

    return handler


def read_tool(name: str) -> Tool:
    table: dict[str, tuple[str, type[BaseModel], Any]] = {
        "list_services": ("List the business's services with prices.", NoArgs, _list_services),
        "get_profile": ("Show the business profile and setup progress.", NoArgs, _get_profile),
        "check_availability": (
            "Free appointment slots for a day (today, tomorrow, weekday or ISO date).",
            DayArgs,
            _check_availability,
        ),
    }
    desc, args, handler = table[name]
    return Tool(name, Tier.T1, desc, args, handler)


_WRITES: dict[str, tuple[Tier, str, type[BaseModel]]] = {
    "set_business_profile": (Tier.T2, "Set the business name and description.", ProfileArgs),
    "add_service": (Tier.T2, "Add a service with price and duration.", ServiceArgs),
    "create_service": (Tier.T2, "Create a service with price and duration.", ServiceArgs),
    "update_service": (Tier.T2, "Change a service's price or duration.", ServiceUpdateArgs),
    "set_hours": (Tier.T2, "Set opening hours (HH:MM) and days.", HoursArgs),
    "publish_site": (Tier.T2, "Publish the business's booking site.", NoArgs),
    "delete_service": (Tier.T3, "Delete a service for good.", ServiceNameArgs),
    "book_appointment": (Tier.T3, "Book an appointment (needs explicit confirm).", BookingArgs),
}


async def _applied(ctx: ToolContext) -> bool | None:
    """A write's outcome, from its idempotency key in the store."""
    key = ctx.idempotency_key
    return None if key is None else await ctx.port().applied(key)


def write_tool(name: str) -> Tool:
    tier, desc, args = _WRITES[name]
    return Tool(name, tier, desc, args, _writer(name), outcome=_applied)


def context_summary(doc: dict[str, Any]) -> dict[str, str]:
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
