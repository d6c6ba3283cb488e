"""Unit tests of the error classifier and codec (`runtime.errors`) and `runtime.retry`."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable

import anthropic
import httpx
import httpx2  # the transport the anthropic SDK 2.x is built on
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.errors import (
    RETRYABLE,
    ConfigError,
    ErrorClass,
    InvalidTransition,
    ModelError,
    NotOwner,
    OrchestraError,
    RequestInvalid,
    classify,
    classify_status,
    code_for_status,
    error_classes,
    error_from_wire,
    error_to_wire,
    http_status_of,
    parse_retry_after,
    retry_after_header,
    retry_after_of,
)
from runtime.retry import RetryPolicy, retry

URL = "https://api.example.test/v1/messages"


def http_status_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", URL)
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError(f"HTTP {status}", request=request, response=response)


def sdk_response(status: int, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, headers=headers, request=httpx2.Request("POST", URL))


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def failing(*errors: Exception, then: str = "ok") -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A call raising `errors` in turn, then returning `then`; plus its call counter."""
    calls = [0]

    async def call() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return then

    return call, calls


class Strict(pydantic.BaseModel):
    n: int


# -- classify ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionRefusedError(111, "Connection refused"), ErrorClass.NETWORK),
        (ConnectionResetError(104, "Connection reset by peer"), ErrorClass.NETWORK),
        (socket.gaierror(-2, "Name or service not known"), ErrorClass.NETWORK),
        (TimeoutError(), ErrorClass.NETWORK),
        (http_status_error(429), ErrorClass.RATE_LIMIT),
        (http_status_error(401), ErrorClass.AUTH),
        (http_status_error(403), ErrorClass.AUTH),
        (http_status_error(422), ErrorClass.VALIDATION),
        (http_status_error(500), ErrorClass.NETWORK),
        (RuntimeError("boom"), ErrorClass.UNKNOWN),
        (ModelError("x", ErrorClass.AUTH, status_code=500), ErrorClass.AUTH),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_classify_plain_and_httpx(exc: BaseException, expected: ErrorClass) -> None:
    assert classify(exc) is expected


def test_classify_pydantic_validation_error() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        Strict.model_validate({"n": "not a number"})
    assert classify(info.value) is ErrorClass.VALIDATION


def test_classify_sdk_status_errors_by_status_code() -> None:
    # No vendor types here: adapters turn SDK errors into ModelError (their tests
    # cover transport errors); a status code is classified wherever it comes from.
    rate = anthropic.RateLimitError("slow down", response=sdk_response(429), body=None)
    auth = anthropic.AuthenticationError("bad key", response=sdk_response(401), body=None)
    overloaded = anthropic.OverloadedError("busy", response=sdk_response(529), body=None)
    assert classify(rate) is ErrorClass.RATE_LIMIT
    assert classify(auth) is ErrorClass.AUTH
    assert classify(overloaded) is ErrorClass.NETWORK


def test_errors_module_imports_no_vendor_sdk() -> None:
    code = (
        "import sys, runtime.errors, runtime.retry, runtime.models, runtime.config.settings\n"
        "print(sorted(m for m in ('anthropic', 'httpx', 'httpx2', 'openai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, ErrorClass.RATE_LIMIT),
        (401, ErrorClass.AUTH),
        (403, ErrorClass.AUTH),
        (400, ErrorClass.VALIDATION),
        (404, ErrorClass.VALIDATION),
        (409, ErrorClass.VALIDATION),
        (413, ErrorClass.VALIDATION),
        (422, ErrorClass.VALIDATION),
        (408, ErrorClass.NETWORK),
        (500, ErrorClass.NETWORK),
        (503, ErrorClass.NETWORK),
        (529, ErrorClass.NETWORK),
        (302, ErrorClass.UNKNOWN),
        (418, ErrorClass.UNKNOWN),
    ],
)
def test_classify_status_table(status: int, expected: ErrorClass) -> None:
    assert classify_status(status) is expected
    assert (expected in RETRYABLE) == (expected in (ErrorClass.RATE_LIMIT, ErrorClass.NETWORK))


def test_retry_after_of() -> None:
    assert retry_after_of(http_status_error(429, {"retry-after": "2"})) == 2.0
    assert retry_after_of(http_status_error(429, {"Retry-After": "1.5"})) == 1.5
    assert retry_after_of(http_status_error(429, {"retry-after": "-3"})) == 0.0
    assert retry_after_of(http_status_error(429, {"retry-after": "soon"})) is None
    assert retry_after_of(http_status_error(429)) is None
    assert retry_after_of(ModelError("x", ErrorClass.RATE_LIMIT, retry_after=4.0)) == 4.0
    assert retry_after_of(ModelError("x", ErrorClass.RATE_LIMIT)) is None
    assert retry_after_of(RuntimeError("no response")) is None
    sdk = anthropic.RateLimitError(
        "slow down", response=sdk_response(429, {"retry-after": "7"}), body=None
    )
    assert retry_after_of(sdk) == 7.0


def test_parse_retry_after() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After": "2"})) == 2.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after(None) is None


# -- retry ------------------------------------------------------------------


async def test_validation_error_not_retried() -> None:
    error = ModelError("bad", ErrorClass.VALIDATION, status_code=400)
    call, calls = failing(error)
    sleeps = Sleeps()
    with pytest.raises(ModelError) as info:
        await retry(call, RetryPolicy(max_attempts=5), sleep=sleeps)
    assert info.value is error
    assert calls == [1]
    assert sleeps.delays == []


