"""OpenTelemetry traces of real messages: one trace across gateway, host and registry.

The gateway runs here (uvicorn, real HTTP); the session hosts and the registry
are real Ray actors. Every process keeps its spans in the SDK's in-memory
exporter (`telemetry_exporter = "memory"`): the gateway's are read here, the
actors' through their `spans()` call. Then the capture rules on the in-process
backend: no message text or tool arguments by default; with `capture_content`
they are there, secrets redacted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import ray

from actors import finished_spans, kill_actors, setup_tracing, shutdown_tracing
from runtime.config.settings import Settings
from tests.conftest import make_stack

from .conftest import MAIN_SETTINGS, LiveServer, new_session, ray_factory

Span = dict[str, Any]
TRACE_ID = uuid.uuid4().hex
PARENT_ID = uuid.uuid4().hex[:16]
SECRET = "sk-live-0123456789abcdefghij"


@pytest.fixture(scope="module")
def traced(ray_session: None, store_redis_url: str) -> Iterator[tuple[LiveServer, Settings]]:
    stack = make_stack(
        store_redis_url, "hosted", telemetry_enabled=True, telemetry_exporter="memory"
    )
    setup_tracing(stack.settings, "gateway")
    live = LiveServer(MAIN_SETTINGS, factory=ray_factory(stack)).start()
    try:
        yield live, stack.settings
    finally:
        live.stop()
        shutdown_tracing()
        kill_actors(stack.settings.namespace)


def actor_spans(settings: Settings) -> list[Span]:
    names = [f"orchestra-host-{i}" for i in range(settings.hosts)] + ["orchestra-registry-0"]
    spans: list[Span] = []
    for name in names:
        handle = ray.get_actor(name, namespace=settings.namespace)
        spans += ray.get(handle.spans.remote())
    return spans


def trace_of(settings: Settings, trace_id: str, *needed: str) -> list[Span]:
    """The spans of one trace, once every name in `needed` is among them."""
    deadline = time.monotonic() + 10
    while True:
        spans = [s for s in finished_spans() + actor_spans(settings) if s["trace_id"] == trace_id]
        names = {s["name"] for s in spans}
        if all(n in names for n in needed) or time.monotonic() > deadline:
            assert all(n in names for n in needed), sorted(names)
            return spans
        time.sleep(0.1)


def one(spans: list[Span], name: str) -> Span:
    found = [s for s in spans if s["name"] == name]
    assert len(found) == 1, (name, [s["name"] for s in spans])
    return found[0]


def post(api: httpx.Client, path: str, body: dict[str, Any], trace_id: str) -> httpx.Response:
    parent = uuid.uuid4().hex[:16]
    r = api.post(path, json=body, headers={"traceparent": f"00-{trace_id}-{parent}-01"})
    assert r.status_code == 200, r.text
    return r


@pytest.mark.ray
def test_one_trace_per_message_across_gateway_host_and_registry(
    traced: tuple[LiveServer, Settings],
) -> None:
    live, settings = traced
    with live.client("A") as api:
        sid = new_session(api, "lab")["session_id"]
        path = f"/v1/sessions/{sid}/messages"
        first = uuid.uuid4().hex
        api.post(
            path,
            json={"text": '!tools echo; slow_effect {"seconds": 0}'},
            headers={"traceparent": f"00-{first}-{PARENT_ID}-01"},
        ).raise_for_status()
        spans = trace_of(  # the gateway's span ends after the response was sent: wait for it
            settings,
            first,
            "POST /v1/sessions/{session_id}/messages",
            "invoke_agent lab",
            "execute_tool echo",
            "execute_tool slow_effect",
        )
        gateway = one(spans, "POST /v1/sessions/{session_id}/messages")
        assert gateway["component"] == "gateway" and gateway["kind"] == "SERVER"
        assert gateway["parent_id"] == PARENT_ID  # the incoming traceparent is honoured
        assert gateway["attributes"]["http.response.status_code"] == 200
        agent = one(spans, "invoke_agent lab")
        assert agent["component"] == "session_host" and agent["parent_id"] == gateway["span_id"]
        a = agent["attributes"]
        assert a["gen_ai.operation.name"] == "invoke_agent" and a["gen_ai.agent.name"] == "lab"
        assert a["orchestra.session_id"] == sid and a["orchestra.tenant_id"]
        assert a["gen_ai.request.model"]
        assert a["orchestra.budget.left.T2"] == a["orchestra.budget.left.T2"]
        assert a["orchestra.breaker.state"] == "closed"
        assert "gen_ai.usage.input_tokens" in a and "gen_ai.usage.output_tokens" in a
        chats = [s for s in spans if s["name"].startswith("chat ")]
        assert len(chats) == 3 and all(c["parent_id"] == agent["span_id"] for c in chats)
        assert all(c["attributes"]["gen_ai.operation.name"] == "chat" for c in chats)
        assert all("gen_ai.usage.input_tokens" in c["attributes"] for c in chats)
        echo = one(spans, "execute_tool echo")
        e = echo["attributes"]
        assert echo["parent_id"] == agent["span_id"]
        assert (e["gen_ai.tool.name"], e["orchestra.tier"], e["orchestra.outcome"]) == (
            "echo",
            "T1",
            "ok",
        )
        assert e["gen_ai.tool.call.id"]
        proposed = one(spans, "execute_tool slow_effect")["attributes"]
        assert proposed["orchestra.outcome"] == "proposed" and proposed["orchestra.tier"] == "T2"
        pid = proposed["orchestra.proposal.id"]
        # nothing of the message's text or the tool's arguments by default
        for s in spans:
            assert "gen_ai.tool.call.arguments" not in s["attributes"]
            assert not any("!tools" in str(v) for v in s["attributes"].values())

        # the next message soft-confirms it: host -> registry, in the same trace
        second = uuid.uuid4().hex
        post(api, path, {"text": "ok"}, second)
        spans = trace_of(settings, second, "proposal soft_confirm", "proposal dispatch")
        agent = one(spans, "invoke_agent lab")
        soft = one(spans, "proposal soft_confirm")
        assert soft["component"] == "registry" and soft["parent_id"] == agent["span_id"]
        s = soft["attributes"]
        assert (s["orchestra.proposal.id"], s["orchestra.proposal.status"]) == (pid, "EXECUTED")
        dispatch = one(spans, "proposal dispatch")
        assert dispatch["parent_id"] == soft["span_id"]
        run = one(spans, "execute_tool slow_effect")
        assert run["parent_id"] == dispatch["span_id"] and run["component"] == "registry"
        assert run["attributes"]["gen_ai.tool.call.id"] == pid

        # an explicit reject through the API: gateway -> registry
        body = api.post(path, json={"text": '!tools slow_effect {"seconds": 0}'}).json()
        [p] = body["proposals"]
        third = uuid.uuid4().hex
        post(api, f"/v1/proposals/{p['proposal_id']}/reject", {}, third)
        spans = trace_of(
            settings, third, "POST /v1/proposals/{proposal_id}/reject", "proposal reject"
        )
        gateway = one(spans, "POST /v1/proposals/{proposal_id}/reject")
        reject = one(spans, "proposal reject")
        assert reject["parent_id"] == gateway["span_id"]
        assert reject["attributes"]["orchestra.proposal.status"] == "REJECTED"


def test_content_only_when_captured_and_secrets_always_redacted() -> None:
    text = f'!tools slow {{"seconds": 0, "token": "abc", "note": "Bearer {SECRET}"}}'
    for capture in (False, True):
        settings = Settings(
            telemetry_enabled=True,
            telemetry_exporter="memory",
            telemetry_capture_content=capture,
        )
        shutdown_tracing()  # a fresh provider: only this round's spans
        setup_tracing(settings, "gateway")
        live = LiveServer(MAIN_SETTINGS).start()  # the in-process backend
        try:
            with live.client("A") as api:
                sid = new_session(api, "lab")["session_id"]
                trace_id = uuid.uuid4().hex
                post(api, f"/v1/sessions/{sid}/messages", {"text": text}, trace_id)
        finally:
            live.stop()
        spans = [s for s in finished_spans() if s["trace_id"] == trace_id]
        shutdown_tracing()
        names = {s["name"] for s in spans}
        assert {"invoke_agent lab", "execute_tool slow"} <= names, names
        everything = repr([s["attributes"] for s in spans])
        assert SECRET not in everything
        agent = one(spans, "invoke_agent lab")["attributes"]
        tool = one(spans, "execute_tool slow")["attributes"]
        if not capture:
            assert "!tools" not in everything and "gen_ai.input.messages" not in agent
            assert "gen_ai.tool.call.arguments" not in tool
            continue
        assert "!tools slow" in agent["gen_ai.input.messages"]
        assert "[redacted]" in agent["gen_ai.input.messages"]
        assert "gen_ai.output.messages" in agent
        args = tool["gen_ai.tool.call.arguments"]
        assert '"token":"[redacted]"' in args and '"seconds":0' in args
        assert "gen_ai.tool.call.result" in tool


def test_the_sweeper_traces_each_expiry() -> None:
    """A T2 left unanswered past its window: the registry's sweeper expires it in a
    `proposal expire` span of its own (a new trace: no message caused it)."""
    shutdown_tracing()
    setup_tracing(Settings(telemetry_enabled=True, telemetry_exporter="memory"), "gateway")
    live = LiveServer(MAIN_SETTINGS).start()  # lab's T2 window: 1.5 s; sweeps every 0.2 s
    try:
        with live.client("A") as api:
            sid = new_session(api, "lab")["session_id"]
            body = post(api, f"/v1/sessions/{sid}/messages", {"text": _EFFECT}, uuid.uuid4().hex)
            [p] = body.json()["proposals"]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                got = api.get(f"/v1/proposals/{p['proposal_id']}").json()
                if got["status"] == "EXPIRED":
                    break
                time.sleep(0.2)
            assert got["status"] == "EXPIRED"
    finally:
        live.stop()
    spans = [s for s in finished_spans() if s["name"] == "proposal expire"]
    shutdown_tracing()
    [expired] = [s for s in spans if s["attributes"]["orchestra.proposal.id"] == p["proposal_id"]]
    assert expired["parent_id"] == ""
    assert expired["attributes"]["orchestra.proposal.status"] == "EXPIRED"
    assert expired["attributes"]["orchestra.tenant_id"]


_EFFECT = '!tools slow_effect {"seconds": 0}'
