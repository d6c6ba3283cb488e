"""Bearer credentials (keys, session tokens) and per-tenant rate limits.

`Authenticator` resolves a bearer through `backend.authenticate()` to its
`Principal` and keeps the answer in a small in-process TTL cache (bounded,
LRU-evicted), so most requests never touch the store. A known credential is
kept for at most `KNOWN_TTL_S` (1 s): a key revoked on any gateway is refused
by every gateway within that (and at once by the one that revoked it, which
drops it from its cache). Concurrent misses of one credential share one
store lookup. Credentials are cached by SHA-256 digest, not in clear; a
session token past its expiry is refused even while cached. Unknown
credentials are cached briefly too, so a client retrying a bad key does not
hammer the store, but in a bounded cache of their own: random keys evict only
other unknown keys, never a real tenant's.

`RateLimiter` is a token bucket per key (per gateway process): `rate_per_s`
tokens a second, up to `burst`. One limits each tenant; another limits each
client address's requests with keys the store does not know (401s), so
guessing keys costs the guesser, not the store.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from runtime import Principal, RateLimited

Clock = Callable[[], float]
KNOWN_TTL_S = 1.0  # revocation reaches every gateway within this (API.md: 2 s)


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
        self._items: OrderedDict[str, tuple[Principal | None, float]] = OrderedDict()

    def get(self, digest: str) -> tuple[bool, Principal | None]:
        item = self._items.get(digest)
        if item is None:
            return False, None
        value, expires = item
        if expires <= self._clock():
            del self._items[digest]
            return False, None
        self._items.move_to_end(digest)
        return True, value

    def put(self, digest: str, value: Principal | None) -> None:
        self._items[digest] = (value, self._clock() + self.ttl_s)
        self._items.move_to_end(digest)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)

    def drop(self, digest: str) -> None:
        self._items.pop(digest, None)

    def __len__(self) -> int:
        return len(self._items)


class KeyCache:
    """digest -> principal (known credentials) or None (unknown ones), in two bounded
    caches: however many unknown keys arrive, they never push a known one out."""

    def __init__(
        self,
        ttl_s: float = KNOWN_TTL_S,
        negative_ttl_s: float = 2.0,
        max_size: int = 10_000,
        clock: Clock = time.monotonic,
        max_unknown: int = 1_000,
    ) -> None:
        self.known = _TTLCache(ttl_s, max_size, clock)
        self.unknown = _TTLCache(negative_ttl_s, max_unknown, clock)

    def get(self, digest: str) -> tuple[bool, Principal | None]:
        """(hit, principal); a hit with None is a cached unknown key."""
        hit, who = self.known.get(digest)
        return (True, who) if hit else self.unknown.get(digest)

    def put(self, digest: str, who: Principal | None) -> None:
        (self.known if who is not None else self.unknown).put(digest, who)

    def drop(self, digest: str) -> None:
        """Forget a credential (revoked here: refused from the next request on)."""
        self.known.drop(digest)

    def __len__(self) -> int:
        return len(self.known) + len(self.unknown)


class Authenticator:
    def __init__(
        self,
        resolve: Callable[[str], Awaitable[Principal | None]],
        cache: KeyCache | None = None,
        unknown_limiter: RateLimiter | None = None,
        wall_clock: Clock = time.time,
    ) -> None:
        self._resolve = resolve
        self.cache = cache or KeyCache()
        # requests with unknown keys, per client address: 10 a second, bursts of 20
        self.unknown_limiter = unknown_limiter or RateLimiter(10.0, 20)
        self._wall = wall_clock
        self._inflight: dict[str, asyncio.Future[Principal | None]] = {}

    async def principal_for(self, bearer: str, client: str = "") -> Principal | None:
        """The credential's principal, or None. A client over its allowance of
        unknown keys is refused (`RateLimited`) for any key this gateway does not
        know yet, before the store is asked."""
        digest = hashlib.sha256(bearer.encode()).hexdigest()
        hit, who = self.cache.get(digest)
        if hit and who is not None:
            return who if self._alive(who) else None
        wait = self.unknown_limiter.peek(client)
        if wait > 0:
            raise RateLimited("too many requests with unknown API keys", retry_after=wait)
        if not hit:
            who = await self._lookup(digest, bearer)
        if who is None:
            self.unknown_limiter.acquire(client)
            return None
        return who if self._alive(who) else None

    async def tenant_for(self, bearer: str, client: str = "") -> str | None:
        who = await self.principal_for(bearer, client)
        return None if who is None else who.tenant_id

    def forget(self, digest: str) -> None:
        self.cache.drop(digest)

    def _alive(self, who: Principal) -> bool:
        return who.expires_at is None or who.expires_at > self._wall()

    async def _lookup(self, digest: str, bearer: str) -> Principal | None:
        """One store lookup per credential at a time: concurrent misses share it."""
        pending = self._inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            who = await self._resolve(bearer)
            self.cache.put(digest, who)
            future.set_result(who)
            return who
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a lookup nobody shared is not "never retrieved"
            raise
        finally:
            del self._inflight[digest]


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
