"""HTTP tools over a real local endpoint (tests/support/tool_server.py).

What is sent (JSON body or query string, the Orchestra headers, the
Idempotency-Key only for T2/T3, env-sourced headers and URL), what comes back
(JSON, or text, capped at max_result_bytes), what each failure means (a 4xx
the tool refused; 429/408 or no connection: it did not run; a 5xx, a dropped
connection, no answer, a 200 that cannot be read: the outcome is unknown), and
that only an idempotent endpoint is sent again (counted by the server), at most
`retries` times, within the budget and honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import ValidationError

from runtime.config.file import HttpToolSection
from runtime.errors import (
    ConfigError,
    ToolError,
    ToolOutcomeUnknown,
    ToolUnavailable,
    ToolValidationError,
)
from runtime.tiers import Tier
from runtime.tools import Tool, ToolContext, run_tool
from runtime.tools.http import close_clients, http_tool
from tests.support.tool_server import ToolServer

ROOT = Path(__file__).resolve().parents[2]
KEY = "p_0123456789abcdef"
CTX = ToolContext(
    tenant_id="acme", session_id="s_42", subject="u1", agent="support", idempotency_key=KEY
)
ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "amount": {"type": "number", "minimum": 0},
        "lines": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["order_id"],
}


@pytest.fixture
def server() -> Iterator[ToolServer]:
    with ToolServer() as s:
        yield s


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    await close_clients()


def make(url: str, tier: str = "T2", **fields: Any) -> Tool:
    return http_tool("refund", HttpToolSection(kind="http", url=url, tier=tier, **fields))


async def test_post_sends_the_arguments_as_json_with_the_orchestra_headers(
    server: ToolServer,
) -> None:
    tool = make(server.url("/echo"), parameters=ORDER_SCHEMA, description="Refund an order.")
    assert (tool.source, tool.tier, tool.idempotent, tool.outcome) == ("http", Tier.T2, False, None)
    assert tool.spec().input_schema == ORDER_SCHEMA
    args = tool.parse({"order_id": "o-1", "amount": 12.5})
    result = await tool.invoke(CTX, args)
    assert result == {
        "method": "POST",
        "args": {"order_id": "o-1", "amount": 12.5},
        "key": KEY,
        "tenant": "acme",
        "session": "s_42",
    }
    (call,) = server.calls
    assert call.headers["content-type"] == "application/json"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_writes_send_a_json_body(server: ToolServer, method: str) -> None:
    tool = make(server.url("/echo"), method=method)
    result = await tool.invoke(CTX, {"order_id": "o-2"})
    assert (result["method"], result["args"]) == (method, {"order_id": "o-2"})


async def test_get_sends_the_arguments_in_the_query_string(server: ToolServer) -> None:
    tool = make(server.url("/echo"), tier="T1", method="GET")
    result = await tool.invoke(CTX, {"q": "blue shoes", "limit": 3, "exact": True, "none": None})
    assert result["method"] == "GET"
    assert result["args"] == {"q": "blue shoes", "limit": "3", "exact": "true"}
    assert server.calls[0].body is None


@pytest.mark.parametrize(("tier", "sent"), [("T1", None), ("T2", KEY), ("T3", KEY)])
async def test_the_idempotency_key_goes_only_with_approved_writes(
    server: ToolServer, tier: str, sent: str | None
) -> None:
    await make(server.url("/echo"), tier=tier).invoke(CTX, {})
    assert server.calls[0].key == sent
    assert server.calls[0].headers["x-orchestra-tenant"] == "acme"


async def test_no_key_in_the_context_sends_none(server: ToolServer) -> None:
    ctx = CTX.model_copy(update={"idempotency_key": None})
    await make(server.url("/echo"), tier="T3").invoke(ctx, {})
    assert "idempotency-key" not in server.calls[0].headers


async def test_header_values_may_come_from_the_environment(
    server: ToolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFUND_TOKEN", "Bearer s3cret")
    headers = {"Authorization": "env:REFUND_TOKEN", "X-Static": "plain"}
    tool = make(server.url("/echo"), headers=headers)
    monkeypatch.delenv("REFUND_TOKEN")  # read when the tool is built, not per call
    await tool.invoke(CTX, {})
    assert server.calls[0].headers["authorization"] == "Bearer s3cret"
    assert server.calls[0].headers["x-static"] == "plain"


def test_a_missing_environment_variable_names_the_header_and_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"tools\.refund\.headers\.Authorization.*NO_SUCH_TOKEN"):
        make("http://127.0.0.1:1/x", headers={"Authorization": "env:NO_SUCH_TOKEN"})


async def test_a_body_that_is_not_json_is_text(server: ToolServer) -> None:
    assert await make(server.url("/text")).invoke(CTX, {}) == {"text": "plain words"}


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({}, "order_id", "is a required property"),
        ({"order_id": 7}, "order_id", "is not of type 'string'"),
        ({"order_id": "o", "amount": -1}, "amount", "less than the minimum"),
        ({"order_id": "o", "lines": [1, "two"]}, "lines.1", "is not of type 'integer'"),
    ],
)
def test_arguments_are_checked_against_the_schema(
    raw: dict[str, Any], field: str, reason: str
) -> None:
    tool = make("http://127.0.0.1:1/x", parameters=ORDER_SCHEMA)
    with pytest.raises(ToolValidationError, match=rf"^refund: {field}: .*{reason}"):
        tool.parse(raw)


async def run(tool: Tool, args: dict[str, Any] | None = None, budget_s: float = 10.0) -> Any:
    """As the orchestrator and the dispatcher call it: re-sends, the cap, the budget."""
    return await run_tool(tool, CTX, args or {}, budget_s)


@pytest.mark.parametrize("status", [400, 404, 409, 422])
async def test_a_4xx_is_a_refusal_with_the_endpoints_explanation(
    server: ToolServer, status: int
) -> None:
    with pytest.raises(ToolValidationError, match=f"HTTP {status}: status {status} body"):
        await run(make(server.url(f"/status/{status}"), idempotent=True))
    assert len(server.calls) == 1  # refused: never sent again


@pytest.mark.parametrize("status", [401, 403])
async def test_401_and_403_say_authentication_failed(server: ToolServer, status: int) -> None:
    with pytest.raises(ToolError, match="authentication failed") as caught:
        await run(make(server.url(f"/status/{status}"), idempotent=True))
    assert not isinstance(caught.value, ToolValidationError | ToolOutcomeUnknown)
    assert len(server.calls) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_5xx_of_a_non_idempotent_tool_is_an_unknown_outcome_sent_once(
    server: ToolServer, status: int
) -> None:
    with pytest.raises(ToolOutcomeUnknown, match=f"answered HTTP {status}"):
        await run(make(server.url(f"/status/{status}")))
    assert len(server.calls) == 1


@pytest.mark.parametrize("status", [429, 408])
async def test_429_and_408_say_it_did_not_run(server: ToolServer, status: int) -> None:
    with pytest.raises(ToolUnavailable, match="did not run"):
        await run(make(server.url(f"/status/{status}?retry_after=0")))
    assert len(server.calls) == 1  # not idempotent: not sent again


async def test_an_idempotent_tool_is_sent_again_with_the_same_key(server: ToolServer) -> None:
    tool = make(server.url("/flaky/2"), idempotent=True)
    result = await run(tool, {"order_id": "o-3"})
    assert result["args"] == {"order_id": "o-3"}
    assert [c.key for c in server.calls] == [KEY, KEY, KEY]


async def test_retries_bound_the_re_sends(server: ToolServer) -> None:
    with pytest.raises(ToolOutcomeUnknown, match=r"HTTP 503.*\(sent 3 times\)"):
        await run(make(server.url("/status/503"), idempotent=True))  # retries = 2
    assert [c.key for c in server.calls] == [KEY] * 3
    server.reset()
    with pytest.raises(ToolOutcomeUnknown, match="HTTP 503"):
        await run(make(server.url("/status/503"), idempotent=True, retries=0))
    assert len(server.calls) == 1


async def test_an_idempotent_tool_that_timed_out_once_is_sent_again(server: ToolServer) -> None:
    tool = make(server.url("/slowfirst/1?first_sleep_ms=1500"), idempotent=True, timeout_ms=300)
    t0 = time.monotonic()
    result = await run(tool, {"order_id": "o-5"}, budget_s=5)
    assert result["args"] == {"order_id": "o-5"}
    assert time.monotonic() - t0 < 1.4  # timeout_ms bounds the first attempt
    assert [c.key for c in server.calls] == [KEY, KEY]


async def test_retry_after_is_honoured(server: ToolServer) -> None:
    tool = make(server.url("/flaky/1?status=429&retry_after=0.7"), idempotent=True)
    t0 = time.monotonic()
    await run(tool)
    waited = time.monotonic() - t0
    assert len(server.calls) == 2
    assert 0.65 <= waited < 2.0  # the default first backoff is ~0.25 s


async def test_a_retry_after_beyond_the_budget_gives_up_at_once(server: ToolServer) -> None:
    tool = make(server.url("/status/429?retry_after=5"), idempotent=True, timeout_ms=1000)
    t0 = time.monotonic()
    with pytest.raises(ToolUnavailable, match="no time left"):
        await run(tool, budget_s=1.0)
    assert time.monotonic() - t0 < 1.0  # not the 5 s asked for
    assert len(server.calls) == 1


async def test_the_agents_tool_timeout_bounds_every_attempt(server: ToolServer) -> None:
    tool = make(server.url("/status/503"), idempotent=True, retries=10)
    t0 = time.monotonic()
    with pytest.raises(ToolOutcomeUnknown, match="HTTP 503"):
        await run(tool, budget_s=0.9)
    assert time.monotonic() - t0 < 1.2
    assert 2 <= len(server.calls) <= 4


async def test_no_answer_within_timeout_ms_is_a_timeout(server: ToolServer) -> None:
    tool = make(server.url("/echo?sleep_ms=1500"), timeout_ms=300)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match=r"no answer from http://127\.0\.0\.1:\d+ within 0\.3s"):
        await run(tool)
    assert 0.25 <= time.monotonic() - t0 < 1.4  # the sleep is 1.5 s
    assert len(server.calls) == 1  # it may have taken effect: never sent again


@pytest.mark.parametrize(
    ("path", "why"), [("/garbled", "could not be read"), ("/badjson", "does not parse")]
)
@pytest.mark.parametrize(("idempotent", "sent"), [(False, 1), (True, 3)])
async def test_a_200_whose_body_cannot_be_read_is_an_unknown_outcome(
    server: ToolServer, path: str, why: str, idempotent: bool, sent: int
) -> None:
    with pytest.raises(ToolOutcomeUnknown, match=f"answered HTTP 200 and its .*{why}"):
        await run(make(server.url(path), idempotent=idempotent))
    assert [c.key for c in server.calls] == [KEY] * sent


@pytest.mark.parametrize("size", [5_000, 1_000_000])  # parsed then capped; cut while read
async def test_a_result_over_max_result_bytes_is_truncated_with_a_note(
    server: ToolServer, size: int
) -> None:
    small = await run(make(server.url("/big?bytes=500"), max_result_bytes=2048))
    assert small == {"blob": "x" * 500}
    capped = await run(make(server.url(f"/big?bytes={size}"), max_result_bytes=2048))
    assert capped["truncated"] is True
    assert "max_result_bytes = 2048" in capped["note"]
    assert capped["text"].startswith('{"blob":') and capped["text"].endswith("xxx")
    assert 1500 < len(orjson.dumps(capped)) <= 2048


async def test_the_whole_url_may_come_from_the_environment(
    server: ToolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFUND_URL", server.url("/echo"))
    tool = make("env:REFUND_URL")
    monkeypatch.delenv("REFUND_URL")  # read when the tool is built, not per call
    assert (await run(tool, {"order_id": "o-6"}))["args"] == {"order_id": "o-6"}
    assert len(server.calls) == 1


def test_an_env_url_that_is_missing_or_not_a_url_fails_the_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_SUCH_URL", raising=False)
    with pytest.raises(ConfigError, match=r"tools\.refund\.url: .*NO_SUCH_URL is not set"):
        make("env:NO_SUCH_URL")
    monkeypatch.setenv("BAD_URL", "ftp://secret-host/x")
    with pytest.raises(ConfigError, match=r"tools\.refund\.url: .*BAD_URL is not an http") as e:
        make("env:BAD_URL")
    assert "secret-host" not in str(e.value)
    with pytest.raises(ValidationError):
        HttpToolSection(kind="http", url="ftp://x/y", tier="T2")


SECRETS = ("hunter2", "s3cr3t-path-segment", "t0ps3cret-token")


def secret_url(base: str, path: str) -> str:
    host = base.removeprefix("http://")
    return f"http://alice:hunter2@{host}{path}/s3cr3t-path-segment?token=t0ps3cret-token"


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/status/503", ToolOutcomeUnknown),
        ("/status/404", ToolValidationError),
        ("/status/401", ToolError),
        ("/garbled", ToolOutcomeUnknown),
        ("/echo?sleep_ms=1000", TimeoutError),
    ],
)
async def test_errors_and_logs_name_the_endpoint_by_scheme_host_and_port_only(
    server: ToolServer, caplog: pytest.LogCaptureFixture, path: str, error: type[Exception]
) -> None:
    caplog.set_level(logging.DEBUG)
    url = secret_url(server.base_url, path.partition("?")[0])
    url += "&" + path.partition("?")[2] if "?" in path else ""
    with pytest.raises(error) as caught:
        await run(make(url, timeout_ms=300))
    text = str(caught.value)
    assert server.base_url in text  # http://127.0.0.1:PORT
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged  # httpx logged the request...
    for secret in (*SECRETS, "alice"):
        assert secret not in text
        assert secret not in logged  # ...by its endpoint
    assert len(server.calls) == 1


async def test_an_unreachable_secret_url_is_named_by_its_endpoint() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{s.getsockname()[1]}"
        with pytest.raises(ToolUnavailable) as caught:
            await run(make(secret_url(base, "/x")))
    assert base in str(caught.value)
    assert not any(secret in str(caught.value) for secret in SECRETS)


class ResettingServer:
    """Accepts each connection, reads the request, and closes without answering."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/x"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.recv(65536)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize(("idempotent", "connections"), [(False, 1), (True, 3)])
