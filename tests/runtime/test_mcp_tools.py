"""MCP tools over real servers on the official SDK (tests/support/mcp_server.py).

Discovery (plain dicts; a server that is down or mute is a `ConfigError`
naming `mcp.NAME`), tiers from annotations and from `tiers`, namespaced names
that both providers accept, calls (structured, text, other content, isError,
the `_meta` the server receives), timeouts, one session per process that is
reopened after a failure, and a stdio server spawned once.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from runtime.config.file import McpSection, parse_config
from runtime.errors import ConfigError, ToolError, ToolOutcomeUnknown, ToolValidationError
from runtime.tiers import Tier
from runtime.tools import Tool, ToolContext, run_tool
from runtime.tools.mcp import discover, mcp_tools, model_names
from runtime.tools.mcp_session import close_sessions, session_for
from tests.support.mcp_server import McpHttpServer, RawMcpServer, free_port
from tests.support.tool_server import ToolServer

ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = ROOT / "tests" / "support" / "mcp_server.py"
KEY = "p_feedfacecafebeef"
CTX = ToolContext(
    tenant_id="acme", session_id="s_7", subject="u1", agent="support", idempotency_key=KEY
)
OFFERED = {"get_customer", "add_note", "delete_customer", "fail", "slow", "snapshot", "crash"}
MODEL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@pytest.fixture(scope="module")
def crm() -> Iterator[McpHttpServer]:
    with McpHttpServer() as server:
        yield server


@pytest.fixture(autouse=True)
async def _close_sessions() -> AsyncIterator[None]:
    yield
    await close_sessions()


def section(url: str, **fields: Any) -> McpSection:
    return McpSection(url=url, **fields)


async def tools_of(server: McpHttpServer, **fields: Any) -> dict[str, Tool]:
    cfg = section(server.url, **fields)
    return {t.name: t for t in mcp_tools("crm", cfg, await discover("crm", cfg))}


async def test_discover_returns_the_tools_as_plain_json(crm: McpHttpServer) -> None:
    infos = await discover("crm", section(crm.url))
    assert {i["name"] for i in infos} == OFFERED
    by_name = {i["name"]: i for i in infos}
    assert by_name["get_customer"]["annotations"] == {"readOnlyHint": True}
    assert by_name["get_customer"]["description"] == "Look up a customer by id."
    assert by_name["get_customer"]["inputSchema"]["required"] == ["customer_id"]
    assert json.loads(json.dumps(infos)) == infos  # crosses processes as JSON


async def test_names_are_namespaced_and_tiers_come_from_annotations(crm: McpHttpServer) -> None:
    tools = await tools_of(crm)
    assert set(tools) == {f"crm__{t}" for t in OFFERED}
    tiers = {n: t.tier for n, t in tools.items()}
    assert tiers["crm__get_customer"] is Tier.T1  # readOnlyHint
    assert tiers["crm__delete_customer"] is Tier.T3  # destructiveHint
    assert tiers["crm__add_note"] is Tier.T2  # no hint
    assert tools["crm__delete_customer"].idempotent  # idempotentHint
    assert not tools["crm__add_note"].idempotent
    assert {t.source for t in tools.values()} == {"mcp"}
    assert tools["crm__get_customer"].spec().input_schema["required"] == ["customer_id"]


async def test_the_config_overrides_tiers_and_idempotence(crm: McpHttpServer) -> None:
    tools = await tools_of(
        crm, tiers={"get_customer": "T2", "add_note": "T3"}, idempotent=["add_note"]
    )
    assert tools["crm__get_customer"].tier is Tier.T2
    assert tools["crm__add_note"].tier is Tier.T3
    assert tools["crm__add_note"].idempotent
    assert tools["crm__delete_customer"].tier is Tier.T3


async def test_idempotent_true_covers_every_tool_of_the_server(crm: McpHttpServer) -> None:
    every = await tools_of(crm, idempotent=True)
    assert all(t.idempotent for t in every.values()), every
    listed = await tools_of(crm, idempotent=["add_note"])
    assert not listed["crm__fail"].idempotent  # (delete_customer says idempotentHint)


@pytest.mark.parametrize("key", ["tiers", "idempotent"])
async def test_a_tool_the_server_lacks_in_the_config_is_an_error(
    crm: McpHttpServer, key: str
) -> None:
    infos = await discover("crm", section(crm.url))
    value: Any = {"delete_custmer": "T3"} if key == "tiers" else ["delete_custmer"]
    with pytest.raises(ConfigError, match=rf"mcp\.crm\.{key}: .*no tool 'delete_custmer'"):
        mcp_tools("crm", section(crm.url, **{key: value}), infos)


async def test_calls_answer_structured_content_or_text_with_the_meta(crm: McpHttpServer) -> None:
    crm.calls.clear()
    tools = await tools_of(crm)
    customer = await tools["crm__get_customer"].invoke(CTX, {"customer_id": "c1"})
    assert customer == {"id": "c1", "name": "Customer c1"}
    note = await tools["crm__add_note"].invoke(CTX, {"customer_id": "c1", "text": "hi"})
    assert note == f"noted for c1: hi (key {KEY})"
    deleted = await tools["crm__delete_customer"].invoke(CTX, {"customer_id": "c1"})
    assert deleted == {"deleted": "c1", "key": KEY}
    assert [(c["tool"], c["key"], c["tenant"]) for c in crm.calls] == [
        ("get_customer", None, "acme"),  # T1: no idempotency key
        ("add_note", KEY, "acme"),
        ("delete_customer", KEY, "acme"),
    ]


async def test_headers_may_come_from_the_environment(
    crm: McpHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_TOKEN", "Bearer t0ken")
    crm.calls.clear()
    tools = await tools_of(crm, headers={"Authorization": "env:CRM_TOKEN"})
    await tools["crm__get_customer"].invoke(CTX, {"customer_id": "c1"})
    assert crm.calls[0]["auth"] == "Bearer t0ken"


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "http://127.0.0.1:1/mcp", "headers": {"Authorization": "env:NO_SUCH_VAR"}},
        {"command": "true", "env": {"API_KEY": "env:NO_SUCH_VAR"}},
    ],
)
def test_a_missing_environment_variable_fails_the_build(
    fields: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    table = "headers.Authorization" if "url" in fields else "env.API_KEY"
    with pytest.raises(ConfigError, match=rf"^mcp\.far\.{table}: .*NO_SUCH_VAR is not set"):
        mcp_tools("far", McpSection(**fields), [{"name": "t"}])


@pytest.mark.parametrize("table", [{}, {"url": "http://127.0.0.1:1/mcp", "command": "srv"}])
def test_a_server_needs_exactly_one_of_url_and_command(table: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"^the config: mcp\.crm: .*either `url`"):
        parse_config({"mcp": {"crm": table}})


async def test_other_content_is_returned_as_content_blocks(crm: McpHttpServer) -> None:
    result = await (await tools_of(crm))["crm__snapshot"].invoke(CTX, {})
    (block,) = result["content"]
    assert (block["type"], block["mimeType"]) == ("image", "image/png")


async def test_is_error_is_a_tool_error_with_the_servers_text(crm: McpHttpServer) -> None:
    tool = (await tools_of(crm))["crm__fail"]
    with pytest.raises(ToolError, match=r"crm__fail: .*card declined") as caught:
        await tool.invoke(CTX, {"reason": "card declined"})
    assert not isinstance(caught.value, ToolValidationError)


async def test_arguments_are_checked_against_the_input_schema(crm: McpHttpServer) -> None:
    tools = await tools_of(crm)
    with pytest.raises(ToolValidationError, match=r"^crm__get_customer: customer_id: .*required"):
        tools["crm__get_customer"].parse({})
    with pytest.raises(ToolValidationError, match=r"^crm__slow: ms: .*not of type 'integer'"):
        tools["crm__slow"].parse({"ms": "soon"})
    assert tools["crm__slow"].parse({"ms": 5}) == {"ms": 5}


async def test_a_call_past_the_timeout_is_a_timeout(crm: McpHttpServer) -> None:
    tool = (await tools_of(crm, timeout_ms=300))["crm__slow"]
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match=r"crm__slow got no answer within 0\.3s"):
        await tool.invoke(CTX, {"ms": 3000})
    assert time.monotonic() - t0 < 1.5
    # the session survives a timed-out call
    assert await tool.invoke(CTX, {"ms": 1}) == {"slept_ms": 1}


async def test_one_session_serves_every_call_of_the_process(crm: McpHttpServer) -> None:
    cfg = section(crm.url, timeout_ms=5000)
    tools = {t.name: t for t in mcp_tools("crm", cfg, await discover("crm", cfg))}
    calls = [tools["crm__slow"].invoke(CTX, {"ms": 300}) for _ in range(5)]
    calls.append(tools["crm__get_customer"].invoke(CTX, {"customer_id": "c2"}))
    before = session_for("crm", cfg).opened
    t0 = time.monotonic()
    results = await asyncio.gather(*calls)
    assert results[:5] == [{"slept_ms": 300}] * 5
    assert time.monotonic() - t0 < 1.2  # concurrent on one session (in turn: 1.5 s)
    assert session_for("crm", cfg).opened - before == 1


async def test_the_session_is_reopened_after_the_server_comes_back() -> None:
    port = free_port()
    cfg = McpSection(url=f"http://127.0.0.1:{port}/mcp", timeout_ms=3000)
    server = McpHttpServer(port).start()
    try:
        tools = {t.name: t for t in mcp_tools("crm", cfg, await discover("crm", cfg))}
        note = tools["crm__add_note"]
        assert "noted" in await note.invoke(CTX, {"customer_id": "c", "text": "1"})
    finally:
        server.stop()
    with pytest.raises(ToolError, match="did not run"):
        await note.invoke(CTX, {"customer_id": "c", "text": "2"})
    with McpHttpServer(port):
        assert "noted" in await note.invoke(CTX, {"customer_id": "c", "text": "3"})
    assert session_for("crm", cfg).opened == 2


async def test_discovering_a_server_that_is_down_is_a_config_error() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # errors name no path
    with pytest.raises(ConfigError, match=rf"^mcp\.crm: cannot list the tools of {endpoint}: Conn"):
        await discover("crm", McpSection(url=f"{endpoint}/mcp"))


async def test_discovering_something_that_is_not_an_mcp_server_is_a_config_error() -> None:
    with ToolServer() as plain:  # HTTP, but it answers 404 to the handshake
        expected = rf"^mcp\.crm: cannot list the tools of {plain.base_url}: MCP"
        with pytest.raises(ConfigError, match=expected):
            await discover("crm", McpSection(url=plain.url("/mcp"), timeout_ms=3000))


async def test_discovering_a_server_that_never_answers_is_a_config_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as mute:  # listens, never answers
        url = f"http://127.0.0.1:{mute.getsockname()[1]}/mcp"
        t0 = time.monotonic()
        with pytest.raises(ConfigError, match=r"^mcp\.crm: .* did not answer within 0.5s"):
            await discover("crm", McpSection(url=url, timeout_ms=500))
        assert time.monotonic() - t0 < 2.0


def stdio_section(**fields: Any) -> McpSection:
    return McpSection(command=sys.executable, args=[str(SERVER_SCRIPT), "--stdio"], **fields)


async def test_a_stdio_server_is_spawned_once_and_called() -> None:
    cfg = stdio_section(timeout_ms=10_000)
    infos = await discover("local", cfg)
    assert {i["name"] for i in infos} == OFFERED
    tools = {t.name: t for t in mcp_tools("local", cfg, infos)}
    before = session_for("local", cfg).opened
    got = await tools["local__get_customer"].invoke(CTX, {"customer_id": "c9"})
    assert got == {"id": "c9", "name": "Customer c9"}
    note = await tools["local__add_note"].invoke(CTX, {"customer_id": "c9", "text": "x"})
    assert note == f"noted for c9: x (key {KEY})"
    assert session_for("local", cfg).opened - before == 1


@pytest.mark.parametrize(("idempotent", "opened"), [(False, 1), (True, 3)])
async def test_a_session_lost_mid_call_is_sent_again_only_for_an_idempotent_tool(
    crm: McpHttpServer, idempotent: bool, opened: int
) -> None:
    cfg = stdio_section(timeout_ms=10_000, idempotent=["crash"] if idempotent else [])
    infos = await discover("crm", section(crm.url))  # the same server code: one spawn less
    crash = {t.name: t for t in mcp_tools("local", cfg, infos)}["local__crash"]
    before = session_for("local", cfg).opened  # sessions of earlier tests (other loops)
    with pytest.raises(ToolOutcomeUnknown, match="the connection was lost during") as caught:
        await run_tool(crash, CTX, {}, 30)
    assert "unknown" not in str(caught.value)  # the dispatcher says that, once
    assert session_for("local", cfg).opened - before == opened  # a crash per send


@pytest.fixture(scope="module")
def raw() -> Iterator[RawMcpServer]:
    with RawMcpServer() as server:
        yield server


async def raw_tools(server: RawMcpServer, **fields: Any) -> dict[str, Tool]:
    infos = await discover("raw", McpSection(url=server.url, timeout_ms=5000))
    cfg = McpSection(url=server.url, **fields)
    return {t.name.removeprefix("raw__"): t for t in mcp_tools("raw", cfg, infos)}


@pytest.mark.parametrize("misbehaviour", ["wrong_id", "hang"])
async def test_timeout_ms_bounds_a_call_whatever_the_server_does(
    raw: RawMcpServer, misbehaviour: str
) -> None:
    tools = await raw_tools(raw, timeout_ms=1500)
    assert await tools["big"].invoke(CTX, {"n": 3}) == "xxx"  # the session is open
    before = raw.calls[misbehaviour]
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match=rf"raw__{misbehaviour} got no answer within 1\.5s"):
        await run_tool(tools[misbehaviour], CTX, {}, 30)  # the agent's timeout is far
    assert 1.4 <= time.monotonic() - t0 < 2.5
    assert raw.calls[misbehaviour] - before == 1  # not idempotent: sent once
    assert await tools["big"].invoke(CTX, {"n": 2}) == "xx"  # the session survives


async def test_an_idempotent_mcp_tool_with_no_answer_is_sent_again_each_bounded(
    raw: RawMcpServer,
) -> None:
    tools = await raw_tools(raw, timeout_ms=1000, idempotent=["wrong_id"])
    await tools["big"].invoke(CTX, {"n": 1})
    before = raw.calls["wrong_id"]
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match=r"\(sent 3 times\)"):
        await run_tool(tools["wrong_id"], CTX, {}, 30)
    assert 3.0 <= time.monotonic() - t0 < 6.0  # three attempts of 1 s, two short backoffs
    assert raw.calls["wrong_id"] - before == 3


@pytest.mark.parametrize(("idempotent", "sent"), [(False, 1), (True, 3)])
async def test_a_result_off_its_schema_is_an_unknown_outcome(
    raw: RawMcpServer, idempotent: bool, sent: int
) -> None:
    tools = await raw_tools(raw, timeout_ms=5000, idempotent=idempotent)
    before = raw.calls["off_schema"]
    with pytest.raises(ToolOutcomeUnknown, match="raw__off_schema: its result cannot be read"):
        await run_tool(tools["off_schema"], CTX, {}, 30)
    assert raw.calls["off_schema"] - before == sent


async def test_an_mcp_result_over_max_result_bytes_is_truncated(raw: RawMcpServer) -> None:
    tools = await raw_tools(raw, timeout_ms=5000, max_result_bytes=4096)
    assert await run_tool(tools["big"], CTX, {"n": 4000}, 30) == "x" * 4000
    capped = await run_tool(tools["big"], CTX, {"n": 500_000}, 30)
    assert isinstance(capped, dict) and capped["truncated"] is True
    assert "raw__big answered 500002 bytes" in capped["note"]
    assert 3500 < len(orjson.dumps(capped)) <= 4096


async def test_errors_name_an_mcp_server_by_scheme_host_and_port_only() -> None:
    port = free_port()
    url = f"http://bob:hunter2@127.0.0.1:{port}/s3cr3t-path/mcp?token=t0ps3cret"
    with pytest.raises(ConfigError) as caught:
        await discover("crm", McpSection(url=url, timeout_ms=2000))
    text = str(caught.value)
    assert f"http://127.0.0.1:{port}" in text
    assert not any(s in text for s in ("bob", "hunter2", "s3cr3t-path", "t0ps3cret"))


def test_model_names_fit_the_providers_pattern_and_stay_distinct() -> None:
    tools = ["get.customer", "get_customer", "x" * 80, "x" * 81, "ünïcode tool", ""]
    names = model_names("my.crm", tools)
    assert names["get.customer"] == "my_crm__get_customer"
    assert names["get_customer"] != names["get.customer"]
    assert all(MODEL_NAME.match(n) for n in names.values())
    assert len(set(names.values())) == len(tools)
    assert names == model_names("my.crm", tools)  # every process derives the same names


def test_tools_are_built_from_infos_without_connecting() -> None:
    infos: list[dict[str, Any]] = [
        {
            "name": "lookup",
            "inputSchema": {"type": "object"},
            "annotations": {"readOnlyHint": True},
        },
        {"name": "wipe", "description": "Wipe it.", "annotations": {"destructiveHint": True}},
        {"name": "touch", "annotations": {"readOnlyHint": False, "idempotentHint": True}},
    ]
    cfg = McpSection(url=f"http://127.0.0.1:{free_port()}/mcp")  # nobody listens there
    tools = {t.name: t for t in mcp_tools("far", cfg, infos)}
    assert {n: (t.tier, t.idempotent) for n, t in tools.items()} == {
        "far__lookup": (Tier.T1, False),
        "far__wipe": (Tier.T3, False),
        "far__touch": (Tier.T2, True),
    }
    assert tools["far__wipe"].description == "Wipe it."
    assert session_for("far", cfg).opened == 0


def test_an_input_schema_that_is_not_json_schema_is_a_config_error() -> None:
    infos: list[dict[str, Any]] = [{"name": "bad", "inputSchema": {"type": "objekt"}}]
    with pytest.raises(ConfigError, match=r"mcp\.far: tool 'bad' inputSchema: not a valid"):
        mcp_tools("far", McpSection(url="http://127.0.0.1:1/mcp"), infos)


async def test_the_server_runs_as_a_module() -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "tests.support.mcp_server", "--port", str(port)],
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        cfg = McpSection(url=f"http://127.0.0.1:{port}/mcp", timeout_ms=2000)
        deadline = time.monotonic() + 20
        while True:
            try:
                infos = await discover("crm", cfg)
                break
            except ConfigError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        assert {i["name"] for i in infos} == OFFERED
    finally:
        proc.terminate()
        await proc.wait()
