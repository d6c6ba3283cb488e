"""Shared fixtures.

Store fixtures: `store_redis_url` (session: one embedded Valkey, or `REDIS_URL`),
`store` (function: parametrized memory/redis) and `store_peers` (extra clients
of the same backend, for cross-client concurrency tests).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlparse

import pytest
import redis

from actors.store import EmbeddedValkey, RedisStore, connect_store, redis_url_from_env
from runtime.memstore import MemoryStore
from runtime.store import Store

StorePeers = Callable[[int], Awaitable[list[Store]]]

# -- store fixtures -----------------------------------------------------------


@pytest.fixture(scope="session")
def store_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis-protocol server for the whole run.

    With `REDIS_URL` set, that server is used; the URL must name a database
    (e.g. redis://127.0.0.1:6379/15), which is FLUSHDB'd once at start.
    Otherwise one `EmbeddedValkey` runs in a temporary directory.
    """
    url = redis_url_from_env()
    if url is not None:
        db = urlparse(url).path.strip("/")
        if not db.isdigit():
            pytest.fail(f"REDIS_URL must name a database to flush, e.g. .../15 (got {url!r})")
        client = redis.Redis.from_url(url)
        try:
            client.flushdb()
        finally:
            client.close()
        yield url
        return
    with EmbeddedValkey(tmp_path_factory.mktemp("valkey")) as server:
        yield server.url


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.store)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A fresh store: `MemoryStore`, or a `RedisStore` under a per-test key prefix."""
    if request.param == "memory":
        yield MemoryStore()
        return
    url: str = request.getfixturevalue("store_redis_url")
    rs = await connect_store(url, prefix=f"orc-test-{uuid.uuid4().hex[:12]}")
    try:
        yield rs
    finally:
        await rs.close()


@pytest.fixture
async def store_peers(store: Store, request: pytest.FixtureRequest) -> AsyncIterator[StorePeers]:
    """`await store_peers(n)`: n stores on the same data as `store` (own clients for redis)."""
    opened: list[RedisStore] = []

    async def make(n: int) -> list[Store]:
        if not isinstance(store, RedisStore):
            return [store] * n
        url: str = request.getfixturevalue("store_redis_url")
        for _ in range(n):
            opened.append(await connect_store(url, prefix=store.prefix))
        return list(opened[-n:])

    try:
        yield make
    finally:
        for peer in opened:
            await peer.close()
