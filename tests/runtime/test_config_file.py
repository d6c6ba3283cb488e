"""The config file is checked before anything starts: every section and key is
known, and a mistake is one message naming the file, the key and the reason."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from runtime.config.file import effective_config, load_file, parse_config
from runtime.config.settings import Settings, build_catalog, with_mcp_tools
from runtime.errors import ConfigError
from runtime.tiers import Tier

DESK = {
    "preset": "chatbot",
    "system_prompt": "You are the desk of {tenant_name}.",
    "tools": ["lookup_order"],
}
LOOKUP = {"python": "tests.support.acme_tools:lookup_order"}


def catalog_of(data: dict[str, Any]) -> Any:
    return build_catalog(Settings(config_data=data, config_source="orchestra.toml"))


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"agents": {"ops": {"tols": ["x"]}}}, r"orchestra.toml: agents.ops.tols: unknown key"),
        ({"tool": {"refund": {}}}, r"orchestra.toml: tool: unknown key"),
        ({"mcp": {"crm": {"url": "http://127.0.0.1:1/mcp", "tier": {}}}}, r"mcp.crm.tier: unknown"),
        ({"model": {"kind": "gpt"}}, r"orchestra.toml: model.kind: Input should be"),
        (
            {"tools": {"refund": {"kind": "http", "tier": "T4", "url": "http://x"}}},
            r"tools.refund.*tier: Input should be 'T1', 'T2' or 'T3'",
        ),
        (
            {
                "tools": {
                    "refund": {
                        "kind": "http",
                        "tier": "T3",
                        "url": "http://x",
                        "parameters": {"type": "object", "properties": 3},
                    }
                }
            },
            r"tools.refund.*parameters: Value error, not a valid JSON Schema",
        ),
        ({"tools": {"refund": {"tier": "T3"}}}, r"tools: .*refund: a tool needs"),
        ({"gateway": {"rate_limit_per_s": 0}}, r"gateway.rate_limit_per_s: Input should be"),
        (
            {"tools": {"refund": {"kind": "http", "tier": "T3", "url": "x", "retries": -1}}},
            r"tools.refund.*url: String should match pattern",
        ),
        (
            {"tools": {"refund": {"kind": "http", "tier": "T3", "url": "http://x", "retries": 11}}},
            r"tools.refund.*retries: Input should be less than or equal to 10",
        ),
        (
            {"tools": {"lookup": {"python": "a:b", "max_result_bytes": 10}}},
            r"tools.lookup.*max_result_bytes: Input should be greater than or equal to 1024",
        ),
        (
            {"mcp": {"crm": {"url": "http://127.0.0.1:1/mcp", "max_result_bytes": 10}}},
            r"mcp.crm.max_result_bytes: Input should be greater than or equal to 1024",
        ),
    ],
)
def test_a_bad_file_is_one_clear_message(data: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_config(data, "orchestra.toml")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"agents": {"ops": {"preset": "chatbot"}}}, r"agents.ops: no such agent to configure"),
        (
            {"agents": {"desk": DESK | {"tools": ["refund"]}}},
            r"agents.desk.tools: no tool 'refund' \(declared: none declared\)",
        ),
        (
            {"agents": {"desk": DESK}, "tools": {"lookup_order": {"python": "acme.nope:lookup"}}},
            r"cannot load tool 'acme.nope:lookup'",
        ),
        (
            {"agents": {"desk": DESK | {"preset": "boss"}}, "tools": {"lookup_order": LOOKUP}},
            r"agents.desk.preset: unknown preset 'boss'",
        ),
        (
            {
                "agents": {"desk": DESK | {"system_prompt": "Hi {customer}"}},
                "tools": {"lookup_order": LOOKUP},
            },
            r"agents.desk.system_prompt: unknown field \{customer\}",
        ),
        ({"agents": {"x": {"class": "runtime.nowhere:Agent"}}}, r"cannot load agent class"),
        ({"agents": {"desk": DESK | {"tools": ["mcp:crm"]}}}, r"agents.desk.tools: no tool"),
        (
            {"tools": {"refund": {"kind": "http", "tier": "T3", "url": "env:NO_SUCH_URL_VAR"}}},
            r"tools\.refund\.url: the environment variable NO_SUCH_URL_VAR is not set",
        ),
    ],
)
def test_a_file_that_does_not_build_stops_the_start(data: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=r"^orchestra\.toml: .*" + says):
        catalog_of(data)


def test_an_unreachable_mcp_server_stops_the_start() -> None:
    settings = Settings(
        config_data={"mcp": {"crm": {"url": "http://127.0.0.1:9/mcp"}}},
        config_source="orchestra.toml",
    )
    with pytest.raises(ConfigError, match=r"^orchestra\.toml: mcp\.crm"):
        asyncio.run(with_mcp_tools(settings))


def test_a_declared_agent_with_python_tools_builds() -> None:
    catalog = catalog_of({"agents": {"desk": DESK}, "tools": {"lookup_order": LOOKUP}})
    desk = catalog.get("desk")
    assert [(t.name, t.tier) for t in desk.tools.all()] == [("lookup_order", Tier.T1)]
    assert desk.config.soft_confirm_window_ms == 30_000  # the chatbot preset
    assert "order_id" in desk.tools.specs()[0].input_schema["properties"]
    assert set(catalog.names()) == {"onboarding", "chatbot", "admin", "desk"}  # with the demo


def test_the_demo_goes_when_asked() -> None:
    catalog = catalog_of(
        {"demo": False, "agents": {"desk": DESK}, "tools": {"lookup_order": LOOKUP}}
    )
    assert catalog.names() == ["desk"]
    assert "chatbot" in effective_config({})["agents"]
    assert "chatbot" not in effective_config({"demo": False}).get("agents", {})


def test_the_config_file_of_api_md_parses(tmp_path: Path) -> None:
    """The example of shared/API.md's "Configuration" section, as written there."""
    path = tmp_path / "orchestra.toml"
    path.write_text(API_MD_EXAMPLE.replace("PARAMETERS", PARAMETERS))
    cfg = parse_config(load_file(path), str(path))
    assert cfg.model.kind == "scripted" and cfg.tools["refund"].tier is Tier.T3  # type: ignore[union-attr]
    assert cfg.mcp["crm"].tiers == {"get_customer": Tier.T1, "add_note": Tier.T2}
    assert cfg.agents["lab"].class_ == "runtime.testing.agents:LabOrchestrator"


