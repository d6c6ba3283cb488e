"""`Admission`: how much work one session host takes at once.

Rule: at most `running` operations run at a time; up to `queued` more wait
their turn, in arrival order; past that an operation is refused at once with
`Overloaded` (an `Unavailable`: 503 with Retry-After) before any of it ran. Refusal happens only
at the door: an operation once admitted (running or queued) is never failed or
dropped by the gate.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from . import metrics
from .errors import RETRY_AFTER_S, Overloaded


class Admission:
    def __init__(self, running: int, queued: int, label: str = "local") -> None:
        self.running = running
        self.queued = queued
        self.label = label
        self.waiting = 0
        self.active = 0  # operations running now
        self._slots = asyncio.Semaphore(running)

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Run the body once admitted; `Overloaded` at once when the queue is full."""
        if self._slots.locked() and self.waiting >= self.queued:
            metrics.child(metrics.ADMISSION_REJECTED, self.label).inc()
            raise Overloaded(
                f"this session host is at capacity ({self.running} running, "
                f"{self.waiting} waiting); retry",
                retry_after=RETRY_AFTER_S,
            )
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self._slots.release()

    def observe(self) -> None:
        """Set the gauges (when scraped, not on every operation)."""
        metrics.child(metrics.ADMISSION_RUNNING, self.label).set(self.active)
        metrics.child(metrics.ADMISSION_QUEUE, self.label).set(self.waiting)
