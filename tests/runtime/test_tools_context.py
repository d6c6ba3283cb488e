"""Tools: the frozen ToolContext, argument parsing, the registry, tool timeouts."""

from __future__ import annotations

import time
from typing import Any

import pydantic
import pytest

from runtime.errors import ToolValidationError
from runtime.store.data import StoreData
from runtime.testing.records import write_tool
from runtime.tiers import Tier
from runtime.tools import NoArgs, ToolContext, ToolRegistry, function_tool

from .conftest import TENANT, Harness


class ServiceArgs(pydantic.BaseModel):
    """A write's arguments with a default, as a plugin declares them."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    name: str = pydantic.Field(min_length=1, max_length=60)
    price: float = pydantic.Field(ge=0)
    duration_min: int = pydantic.Field(default=30, gt=0, le=600)


def make_ctx(**extra: Any) -> ToolContext:
    return ToolContext(tenant_id="t", session_id="s", subject="u", agent="lab", **extra)


async def _noop(ctx: ToolContext, args: Any) -> Any:
    return None


# -- ToolContext ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"), [("tenant_id", "other"), ("idempotency_key", "k"), ("settings", {})]
)
def test_assigning_a_context_field_raises(field: str, value: Any) -> None:
    ctx = make_ctx()
    with pytest.raises(pydantic.ValidationError):
        setattr(ctx, field, value)
    assert ctx.tenant_id == "t" and ctx.idempotency_key is None


def test_mutating_settings_raises_type_error() -> None:
    source = {"currency": "EUR"}
    ctx = make_ctx(settings=source)
    with pytest.raises(TypeError):
        ctx.settings["currency"] = "USD"  # type: ignore[index]
    with pytest.raises(TypeError):
        del ctx.settings["currency"]  # type: ignore[attr-defined]
    source["currency"] = "GBP"  # the caller's dict is copied, not aliased
    assert ctx.settings["currency"] == "EUR"


def test_nested_settings_are_read_only_too() -> None:
    ctx = make_ctx(settings={"limits": {"max": 3}, "tags": ["a", "b"]})
    with pytest.raises(TypeError):
        ctx.settings["limits"]["max"] = 99
    assert ctx.settings["limits"]["max"] == 3
    with pytest.raises((TypeError, AttributeError)):
        ctx.settings["tags"].append("c")
    assert list(ctx.settings["tags"]) == ["a", "b"]


def test_a_context_without_data_is_a_validation_error() -> None:
    with pytest.raises(ToolValidationError, match="needs tenant data"):
        make_ctx().store()


async def test_writer_without_idempotency_key_refuses() -> None:
    tool = write_tool("create_record")
    with pytest.raises(ToolValidationError, match="needs a confirmed proposal"):
        await tool.invoke(make_ctx(), tool.parse({"name": "x", "price": 1}))


async def test_mutate_context_tool_is_an_error_not_a_crash(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, "!tools mutate_context; echo")
    assert r["tool_calls"] == [
        {"tool": "mutate_context", "tier": "T1", "status": "error"},
        {"tool": "echo", "tier": "T1", "status": "ok"},
    ]
    assert "mutate_context failed: 'mappingproxy' object does not support item" in r["reply"]
    assert (await h.rt.get_session(TENANT, sid))["status"] == "active"


# -- Tool / ToolRegistry ----------------------------------------------------------------


def test_parse_reports_the_first_bad_field() -> None:
    tool = function_tool("svc", Tier.T2, "d", ServiceArgs, _noop)
    with pytest.raises(ToolValidationError, match=r"^svc: price: "):
        tool.parse({"name": "x", "price": -1})
    with pytest.raises(ToolValidationError, match="colour: Extra inputs"):
        tool.parse({"name": "x", "price": 1, "colour": "red"})
    assert tool.parse({"name": "x", "price": 2}) == {
        "name": "x",
        "price": 2.0,
        "duration_min": 30,
    }


def test_describe_default_and_custom_preview() -> None:
    plain = function_tool("svc", Tier.T2, "d", ServiceArgs, _noop)
    args = plain.parse({"name": "x", "price": 2})
    assert plain.describe(args) == "svc(name=x, price=2.0, duration_min=30)"
    custom = function_tool(
        "svc", Tier.T2, "d", ServiceArgs, _noop, preview=lambda a: f"add {a.name}"
    )
    assert custom.describe(args) == "add x"


def test_registry() -> None:
    a = function_tool("a", Tier.T1, "first", NoArgs, _noop)
    b = function_tool("b", Tier.T3, "second", ServiceArgs, _noop)
    reg = ToolRegistry([a, b])
    assert reg.names() == ["a", "b"] and len(reg) == 2
    assert "a" in reg and "z" not in reg
    assert reg.get("b") is b and reg.get("z") is None
    specs = reg.specs()
    assert [s.name for s in specs] == ["a", "b"]
    assert "price" in specs[1].input_schema["properties"]
    with pytest.raises(ValueError, match="duplicate tool a"):
        ToolRegistry([a, a])


# -- tool timeout ---------------------------------------------------------------------------


async def test_slow_tool_times_out_quickly(h: Harness) -> None:
    sid = await h.session()
    t0 = time.perf_counter()
    r = await h.send(sid, '!tools slow {"seconds": 5}')
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0
    assert r["tool_calls"] == [{"tool": "slow", "tier": "T1", "status": "timeout"}]
    assert "slow timed out after 0.1s." in r["reply"]


async def test_timeout_counts_as_a_breaker_failure(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, '!tools fail*2; slow {"seconds": 5}; echo')
    assert [c["status"] for c in r["tool_calls"]] == ["error", "error", "timeout", "breaker_open"]
    assert (await h.rt.get_session(TENANT, sid))["breaker"] == "open"


async def test_fast_tool_within_timeout_is_ok(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, '!tools slow {"seconds": 0.01}')
    assert r["tool_calls"][0]["status"] == "ok"
    assert "Slow: slept 0.01." in r["reply"]


async def test_a_tool_cannot_point_its_port_at_another_tenant(h: Harness) -> None:
    sid = await h.session()
    r = await h.send(sid, "!tools retarget_port")
    assert r["tool_calls"] == [{"tool": "retarget_port", "tier": "T1", "status": "error"}]
    assert "retarget_port failed: TurnData is read-only." in r["reply"]
    port = StoreData(h.store, TENANT)
    with pytest.raises(AttributeError, match="read-only"):
        port._tenant = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        del port._store