PARAMETERS = (
    'parameters = { type = "object", properties = { order_id = { type = "string" } }, '
    'required = ["order_id"] }'
)
API_MD_EXAMPLE = """
[model]                       # scripted (default), anthropic, openai
kind = "scripted"
ttft_ms = 0                   # scripted: delay before the first token
tokens_per_s = 0              # scripted: stream rate (0: all at once)
latency_ms = 0                # scripted: extra delay per model call
latency_sigma = 0.0           # scripted: lognormal spread of the delays

[agents.chatbot]              # a built-in agent: override its preset
soft_confirm_window_ms = 60000

[agents.lab]                  # a Python agent class
class = "runtime.testing.agents:LabOrchestrator"

[agents.support]              # a declared agent
preset = "chatbot"            # history, window, tool timeout, budgets
system_prompt = "You are the support agent of {tenant_name}."   # sanitised fields
greeting = "Hi, how can I help?"
tools = ["lookup_order", "refund", "mcp:crm"]   # mcp:NAME = all of that server's tools

[tools.lookup_order]          # a Python tool
python = "acme.tools:lookup_order"

[tools.refund]                # an HTTP tool
kind = "http"
tier = "T3"
url = "http://127.0.0.1:9000/refund"
method = "POST"
description = "Refund an order."
PARAMETERS
timeout_ms = 5000
idempotent = true             # honours Idempotency-Key: safe to send again after a crash
headers = { Authorization = "env:REFUND_TOKEN" }

[mcp.crm]                     # an MCP server: url (streamable HTTP) or command (stdio)
url = "http://127.0.0.1:9100/mcp"
tiers = { get_customer = "T1", add_note = "T2" }   # others: annotations, else T2
"""