async def test_unknown_error_not_retried() -> None:
    call, calls = failing(RuntimeError("bug"))
    sleeps = Sleeps()
    with pytest.raises(RuntimeError, match="bug"):
        await retry(call, RetryPolicy(max_attempts=5), sleep=sleeps)
    assert calls == [1]
    assert sleeps.delays == []


async def test_rate_limit_retried_with_growing_jittered_delays() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=100.0, jitter=0.25)
    call, calls = failing(*[ModelError("429", ErrorClass.RATE_LIMIT)] * 3, then="done")
    sleeps = Sleeps()

    assert await retry(call, policy, sleep=sleeps, rng=random.Random(7)) == "done"

    assert calls == [4]
    assert len(sleeps.delays) == 3
    for raw, delay in zip([1.0, 2.0, 4.0], sleeps.delays, strict=True):
        assert raw * 0.75 <= delay <= raw * 1.25
    assert sleeps.delays == sorted(sleeps.delays)
    expected = random.Random(7)  # same seed, same jitter: deterministic
    assert sleeps.delays == [policy.delay(n, expected) for n in (1, 2, 3)]


async def test_retry_after_honoured_and_capped() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=8.0, jitter=0.0)
    call, _ = failing(
        ModelError("429", ErrorClass.RATE_LIMIT, retry_after=3.0),
        ModelError("429", ErrorClass.RATE_LIMIT, retry_after=60.0),
        http_status_error(503, {"retry-after": "0.5"}),
    )
    sleeps = Sleeps()
    assert await retry(call, policy, sleep=sleeps) == "ok"
    assert sleeps.delays == [3.0, 8.0, 0.5]


async def test_gives_up_after_max_attempts_with_last_error() -> None:
    errors = [ModelError(f"down {n}", ErrorClass.NETWORK) for n in range(5)]
    call, calls = failing(*errors)
    sleeps = Sleeps()
    with pytest.raises(ModelError) as info:
        await retry(call, RetryPolicy(max_attempts=3, jitter=0.0), sleep=sleeps)
    assert info.value is errors[2]
    assert calls == [3]
    assert sleeps.delays == [0.25, 0.5]


async def test_on_retry_sees_each_attempt() -> None:
    errors = [ModelError("429", ErrorClass.RATE_LIMIT), http_status_error(502)]
    call, _ = failing(*errors)
    sleeps = Sleeps()
    seen: list[tuple[BaseException, int, float]] = []

    def on_retry(exc: BaseException, attempt: int, delay: float) -> None:
        seen.append((exc, attempt, delay))

    result = await retry(
        call, RetryPolicy(base_delay=1.0, jitter=0.0), sleep=sleeps, on_retry=on_retry
    )
    assert result == "ok"
    assert seen == [(errors[0], 1, 1.0), (errors[1], 2, 2.0)]
    assert [d for _, _, d in seen] == sleeps.delays


def test_policy_delay_backoff_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_retry_after_header_is_whole_seconds_at_least_one() -> None:
    assert retry_after_header(0.1) == "1"
    assert retry_after_header(1.0) == "1"
    assert retry_after_header(2.2) == "3"
    assert retry_after_header(None) == "1"


# -- the codec: error_to_wire / error_from_wire ----------------------------------

_TEXT = st.text(min_size=1, max_size=40)
_SECONDS = st.floats(min_value=0.0, max_value=86_400.0, allow_nan=False)

# The classes whose constructor takes more than a message; every other class is `cls(message)`.
_BUILD: dict[type[OrchestraError], st.SearchStrategy[OrchestraError]] = {
    InvalidTransition: st.builds(InvalidTransition, _TEXT, _TEXT, _TEXT),
    RequestInvalid: st.builds(
        RequestInvalid,
        _TEXT,
        st.lists(st.fixed_dictionaries({"loc": _TEXT, "msg": _TEXT}), max_size=3),
    ),
    NotOwner: st.builds(NotOwner, _TEXT, _TEXT),
    ModelError: st.builds(ModelError, _TEXT, st.sampled_from(ErrorClass)),
}


@st.composite
def orchestra_errors(draw: st.DrawFn, cls: type[OrchestraError]) -> OrchestraError:
    exc = draw(_BUILD.get(cls, st.builds(cls, _TEXT)))
    # any error may carry a hint; one that is retryable by kind always has one
    exc.retry_after = draw(_SECONDS if exc.retry_after is not None else st.none() | _SECONDS)
    return exc


@pytest.mark.parametrize("cls", error_classes(), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_codec_round_trips_every_class(cls: type[OrchestraError], data: st.DataObject) -> None:
    exc = data.draw(orchestra_errors(cls))
    wire = error_to_wire(exc)
    back = error_from_wire(wire)
    if cls.shown:
        assert type(back) is cls
        assert str(back) == str(exc)
    else:  # ConfigError: the wire hides it, it is an internal error to the caller
        assert type(back) is OrchestraError
        assert str(back) == "the server is misconfigured"
    assert back.retry_after == exc.retry_after
    assert back.details() == exc.details()
    assert error_to_wire(back) == wire  # and the wire form is a fixed point


def test_only_a_hidden_error_shares_its_wire_code() -> None:
    classes = error_classes()
    shared = [c for c in classes if [d.code for d in classes].count(c.code) > 1]
    assert shared == [OrchestraError, ConfigError]
    assert [c for c in classes if not c.shown] == [ConfigError]


def test_every_http_status_of_the_tree_names_a_class_with_it() -> None:
    statuses = {cls.http_status for cls in error_classes()}
    for status in statuses:
        assert http_status_of({"type": code_for_status(status), "message": "m"}) == status
    assert code_for_status(404) == "not_found" and code_for_status(405) == "method_not_allowed"
    assert code_for_status(418) == "http_error"
