"""`HostLease`: a host's liveness in the store, kept where a busy event loop cannot starve it.

Rule: a host fences itself (drops every session) only on evidence from the store,
never because its own event loop was late.

- The lease is one key, ``live:<host>`` = this incarnation, with a TTL. A thread
  renews it every `every_s` on a blocking connection of its own, so a burst that
  keeps the event loop busy (or a long blocking call) does not delay it.
- Each renewal swaps the key and reads what it held (``SET ... PX ... GET``): the
  old value being this incarnation proves the lease never lapsed. Anything else
  means it did, and other hosts may have claimed our sessions: `on_lost` runs on
  the event loop. It is taken as lapsed too when the store has not answered for a
  whole TTL since the last renewal began (by then the key has expired, or is about to).
- `held()` is true until `ttl / 2` after the start of the last renewal. Past that,
  `confirm()` asks the store itself before a caller gives up on the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

import redis

from runtime import logs


class HostLease:
    def __init__(
        self,
        url: str,
        key: str,
        incarnation: str,
        *,
        ttl_s: float,
        every_s: float,
        on_lost: Callable[[], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._key = key
        self._incarnation = incarnation
        self._ttl_s = ttl_s
        self._every_s = every_s
        self._on_lost = on_lost
        self._loop = loop
        self._client = redis.Redis.from_url(
            url, socket_timeout=ttl_s / 2, socket_connect_timeout=ttl_s / 2
        )
        self._lock = threading.Lock()  # one renewal at a time (thread and `confirm`)
        self._stop = threading.Event()
        self._until = 0.0  # monotonic: held until then
        self._last_start = time.monotonic()  # start of the last renewal that succeeded
        self._ever_held = False
        self._lapsed_reported = False
        self._confirming: asyncio.Future[bool] | None = None
        self._thread = threading.Thread(target=self._run, name=f"lease-{key}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._ttl_s)
        self._client.close()

    def held(self) -> bool:
        return time.monotonic() < self._until

    async def confirm(self, timeout_s: float) -> bool:
        """Held, asking the store now if our last renewal is too old (one question at a
        time, whoever asks); False when the store does not answer within `timeout_s`."""
        if self.held():
            return True
        if self._confirming is None or self._confirming.done():
            self._confirming = asyncio.ensure_future(asyncio.to_thread(self.renew))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._confirming), timeout_s)
        return self.held()

    def renew(self) -> bool:
        """One renewal (any thread); True when the store answered."""
        with self._lock:
            started = time.monotonic()
            try:
                previous = self._client.set(
                    self._key, self._incarnation, px=max(1, int(self._ttl_s * 1000)), get=True
                )
            except (redis.RedisError, OSError) as exc:
                logs.event("heartbeat_failed", logging.WARNING, error=type(exc).__name__)
                if self._ever_held and time.monotonic() - self._last_start >= self._ttl_s:
                    self._lapsed("the store has not answered for the lease time")
                return False
            was_ours = isinstance(previous, bytes) and previous.decode() == self._incarnation
            if self._ever_held and not was_ours:
                self._lapsed("the lease was gone from the store")
            self._ever_held = True
            self._lapsed_reported = False
            self._last_start = started
            self._until = started + self._ttl_s / 2
            return True

    def _lapsed(self, why: str) -> None:
        if self._lapsed_reported:
            return
        self._lapsed_reported = True
        self._until = 0.0
        logs.event("lease_lost", logging.WARNING, key=self._key, reason=why)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to drop
            self._loop.call_soon_threadsafe(self._on_lost)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.renew()
            self._stop.wait(self._every_s)
