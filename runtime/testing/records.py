"""Test agents over tenant data: a generic "records" document with a T1 read,
T2 writes and a T3 write, so the runtime's rules (proposals, exactly-once,
budgets, the prompt-context cache, tenant scoping) are tested without a demo.

The document (`RECORDS`, one per tenant) is `{"name", "items": {name: {name,
price}}}`; writes are named operations applied by the store once per
idempotency key (the proposal id), so each write is idempotent and can tell
afterwards whether a call cut short took effect. Enable the agents with
`AgentCatalog(extra=RECORDS_AGENTS)`: "lab" is the lab agent plus these tools,
"clerk" keeps the document's facts in its system prompt (a cached prompt
context), and `CanaryClerk` is a "new version" of the clerk for canary tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

import orjson
from pydantic import BaseModel, ConfigDict, Field

from ..errors import ToolValidationError
from ..orchestrator import BaseOrchestrator
from ..store.data import DataStore
from ..tiers import Tier
from ..tools import NoArgs, Tool, ToolContext, function_tool
from .agents import LabOrchestrator

RECORDS = "records"  # the tenant data document's name

RECORDS_AGENTS = {
    "lab": "runtime.testing.records:RecordsLab",
    "clerk": "runtime.testing.records:ClerkOrchestrator",
}


class Item(TypedDict):
    name: str  # lower case: its key in `items`
    price: float


class Records(TypedDict):
    name: str
    items: dict[str, Item]


DEFAULT_RECORDS: Records = {
    "name": "Lab Records",
    "items": {
        "alpha": {"name": "alpha", "price": 30.0},
        "beta": {"name": "beta", "price": 80.0},
        "gamma": {"name": "gamma", "price": 25.0},
    },
}


def new_records() -> Records:
    doc: Records = orjson.loads(orjson.dumps(DEFAULT_RECORDS))
    return doc


def _item_of(doc: Records, name: str) -> Item:
    item = doc["items"].get(name.lower())
    if item is None:
        raise ToolValidationError(f"no record named {name!r}")
    return item


def apply_op(doc: Records, op: str, args: dict[str, Any]) -> object:
    """Apply write `op` to `doc` in place and return its result (JSON-able)."""
    items = doc["items"]
    if op in ("create_record", "add_record"):
        key = args["name"].lower()
        if key in items and op == "create_record":  # `add_record` is an upsert
            raise ToolValidationError(f"record {key!r} already exists")
        items[key] = {"name": key, "price": args["price"]}
        return dict(items[key])
    if op == "update_record":
        item = _item_of(doc, args["name"])
        item["price"] = args["price"]
        return dict(item)
    if op == "delete_record":
        item = _item_of(doc, args["name"])
        del items[item["name"]]
        return {"deleted": item["name"]}
    if op == "rename":
        doc["name"] = args["name"]
        return {"name": doc["name"]}
    raise ToolValidationError(f"unknown operation {op!r}")


def change(doc: Records | None, op: str, args: dict[str, Any]) -> tuple[Records, object]:
    """`op` applied to (a copy of) the document: (new document, result)."""
    new = new_records() if doc is None else doc
    return new, apply_op(new, op, args)


# -- tools ------------------------------------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemArgs(_Args):
    name: str = Field(min_length=1, max_length=60)
    price: float = Field(ge=0)


class NameArgs(_Args):
    name: str = Field(min_length=1, max_length=60)


class SlowWriteArgs(_Args):
    name: str = "x"
    seconds: float = Field(default=0.0, ge=0, le=60)


async def read_records(ctx: ToolContext) -> Records:
    """The tenant's document (the turn's snapshot of it)."""
    doc: Records | None
    _, doc = await ctx.store().read(RECORDS)
    return doc or new_records()


async def _list(ctx: ToolContext, _: NoArgs) -> dict[str, float]:
    """Each record's price, by name."""
    doc = await read_records(ctx)
    return {name: doc["items"][name]["price"] for name in sorted(doc["items"])}


async def applied(ctx: ToolContext) -> bool | None:
    """A write's outcome, from its idempotency key in the store."""
    key = ctx.idempotency_key
    return None if key is None else await ctx.store().applied(RECORDS, key)


