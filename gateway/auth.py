"""Tenant API keys and per-tenant rate limits.

`Authenticator` resolves a bearer key through `backend.authenticate()` and
keeps the answer in a small in-process TTL cache (bounded, LRU-evicted), so
most requests never touch the store. Keys are cached by SHA-256 digest, not
in clear. Unknown keys are cached briefly too, so a client retrying a bad key
does not hammer the store.

`RateLimiter` is a token bucket per tenant (per gateway process):
`rate_per_s` tokens a second, up to `burst`.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Clock = Callable[[], float]


def bearer_key(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, or None."""
    if not authorization:
        return None
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key


class KeyCache:
    """digest -> (tenant id or None, expiry), bounded with LRU eviction."""

    def __init__(
        self,
        ttl_s: float = 30.0,
        negative_ttl_s: float = 2.0,
        max_size: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.negative_ttl_s = negative_ttl_s
        self.max_size = max_size
        self._clock = clock
        self._items: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    def get(self, digest: str) -> tuple[bool, str | None]:
        """(hit, tenant id); a hit with None is a cached unknown key."""
        item = self._items.get(digest)
        if item is None:
            return False, None
        tenant, expires = item
        if expires <= self._clock():
            del self._items[digest]
            return False, None
        self._items.move_to_end(digest)
        return True, tenant

    def put(self, digest: str, tenant: str | None) -> None:
        ttl = self.ttl_s if tenant is not None else self.negative_ttl_s
        self._items[digest] = (tenant, self._clock() + ttl)
        self._items.move_to_end(digest)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class Authenticator:
    def __init__(
        self, resolve: Callable[[str], Awaitable[str | None]], cache: KeyCache | None = None
    ) -> None:
        self._resolve = resolve
        self.cache = cache or KeyCache()

    async def tenant_for(self, api_key: str) -> str | None:
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        hit, tenant = self.cache.get(digest)
        if hit:
            return tenant
        tenant = await self._resolve(api_key)
        self.cache.put(digest, tenant)
        return tenant


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token bucket per tenant; `acquire()` returns 0 when allowed, else seconds to wait."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Clock = time.monotonic,
        max_tenants: int = 100_000,
    ) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self._clock = clock
        self._max = max_tenants
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, tenant: str) -> float:
        now = self._clock()
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = self._buckets[tenant] = _Bucket(self.burst, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            elapsed = max(0.0, now - bucket.stamp)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.stamp = now
            self._buckets.move_to_end(tenant)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate
