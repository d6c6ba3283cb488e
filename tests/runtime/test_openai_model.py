"""`OpenAIModel` against a real local HTTP fake of a Chat Completions server.

The fake (tests/support/fake_openai.py) is a real HTTP server on 127.0.0.1
serving `POST /v1/chat/completions` from a scripted queue of replies in the
streaming wire format; it records every request it receives.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from runtime.config.settings import Settings, build_model
from runtime.errors import ConfigError, ErrorClass, ModelError
from runtime.models.base import (
    Message,
    ModelRequest,
    StreamEnd,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
    user_text,
)
from runtime.models.openai import OpenAIModel
from runtime.retry import RetryPolicy
from tests.support.fake_openai import (
    DONE,
    MODEL,
    FakeOpenAI,
    call_args,
    call_start,
    error_json,
    finish,
    reply_text,
    stream,
    stream_error,
    text,
    usage,
)
from tests.support.sse_server import Drop, Event, Hold, Reply

API_KEY = "sk-local"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
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


MakeModel = Callable[..., OpenAIModel]


@pytest.fixture
async def make_model(fake: FakeOpenAI, sleeps: Sleeps) -> AsyncIterator[MakeModel]:
    made: list[OpenAIModel] = []

    def make(**kwargs: Any) -> OpenAIModel:
        kwargs.setdefault("model", MODEL)
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", fake.base_url)
        kwargs.setdefault("sleep", sleeps)
        kwargs.setdefault("policy", RetryPolicy(max_attempts=4, base_delay=0.5, jitter=0.0))
        model = OpenAIModel(**kwargs)
        made.append(model)
        return model

    yield make
    for model in made:
        await model.aclose()


def ask(text: str = "hi", **kwargs: Any) -> ModelRequest:
    kwargs.setdefault("model", "claude-sonnet-4-6")  # the agent presets' default
    return ModelRequest(system="You are terse.", messages=(user_text(text),), **kwargs)


async def drain(events: AsyncIterator[StreamEvent], into: list[StreamEvent]) -> None:
    async for event in events:
        into.append(event)


async def test_text_streams_delta_by_delta(fake: FakeOpenAI, make_model: MakeModel) -> None:
    gate = threading.Event()
    fake.queue(
        stream(text("Bon"), Hold(gate), delta_pieces("jour", " à ", "tous"), finish("stop"), DONE)
    )
    model = make_model()
    events = model.stream(ask("hello?", max_tokens=64, temperature=0.5))

    first = await asyncio.wait_for(anext(events), 5)
    assert first == TextDelta("Bon")
    assert len(fake.sent) == 2  # role chunk and "Bon": the rest is held back
    gate.set()
    rest: list[StreamEvent] = []
    await drain(events, rest)

    assert model.name == "openai"
    assert rest[:3] == [TextDelta("jour"), TextDelta(" à "), TextDelta("tous")]
    assert rest[3:] == [StreamEnd("end_turn", Usage(0, 0))]  # this server sent no usage
    [req] = fake.received
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {API_KEY}"
    assert req.body["model"] == MODEL  # the configured name wins over request.model
    assert req.body["stream"] is True
    assert req.body["stream_options"] == {"include_usage": True}
    assert req.body["max_tokens"] == 64
    assert req.body["temperature"] == 0.5
    assert req.body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hello?"},
    ]
    assert "tools" not in req.body


def delta_pieces(*pieces: str) -> list[Any]:
    return text(*pieces)[1:]


@pytest.mark.parametrize(
    ("reason", "stop"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal")],
)
async def test_finish_reason_and_usage(
    fake: FakeOpenAI, make_model: MakeModel, reason: str, stop: str
) -> None:
    fake.queue(reply_text("Hello", " there", reason=reason, tokens=(21, 5)))
    response = await make_model().complete(ask())
    assert response.content == (TextBlock("Hello there"),)
    assert response.stop_reason == stop
    assert response.usage == Usage(21, 5)


async def test_parallel_tool_calls_yielded_when_the_choice_finishes(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    gate = threading.Event()
    fake.queue(
        stream(
            text("Checking."),
            call_start(0, "call_a", "weather"),
            call_args(0, '{"ci'),
            call_start(1, "call_b", "clock"),
            call_args(1, '{"tz": "Europe/'),
            call_args(0, 'ty": "Lyon", "days": [1, 2]}'),
            call_args(1, 'Paris"}'),
            Hold(gate),
            finish("tool_calls"),
            usage(50, 30),
            DONE,
        )
    )
    events = make_model().stream(ask())
    assert await asyncio.wait_for(anext(events), 5) == TextDelta("Checking.")
    pending = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.2)
    assert len(fake.sent) == 8  # every fragment was sent, the finish is held back
    assert not pending.done()  # so no tool call is yielded yet
    gate.set()
    rest: list[StreamEvent] = [await asyncio.wait_for(pending, 5)]
    await drain(events, rest)

    assert rest == [
        ToolUseBlock("call_a", "weather", {"city": "Lyon", "days": [1, 2]}),
        ToolUseBlock("call_b", "clock", {"tz": "Europe/Paris"}),
        StreamEnd("tool_use", Usage(50, 30)),
    ]


async def test_tool_results_round_trip(fake: FakeOpenAI, make_model: MakeModel) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fake.queue(reply_text("Paris 18C, Lyon unknown."))
    request = ModelRequest(
        system="",
        messages=(
            user_text("Weather in Paris and Lyon?"),
            Message(
                "assistant",
                (
                    TextBlock("Checking both."),
                    ToolUseBlock("call_1", "weather", {"city": "Paris"}),
                    ToolUseBlock("call_2", "weather", {"city": "Lyon"}),
                ),
            ),
            Message(
                "user",
                (
                    ToolResultBlock("call_1", "18C, sunny"),
                    ToolResultBlock("call_2", "weather failed: timeout", is_error=True),
                ),
            ),
        ),
        tools=(ToolSpec("weather", "Current weather for a city.", schema),),
    )
    response = await make_model().complete(request)

    assert response.text == "Paris 18C, Lyon unknown."
    [req] = fake.received
    assert req.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Current weather for a city.",
                "parameters": schema,
            },
        }
    ]
    assert req.body["messages"] == [  # no system message: the prompt was empty
        {"role": "user", "content": "Weather in Paris and Lyon?"},
        {
            "role": "assistant",
            "content": "Checking both.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Lyon"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Error: weather failed: timeout"},
    ]


async def test_invalid_tool_arguments_are_validation(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    fake.queue(
        stream(call_start(0, "c", "weather"), call_args(0, '{"city": '), finish("tool_calls"))
    )
    with pytest.raises(ModelError) as info:
        await drain(make_model().stream(ask()), [])
    assert info.value.error_class is ErrorClass.VALIDATION
    assert "weather" in str(info.value)


@pytest.mark.parametrize(
    ("reply", "error_class", "retry_after"),
    [
        (Reply(429, error_json("slow down", "requests"), {"retry-after": "2"}), "RATE_LIMIT", 2),
        (Reply(503, error_json("loading model", "server_error")), "NETWORK", None),
        (
            Reply(401, error_json("bad key", "invalid_request_error", "invalid_api_key")),
            "AUTH",
            None,
        ),
        (Reply(400, error_json("bad tools", "invalid_request_error")), "VALIDATION", None),
        (Reply(404, error_json("model not found", "invalid_request_error")), "VALIDATION", None),
        (Reply(422, {"detail": [{"msg": "field required"}]}), "VALIDATION", None),
    ],
    ids=["429", "503", "401", "400", "404", "422"],
)
async def test_http_error_is_one_attempt(
    fake: FakeOpenAI,
    make_model: MakeModel,
    sleeps: Sleeps,
    reply: Reply,
    error_class: str,
    retry_after: float | None,
) -> None:
    fake.queue(reply, reply_text("late"))
    with pytest.raises(ModelError) as info:
        await drain(make_model().stream(ask()), [])
    assert info.value.error_class is ErrorClass(error_class)
    assert info.value.status_code == reply.status
    assert info.value.retry_after == retry_after
    assert len(fake.received) == 1  # stream() never retries: the orchestrator decides
    assert sleeps.delays == []


@pytest.mark.parametrize(
    "cut",
    [
        [stream_error("The server had an error")],
        [Event({"object": "error", "message": "engine died", "type": "InternalServerError"})],
        [Drop()],
        [],
    ],
    ids=["error-object", "bare-error-object", "dropped", "ended-early"],
)
async def test_stream_broken_mid_way_is_network(
    fake: FakeOpenAI, make_model: MakeModel, cut: list[Any]
) -> None:
    fake.queue(stream(text("Hello", " wor"), *cut))
    events: list[StreamEvent] = []
    with pytest.raises(ModelError) as info:
        await drain(make_model().stream(ask()), events)
    assert events == [TextDelta("Hello"), TextDelta(" wor")]
    assert info.value.error_class is ErrorClass.NETWORK


async def test_complete_retries_transient_errors(
    fake: FakeOpenAI, make_model: MakeModel, sleeps: Sleeps
) -> None:
    fake.queue(
        Reply(429, error_json("slow down", "requests"), {"retry-after": "1.5"}),
        stream(text("Hel"), Drop()),
        reply_text("Hello"),
    )
    response = await make_model().complete(ask())
    assert response.text == "Hello"
    assert sleeps.delays == [1.5, 1.0]
    assert len(fake.received) == 3


async def test_connection_refused_is_network(make_model: MakeModel, sleeps: Sleeps) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = make_model(base_url=f"http://127.0.0.1:{port}/v1", policy=RetryPolicy(max_attempts=1))
    with pytest.raises(ModelError) as info:
        await model.complete(ask())
    assert info.value.error_class is ErrorClass.NETWORK
    assert info.value.status_code is None


async def test_request_model_used_without_a_configured_name(
    fake: FakeOpenAI, make_model: MakeModel
) -> None:
    fake.queue(reply_text("ok"))
    await make_model(model=None).complete(ask(model="qwen2.5:7b"))
    assert fake.received[0].body["model"] == "qwen2.5:7b"


async def test_local_server_needs_no_key(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    fake.queue(reply_text("ok"))
    async with OpenAIModel(model=MODEL) as model:
        assert (await model.complete(ask())).text == "ok"
    assert fake.received[0].headers["authorization"] == "Bearer not-needed"


def test_no_key_and_no_base_url_is_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIModel(model=MODEL)


async def test_settings_build_an_openai_model(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRA_MODEL", "openai")
    monkeypatch.setenv("ORCHESTRA_MODEL_NAME", "llama3.1:8b")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = Settings.from_env()
    assert (settings.model, settings.model_name) == ("openai", "llama3.1:8b")
    model = build_model(settings)
    assert isinstance(model, OpenAIModel)
    fake.queue(Reply(503, error_json("busy", "server_error")))
    with pytest.raises(ModelError):
        await model.complete(ask())
    assert len(fake.received) == 1  # one attempt: the orchestrator owns retries
    assert fake.received[0].body["model"] == "llama3.1:8b"
    await model.aclose()


def test_settings_openai_without_a_model_name_is_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="ORCHESTRA_MODEL_NAME"):
        build_model(Settings(model="openai"))
