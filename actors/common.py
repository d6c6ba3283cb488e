"""Shared pieces of the Ray actors: store connection, replies across Ray, naming."""

from __future__ import annotations

import hashlib
from typing import Literal, NoReturn, TypeAlias, TypeVar

from actors.store.redis import RedisStore, redis_client
from runtime.config.settings import Settings
from runtime.errors import ConfigError, WireError, error_from_wire, error_to_wire

HOST_PREFIX = "orchestra-host-"
REGISTRY_PREFIX = "orchestra-registry-"
SESSION_PREFIX = "orchestra-session-"


def host_name(i: int) -> str:
    return f"{HOST_PREFIX}{i}"


def registry_name(shard: int) -> str:
    return f"{REGISTRY_PREFIX}{shard}"


def shard_of(tenant_id: str, shards: int) -> int:
    return int.from_bytes(hashlib.blake2b(tenant_id.encode(), digest_size=4).digest()) % shards


def open_store(settings: Settings) -> RedisStore:
    """A lazily-connecting store client (safe to build in a sync actor __init__)."""
    if not settings.redis_url:
        raise ConfigError("settings.redis_url is empty; start the store first")
    return RedisStore(redis_client(settings.redis_url), prefix=settings.store_prefix)


# Results cross the Ray boundary as `Reply` pairs: (True, value) or (False, the
# error's wire form), so errors travel as data (one codec, runtime.errors) and no
# Ray error wrapping hides their type.
T = TypeVar("T")
Reply: TypeAlias = tuple[Literal[True], T] | tuple[Literal[False], WireError]


def done(value: T) -> Reply[T]:
    return True, value


def failed(exc: BaseException) -> Reply[NoReturn]:
    return False, error_to_wire(exc)


def unwrap(reply: Reply[T]) -> T:
    """The value of a reply, or its error raised."""
    if reply[0]:
        return reply[1]
    raise error_from_wire(reply[1])
