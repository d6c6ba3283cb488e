"""Shared pieces of the Ray actors: store connection, error envelopes, naming."""

from __future__ import annotations

import hashlib
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from runtime.errors import (
    BadRequest,
    ConfigError,
    InvalidTransition,
    NotFound,
    OrchestraError,
    SessionClosed,
    Unavailable,
)
from runtime.settings import Settings

from .store import RedisStore, redis_client

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


# Errors cross the Ray boundary as plain tuples, so the gateway maps them without
# unpickling exception classes (and no Ray error wrapping hides their type).
Envelope = tuple[bool, Any]


def wrap_error(exc: BaseException) -> Envelope:
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return False, ("unavailable", "the store is not reachable; retry shortly")
    if isinstance(exc, InvalidTransition):
        return False, ("invalid_transition", str(exc), exc.current, exc.target)
    for cls, kind in (
        (NotFound, "not_found"),
        (SessionClosed, "session_closed"),
        (BadRequest, "bad_request"),
        (Unavailable, "unavailable"),
    ):
        if isinstance(exc, cls):
            return False, (kind, str(exc))
    if isinstance(exc, OrchestraError):
        return False, ("internal", f"{type(exc).__name__}: {exc}")
    return False, ("internal", f"{type(exc).__name__}")


def unwrap(envelope: Envelope) -> Any:
    ok, payload = envelope
    if ok:
        return payload
    kind, message, *rest = payload
    if kind == "invalid_transition":
        raise InvalidTransition(rest[0], rest[1])
    if kind == "not_found":
        raise NotFound(message)
    if kind == "session_closed":
        raise SessionClosed(message)
    if kind == "bad_request":
        raise BadRequest(message)
    if kind == "unavailable":
        raise Unavailable(message, retry_after=0.5)
    raise OrchestraError(message)
