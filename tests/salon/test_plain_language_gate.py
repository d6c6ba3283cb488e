"""The salon's plain-language gate and the `!tools` directive (moved from
tests/runtime/test_plain_language.py: the runtime's tests use no demo)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime import Inbound
from runtime.backends.local import LocalBackend
from runtime.config.settings import Settings, build_catalog
from runtime.store.memory import MemoryStore

TENANT = "acme"


@pytest.fixture
def desk() -> LocalBackend:
    """A runtime built from a config file with the demo's agents (the default)."""
    return LocalBackend(MemoryStore(), build_catalog(Settings(config_source="orchestra.toml")))


async def turn(rt: LocalBackend, sid: str, text: str) -> dict[str, Any]:
    return dict(await rt.send_message(Inbound(TENANT, sid, text)))


def calls(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["tool"], c["tier"], c["status"]) for c in r["tool_calls"]]


async def test_a_directive_calls_exactly_what_it_says(desk: LocalBackend) -> None:
    """The salon's gate keeps plain language to free slots; `!tools` is not second-guessed."""
    first, _ = await desk.create_session(TENANT, "chatbot", "ann")
    r = await turn(desk, str(first["session_id"]), "book a haircut tomorrow at 10")
    assert (await desk.confirm(TENANT, r["proposals"][0]["proposal_id"]))["status"] == "EXECUTED"
    second, _ = await desk.create_session(TENANT, "chatbot", "bob")
    args = '{"service": "haircut", "day": "tomorrow"'
    r = await turn(
        desk,
        str(second["session_id"]),
        f'!tools check_availability {args}}}; book_appointment {args}, "time": "10:00"}}',
    )
    assert calls(r) == [("check_availability", "T1", "ok"), ("book_appointment", "T3", "proposed")]
