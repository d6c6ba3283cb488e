"""Every approved call reports what really happened (`runtime.proposals.ledger`).

Each case runs an HTTP tool against a real local endpoint
(tests/support/tool_server.py), or an MCP tool against a real server, through
`dispatch()` (what the proposal registry runs), and counts how many times the
server saw the call: a call that may have taken effect and whose answer cannot
be read is FAILED with `outcome_unknown`, a refusal is a plain FAILED, an
idempotent tool is sent again with the same key before anything is given up,
a result is capped, and no reason says the same thing twice.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from runtime import metrics
from runtime.config.file import HttpToolSection, McpSection
from runtime.models.base import ToolResultBlock
from runtime.proposals.ledger import OUTCOME_UNKNOWN, DispatchResult, dispatch
from runtime.proposals.model import Proposal
from runtime.store.memory import MemoryStore
from runtime.store.protocol import LedgerState
from runtime.tiers import Tier
from runtime.tools import Tool, ToolContext
from runtime.tools.http import close_clients, http_tool
from runtime.tools.mcp import discover, mcp_tools
from runtime.tools.mcp_session import close_sessions
from tests.support.mcp_server import McpHttpServer
from tests.support.tool_server import ToolServer

from .conftest import TENANT, Harness
from .test_http_tools import ResettingServer

ROOT = Path(__file__).resolve().parents[2]
PID = "p_00000000cafe0001"
UNKNOWN = "whether it took effect is unknown"


@pytest.fixture
def server() -> Iterator[ToolServer]:
    with ToolServer() as s:
        yield s


@pytest.fixture(autouse=True)
async def _close() -> AsyncIterator[None]:
    yield
    await close_clients()
    await close_sessions()


def ctx() -> ToolContext:
    return ToolContext(
        tenant_id=TENANT, session_id="s_1", subject="u", agent="desk", idempotency_key=PID
    )


def proposal(tool: str, args: dict[str, Any] | None = None) -> Proposal:
    return Proposal(
        proposal_id=PID,
        tenant_id=TENANT,
        session_id="s_1",
        agent="desk",
        tool=tool,
        tier=Tier.T3,
        args=args or {},
        created_at=1.0,
    )


def endpoint(url: str, **fields: Any) -> Tool:
    return http_tool("refund", HttpToolSection(kind="http", url=url, tier="T3", **fields))


async def run(
    tool: Tool, timeout_s: float = 10.0, args: dict[str, Any] | None = None
) -> DispatchResult:
    store = MemoryStore()
    outcome, _, new = await dispatch(store, tool, ctx(), proposal(tool.name, args), timeout_s)
    assert new
    return outcome


def resends(tool: str) -> float:
    found = metrics.REGISTRY.get_sample_value("orchestra_tool_resends_total", {"tool": tool})
    return found or 0.0


def said_once(error: str | None) -> None:
    """The reason is there, and says nothing twice."""
    assert error is not None
    assert error.count("unknown") == 1, error
    assert error.count("did not run") <= 1, error


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/status/500", "answered HTTP 500"),
        ("/status/503", "answered HTTP 503"),
        ("/garbled", "answered HTTP 200 and its body could not be read"),
        ("/badjson", "answered HTTP 200 and its JSON body does not parse"),
        ("/echo?sleep_ms=1500", "no answer from http://127.0.0.1:"),
    ],
)
async def test_a_call_whose_effect_cannot_be_read_is_outcome_unknown_sent_once(
    server: ToolServer, path: str, why: str
) -> None:
    out = await run(endpoint(server.url(path), timeout_ms=400))
    assert (out.executed, out.error_kind) == (False, OUTCOME_UNKNOWN)
    assert why in (out.error or "")
    said_once(out.error)
    assert [c.key for c in server.calls] == [PID]  # not idempotent: never sent twice


async def test_a_connection_dropped_after_sending_is_outcome_unknown() -> None:
    peer = ResettingServer()
    try:
        out = await run(endpoint(peer.url))
    finally:
        peer.close()
    assert out.error_kind == OUTCOME_UNKNOWN
    assert "failed after the request was sent" in (out.error or "")
    said_once(out.error)
    assert peer.connections == 1


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422, 429])
async def test_a_4xx_is_a_plain_failure_the_tool_refused(server: ToolServer, status: int) -> None:
    out = await run(endpoint(server.url(f"/status/{status}"), idempotent=True))
    assert (out.executed, out.error_kind) == (False, "")
    assert f"answered HTTP {status}" in (out.error or "")
    assert "unknown" not in (out.error or "")
    assert len(server.calls) == 1 if status != 429 else len(server.calls) == 3


async def test_an_idempotent_tool_that_timed_out_once_is_sent_again_and_executes(
    server: ToolServer,
) -> None:
    tool = endpoint(server.url("/slowfirst/1?first_sleep_ms=2000"), idempotent=True, timeout_ms=400)
    out = await run(tool, timeout_s=5.0, args={"order_id": "o-1"})
    assert out.executed and out.result["args"] == {"order_id": "o-1"}
    assert [c.key for c in server.calls] == [PID, PID]  # the same Idempotency-Key


async def test_an_idempotent_tool_is_sent_again_after_a_5xx_and_executes(
    server: ToolServer,
) -> None:
    before = resends("refund")
    out = await run(endpoint(server.url("/flaky/2"), idempotent=True))
    assert out.executed
    assert [c.key for c in server.calls] == [PID] * 3
    assert resends("refund") - before == 2  # orchestra_tool_resends_total{tool}


async def test_an_idempotent_tool_ends_unknown_once_its_retries_are_spent(
    server: ToolServer,
) -> None:
    out = await run(endpoint(server.url("/status/503"), idempotent=True, retries=1))
    assert out.error_kind == OUTCOME_UNKNOWN
    assert "(sent 2 times)" in (out.error or "")
    said_once(out.error)
    assert [c.key for c in server.calls] == [PID] * 2


async def test_the_agents_tool_timeout_bounds_all_the_sends(server: ToolServer) -> None:
    tool = endpoint(server.url("/echo?sleep_ms=3000"), idempotent=True, timeout_ms=500)
    out = await run(tool, timeout_s=1.2)
    assert out.error_kind == OUTCOME_UNKNOWN
    said_once(out.error)
    assert 1 <= len(server.calls) <= 2  # 0.5 s per attempt, a backoff, 1.2 s in all


async def test_a_result_over_the_cap_is_stored_truncated(server: ToolServer) -> None:
    out = await run(endpoint(server.url("/big?bytes=300000")))  # the default: 64 KiB
    assert out.executed and out.result["truncated"] is True
    assert len(orjson.dumps(out.entry(1.0, 1).result)) <= 64 * 1024


async def test_a_python_tools_result_is_capped_for_the_model_and_the_history(h: Harness) -> None:
    sid = await h.session()
    await h.send(sid, '!tools big {"n": 1000000}')
    results = [
        block.content
        for message in h.model.chats()[-1].messages
        for block in message.content
        if isinstance(block, ToolResultBlock)
    ]
    assert len(results) == 1
    assert len(results[0].encode()) <= 64 * 1024
    assert orjson.loads(results[0])["truncated"] is True
    stored = orjson.dumps(await h.store.list_messages(TENANT, sid), default=str)
    assert len(stored) < 2 * 64 * 1024  # the capped result (escaped once more), not 1 MB


async def test_an_mcp_session_lost_mid_call_says_unknown_once() -> None:
    with McpHttpServer() as crm:
        infos = await discover("crm", McpSection(url=crm.url, timeout_ms=5000))
    script = str(ROOT / "tests" / "support" / "mcp_server.py")
    cfg = McpSection(command=sys.executable, args=[script, "--stdio"], timeout_ms=10_000)
    crash = {t.name: t for t in mcp_tools("local", cfg, infos)}["local__crash"]
    store = MemoryStore()
    out, _, _ = await dispatch(store, crash, ctx(), proposal(crash.name), 20.0)
    assert out.error_kind == OUTCOME_UNKNOWN
    assert "the connection was lost during local__crash" in (out.error or "")
    said_once(out.error)
    assert out.error is not None and out.error.count(UNKNOWN) == 1
    assert store.ledger[(TENANT, PID)].state is LedgerState.DISPATCHING  # journaled by the book
