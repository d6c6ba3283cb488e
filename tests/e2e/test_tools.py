"""Bring-your-own tools through a real `orchestra serve` with a config file.

One declared agent uses a Python tool module, a real local HTTP tool server and
a real local MCP server (the SDK's own, over streamable HTTP), each at T1 (runs
at once), T2 (soft-confirmed by the next message) and T3 (confirmed over the
API); the tier budgets and the circuit breaker hold for them as for built-in
tools; and an approved action runs once, even when the registry is SIGKILLed
in the middle of it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from runtime.testing import Served
from runtime.testing import served as orchestra_serve
from tests.support.mcp_server import McpHttpServer
from tests.support.tool_server import ToolServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SLEEP_MS = 3000


SECRETS = ("hunter2", "s3cr3t-path-segment", "t0ps3cret-token")


def secret_url(tools: ToolServer, path: str) -> str:
    """A URL to `path` of the tool server that holds a secret in each of its parts."""
    host = tools.base_url.removeprefix("http://")
    return f"http://alice:hunter2@{host}{path}/s3cr3t-path-segment?token=t0ps3cret-token"


def config(tools: ToolServer, mcp: McpHttpServer) -> str:
    effect = tools.url("/effect")
    return f"""
[tools.lookup_order]
python = "tests.support.acme_tools:lookup_order"

[tools.note_order]
python = "tests.support.acme_tools:note_order"

[tools.refund_order]
python = "tests.support.acme_tools:refund_order"

[tools.stock]
kind = "http"
tier = "T1"
url = "{tools.url("/echo")}"
description = "How many are in stock."
parameters.type = "object"
parameters.required = ["sku"]
parameters.properties.sku.type = "string"

[tools.reserve]
kind = "http"
tier = "T2"
url = "{effect}"
idempotent = true
parameters = {{ type = "object", properties = {{ sku = {{ type = "string" }} }} }}

[tools.refund]
kind = "http"
tier = "T3"
url = "{effect}"
idempotent = true
headers = {{ Authorization = "env:ACME_REFUND_TOKEN" }}
parameters = {{ type = "object", properties = {{ order_id = {{ type = "string" }} }} }}

[tools.broken]
kind = "http"
tier = "T1"
url = "{tools.url("/status/500")}"

[tools.pay_idempotent]
kind = "http"
tier = "T3"
url = "{tools.url(f"/effect?sleep_ms={SLEEP_MS}")}"
idempotent = true
timeout_ms = 20000

[tools.pay_once]
kind = "http"
tier = "T3"
url = "{tools.url(f"/effect-nodedupe?sleep_ms={SLEEP_MS}")}"
timeout_ms = 20000

[tools.vault_write]
kind = "http"
tier = "T3"
url = "{secret_url(tools, "/status/503")}"

[tools.vault_read]
kind = "http"
tier = "T1"
url = "env:ACME_VAULT_URL"

[mcp.crm]
url = "{mcp.url}"
tiers = {{ fail = "T1" }}   # a read that fails: for the breaker

[mcp.notes]                 # the same server again, its text tool at T1
url = "{mcp.url}"
tiers = {{ add_note = "T1" }}

[agents.desk]
preset = "chatbot"
system_prompt = "You are the order desk of {{tenant_name}}."
greeting = "Order desk: how can I help?"
executor_timeout_ms = 20000
tools = ["lookup_order", "note_order", "refund_order", "stock", "reserve", "refund",
         "broken", "pay_idempotent", "pay_once", "vault_write", "vault_read", "mcp:crm"]

[[agents.desk.script]]
match = '(?i)^stock check (?P<sku>\\S+)'
tool = "stock"
args = {{ sku = "{{sku}}" }}

