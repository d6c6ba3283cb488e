"""Tenant API keys and per-tenant rate limits.

`Authenticator` resolves a bearer key through `backend.authenticate()` and
keeps the answer in a small in-process TTL cache (bounded, LRU-evicted), so
most requests never touch the store. Keys are cached by SHA-256 digest, not
in clear. Unknown keys are cached briefly too, so a client retrying a bad key
does not hammer the store, but in a bounded cache of their own: random keys
evict only other unknown keys, never a real tenant's.

`RateLimiter` is a token bucket per key (per gateway process): `rate_per_s`
tokens a second, up to `burst`. One limits each tenant; another limits each
client address's requests with keys the store does not know (401s), so
guessing keys costs the guesser, not the store.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from runtime import RateLimited

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


class _TTLCache:
    """digest -> (value, expiry), bounded with LRU eviction."""

    def __init__(self, ttl_s: float, max_size: int, clock: Clock) -> None:
        self.ttl_s = ttl_s
        self.max_size = max_size
        self._clock = clock
        self._items: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    def get(self, digest: str) -> tuple[bool, str | None]:
        item = self._items.get(digest)
        if item is None:
            return False, None
        value, expires = item
        if expires <= self._clock():
            del self._items[digest]
            return False, None
        self._items.move_to_end(digest)
        return True, value

    def put(self, digest: str, value: str | None) -> None:
        self._items[digest] = (value, self._clock() + self.ttl_s)
        self._items.move_to_end(digest)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class KeyCache:
    """digest -> tenant id (known keys) or None (unknown keys), in two bounded
    caches: however many unknown keys arrive, they never push a known one out."""

    def __init__(
        self,
        ttl_s: float = 30.0,
        negative_ttl_s: float = 2.0,
        max_size: int = 10_000,
        clock: Clock = time.monotonic,
        max_unknown: int = 1_000,
    ) -> None:
        self.known = _TTLCache(ttl_s, max_size, clock)
        self.unknown = _TTLCache(negative_ttl_s, max_unknown, clock)

    def get(self, digest: str) -> tuple[bool, str | None]:
        """(hit, tenant id); a hit with None is a cached unknown key."""
        hit, tenant = self.known.get(digest)
        return (True, tenant) if hit else self.unknown.get(digest)

    def put(self, digest: str, tenant: str | None) -> None:
        (self.known if tenant is not None else self.unknown).put(digest, tenant)

    def __len__(self) -> int:
        return len(self.known) + len(self.unknown)


class Authenticator:
    def __init__(
        self,
        resolve: Callable[[str], Awaitable[str | None]],
        cache: KeyCache | None = None,
        unknown_limiter: RateLimiter | None = None,
    ) -> None:
        self._resolve = resolve
        self.cache = cache or KeyCache()
        # requests with unknown keys, per client address: 10 a second, bursts of 20
        self.unknown_limiter = unknown_limiter or RateLimiter(10.0, 20)

    async def tenant_for(self, api_key: str, client: str = "") -> str | None:
        """The key's tenant, or None. A client over its allowance of unknown keys
        is refused (`RateLimited`) for any key this gateway does not know yet,
        before the store is asked."""
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        hit, tenant = self.cache.get(digest)
        if hit and tenant is not None:
            return tenant
        wait = self.unknown_limiter.peek(client)
        if wait > 0:
            raise RateLimited("too many requests with unknown API keys", retry_after=wait)
        if not hit:
            tenant = await self._resolve(api_key)
            self.cache.put(digest, tenant)
        if tenant is None:
            self.unknown_limiter.acquire(client)
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

    def peek(self, key: str) -> float:
        """What `acquire` would answer now (0: a token is there), taking nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(self.burst, bucket.tokens + max(0.0, self._clock() - bucket.stamp) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
