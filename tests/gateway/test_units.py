"""Pure helpers of the gateway: merging expositions, key cache, token bucket, SSE framing."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.responses import StreamingResponse

from gateway.auth import Authenticator, KeyCache, RateLimiter, bearer_key
from gateway.cli import parser, serve_settings
from gateway.errors import orchestra_error_response
from gateway.metrics import merge_expositions
from gateway.sse import frame, stream_events, turn_events, wants_event_stream, word_chunks
from runtime import StartEvent, TurnStream
from runtime import metrics as runtime_metrics
from runtime.config.settings import ENV_KEYS
from runtime.errors import NotOwner, RateLimited, Unavailable
from runtime.principals import Principal, owner_of
from runtime.testing import FakeClock


def test_merge_of_one_exposition_is_identity() -> None:
    text = runtime_metrics.exposition()
    assert merge_expositions([text]) == text


def test_merge_keeps_earliest_created() -> None:
    a = b"# HELP x_total X.\n# TYPE x_total counter\nx_total 1.0\nx_created 200.0\n"
    b = b"# HELP x_total X.\n# TYPE x_total counter\nx_total 2.0\nx_created 100.0\n"
    out = merge_expositions([a, b]).decode()
    assert "x_total 3.0" in out and "x_created 100.0" in out


def test_merge_of_nothing_is_empty() -> None:
    assert merge_expositions([]) == b""


def test_merge_leaves_out_unparseable_texts() -> None:
    good = b"# TYPE y gauge\ny 2.0\n"
    bad = b"# TYPE y gauge\ny 1.0\ny{oops 3\n"
    assert merge_expositions([good, bad, b"\xff\xfe"]).decode().splitlines()[-1] == "y 2.0"


def test_bearer_key_parsing() -> None:
    assert bearer_key("Bearer abc") == "abc"
    assert bearer_key("bearer   abc ") == "abc"
    assert bearer_key("Basic abc") is None
    assert bearer_key("Bearer") is None
    assert bearer_key("Bearer ") is None
    assert bearer_key(None) is None


def test_key_cache_ttl_and_bound() -> None:
    clock = FakeClock()
    cache = KeyCache(ttl_s=30, negative_ttl_s=2, max_size=3, clock=clock)
    cache.put("k1", owner_of("t1"))
    cache.put("bad", None)
    assert cache.get("k1") == (True, owner_of("t1"))
    assert cache.get("bad") == (True, None)
    clock.now += 5
    assert cache.get("bad") == (False, None)  # negative answers expire sooner
    assert cache.get("k1") == (True, owner_of("t1"))
    clock.now += 30
    assert cache.get("k1") == (False, None)
    for i in range(10):
        cache.put(f"k{i}", owner_of("t"))
    assert len(cache) == 3


def test_known_keys_are_cached_for_at_most_a_second_by_default() -> None:
    """Revocation reaches every gateway within 2 s: no gateway trusts its cache longer."""
    clock = FakeClock()
    cache = KeyCache(clock=clock)
    cache.put("k1", owner_of("t1"))
    clock.now += 0.9
    assert cache.get("k1") == (True, owner_of("t1"))
    clock.now += 0.2
    assert cache.get("k1") == (False, None)


def test_unknown_keys_never_evict_a_tenants_key() -> None:
    cache = KeyCache(max_size=3, max_unknown=3, clock=FakeClock())
    for i in range(3):
        cache.put(f"real{i}", owner_of(f"t{i}"))
    for i in range(1000):
        cache.put(f"random{i}", None)
    assert [cache.get(f"real{i}") for i in range(3)] == [
        (True, owner_of(f"t{i}")) for i in range(3)
    ]
    assert len(cache) == 6


async def test_concurrent_misses_of_one_key_share_one_lookup() -> None:
    asked: list[str] = []

    async def resolve(key: str) -> Principal | None:
        asked.append(key)
        await asyncio.sleep(0.01)
        return owner_of("t1")

    auth = Authenticator(resolve)
    found = await asyncio.gather(*(auth.tenant_for("good") for _ in range(20)))
    assert found == ["t1"] * 20
    assert asked == ["good"]


async def test_an_expired_session_token_is_refused_while_cached() -> None:
    now = [1000.0]
    token = Principal("t1", "ann", "subject", agent="chatbot", subject="ann", expires_at=1001.0)

    async def resolve(key: str) -> Principal | None:
        return token

    auth = Authenticator(resolve, wall_clock=lambda: now[0])
    assert await auth.principal_for("ost_x") == token
    now[0] = 1001.5
    assert await auth.principal_for("ost_x") is None


async def test_unknown_keys_cost_their_client_not_the_store() -> None:
    asked: list[str] = []

    async def resolve(key: str) -> Principal | None:
        asked.append(key)
        return owner_of("t1") if key == "good" else None

    auth = Authenticator(resolve, unknown_limiter=RateLimiter(1, 2, clock=FakeClock()))
    assert await auth.tenant_for("good", "10.0.0.1") == "t1"
    assert [await auth.tenant_for(f"bad{i}", "10.0.0.1") for i in range(2)] == [None, None]
    with pytest.raises(RateLimited):
        await auth.tenant_for("bad3", "10.0.0.1")
    assert asked == ["good", "bad0", "bad1"]  # the third guess never reached the store
    assert await auth.tenant_for("good", "10.0.0.1") == "t1"  # a known key still passes
    assert await auth.tenant_for("bad4", "10.0.0.2") is None  # per client address


def test_serve_flags_set_both_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_KEYS:
        monkeypatch.delenv(var[0], raising=False)
    flags = ["--rate-limit-per-s", "50", "--rate-limit-burst", "60"]
    flags += ["--unknown-key-rate-per-s", "1.5", "--unknown-key-burst", "4"]
    s = serve_settings(parser().parse_args(["serve", *flags]))
    assert (s.rate_limit_per_s, s.rate_limit_burst) == (50, 60)
    assert (s.unknown_key_rate_per_s, s.unknown_key_burst) == (1.5, 4)
    s = serve_settings(parser().parse_args(["serve"]))  # not given: the defaults
    assert (s.unknown_key_rate_per_s, s.unknown_key_burst) == (10, 20)


def test_token_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=1, burst=2, clock=clock)
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") == 0
    wait = limiter.acquire("a")
    assert 0.99 <= wait <= 1.0
    assert limiter.acquire("b") == 0  # per tenant
    clock.now += 1.0
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") > 0
    clock.now += 100
    assert [limiter.acquire("a") for _ in range(3)][:2] == [0, 0]  # refills up to burst only


def test_accept_negotiation() -> None:
    assert wants_event_stream("text/event-stream")
    assert wants_event_stream("application/json, text/event-stream;q=0.9")
    assert not wants_event_stream("application/json")
    assert not wants_event_stream("text/event-stream;q=0")
    assert not wants_event_stream(None)


def test_word_chunks_rejoin() -> None:
    for text in ["", "one", "two words", "  lead and trail  ", "a\nb\tc  d", "é 👋🏽 予約"]:
        assert "".join(word_chunks(text)) == text
    assert word_chunks("hi there you") == ["hi ", "there ", "you"]


def test_turn_events_and_frames() -> None:
    result = {
        "reply": "ok then",
        "tool_calls": [{"tool": "t", "tier": "T1", "status": "ok"}],
        "proposals": [{"proposal_id": "p", "preview": "line1\nline2"}],
        "usage": {"T1": 1, "T2": 0, "T3": 0},
    }
    events = list(turn_events(result))
    assert [e for e, _ in events] == ["token", "token", "tool_call", "proposal", "done"]
    assert json.loads(events[-1][1]) == result
    raw = frame("proposal", events[3][1], 3)
    assert raw.count(b"\n") == 4 and raw.endswith(b"\n\n")  # newlines in data are escaped


@pytest.mark.parametrize(
    "exc",
    [
        Unavailable("session state is being reloaded; retry", retry_after=0.1),
        Unavailable("down"),
        Unavailable("not ready", retry_after=2.0),
        NotOwner("moved", owner="host-7"),
        RateLimited("slow down", retry_after=0.37),
        RateLimited("slow down", retry_after=2.2),
    ],
)
def test_error_body_retry_after_is_the_header(exc: Unavailable) -> None:
    r = orchestra_error_response(exc)
    err = json.loads(bytes(r.body))["error"]
    assert r.status_code == exc.http_status
    assert err["retry_after"] == int(r.headers["retry-after"]) >= 1
    assert isinstance(err["retry_after"], int)  # whole seconds, as the header
    assert "owner" not in err


async def test_an_sse_error_is_the_same_error_object() -> None:
    events = TurnStream()
    events.feed(StartEvent())
    events.fail(NotOwner("the session moved", owner="host-7"))  # after the start: an event

    response = await stream_events(events)
    assert isinstance(response, StreamingResponse)
    raw = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[misc]
    data = json.loads(raw.split(b"data: ", 1)[1])
    expected = orchestra_error_response(NotOwner("the session moved", owner="host-7"))
    assert data == json.loads(bytes(expected.body))
    assert data["error"] == {"type": "not_owner", "message": "the session moved", "retry_after": 1}