[agents.notes]
tools = ["mcp:notes"]
"""


@dataclass
class World:
    served: Served
    tools: ToolServer
    mcp: McpHttpServer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("tools")
    with ToolServer() as tools, McpHttpServer() as mcp:
        path = home / "orchestra.toml"
        path.write_text(config(tools, mcp))
        env = {
            "PYTHONPATH": str(REPO),
            "ACME_REFUND_TOKEN": "Bearer refund-secret",
            "ACME_VAULT_URL": secret_url(tools, "/status/500"),
        }
        with orchestra_serve("--hosts", "1", "--config", str(path), home=home, env=env) as served:
            yield World(served, tools, mcp)


def turn(api: httpx.Client, sid: str, text: str) -> dict[str, Any]:
    r = api.post(f"/v1/sessions/{sid}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def desk(api: httpx.Client) -> str:
    r = api.post("/v1/sessions", json={"agent": "desk", "subject": f"u{time.time_ns()}"})
    assert r.status_code == 201, r.text
    assert r.json()["greeting"] == "Order desk: how can I help?"
    return str(r.json()["session_id"])


def calls(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["tool"], c["tier"], c["status"]) for c in r["tool_calls"]]


@pytest.mark.parametrize(
    ("t1", "t2", "t3"),
    [
        (
            'lookup_order {"order_id": "o-1"}',
            'note_order {"order_id": "o-1", "text": "late"}',
            'refund_order {"order_id": "o-1", "amount": 12.5}',
        ),
        ('stock {"sku": "s-1"}', 'reserve {"sku": "s-1"}', 'refund {"order_id": "o-2"}'),
        (
            'crm__get_customer {"customer_id": "c-1"}',
            'crm__add_note {"customer_id": "c-1", "text": "vip"}',
            'crm__delete_customer {"customer_id": "c-1"}',
        ),
    ],
    ids=["python", "http", "mcp"],
)
def test_each_source_at_each_tier(world: World, t1: str, t2: str, t3: str) -> None:
    with world.served.client() as api:
        sid = desk(api)
        r = turn(api, sid, f"!tools {t1}")
        assert calls(r)[0][1:] == ("T1", "ok") and r["proposals"] == []
        r = turn(api, sid, f"!tools {t2}")
        [proposed] = r["proposals"]
        assert (proposed["tier"], proposed["status"]) == ("T2", "PENDING")
        r = turn(api, sid, "thanks")  # the next message soft-confirms it
        assert [(p["proposal_id"], p["status"]) for p in r["proposals"]] == [
            (proposed["proposal_id"], "EXECUTED")
        ]
        r = turn(api, sid, f"!tools {t3}")
        [pending] = r["proposals"]
        assert (pending["tier"], pending["status"]) == ("T3", "PENDING")
        turn(api, sid, "yes, go ahead")  # a T3 is never soft-confirmed
        assert api.get(f"/v1/proposals/{pending['proposal_id']}").json()["status"] == "PENDING"
        done = api.post(f"/v1/proposals/{pending['proposal_id']}/confirm")
        assert done.status_code == 200 and done.json()["status"] == "EXECUTED", done.text
        assert api.post(f"/v1/proposals/{pending['proposal_id']}/confirm").status_code == 409


def test_http_tools_send_the_idempotency_key_and_the_callers(world: World) -> None:
    with world.served.client() as api:
        sid = desk(api)
        turn(api, sid, '!tools stock {"sku": "s-9"}')
        r = turn(api, sid, '!tools refund {"order_id": "o-9"}')
        pid = r["proposals"][0]["proposal_id"]
        assert api.post(f"/v1/proposals/{pid}/confirm").json()["status"] == "EXECUTED"
    [read] = [c for c in world.tools.calls_to("/echo") if c.body == {"sku": "s-9"}]
    assert read.key is None  # a read has no proposal
    assert read.headers["x-orchestra-session"] == sid
    [write] = [c for c in world.tools.calls_to("/effect") if c.key == pid]
    assert write.body == {"order_id": "o-9"}
    assert write.headers["authorization"] == "Bearer refund-secret"  # from the environment
    assert world.tools.effects[pid] == 1


def test_a_secret_in_a_tool_url_reaches_no_reply_proposal_audit_or_log(world: World) -> None:
    with world.served.client() as api:
        sid = desk(api)
        read = api.post(f"/v1/sessions/{sid}/messages", json={"text": "!tools vault_read"})
        assert calls(read.json()) == [("vault_read", "T1", "error")]
        r = turn(api, sid, "!tools vault_write")
        pid = r["proposals"][0]["proposal_id"]
        confirmed = api.post(f"/v1/proposals/{pid}/confirm")
        assert confirmed.json()["status"] == "FAILED", confirmed.text
        result = confirmed.json()["result"]
        assert result["error_kind"] == "outcome_unknown"  # a 503 after the request was sent
        assert f"{world.tools.base_url} answered HTTP 503" in result["error"]
        shown = [
            read.text,
            confirmed.text,
            api.get(f"/v1/proposals/{pid}").text,
            api.get("/v1/audit", params={"session_id": sid}).text,
            api.get(f"/v1/sessions/{sid}/messages").text,
        ]
    time.sleep(0.5)  # the serve's buffered log lines (0.2 s)
    for secret in SECRETS:
        assert not [text for text in shown if secret in text], secret
        assert secret not in world.served.text, secret
    sent = [c for c in world.tools.calls if c.path.endswith("/s3cr3t-path-segment")]
    assert [c.path for c in sent] == [
        "/status/500/s3cr3t-path-segment",
        f"/status/503/{SECRETS[1]}",
    ]
    assert sent[1].key == pid  # sent once: not idempotent
    assert sent[0].query == sent[1].query == {"token": SECRETS[2]}  # the real URL was used


def test_budgets_and_the_breaker_hold_for_declared_tools(world: World) -> None:
    with world.served.client() as api:
        sid = desk(api)
        r = turn(api, sid, '!tools stock*11 {"sku": "s-1"}')
        statuses = [c[2] for c in calls(r)]
        assert statuses == ["ok"] * 10 + ["exhausted"]  # T1 budget: 10 per message
        assert "I've exhausted my capability for T1 operations." in r["reply"]
        r = turn(api, sid, "!tools broken*4")
        assert [c[2] for c in calls(r)] == ["error"] * 3 + ["breaker_open"]
        r = turn(api, sid, '!tools lookup_order {"order_id": "o-1"}')
        assert calls(r) == [("lookup_order", "T1", "breaker_open")]  # open for every tool
        assert api.get(f"/v1/sessions/{sid}").json()["breaker"] == "open"


def test_budgets_and_the_breaker_hold_for_mcp_tools(world: World) -> None:
    with world.served.client() as api:
        sid = desk(api)
        r = turn(api, sid, '!tools crm__get_customer*11 {"customer_id": "c-1"}')
        assert [c[2] for c in calls(r)] == ["ok"] * 10 + ["exhausted"]  # T1: 10 per message
        r = turn(api, sid, '!tools crm__add_note*4 {"customer_id": "c-1", "text": "x"}')
        assert [c[2] for c in calls(r)] == ["proposed"] * 3 + ["exhausted"]  # T2: 3
        assert "I've exhausted my capability for T2 operations." in r["reply"]
        r = turn(api, sid, "no")  # refuses the first note; the two that depend on it fail
        assert sorted(p["status"] for p in r["proposals"]) == ["FAILED", "FAILED", "REJECTED"]
        assert not [c for c in world.mcp.calls if c["args"].get("text") == "x"]  # none was sent
        r = turn(api, sid, '!tools crm__fail*4 {"reason": "down"}')
        assert [c[2] for c in calls(r)] == ["error"] * 3 + ["breaker_open"]
        r = turn(api, sid, '!tools crm__get_customer {"customer_id": "c-1"}')
        assert calls(r) == [("crm__get_customer", "T1", "breaker_open")]


def registry_pid(served: Served) -> int:
    root = psutil.Process(served.proc.pid)
    for p in root.children(recursive=True):
        try:
            if "ProposalRegistry" in " ".join(p.cmdline()):
                return p.pid
        except psutil.Error:
            continue
    raise AssertionError("no registry process")


@pytest.mark.parametrize("tool", ["pay_idempotent", "pay_once"])
def test_an_approved_call_runs_once_when_the_registry_is_killed(world: World, tool: str) -> None:
    with world.served.client() as api:
        sid = desk(api)
        r = turn(api, sid, f'!tools {tool} {{"amount": 30}}')
        pid = r["proposals"][0]["proposal_id"]
        victim = registry_pid(world.served)
        with httpx.Client(base_url=world.served.url, headers=api.headers, timeout=60) as confirmer:
            answers: list[httpx.Response | Exception] = []

            def confirm() -> None:
                try:
                    answers.append(confirmer.post(f"/v1/proposals/{pid}/confirm"))
                except httpx.HTTPError as exc:
                    answers.append(exc)

            t = threading.Thread(target=confirm)
            t.start()
            deadline = time.monotonic() + 10
            while not [c for c in world.tools.calls if c.key == pid]:  # in the tool's sleep
                assert time.monotonic() < deadline, "the tool was never called"
                time.sleep(0.05)
            os.kill(victim, signal.SIGKILL)
            t.join(60)
        [first] = answers
        assert isinstance(first, httpx.Response) and first.status_code == 503, first
        status = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the client retries, as Retry-After says
            again = api.post(f"/v1/proposals/{pid}/confirm")
            body = again.json()
            status = body.get("status") or body["error"].get("status", "")
            if status in ("EXECUTED", "FAILED"):
                break
            assert again.status_code in (409, 503), again.text
            time.sleep(0.5)
        final = api.get(f"/v1/proposals/{pid}").json()
    effects = world.tools.effects[pid]
    if tool == "pay_idempotent":  # dispatched again with the same key: one effect
        assert final["status"] == "EXECUTED", final
        assert effects == 1 and world.tools.calls_per_key[pid] == 2
    else:  # never sent twice: the outcome is for a person to reconcile
        assert final["status"] == "FAILED", final
        assert final["result"]["error_kind"] == "outcome_unknown"
        assert effects <= 1 and world.tools.calls_per_key[pid] == 1
    with world.served.client() as api:
        audit = api.get("/v1/audit", params={"session_id": sid}).json()["events"]
    ends = [e for e in audit if e.get("proposal_id") == pid and e["to"] in ("EXECUTED", "FAILED")]
    assert len(ends) == 1
    if tool == "pay_once":
        assert ends[0]["reason"] == "outcome_unknown"
        assert json.dumps(final["result"]).count("outcome_unknown") == 1


def no_json(reply: str) -> str:
    assert '{"' not in reply and '":' not in reply and "[{" not in reply, reply
    return reply


def test_plain_language_drives_python_http_and_mcp_tools(world: World) -> None:
    """docs/TOOLS.md's order desk, with no API key: the words pick the tool."""
    with world.served.client() as api:
        sid = desk(api)
        r = turn(api, sid, "look up order o-42")
        assert calls(r) == [("lookup_order", "T1", "ok")]
        assert no_json(r["reply"]).startswith("Lookup order: order id o-42; status shipped")
        r = turn(api, sid, "refund order o-42 for 20 dollars")
        assert calls(r) == [("refund_order", "T3", "proposed")]
        [refund] = r["proposals"]
        assert refund["preview"] == "refund_order(order_id=o-42, amount=20.0)"
        assert no_json(r["reply"]).endswith("Waiting for your confirmation.")
        done = api.post(f"/v1/proposals/{refund['proposal_id']}/confirm").json()
        assert done["status"] == "EXECUTED" and done["result"]["logged"] == "refund o-42 20"

        r = turn(api, sid, "how many are in stock for sku s-7?")  # an HTTP tool
        assert calls(r) == [("stock", "T1", "ok")]
        [echo] = [c for c in world.tools.calls_to("/echo") if c.body == {"sku": "s-7"}]
        assert echo.headers["x-orchestra-session"] == sid
        no_json(r["reply"])
        r = turn(api, sid, "stock check s-8")  # the agent's script rule
        assert calls(r) == [("stock", "T1", "ok")]
        assert [c for c in world.tools.calls_to("/echo") if c.body == {"sku": "s-8"}]

        r = turn(api, sid, "look up customer c-5")  # an MCP tool
        assert calls(r) == [("crm__get_customer", "T1", "ok")]
        assert no_json(r["reply"]) == "Get customer: id c-5; name Customer c-5."
        r = turn(api, sid, 'add note "gold tier" to customer c-5')
        assert calls(r) == [("crm__add_note", "T2", "proposed")]
        r = turn(api, sid, "thanks")  # soft-confirms it
        assert [p["status"] for p in r["proposals"]] == ["EXECUTED"]
        noted = [c["args"] for c in world.mcp.calls if c["args"].get("customer_id") == "c-5"]
        assert noted == [{"customer_id": "c-5"}, {"customer_id": "c-5", "text": "gold tier"}]


