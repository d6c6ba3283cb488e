"""Clocks for tests: time that a rule depends on moves only when the test says so.

Soft-confirm windows, breaker resets and context TTLs read an injected clock
(`clock=` of the runtime and the agent catalog); `FakeClock` lets a test jump
over a window without waiting for it, and `TickingClock` makes every reading
distinct, for tests of ordering by time.
"""

from __future__ import annotations

T0 = 1_700_000_000.0  # a fixed, realistic epoch: tests compare against it


class FakeClock:
    """A settable wall clock: `clock()` reads it, `clock.advance(s)` moves it."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class TickingClock(FakeClock):
    """A FakeClock that also moves 1 ms forward on every read (ordering tests)."""

    def __call__(self) -> float:
        self.now += 0.001
        return self.now
