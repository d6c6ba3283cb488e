"""Shared fixtures.

Store fixtures: `store_redis_url` (session: one embedded Valkey, or `REDIS_URL`),
`store` (function: parametrized memory/redis) and `store_peers` (extra clients
of the same backend, for cross-client concurrency tests).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pytest
import redis

from actors import RayBackend, connect_ray, ensure_actors, kill_actors
from actors.store.redis import EmbeddedValkey, RedisStore, connect_store, redis_url_from_env
from runtime.config.settings import Settings
from runtime.store.memory import MemoryStore
from runtime.store.protocol import Store
from runtime.store.tenants import add_tenant

# The suite's extra agents for the Ray stacks: the lab, and "desk" (the lab's
# salon tools under a four-eyes policy for T3: two distinct staff members, not
# the requester). Named by class path, so importing these fixtures (every test
# package does) does not import the demo: tests/runtime never loads `salon`.
LAB_AGENT = {"lab": "salon.testing:SalonLab", "desk": "salon.testing:SalonLab"}
FOUR_EYES = {"approvers": ["staff"], "quorum": 2, "self_approval": False}

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


# -- Ray fixtures ---------------------------------------------------------------
# Ray starts once per test session (ray.init costs ~4 s here); every stack of
# actors lives in its own namespace and store prefix, so stacks never share state.

LAB_CONFIG = {
    "agents": {
        "lab": {"executor_timeout_ms": 400, "soft_confirm_window_ms": 1500},
        "desk": {"approval": {"T3": FOUR_EYES}},
    }
}


@dataclass
class Stack:
    """A running set of Orchestra actors plus the settings to reach them."""

    settings: Settings

    async def backend(self) -> RayBackend:
        store = await connect_store(self.settings.redis_url, prefix=self.settings.store_prefix)
        return RayBackend(self.settings, store)


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    import ray

    connect_ray("orchestra-tests", num_cpus=2, object_store_memory=150 * 1024 * 1024)
    yield
    ray.shutdown()


def make_stack(url: str, placement: str, **overrides: Any) -> Stack:
    ns = f"orc-test-{placement}-{uuid.uuid4().hex[:8]}"
    data: dict[str, Any] = {
        "redis_url": url,
        "store_prefix": ns,
        "namespace": ns,
        "placement": placement,
        "hosts": 2,
        "extra_agents": LAB_AGENT,
        "sweep_interval_s": 0.2,
        "config_data": LAB_CONFIG,
    }
    data.update(overrides)
    settings = Settings.model_validate(data)
    ensure_actors(settings)
    return Stack(settings)


@pytest.fixture(scope="session", params=["hosted", "dedicated"])
def stack(
    request: pytest.FixtureRequest, ray_session: None, store_redis_url: str
) -> Iterator[Stack]:
    """Actors of one placement, shared by the tests of the session."""
    s = make_stack(store_redis_url, request.param)
    yield s
    kill_actors(s.settings.namespace)


@pytest.fixture
async def backend(stack: Stack) -> AsyncIterator[RayBackend]:
    b = await stack.backend()
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
async def two_tenants(backend: RayBackend) -> tuple[tuple[str, str], tuple[str, str]]:
    """(tenant_id, api_key) for tenants A and B."""
    a, key_a = await add_tenant(backend.store, "Tenant A")
    b, key_b = await add_tenant(backend.store, "Tenant B")
    return (a.tenant_id, key_a), (b.tenant_id, key_b)
