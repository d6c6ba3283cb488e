"""`AnthropicModel` against a real local HTTP fake of the Anthropic Messages API.

The fake (tests/support/fake_anthropic.py) is a real HTTP server on 127.0.0.1
serving `POST /v1/messages` from a scripted queue of replies, as JSON or as the
API's server-sent event stream; it records every request it receives.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from runtime.errors import ConfigError, ErrorClass, ModelError
from runtime.models.anthropic import AnthropicModel
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
from runtime.retry import RetryPolicy
from tests.support.fake_anthropic import (
    MODEL,
    FakeAnthropic,
    error_event,
    error_json,
    message_end,
    message_json,
    message_start,
    ping,
    stream,
    text_block,
    tool_block,
)
from tests.support.sse_server import Drop, Hold, Pause, Reply

API_KEY = "sk-test-fake"


OK_TEXT = Reply(200, message_json([{"type": "text", "text": "hello there"}]))
OVERLOADED = Reply(529, error_json("overloaded_error", "Overloaded"))


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
    assert req.body["stream"] is True  # complete() collects a stream
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


# -- stream() ---------------------------------------------------------------


async def drain(events: AsyncIterator[StreamEvent], into: list[StreamEvent]) -> None:
    async for event in events:
        into.append(event)


async def test_text_streams_delta_by_delta(fake: FakeAnthropic, make_model: MakeModel) -> None:
    gate = threading.Event()
    fake.queue(
        stream(
            message_start(input_tokens=25),
            ping(),
            text_block(0, "Hel", "lo, ", "world")[:2],  # block start, "Hel"
            Hold(gate),
            text_block(0, "Hel", "lo, ", "world")[2:],  # "lo, ", "world", block stop
            message_end("end_turn", output_tokens=3),
        )
    )
    events = make_model().stream(ask())

    first = await asyncio.wait_for(anext(events), 5)
    assert first == TextDelta("Hel")
    assert len(fake.sent) == 4  # the server holds the rest back: it was not sent yet
    gate.set()
    rest: list[StreamEvent] = []
    await drain(events, rest)

    assert rest == [TextDelta("lo, "), TextDelta("world"), StreamEnd("end_turn", Usage(25, 3))]
    assert fake.received[0].body["stream"] is True


async def test_tool_calls_assembled_from_json_fragments(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.queue(
        stream(
            message_start(input_tokens=40),
            text_block(0, "Checking ", "both."),
            tool_block(1, "toolu_1", "weather", "", '{"ci', 'ty": "Ly', 'on", "days": [1', ", 2]}"),
            ping(),
            tool_block(2, "toolu_2", "clock"),  # no fragments at all: an empty input
            message_end("tool_use", output_tokens=31),
        )
    )
    events: list[StreamEvent] = []
    await drain(make_model().stream(ask()), events)

    assert events == [
        TextDelta("Checking "),
        TextDelta("both."),
        ToolUseBlock("toolu_1", "weather", {"city": "Lyon", "days": [1, 2]}),
        ToolUseBlock("toolu_2", "clock", {}),
        StreamEnd("tool_use", Usage(40, 31)),
    ]


async def test_invalid_tool_json_is_validation(fake: FakeAnthropic, make_model: MakeModel) -> None:
    fake.queue(
        stream(message_start(), tool_block(0, "toolu_1", "weather", '{"city": '), message_end())
    )
    with pytest.raises(ModelError) as info:
        await drain(make_model().stream(ask()), [])
    assert info.value.error_class is ErrorClass.VALIDATION
    assert "weather" in str(info.value)


@pytest.mark.parametrize(
    ("reply", "error_class", "retry_after"),
    [
        (Reply(429, error_json("rate_limit_error", "slow"), {"retry-after": "3"}), "RATE_LIMIT", 3),
        (OVERLOADED, "NETWORK", None),
        (Reply(401, error_json("authentication_error", "bad key")), "AUTH", None),
        (Reply(404, error_json("not_found_error", "model: x")), "VALIDATION", None),
    ],
    ids=["429", "529", "401", "404"],
)
async def test_http_error_before_stream_is_one_attempt(
    fake: FakeAnthropic,
    make_model: MakeModel,
    sleeps: Sleeps,
    reply: Reply,
    error_class: str,
    retry_after: float | None,
) -> None:
    fake.queue(reply, OK_TEXT)
    with pytest.raises(ModelError) as info:
        await drain(make_model().stream(ask()), [])
    assert info.value.error_class is ErrorClass(error_class)
    assert info.value.status_code == reply.status
    assert info.value.retry_after == retry_after
    assert reply.body["error"]["type"] in str(info.value)
    assert len(fake.received) == 1  # stream() never retries: the orchestrator decides
    assert sleeps.delays == []


@pytest.mark.parametrize(
    ("kind", "error_class"),
    [
        ("overloaded_error", ErrorClass.NETWORK),
        ("api_error", ErrorClass.NETWORK),
        ("rate_limit_error", ErrorClass.RATE_LIMIT),
        ("invalid_request_error", ErrorClass.VALIDATION),
    ],
)
async def test_error_event_mid_stream(
    fake: FakeAnthropic, make_model: MakeModel, kind: str, error_class: ErrorClass
) -> None:
    fake.queue(
        stream(message_start(), text_block(0, "Part", "ial")[:2], error_event(kind, "Overloaded"))
    )
    events: list[StreamEvent] = []
    with pytest.raises(ModelError) as info:
        await drain(make_model().stream(ask()), events)
    assert events == [TextDelta("Part")]  # what came before the error was delivered
    assert info.value.error_class is error_class
    assert kind in str(info.value)
    assert info.value.status_code is None  # the stream itself began with 200


@pytest.mark.parametrize("cut", [Drop(), None], ids=["dropped", "ended-early"])
async def test_stream_cut_before_message_stop_is_network(
    fake: FakeAnthropic, make_model: MakeModel, cut: Drop | None
) -> None:
    # A dropped socket leaves the chunked body incomplete; a body that ends
    # cleanly but without message_stop is cut as well.
    items = [message_start(), *text_block(0, "Hello", " wor")[:3]]
    fake.queue(stream(*items, *([cut] if cut else [])))
    events: list[StreamEvent] = []
    with pytest.raises(ModelError) as info:
        await drain(make_model().stream(ask()), events)
    assert events == [TextDelta("Hello"), TextDelta(" wor")]
    assert info.value.error_class is ErrorClass.NETWORK


async def test_read_timeout_mid_stream_is_network(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.queue(stream(message_start(), *text_block(0, "Hello")[:2], Pause(1.0), message_end()))
    events: list[StreamEvent] = []
    with pytest.raises(ModelError) as info:
        await drain(make_model(timeout=0.3).stream(ask()), events)
    assert events == [TextDelta("Hello")]
    assert info.value.error_class is ErrorClass.NETWORK


async def test_complete_retries_a_stream_broken_mid_way(
    fake: FakeAnthropic, make_model: MakeModel, sleeps: Sleeps
) -> None:
    fake.queue(stream(message_start(), error_event("overloaded_error", "Overloaded")), OK_TEXT)
    response = await make_model().complete(ask())
    assert response.text == "hello there"
    assert sleeps.delays == [0.5]
    assert len(fake.received) == 2


async def test_model_override_wins_over_request_model(
    fake: FakeAnthropic, make_model: MakeModel
) -> None:
    fake.queue(OK_TEXT)
    await make_model(model="claude-haiku-4-5").complete(ask(model="claude-opus-4-8"))
    assert fake.received[0].body["model"] == "claude-haiku-4-5"
