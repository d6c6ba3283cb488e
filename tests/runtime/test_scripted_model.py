"""The ScriptedModel answers `complete()` directly when it has no pace; the answer
must be the one its stream collects to, for any conversation. Its delays are drawn
as configured (fixed, or lognormal and seeded)."""

from __future__ import annotations

import asyncio
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.config.settings import Settings, build_model
from runtime.models.base import ModelRequest, ToolSpec, collect, user_text
from runtime.models.scripted import ScriptedModel

TEXTS = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ['!tools echo {"a": 1}', "!tools slow*2", "!tools nope", "hello  there\n", "  ", ""]
    ),
)


@settings(max_examples=150, deadline=None)
@given(text=TEXTS, summary=st.booleans(), tools=st.booleans())
def test_complete_is_the_collected_stream(text: str, summary: bool, tools: bool) -> None:
    request = ModelRequest(
        system="s",
        messages=(user_text(text),),
        tools=(ToolSpec("echo", "Echo.", {"type": "object"}),) if tools else (),
        purpose="summary" if summary else "chat",
    )
    model = ScriptedModel()

    async def both() -> tuple[object, object]:
        return await model.complete(request), await collect(model.stream(request))

    whole, streamed = asyncio.run(both())
    assert whole == streamed


def test_latency_sigma_spreads_the_delays_lognormally_and_reproducibly() -> None:
    """`latency_sigma` (settings -> `build_model`): 0 gives fixed delays; above 0 they
    vary lognormally around their medians, the same sequence for the same seed."""

    def delays(n: int, **model: float) -> list[float]:
        built = build_model(Settings(**{f"model_{k}": v for k, v in model.items()}))
        assert isinstance(built, ScriptedModel)
        return [built.delay() for _ in range(n)]

    fixed = delays(20, latency_ms=800, ttft_ms=300)
    assert fixed == [pytest.approx(1.1)] * 20  # sigma 0: the medians, every time

    spread = delays(2000, latency_ms=800, latency_sigma=0.5, seed=11)
    assert spread == delays(2000, latency_ms=800, latency_sigma=0.5, seed=11)  # reproducible
    assert spread != delays(2000, latency_ms=800, latency_sigma=0.5, seed=12)
    assert len(set(spread)) == len(spread) and min(spread) > 0
    logs = sorted(math.log(d / 0.8) for d in spread)
    assert abs(statistics.median(logs)) < 0.05  # the median stays the configured one
    assert statistics.stdev(logs) == pytest.approx(0.5, rel=0.1)  # the spread is sigma


def test_every_call_draws_its_own_delay() -> None:
    """`complete` (unpaced and paced) and `stream` each draw one delay, in call order:
    a model's calls are the seeded sequence, whichever way they are made."""
    request = ModelRequest(system="s", messages=(user_text("hi"),))
    twin = ScriptedModel(0.001, sigma=0.8, seed=5)
    for _ in range(3):
        twin.delay()
    model = ScriptedModel(0.001, sigma=0.8, seed=5)

    async def calls() -> None:
        await model.complete(request)
        await collect(model.stream(request))
        model.tokens_per_s = 1000.0
        await model.complete(request)

    asyncio.run(calls())
    assert [model.delay() for _ in range(2)] == [twin.delay() for _ in range(2)]
