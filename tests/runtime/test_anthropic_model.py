"""`AnthropicModel` against a real local HTTP fake of the Anthropic Messages API.

The fake is a `ThreadingHTTPServer` on 127.0.0.1 serving `POST /v1/messages`
from a scripted queue of replies; it records every request it receives.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runtime.errors import ConfigError, ErrorClass, ModelError
from runtime.models.anthropic import AnthropicModel
from runtime.models.base import (
    Message,
    ModelRequest,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    user_text,
)
from runtime.retry import RetryPolicy

API_KEY = "sk-test-fake"
MODEL = "claude-sonnet-4-6"


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def message_json(content: list[dict[str, Any]], stop_reason: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 7},
    }


def error_json(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}


OK_TEXT = Reply(200, message_json([{"type": "text", "text": "hello there"}]))
OVERLOADED = Reply(529, error_json("overloaded_error", "Overloaded"))


class FakeAnthropic:
    """A scripted Messages API. Unscripted requests get a 500 `api_error`."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                with fake._lock:
                    fake.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            json.loads(raw or b"{}"),
                        )
                    )
                    reply = fake.script.popleft() if fake.script else None
                if self.path != "/v1/messages":
                    reply = Reply(404, error_json("not_found_error", self.path))
                elif reply is None:
                    reply = Reply(500, error_json("api_error", "script exhausted"))
                time.sleep(reply.delay)
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("connection", "close")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    yield server
    server.close()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


MakeModel = Callable[..., AnthropicModel]


@pytest.fixture
async def make_model(fake: FakeAnthropic, sleeps: Sleeps) -> AsyncIterator[MakeModel]:
    made: list[AnthropicModel] = []

    def make(**kwargs: Any) -> AnthropicModel:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", fake.base_url)
        kwargs.setdefault("sleep", sleeps)
        kwargs.setdefault("policy", RetryPolicy(max_attempts=4, base_delay=0.5, jitter=0.0))
        model = AnthropicModel(**kwargs)
        made.append(model)
        return model

    yield make
    for model in made:
        await model.aclose()


def ask(text: str = "hi", **kwargs: Any) -> ModelRequest:
    return ModelRequest(system="You are terse.", messages=(user_text(text),), **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_text_reply(fake: FakeAnthropic, make_model: MakeModel, sleeps: Sleeps) -> None:
    fake.queue(OK_TEXT)
    model = make_model(default_model=MODEL)
    response = await model.complete(ask("hello?", max_tokens=64))

    assert model.name == "anthropic"
    assert response.content == (TextBlock("hello there"),)
    assert response.stop_reason == "end_turn"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 7)
    [req] = fake.received
    assert req.path == "/v1/messages"
    assert req.headers["authorization"] == f"Bearer {API_KEY}"  # SDK 2.x sends a bearer key
    assert "anthropic-version" in req.headers
    assert req.body["model"] == MODEL  # request.model was "", so the default is used
    assert req.body["max_tokens"] == 64
    assert req.body["system"] == "You are terse."
    assert req.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hello?"}]}
    ]
    assert "tools" not in req.body
    assert "temperature" not in req.body  # removed from API version 2026-10-21
    assert sleeps.delays == []


async def test_tool_use_round_trip(fake: FakeAnthropic, make_model: MakeModel) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fake.queue(
        Reply(
            200,
            message_json(
                [
                    {"type": "text", "text": "Checking Lyon too."},
                    {
                        "type": "tool_use",
                        "id": "toolu_2",
                        "name": "weather",
                        "input": {"city": "Lyon"},
                    },
                ],
                stop_reason="tool_use",
            ),
        )
    )
    request = ModelRequest(
        system="",
        model="claude-opus-4-8",
        messages=(
            user_text("Weather in Paris and Lyon?"),
            Message("assistant", (ToolUseBlock("toolu_1", "weather", {"city": "Paris"}),)),
            Message("user", (ToolResultBlock("toolu_1", "18C, sunny"),)),
        ),
        tools=(ToolSpec("weather", "Current weather for a city.", schema),),
    )
    response = await make_model().complete(request)

    assert response.stop_reason == "tool_use"
    assert response.text == "Checking Lyon too."
    assert response.tool_uses == (ToolUseBlock("toolu_2", "weather", {"city": "Lyon"}),)
    [req] = fake.received
    assert req.body["model"] == "claude-opus-4-8"
    assert "system" not in req.body  # an empty system prompt is omitted
    assert req.body["tools"] == [
        {"name": "weather", "description": "Current weather for a city.", "input_schema": schema}
    ]
    assert req.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Lyon?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "18C, sunny",
                    "is_error": False,
                }
            ],
        },
    ]


