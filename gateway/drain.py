"""Graceful drain: what a gateway process does between SIGTERM and its exit.

The rule, in order:

1. SIGTERM starts the drain: for `drain_s` seconds `/readyz` answers 503
   (with `Retry-After`) so that load balancers take this process out of
   rotation, while every request, old or new, is still served;
2. then the server stops: the listener closes, and the turns and streams in
   flight get up to `grace_s` to finish (uvicorn's graceful shutdown);
3. then the app shuts down (router, store), and the process exits.

Further SIGTERMs during the drain change nothing (a supervisor that forwards
the signal, or a process group signalled as a whole, sends several); Ctrl-C
(SIGINT) is not a drain and goes straight to the server. When the runtime is
gone already (`gone()`: the signal reached Ray's own processes too), there is
nothing left to serve and the drain ends at once. `drain_s = 0` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import FrameType

from runtime import log_event

CHECK_EVERY_S = 0.25

Handler = Callable[[int, FrameType | None], object]


class Drain:
    """One process's drain state: read by `/readyz`, started by SIGTERM."""

    def __init__(self, drain_s: float, gone: Callable[[], bool] | None = None) -> None:
        self.drain_s = drain_s
        self.gone = gone
        self.started_at: float | None = None  # monotonic

    @property
    def draining(self) -> bool:
        return self.started_at is not None

    def begin(self) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic()

    def remaining_s(self) -> float:
        if self.started_at is None:
            return self.drain_s
        return max(0.0, self.started_at + self.drain_s - time.monotonic())

    def retry_after_s(self) -> int:
        """What `/readyz` tells a balancer: come back once this process is gone."""
        return max(1, math.ceil(self.remaining_s()))

    async def wait(self) -> None:
        """Until the drain window is over, or the runtime is gone (nothing to serve)."""
        while self.remaining_s() > 0:
            if self.gone is not None and await asyncio.to_thread(self.gone):
                log_event("drain_cut_short", logging.WARNING, reason="runtime_gone")
                return
            await asyncio.sleep(min(CHECK_EVERY_S, self.remaining_s()))


def tcp_unreachable(address: str, timeout: float = 1.0) -> bool:
    """Whether `host:port` refuses a TCP connection (is Ray's GCS gone?)."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError):
        return True
    return False


@contextlib.asynccontextmanager
async def sigterm_drains(drain: Drain, grace_s: float) -> AsyncIterator[None]:
    """While the app runs: SIGTERM drains first, then is handed to the server's own
    handler (uvicorn's, installed before the app starts), which stops it."""
    if drain.drain_s <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):  # no server handler to hand the stop to
        yield
        return
    stop: Handler = previous
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def drain_then_stop() -> None:
        log_event("drain_started", drain_s=drain.drain_s, grace_s=grace_s)
        await drain.wait()
        log_event("drain_over", in_flight_grace_s=grace_s)
        stop(signal.SIGTERM, None)

    def start() -> None:
        task = loop.create_task(drain_then_stop())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if drain.draining:
            return  # a repeat: the drain under way decides when to stop
        drain.begin()
        loop.call_soon_threadsafe(start)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, stop)
        for task in tasks:
            task.cancel()
