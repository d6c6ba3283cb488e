"""The salon's tools, built on Orchestra's public tool API (`runtime.function_tool`).

Reads serve the turn's snapshot of the business document (`ctx.store()` keeps a
document read once per turn); writes are applied by the store once per
idempotency key, so each is idempotent and can tell afterwards whether a call
cut short took effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runtime import NoArgs, Tier, Tool, ToolContext, ToolValidationError, function_tool

from .domain import (
    DOCUMENT,
    Business,
    Service,
    apply_op,
    new_business,
    resolve_day,
    service_of,
    slots_of,
)

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


async def read_business(ctx: ToolContext) -> Business:
    """The tenant's business document (the turn's snapshot of it)."""
    doc: Business | None
    _, doc = await ctx.store().read(DOCUMENT)
    return doc or new_business()


async def _list_services(ctx: ToolContext, _: NoArgs) -> list[Service]:
    doc = await read_business(ctx)
    return sorted(doc["services"].values(), key=lambda s: str(s["name"]))


async def _get_profile(ctx: ToolContext, _: NoArgs) -> dict[str, object]:
    doc = await read_business(ctx)
    return {
        "name": doc["name"],
        "description": doc["description"],
        "hours": doc["hours"],
        "published": doc["published"],
        "services": sorted(doc["services"]),
    }


async def _check_availability(ctx: ToolContext, args: DayArgs) -> dict[str, object]:
    doc = await read_business(ctx)
    if args.service:
        service_of(doc, args.service)
    taken = {a["time"] for a in doc["appointments"] if a["date"] == args.day}
    return {"date": args.day, "free": [s for s in slots_of(doc) if s not in taken]}


def change(doc: Business | None, op: str, args: dict[str, Any]) -> tuple[Business, object]:
    """`op` applied to (a copy of) the document: (new document, result)."""
    new = new_business() if doc is None else doc
    result = apply_op(new, op, args)  # raises before anything is stored
    return new, result


def _writer(op: str) -> Callable[[ToolContext, BaseModel], Awaitable[object]]:
    async def handler(ctx: ToolContext, args: BaseModel) -> object:
        key = ctx.idempotency_key
        if key is None:
            raise ToolValidationError(f"{op} is a write and needs a confirmed proposal")
        payload = args.model_dump()
        if op == "book_appointment":
            payload["customer"] = payload.get("customer") or ctx.subject
        return await ctx.store().update(DOCUMENT, key, lambda doc: change(doc, op, payload))

    return handler


def read_tool(name: str) -> Tool:
    if name == "check_availability":
        desc = "Free appointment slots for a day (today, tomorrow, weekday or ISO date)."
        return function_tool(name, Tier.T1, desc, DayArgs, _check_availability)
    reads = {
        "list_services": ("List the business's services with prices.", _list_services),
        "get_profile": ("Show the business profile and setup progress.", _get_profile),
    }
    desc, handler = reads[name]
    return function_tool(name, Tier.T1, desc, NoArgs, handler)


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


async def applied(ctx: ToolContext) -> bool | None:
    """A write's outcome, from its idempotency key in the store."""
    key = ctx.idempotency_key
    return None if key is None else await ctx.store().applied(DOCUMENT, key)


def write_tool(name: str) -> Tool:
    tier, desc, args = _WRITES[name]
    return function_tool(name, tier, desc, args, _writer(name), outcome=applied, idempotent=True)
