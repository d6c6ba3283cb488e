"""Streaming turns against a real model adapter: `AnthropicModel` over HTTP to a local
fake that speaks the Messages API's SSE, behind the real gateway.

- a model error before any token reached the client is retried (classifier, backoff);
- after tokens were sent, the turn ends with an `error` event and nothing of it
  is saved as the assistant's answer;
- a client that disconnects mid-stream does not cancel the turn: it completes,
  is saved, and a repeat with the same `message_id` returns it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtime.agents import AgentCatalog
from runtime.backends.local import LocalBackend
from runtime.config.settings import Settings
from runtime.models.anthropic import AnthropicModel
from runtime.retry import RetryPolicy
from runtime.store.memory import MemoryStore
from runtime.store.tenants import add_tenant
from salon.testing import SALON_AGENTS
from tests.gateway.conftest import BackendBundle, LiveServer
from tests.gateway.test_sse import SSE, parse_sse
from tests.support.fake_anthropic import (
    FakeAnthropic,
    block,
    error_event,
    error_json,
    message_end,
    message_start,
    stream,
    text_block,
    tool_block,
)
from tests.support.sse_server import Hold, Reply

SETTINGS = Settings(rate_limit_per_s=1000, rate_limit_burst=1000)


def text_stream(*pieces: str, gate: threading.Event | None = None) -> Any:
    deltas = [{"type": "text_delta", "text": p} for p in pieces]
    events = block(0, {"type": "text", "text": ""}, deltas)
    if gate is not None:  # hold the rest back after the first delta
        events = [*events[:2], Hold(gate), *events[2:]]  # type: ignore[list-item]
    return stream(message_start(), events, message_end())


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    yield server
    server.close()


@pytest.fixture(scope="module")
def live(fake: FakeAnthropic) -> Iterator[LiveServer]:
    async def factory(settings: Settings) -> BackendBundle:
        store = MemoryStore()
        model = AnthropicModel(
            api_key="sk-test", base_url=fake.base_url, policy=RetryPolicy(max_attempts=1)
        )
        runtime = LocalBackend(store, AgentCatalog(model, extra=SALON_AGENTS))
        _, key = await add_tenant(store, "Streaming")
        return BackendBundle(runtime, {"A": key}, [runtime.start], [runtime.stop, model.aclose])

    server = LiveServer(SETTINGS, factory=factory).start()
    yield server
    server.stop()


def session(api: httpx.Client) -> str:
    r = api.post("/v1/sessions", json={"agent": "chatbot", "subject": f"u{time.time_ns()}"})
    return str(r.json()["session_id"])


def history(api: httpx.Client, sid: str) -> list[str]:
    return [m["role"] for m in api.get(f"/v1/sessions/{sid}/messages").json()["messages"]]


def test_an_error_after_tokens_ends_the_stream_and_saves_nothing(
    live: LiveServer, fake: FakeAnthropic
) -> None:
    deltas = [{"type": "text_delta", "text": t} for t in ("Let me ", "check ")]
    broken = stream(
        message_start(),
        block(0, {"type": "text", "text": ""}, deltas)[:-1],  # the block never ends
        error_event("overloaded_error", "Overloaded"),
    )
    fake.queue(broken)
    with live.client("A") as api:
        sid = session(api)
        body = {"text": "what is open tomorrow?", "message_id": "m-broken"}
        with api.stream("POST", f"/v1/sessions/{sid}/messages", json=body, headers=SSE) as r:
            assert r.status_code == 200
            events = parse_sse(r.read().decode())
        names = [n for n, _ in events]
        assert names == ["token", "token", "error"]  # no retry: the client had text
        assert events[-1][1]["error"]["type"] == "turn_aborted"
        assert history(api, sid) == []  # nothing half-done was saved
        fake.queue(text_stream("All ", "day."))  # the same message again: a new turn
        r2 = api.post(f"/v1/sessions/{sid}/messages", json=body)
        assert r2.status_code == 200 and r2.json()["reply"] == "All day."
        assert history(api, sid) == ["user", "assistant"]


def test_an_error_before_any_token_is_retried(live: LiveServer, fake: FakeAnthropic) -> None:
    fake.queue(Reply(529, error_json("overloaded_error", "Overloaded")), text_stream("Hi ", "you"))
    before = len(fake.received)
    with live.client("A") as api:
        sid = session(api)
        url = f"/v1/sessions/{sid}/messages"
        with api.stream("POST", url, json={"text": "hello"}, headers=SSE) as r:
            events = parse_sse(r.read().decode())
    assert [n for n, _ in events] == ["token", "token", "done"]
    assert events[-1][1]["reply"] == "Hi you"
    assert len(fake.received) - before == 2  # the 529, then the retry


def test_a_client_that_leaves_mid_stream_does_not_cancel_the_turn(
    live: LiveServer, fake: FakeAnthropic
) -> None:
    gate = threading.Event()
    fake.queue(text_stream("Still ", "here ", "for ", "you.", gate=gate))
    with live.client("A") as api:
        sid = session(api)
        body = {"text": "are you there?", "message_id": "m-left"}
        url = f"/v1/sessions/{sid}/messages"
        with api.stream("POST", url, json=body, headers=SSE) as r:
            first = next(r.iter_lines())  # the first event, then the client goes away
        assert first.startswith("id: ")
        gate.set()  # the model finishes after the client left
        for _ in range(100):
            if history(api, sid) == ["user", "assistant"]:
                break
            time.sleep(0.05)
        assert history(api, sid) == ["user", "assistant"]  # completed and saved
        again = api.post(url, json=body)  # a repeat: the saved result, not a new turn
        assert again.json()["reply"] == "Still here for you."
        with api.stream("POST", url, json=body, headers=SSE) as r:
            replay = parse_sse(r.read().decode())
        assert replay[-1] == ("done", again.json())
        assert json.dumps(replay[-1][1]) == json.dumps(again.json())
        assert history(api, sid) == ["user", "assistant"]


def test_text_before_a_tool_call_is_part_of_the_reply(
    live: LiveServer, fake: FakeAnthropic
) -> None:
    """The model writes, calls a tool, writes again: the reply is all it wrote, in
    order, exactly as the tokens streamed it, in SSE and in JSON alike."""

    def talk_tool_talk() -> None:
        fake.queue(
            stream(
                message_start(),
                text_block(0, "Let me ", "look. "),
                tool_block(1, "tu_1", "list_services", "{", "}"),
                message_end("tool_use"),
            ),
            text_stream("Here ", "they are."),
        )

    said = "Let me look. Here they are."
    with live.client("A") as api:
        talk_tool_talk()
        sid = session(api)
        url = f"/v1/sessions/{sid}/messages"
        with api.stream("POST", url, json={"text": "what do you offer?"}, headers=SSE) as r:
            events = parse_sse(r.read().decode())
        names = [n for n, _ in events]
        assert names == ["token"] * 2 + ["tool_call"] * 2 + ["token"] * 2 + ["done"]
        done = events[-1][1]
        assert "".join(d["text"] for n, d in events if n == "token") == done["reply"] == said
        messages = api.get(url).json()["messages"]
        assert [(m["role"], m["content"]) for m in messages] == [
            ("user", "what do you offer?"),
            ("assistant", said),  # once: not also beside the tool call
        ]

        talk_tool_talk()
        plain = api.post(
            f"/v1/sessions/{session(api)}/messages", json={"text": "what do you offer?"}
        )
        assert plain.status_code == 200
        assert plain.json()["reply"] == done["reply"]
        assert plain.json()["tool_calls"] == done["tool_calls"]