def _writer(op: str) -> Callable[[ToolContext, BaseModel], Awaitable[object]]:
    async def handler(ctx: ToolContext, args: BaseModel) -> object:
        key = ctx.idempotency_key
        if key is None:
            raise ToolValidationError(f"{op} is a write and needs a confirmed proposal")
        payload = args.model_dump()
        return await ctx.store().update(RECORDS, key, lambda doc: change(doc, op, payload))

    return handler


async def _slow_write(ctx: ToolContext, args: SlowWriteArgs) -> object:
    """A T2 write that waits, then adds a record (once per idempotency key)."""
    await asyncio.sleep(args.seconds)
    key = ctx.idempotency_key or "unkeyed"
    item = {"name": args.name, "price": 1.0}
    return await ctx.store().update(RECORDS, key, lambda doc: change(doc, "add_record", item))


_WRITES: dict[str, tuple[Tier, str, type[BaseModel]]] = {
    "create_record": (Tier.T2, "Create a record with a price.", ItemArgs),
    "update_record": (Tier.T2, "Change a record's price.", ItemArgs),
    "rename": (Tier.T2, "Rename the document.", NameArgs),
    "delete_record": (Tier.T3, "Delete a record for good.", NameArgs),
}


def write_tool(name: str) -> Tool:
    tier, desc, args = _WRITES[name]
    return function_tool(name, tier, desc, args, _writer(name), outcome=applied, idempotent=True)


def records_tools() -> list[Tool]:
    """The T1 read, the T2 writes (one slow) and the T3 write."""
    slow_write = function_tool(
        "slow_write",
        Tier.T2,
        "A slow write.",
        SlowWriteArgs,
        _slow_write,
        outcome=applied,
        idempotent=True,
    )
    return [
        function_tool("list_records", Tier.T1, "List the records.", NoArgs, _list),
        slow_write,
        *(write_tool(n) for n in _WRITES),
    ]


def context_summary(doc: Records) -> dict[str, str]:
    """The document's facts a system prompt shows (sanitised by the caller)."""
    items = ", ".join(f"{i['name']} (${i['price']:g})" for i in doc["items"].values())
    return {"name": str(doc["name"]), "items": items or "none yet"}


# -- agents -------------------------------------------------------------------------


class RecordsLab(LabOrchestrator):
    """The lab's misbehaving tools plus the records tools (T1, T2, T3)."""

    def build_tools(self) -> list[Tool]:
        return [*super().build_tools(), *records_tools()]


class ClerkOrchestrator(BaseOrchestrator):
    """The records tools, with the document's facts in the system prompt."""

    agent = "clerk"

    async def context_version(self, ctx: ToolContext) -> int:
        version, _ = await ctx.store().read(RECORDS)
        return version

    async def prompt_context(self, ctx: ToolContext) -> dict[str, str]:
        return context_summary(await read_records(ctx))

    def build_tools(self) -> list[Tool]:
        return records_tools()

    def build_system_prompt(self, context: dict[str, str]) -> str:
        return f"You keep the records of {context['name']}. Records: {context['items']}."

    def get_greeting(self, context: dict[str, str]) -> str:
        return f"Clerk of {context['name']} here."


class CanaryClerk(ClerkOrchestrator):
    """A "new version" of the clerk for canary tests: same tools, new greeting."""

    def get_greeting(self, context: dict[str, str]) -> str:
        return f"[canary] Clerk of {context['name']} here."


# -- the document, for tests that look at it directly -----------------------------------


async def records(store: DataStore, tenant_id: str) -> Records:
    """The tenant's document (the default one until it is first changed)."""
    doc: Records | None
    _, doc = await store.data_read(tenant_id, RECORDS)
    return doc if doc is not None else new_records()


async def records_version(store: DataStore, tenant_id: str) -> int:
    return (await store.data_read(tenant_id, RECORDS))[0]


async def records_write(
    store: DataStore, tenant_id: str, key: str, op: str, args: dict[str, Any]
) -> object:
    """Apply `op` as the write tools do: once per idempotency `key`."""
    return await store.data_update(tenant_id, RECORDS, key, lambda doc: change(doc, op, args))