def test_an_mcp_tools_text_reaches_the_reply_as_text(world: World) -> None:
    with world.served.client() as api:
        r = api.post("/v1/sessions", json={"agent": "notes", "subject": f"u{time.time_ns()}"})
        sid = r.json()["session_id"]
        r = turn(api, sid, '!tools notes__add_note {"customer_id": "c-2", "text": "hi"}')
        assert calls(r) == [("notes__add_note", "T1", "ok")]
        assert r["reply"] == "noted for c-2: hi (key None)"  # not "\"noted ...\""


def test_agents_lists_each_agents_tools_with_tier_and_source(world: World) -> None:
    with world.served.client() as api:
        r = api.get("/v1/agents")
    assert r.status_code == 200, r.text
    agents = {a["name"]: a for a in r.json()["agents"]}
    assert {"chatbot", "desk", "notes"} <= set(agents)
    desk_ = agents["desk"]
    assert desk_["preset"] == "chatbot"
    tools = {t["name"]: t for t in desk_["tools"]}
    assert tools["lookup_order"] == {
        "name": "lookup_order",
        "tier": "T1",
        "source": "python",
        "description": "Look an order up.",
        "idempotent": False,
    }
    assert (tools["refund"]["source"], tools["refund"]["tier"], tools["refund"]["idempotent"]) == (
        "http",
        "T3",
        True,
    )
    assert tools["crm__get_customer"] == {  # discovered from the MCP server at start-up
        "name": "crm__get_customer",
        "tier": "T1",
        "source": "mcp",
        "description": "Look up a customer by id.",
        "idempotent": False,
    }
    deleting = tools["crm__delete_customer"]
    assert (deleting["tier"], deleting["idempotent"]) == ("T3", True)  # from its annotations
    assert agents["notes"]["preset"] == "admin"  # no preset: the default