async def test_rate_limit_honours_retry_after(
    fake: FakeAnthropic, make_model: MakeModel, sleeps: Sleeps
) -> None:
    fake.queue(
        Reply(429, error_json("rate_limit_error", "slow down"), {"retry-after": "2"}), OK_TEXT
    )
    seen: list[tuple[ErrorClass, int]] = []

    def on_retry(exc: BaseException, attempt: int, delay: float) -> None:
        assert isinstance(exc, ModelError)
        seen.append((exc.error_class, attempt))

    response = await make_model(on_retry=on_retry).complete(ask())

    assert response.text == "hello there"
    assert sleeps.delays == [2.0]
    assert seen == [(ErrorClass.RATE_LIMIT, 1)]
    assert len(fake.received) == 2


async def test_auth_error_raised_at_once(
    fake: FakeAnthropic, make_model: MakeModel, sleeps: Sleeps
) -> None:
    fake.queue(Reply(401, error_json("authentication_error", "invalid x-api-key")), OK_TEXT)
    with pytest.raises(ModelError) as info:
        await make_model().complete(ask())
    assert info.value.error_class is ErrorClass.AUTH
    assert info.value.status_code == 401
    assert "authentication_error" in str(info.value)
    assert len(fake.received) == 1
    assert sleeps.delays == []


async def test_bad_request_not_retried(
    fake: FakeAnthropic, make_model: MakeModel, sleeps: Sleeps
) -> None:
    fake.queue(Reply(400, error_json("invalid_request_error", "messages: empty")), OK_TEXT)
    with pytest.raises(ModelError) as info:
        await make_model().complete(ask())
    assert info.value.error_class is ErrorClass.VALIDATION
    assert info.value.status_code == 400
    assert info.value.retry_after is None
    assert len(fake.received) == 1
    assert sleeps.delays == []


async def test_overloaded_retried_with_growing_delays(
    fake: FakeAnthropic, make_model: MakeModel, sleeps: Sleeps
) -> None:
    fake.queue(OVERLOADED, OVERLOADED, OK_TEXT)
    response = await make_model().complete(ask())
    assert response.text == "hello there"
    assert sleeps.delays == [0.5, 1.0]
    assert len(fake.received) == 3


async def test_overloaded_forever_gives_up(
    fake: FakeAnthropic, make_model: MakeModel, sleeps: Sleeps
) -> None:
    fake.queue(*[OVERLOADED] * 10)
    with pytest.raises(ModelError) as info:
        await make_model(policy=RetryPolicy(max_attempts=3, base_delay=1.0, jitter=0.0)).complete(
            ask()
        )
    assert info.value.error_class is ErrorClass.NETWORK
    assert info.value.status_code == 529
    assert "overloaded_error" in str(info.value)
    assert len(fake.received) == 3
    assert sleeps.delays == [1.0, 2.0]


async def test_connection_refused_is_network(make_model: MakeModel, sleeps: Sleeps) -> None:
    model = make_model(base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ModelError) as info:
        await model.complete(ask())
    assert info.value.error_class is ErrorClass.NETWORK
    assert info.value.status_code is None
    assert sleeps.delays == [0.5, 1.0, 2.0]  # 4 attempts, 3 waits


async def test_timeout_is_network(fake: FakeAnthropic, make_model: MakeModel) -> None:
    fake.queue(Reply(200, OK_TEXT.body, delay=1.0))
    model = make_model(timeout=0.2, policy=RetryPolicy(max_attempts=1))
    with pytest.raises(ModelError) as info:
        await model.complete(ask())
    assert info.value.error_class is ErrorClass.NETWORK
    assert len(fake.received) == 1


def test_missing_api_key_is_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        AnthropicModel()
