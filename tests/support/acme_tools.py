"""A team's own Python tools, as a user writes them (`runtime.tool`), for the e2e tests.

An order desk: look an order up (T1), note something on it (T2), refund it (T3).
Notes and refunds are kept in the tenant's data (`ctx.store()`), applied once
per idempotency key, so a test can count their effects.
"""

from __future__ import annotations

from typing import Any

from runtime import ToolContext, tool

DOCUMENT = "orders"


def _with(entry: str) -> Any:
    def change(doc: Any) -> tuple[Any, Any]:
        new = dict(doc or {"log": []})
        new["log"] = [*new["log"], entry]
        return new, {"logged": entry, "count": len(new["log"])}

    return change


@tool(tier="T1", description="Look an order up.")
async def lookup_order(ctx: ToolContext, order_id: str) -> dict[str, Any]:
    return {"order_id": order_id, "status": "shipped", "tenant": ctx.tenant_name}


@tool(tier="T2", description="Add a note to an order.", idempotent=True)
async def note_order(ctx: ToolContext, order_id: str, text: str) -> dict[str, Any]:
    key = ctx.idempotency_key or "unkeyed"
    result: dict[str, Any] = await ctx.store().update(DOCUMENT, key, _with(f"note {order_id}"))
    return result


@tool(tier="T3", description="Refund an order in full.", idempotent=True)
async def refund_order(ctx: ToolContext, order_id: str, amount: float = 0.0) -> dict[str, Any]:
    key = ctx.idempotency_key or "unkeyed"
    result: dict[str, Any] = await ctx.store().update(
        DOCUMENT, key, _with(f"refund {order_id} {amount:g}")
    )
    return result


async def cancel_order(ctx: ToolContext, order_id: str) -> dict[str, Any]:
    """Cancel an order. (No @tool: the config must give it a tier.)"""
    return {"order_id": order_id, "cancelled": True}


@tool(tier="T1", description="Check the warehouse backend's stock level.")
async def warehouse_stock(ctx: ToolContext, sku: str) -> dict[str, Any]:
    """A tool whose backend is down: its exception quotes a secret, as real ones do."""
    raise RuntimeError("backend down (Authorization: Bearer sk-live-4f9a8b7c6d5e4f3a2b1c)")


@tool(tier="T3", description="Cancel a shipment with the carrier.")
async def cancel_shipment(ctx: ToolContext, order_id: str) -> dict[str, Any]:
    """An approved write whose backend is down (the message quotes a password)."""
    raise RuntimeError("carrier down (https://ops:hunter2@carrier.example/api)")
