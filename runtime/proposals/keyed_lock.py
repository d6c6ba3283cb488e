"""`KeyedLock`: one asyncio lock per key, alive only while someone holds or waits for it.

A plain `dict[key, Lock]` keeps a lock for every key ever asked about: a registry
asked to confirm 20,000 unknown ids keeps 20,000 locks. Here an entry is dropped
when its last holder or waiter leaves, so the map's size is the number of keys in
use right now.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLock:
    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._entries.get(key) or (asyncio.Lock(), 0)
        self._entries[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._entries[key]
            if users == 1:
                del self._entries[key]
            else:
                self._entries[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._entries)
