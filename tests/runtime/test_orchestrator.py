"""The shared tool loop around the model: errors, retries, metrics, failed proposals."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime import logs, metrics
from runtime.backends.local import LocalBackend
from runtime.backends.protocol import Backend
from runtime.config.settings import Settings, build_catalog, build_model
from runtime.errors import ConfigError, ErrorClass, ModelError, NotFound, Unavailable
from runtime.models.anthropic import AnthropicModel
from runtime.models.base import ModelRequest, ModelResponse, Usage
from runtime.models.scripted import ScriptedModel
from runtime.store.memory import MemoryStore
from runtime.store.payloads import TurnWrite

from .conftest import OTHER_TENANT, TENANT, MakeHarness, YieldingStore


@dataclass
class Scripted:
    """Raises the queued errors first, then answers like ScriptedModel (with usage)."""

    errors: list[Exception] = field(default_factory=list)
    name: str = "fake-model"
    calls: int = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        r = await ScriptedModel().complete(request)
        return ModelResponse(r.content, r.stop_reason, Usage(input_tokens=7, output_tokens=3))


def sample(name: str, labels: dict[str, str]) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_model_auth_error_is_reported_not_raised(make_harness: MakeHarness) -> None:
    model = Scripted([ModelError("bad key", ErrorClass.AUTH, status_code=401)])
    h = make_harness(inner=model)
    sid = await h.session()
    before = sample("orchestra_errors_total", {"agent": "lab", "error_class": "AUTH"})
    r = await h.send(sid, "hello")
    assert r["reply"] == "Sorry, I couldn't reach my language model (AUTH). Please try again."
    assert model.calls == 1  # AUTH is not retried
    assert sample("orchestra_errors_total", {"agent": "lab", "error_class": "AUTH"}) == before + 1
    assert (await h.rt.list_messages(TENANT, sid))[0]["content"] == "hello"


async def test_transient_model_errors_are_retried(make_harness: MakeHarness) -> None:
    errors: list[Exception] = [
        ModelError("slow down", ErrorClass.RATE_LIMIT, retry_after=0.0),
        ModelError("overloaded", ErrorClass.NETWORK, retry_after=0.0),
    ]
    model = Scripted(errors)
    h = make_harness(inner=model)
    sid = await h.session()
    retries = sample("orchestra_model_retries_total", {"error_class": "RATE_LIMIT"})
    tokens = sample("orchestra_model_tokens_total", {"model": "recording", "kind": "input"})
    r = await h.send(sid, "!tools echo")
    assert r["tool_calls"][0]["status"] == "ok"
    assert model.calls == 4  # 2 failures + tool step + answer
    assert sample("orchestra_model_retries_total", {"error_class": "RATE_LIMIT"}) == retries + 1
    after = sample("orchestra_model_tokens_total", {"model": "recording", "kind": "input"})
    assert after == tokens + 14


class RefusingProposals(MemoryStore):
    async def save_turn(self, write: TurnWrite, *, owner: str | None = None) -> None:
        if write.proposals:
            raise ConnectionError("store unreachable")
        await super().save_turn(write, owner=owner)


async def test_a_proposal_that_cannot_be_stored_fails_its_turn(make_harness: MakeHarness) -> None:
    h = make_harness(store=RefusingProposals())
    sid = await h.session()
    with pytest.raises(Unavailable, match="could not save the turn"):
        await h.send(sid, '!tools create_record {"name": "x", "price": 1}')
    assert h.store.proposals == {}  # nothing was proposed, for anyone
    assert await h.rt.list_messages(TENANT, sid) == []


class FailOnce(MemoryStore):
    fail = True

    async def save_turn(self, *args: Any, **kw: Any) -> None:
        if self.fail:
            self.fail = False
            raise ConnectionError("store down")
        await super().save_turn(*args, **kw)


async def test_message_queued_behind_a_failed_save_is_unavailable(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(store=FailOnce(), inner=ScriptedModel(latency_s=0.01))
    sid = await h.session()
    await h.rt.get_session(TENANT, sid)  # load the core
    first, second = await asyncio.gather(
        h.send(sid, "one"), h.send(sid, "two"), return_exceptions=True
    )
    assert isinstance(first, Unavailable) and "could not save" in str(first)
    assert isinstance(second, Unavailable) and second.retry_after == 0.1
    r = await h.send(sid, "three")  # a fresh core was loaded from the store
    assert r["reply"]


class SlowSessionStore(YieldingStore):
    async def get_session(self, tenant_id: str, session_id: str) -> Any:
        await asyncio.sleep(0)
        return await super().get_session(tenant_id, session_id)


async def test_concurrent_loads_share_one_core(make_harness: MakeHarness) -> None:
    h = make_harness(store=SlowSessionStore())
    sid = await h.session()
    outcomes = await asyncio.gather(
        h.rt.get_session(TENANT, sid),
        h.rt.get_session(TENANT, sid),
        h.rt.get_session(OTHER_TENANT, sid),
        return_exceptions=True,
    )
    assert outcomes[0] == outcomes[1]
    assert isinstance(outcomes[2], NotFound)
    assert list(h.rt.pool.cores) == [sid]
    with pytest.raises(NotFound):
        await h.rt.get_session(TENANT, "s_missing")
    assert h.rt.pool._loading == {}


def test_local_runtime_implements_the_backend_api() -> None:
    for name, member in inspect.getmembers(Backend, inspect.iscoroutinefunction):
        impl = getattr(LocalBackend, name)
        assert inspect.iscoroutinefunction(impl), name
        assert list(inspect.signature(impl).parameters) == list(
            inspect.signature(member).parameters
        ), name


# -- settings and logs ---------------------------------------------------------------------


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/2")
    monkeypatch.setenv("ORCHESTRA_MODEL", "scripted")
    monkeypatch.setenv("ORCHESTRA_PLACEMENT", "dedicated")
    s = Settings.from_env(hosts=3, namespace=None)
    assert (s.redis_url, s.placement, s.hosts, s.namespace) == (
        "redis://127.0.0.1:1/2",
        "dedicated",
        3,
        "orchestra",
    )
    with pytest.raises(ConfigError, match="setting hosts"):
        Settings.from_env(hosts=0)


def test_build_model_and_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        model_latency_ms=5,
        config_data={"agents": {"lab": {"executor_timeout_ms": 250}}},
        extra_agents={"lab": "runtime.testing.agents:LabOrchestrator"},
    )
    model = build_model(settings)
    assert isinstance(model, ScriptedModel) and model.latency_s == 0.005
    catalog = build_catalog(settings)
    assert catalog.get("lab").config.executor_timeout_ms == 250
    assert catalog.get("lab").config.soft_confirm_window_ms == 120_000  # the admin preset
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        build_model(Settings(model="anthropic"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert isinstance(build_model(Settings(model="anthropic")), AnthropicModel)


def test_json_logs_carry_the_request_id(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(logs.logger, "handlers", [])
    monkeypatch.setattr(logs.logger, "propagate", logs.logger.propagate)
    old_level = logs.logger.level
    logs.configure("debug", stream)
    logs.configure("debug", stream)  # idempotent: one handler
    assert len(logs.logger.handlers) == 1
    token = logs.REQUEST_ID.set("req-42")
    try:
        logs.event("turn.done", session_id="s1", ms=logs.now_ms(0.0))
        assert stream.getvalue() == ""  # info lines are buffered ...
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logs.logger.exception("failed", extra={"fields": {"k": 1}})
        logs.logger.setLevel(logging.ERROR)
        logs.event("ignored")
    finally:
        logs.REQUEST_ID.reset(token)
        logs.logger.setLevel(old_level)
    # ... an error writes them out at once, in order (the ignored line never)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "turn.done" and first["request_id"] == "req-42"
    assert first["level"] == "info" and first["session_id"] == "s1"
    assert second["error"] == "RuntimeError: boom" and second["k"] == 1


def test_buffered_info_lines_are_written_within_the_flush_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(logs.logger, "handlers", [])
    old_level = logs.logger.level
    logs.configure("info", stream)
    try:
        logs.event("turn", n=1)
        deadline = time.monotonic() + 5 * logs.FLUSH_INTERVAL_S + 2
        while not stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert json.loads(stream.getvalue())["n"] == 1  # the timer wrote it, nobody flushed
        logs.event("turn", n=2)
        logs.flush()
        assert [json.loads(x)["n"] for x in stream.getvalue().splitlines()] == [1, 2]
    finally:
        logs.logger.setLevel(old_level)
