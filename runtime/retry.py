"""Retries with exponential backoff and jitter, only for transient errors."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from .errors import RETRYABLE, classify, retry_after_of

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    jitter: float = 0.25  # +/- fraction of the delay

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number `attempt` (1-based), jittered."""
        raw: float = min(self.max_delay, self.base_delay * float(2 ** min(attempt - 1, 62)))
        spread = raw * self.jitter
        return min(self.max_delay, max(0.0, raw + float((rng or random).uniform(-spread, spread))))


OnRetry = Callable[[BaseException, int, float], None]


async def retry(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy = RetryPolicy(),
    *,
    sleep: Sleep = asyncio.sleep,
    on_retry: OnRetry | None = None,
    rng: random.Random | None = None,
) -> T:
    """Run `call`, retrying RATE_LIMIT and NETWORK errors with backoff.

    A server `retry-after` hint overrides the computed delay (capped at
    `max_delay`). Any other error class is raised at once.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except Exception as exc:
            if classify(exc) not in RETRYABLE or attempt >= policy.max_attempts:
                raise
            hint = retry_after_of(exc)
            delay = min(policy.max_delay, hint) if hint is not None else policy.delay(attempt, rng)
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            await sleep(delay)
            attempt += 1
