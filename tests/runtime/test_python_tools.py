"""Python tools: `@tool` functions, `load_tool` from the config, and the mistakes
the decorator refuses (each a clear `ConfigError` when the tool is built)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.errors import ConfigError
from runtime.tiers import Tier
from runtime.tools import ToolContext, load_tool, tool

from .test_config_file import DESK, catalog_of

LOOKUP = (
    "tests.support.acme_tools:lookup_order"  # @tool(tier="T1", description="Look an order up.")
)


def test_a_config_description_overrides_the_decorators_alone() -> None:
    found = load_tool(LOOKUP, description="Find an order by its id.")
    assert (found.tier, found.description) == (Tier.T1, "Find an order by its id.")
    assert found.spec().description == "Find an order by its id."  # what the model sees


def test_a_config_tier_overrides_the_decorators_alone() -> None:
    found = load_tool(LOOKUP, tier=Tier.T2)
    assert (found.tier, found.description) == (Tier.T2, "Look an order up.")


def test_a_config_gives_both_or_neither() -> None:
    both = load_tool(LOOKUP, tier=Tier.T3, description="Find it.")
    assert (both.tier, both.description) == (Tier.T3, "Find it.")
    neither = load_tool(LOOKUP)
    assert (neither.tier, neither.description) == (Tier.T1, "Look an order up.")


def test_the_config_description_reaches_the_agents_tool() -> None:
    section = {"python": LOOKUP, "description": "Find an order by its id."}
    catalog = catalog_of({"agents": {"desk": DESK}, "tools": {"lookup_order": section}})
    (spec,) = catalog.get("desk").tools.specs()
    assert spec.description == "Find an order by its id."


def test_a_function_with_no_tier_anywhere_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"'tests.support.acme_tools:cancel_order' is not a @tool"
    ):
        load_tool("tests.support.acme_tools:cancel_order")
    section = {"python": "tests.support.acme_tools:cancel_order"}
    with pytest.raises(ConfigError, match=r"^orchestra\.toml: .*give it a tier"):
        catalog_of({"agents": {"desk": DESK}, "tools": {"lookup_order": section}})


def test_a_plain_function_takes_the_configs_tier() -> None:
    found = load_tool("tests.support.acme_tools:cancel_order", tier=Tier.T3)
    assert (found.name, found.tier, found.description) == (
        "cancel_order",
        Tier.T3,
        "Cancel an order. (No @tool: the config must give it a tier.)",
    )
    assert found.parse({"order_id": "A1"}) == {"order_id": "A1"}


def test_an_untyped_parameter_is_refused() -> None:
    async def note(ctx: ToolContext, order_id) -> None:  # type: ignore[no-untyped-def]
        """Note."""

    with pytest.raises(ConfigError, match=r"tool .*note: parameter 'order_id' needs a type"):
        tool(tier="T2")(note)


def test_star_args_are_refused() -> None:
    async def many(*order_ids: str) -> None:
        """Many."""

    async def loose(**fields: Any) -> None:
        """Loose."""

    for fn in (many, loose):
        with pytest.raises(ConfigError, match=r"\*args/\*\*kwargs have no schema"):
            tool(tier="T1")(fn)


def test_a_sync_function_is_refused() -> None:
    def plain(order_id: str) -> None:
        """Plain."""

    with pytest.raises(ConfigError, match=r"must be an async function"):
        tool(tier="T1")(plain)  # type: ignore[arg-type]