async def test_a_connection_lost_mid_call_is_sent_again_only_if_idempotent(
    idempotent: bool, connections: int
) -> None:
    peer = ResettingServer()
    try:
        with pytest.raises(ToolOutcomeUnknown, match="failed after the request was sent"):
            await run(make(peer.url, idempotent=idempotent, timeout_ms=5000))
        assert peer.connections == connections  # retries = 2
    finally:
        peer.close()


async def test_an_unreachable_endpoint_is_a_tool_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(ToolUnavailable, match=r"cannot connect.*it did not run"):
            await run(make(f"http://127.0.0.1:{port}/x"))


@pytest.mark.parametrize(("path", "effects"), [("/effect", 1), ("/effect-nodedupe", 2)])
async def test_the_same_key_twice_reaches_the_endpoint_twice(
    server: ToolServer, path: str, effects: int
) -> None:
    tool = make(server.url(path), tier="T3", idempotent=True)
    first = await tool.invoke(CTX, {"order_id": "o-4"})
    again = await tool.invoke(CTX, {"order_id": "o-4"})
    assert server.effects[KEY] == effects
    assert (first == again) is (effects == 1)


def test_a_tool_built_without_a_loop_works_in_each_loop_it_meets(server: ToolServer) -> None:
    tool = make(server.url("/echo"))

    async def call_and_close() -> Any:
        try:
            return await tool.invoke(CTX, {"n": 1})
        finally:
            await close_clients()

    assert asyncio.run(call_and_close())["args"] == {"n": 1}
    assert asyncio.run(call_and_close())["args"] == {"n": 1}
    assert len(server.calls) == 2


def test_the_server_runs_as_a_module() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.tool_server", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert str(port) in proc.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.post(
                    f"{base}/effect", headers={"Idempotency-Key": "k1"}, json={}
                ).raise_for_status()
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        httpx.post(f"{base}/effect", headers={"Idempotency-Key": "k1"}, json={})
        state = httpx.get(f"{base}/_state").json()
        assert (state["effects"], state["calls_per_key"]) == ({"k1": 1}, {"k1": 2})
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
