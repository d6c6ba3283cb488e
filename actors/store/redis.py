"""`RedisStore`: the `Store` protocol on Redis/Valkey, and `EmbeddedValkey`.

Every key carries the tenant: ``{prefix}:t:{tenant}:...``; key parts are
escaped so ``:`` and ``|`` in ids cannot make two keys collide. Multi-key
writes are one MULTI/EXEC pipeline or one Lua script; read-modify-writes use
WATCH and retry. The per-turn commands (`data_read`, `save_turn`) go
through an `AutoPipeline`, so concurrent turns share round trips. A server
that does not answer is `Unavailable` (retryable, 503) from every method: no
Redis exception leaves the store.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, ParamSpec, TypeVar

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from runtime.audit import AuditEvent
from runtime.errors import NotOwner, Unavailable
from runtime.proposals.model import Proposal, ProposalStatus
from runtime.store import paging
from runtime.store.data import Change
from runtime.store.payloads import (
    SessionSnapshot,
    StoredMessage,
    TurnRecord,
    TurnWrite,
)
from runtime.store.protocol import (
    KeyRecord,
    LedgerEntry,
    LedgerState,
    SessionRecord,
    TenantRecord,
    TokenRecord,
)
from runtime.turnlog import KEEP_TURNS

from . import scripts
from .pipeline import AutoPipeline
from .valkey import EmbeddedValkey as EmbeddedValkey  # re-exported: one import for the store

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")
_OPEN = (ProposalStatus.PENDING, ProposalStatus.CONFIRMED)
_MAX_ATTEMPTS = 500

_SCAN_BATCH = 200  # session ids read from the index per round trip when listing


def _esc(part: str) -> str:
    if "%" not in part and ":" not in part and "|" not in part:
        return part  # the common case, on every key of every turn
    return part.replace("%", "%25").replace(":", "%3A").replace("|", "%7C")


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def _ledger_entry(raw: Any) -> LedgerEntry:
    text = _text(raw)
    if text in LedgerState.__members__:  # written by an earlier version: the state alone
        return LedgerEntry(state=LedgerState(text))
    return LedgerEntry.model_validate_json(text)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    """The `Store` protocol on one `redis.asyncio.Redis` client (which it owns)."""

    def __init__(self, client: aioredis.Redis, prefix: str = "orc") -> None:
        self._r = client
        self._raw_prefix = prefix
        self._prefix = _esc(prefix)
        self._create = client.register_script(scripts.CREATE)
        self._claim = client.register_script(scripts.CLAIM)
        self._release = client.register_script(scripts.RELEASE)
        self._auto = AutoPipeline(client)  # the per-turn hot path: shared round trips

    @property
    def prefix(self) -> str:
        return self._raw_prefix

    def _k(self, tenant_id: str, *parts: str) -> str:
        return ":".join((self._prefix, "t", _esc(tenant_id), *map(_esc, parts)))

    async def _optimistic(self, body: Callable[[Pipeline], Awaitable[T]]) -> T:
        """Run a WATCH/MULTI body until EXEC succeeds (jittered backoff)."""
        for attempt in range(_MAX_ATTEMPTS):
            async with self._r.pipeline(transaction=True) as pipe:
                try:
                    return await body(pipe)
                except WatchError:
                    pass
            await asyncio.sleep(random.uniform(0, 0.001 * min(attempt + 1, 20)))
        raise Unavailable("store contention: transaction retried too often")

    # tenants
    async def put_tenant(self, tenant: TenantRecord) -> None:
        raw = tenant.model_dump_json()
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(f"{self._prefix}:tenantkey:{_esc(tenant.key_hash)}", raw)
            pipe.set(self._k(tenant.tenant_id, "tenant"), raw)
            await pipe.execute()

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        raw = await self._auto.execute("GET", self._k(tenant_id, "tenant"))
        return None if raw is None else TenantRecord.model_validate_json(raw)

    async def tenant_by_key_hash(self, key_hash: str) -> TenantRecord | None:
        raw = await self._r.get(f"{self._prefix}:tenantkey:{_esc(key_hash)}")
        return None if raw is None else TenantRecord.model_validate_json(raw)

    async def list_tenants(self) -> list[TenantRecord]:
        keys = [k async for k in self._r.scan_iter(match=f"{self._prefix}:t:*:tenant", count=500)]
        found = [
            TenantRecord.model_validate_json(raw)
            for raw in (await self._r.mget(keys) if keys else [])
            if raw is not None
        ]
        return sorted(found, key=lambda t: (t.created_at, t.tenant_id))

    # keys and session tokens
    async def put_key(self, rec: KeyRecord) -> None:
        raw = rec.model_dump_json()
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(f"{self._prefix}:key:{_esc(rec.key_hash)}", raw)
            pipe.hset(self._k(rec.tenant_id, "keys"), rec.key_id, raw)
            await pipe.execute()

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        raw = await self._r.get(f"{self._prefix}:key:{_esc(key_hash)}")
        return None if raw is None else KeyRecord.model_validate_json(raw)

    async def list_keys(self, tenant_id: str) -> list[KeyRecord]:
        found = [
            KeyRecord.model_validate_json(raw)
            for raw in (await self._r.hgetall(self._k(tenant_id, "keys"))).values()
        ]
        return sorted(found, key=lambda k: (k.created_at, k.key_id))

    async def touch_key(self, tenant_id: str, key_id: str, at: float) -> None:
        await self._r.hset(self._k(tenant_id, "keyused"), key_id, repr(at))

    async def key_last_used(self, tenant_id: str) -> dict[str, float]:
        raw = await self._r.hgetall(self._k(tenant_id, "keyused"))
        return {_text(k): float(v) for k, v in raw.items()}

    async def put_token(self, rec: TokenRecord) -> None:
        ttl_ms = max(1, int((rec.expires_at - time.time()) * 1000))
        await self._r.set(
            f"{self._prefix}:tok:{_esc(rec.token_hash)}", rec.model_dump_json(), px=ttl_ms
        )

    async def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        raw = await self._r.get(f"{self._prefix}:tok:{_esc(token_hash)}")
        return None if raw is None else TokenRecord.model_validate_json(raw)

    async def delete_token(self, token_hash: str) -> bool:
        return bool(await self._r.delete(f"{self._prefix}:tok:{_esc(token_hash)}"))

    # sessions and history
    async def create_session(self, rec: SessionRecord) -> tuple[SessionRecord, bool]:
        active = self._k(rec.tenant_id, "active", rec.agent, rec.subject)
        for _ in range(_MAX_ATTEMPTS):
            sid = await self._create(
                keys=[
                    active,
                    self._k(rec.tenant_id, "sess", rec.session_id),
                    self._k(rec.tenant_id, "sessions"),
                ],
                args=[rec.session_id, rec.model_dump_json(), repr(rec.created_at)],
            )
            if sid is None:
                return rec, True
            existing = await self.get_session(rec.tenant_id, _text(sid))
            if existing is not None and existing.status == "active":
                return existing, False
            await asyncio.sleep(0.001)  # closed between the script and the read: retry
        raise Unavailable("store contention: create_session retried too often")

    async def get_session(self, tenant_id: str, session_id: str) -> SessionRecord | None:
        raw = await self._auto.execute("GET", self._k(tenant_id, "sess", session_id))
        return None if raw is None else SessionRecord.model_validate_json(raw)

    async def close_session(
        self, tenant_id: str, session_id: str, at: float
    ) -> SessionRecord | None:
        skey = self._k(tenant_id, "sess", session_id)

        async def body(pipe: Pipeline) -> SessionRecord | None:
            await pipe.watch(skey)
            raw = await pipe.get(skey)
            if raw is None:
                return None
            rec = SessionRecord.model_validate_json(raw)
            if rec.status != "active":
                return rec
            akey = self._k(tenant_id, "active", rec.agent, rec.subject)
            await pipe.watch(akey)
            current = await pipe.get(akey)
            new = rec.model_copy(update={"status": "closed", "closed_at": at})
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(skey, new.model_dump_json())
            if current == session_id.encode():
                pipe.delete(akey)
            await pipe.execute()
            return new

        return await self._optimistic(body)

    async def list_sessions(
        self,
        tenant_id: str,
        agent: str | None = None,
        subject: str | None = None,
        status: Literal["active", "closed"] | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[SessionRecord], str | None]:
        """Walks the tenant's index (a sorted set of ids by `created_at`) newest first from
        the cursor, reading records in batches and filtering them, until a page and one
        more are found: that one says whether there is a next page."""
        paging.check_limit(limit)
        position = paging.decode_cursor(cursor)
        index = self._k(tenant_id, "sessions")
        top: float | str = "+inf" if position is None else position[0]
        found: dict[str, SessionRecord] = {}  # by id: a page of ids may shift under inserts
        offset = 0
        while len(found) <= limit:
            ids = await self._r.zrevrangebyscore(index, top, "-inf", start=offset, num=_SCAN_BATCH)
            offset += len(ids)
            keys = [self._k(tenant_id, "sess", _text(sid)) for sid in ids]
            for raw in await self._r.mget(keys) if keys else []:
                if raw is None:
                    continue
                rec = SessionRecord.model_validate_json(raw)
                if (
                    rec.tenant_id == tenant_id
                    and paging.after(rec, position)
                    and paging.matches(rec, agent, subject, status)
                ):
                    found[rec.session_id] = rec
            if len(ids) < _SCAN_BATCH:
                break
        ordered = sorted(found.values(), key=lambda r: (r.created_at, r.session_id), reverse=True)
        return paging.page(ordered[: limit + 1], limit)

    async def load_session(
        self, tenant_id: str, session_id: str, last: int
    ) -> tuple[SessionSnapshot | None, list[StoredMessage]]:
        # one round trip, shared with whatever else this iteration asks (the record)
        wanted = [self._auto.submit("GET", self._k(tenant_id, "state", session_id))]
        if last:
            wanted.append(
                self._auto.submit("LRANGE", self._k(tenant_id, "hist", session_id), -last, -1)
            )
        replies = await asyncio.gather(*wanted)
        state = None if replies[0] is None else orjson.loads(replies[0])
        return state, [orjson.loads(m) for m in (replies[1] if last else [])]

    async def save_turn(self, write: TurnWrite, *, owner: str | None = None) -> None:
        """One atomic script, sharing its round trip with other sessions' turns."""
        tenant_id, session_id, messages = write.tenant_id, write.session_id, write.messages
        audit, proposals, turn = write.audit, write.proposals, write.turn
        audit_raw = [_dumps(e) for e in audit]
        per_session: dict[str, list[bytes]] = {}
        for event, raw in zip(audit, audit_raw, strict=True):
            sid = event.get("session_id")
            if isinstance(sid, str):
                per_session.setdefault(sid, []).append(raw)
        keys = [
            self._k(tenant_id, "hist", session_id),
            self._k(tenant_id, "state", session_id),
            self._k(tenant_id, "audit"),
            self._k(tenant_id, "own", session_id),
            self._k(tenant_id, "props"),
            self._k(tenant_id, "sprops", session_id),
            f"{self._prefix}:open",
            f"{self._prefix}:due",
            *(self._k(tenant_id, "saudit", sid) for sid in per_session),
            *(self._k(tenant_id, "prop", p.proposal_id) for p in proposals),
            self._k(tenant_id, "turns", session_id),
        ]
        args: list[Any] = [_dumps(write.state), len(messages), len(audit_raw), len(proposals)]
        args.append(owner or "")
        args += [len(items) for items in per_session.values()]
        args += [_dumps(m) for m in messages]
        args += audit_raw
        for items in per_session.values():
            args += items
        for p in proposals:
            if p.tenant_id != tenant_id or p.session_id != session_id:
                raise ValueError(f"proposal {p.proposal_id} is not of session {session_id}")
            member = self._open_member(tenant_id, p.proposal_id)
            expires = "" if p.expires_at is None else repr(p.expires_at)
            args += [p.proposal_id, p.model_dump_json(), repr(p.created_at), member, expires]
        args += [b"" if turn is None else _dumps(turn), KEEP_TURNS]
        done = await self._auto.script(scripts.SAVE_TURN_SHA, scripts.SAVE_TURN, keys, args)
        if done != 1:
            holder = _text(done)
            raise NotOwner(f"session {session_id} is held by {holder or 'nobody'}", holder)

    # one owner per session
    def _live_prefix(self) -> str:
        return f"{self._prefix}:live:"

    async def claim_session(
        self, tenant_id: str, session_id: str, owner: str, *, take: bool = True
    ) -> str | None:
        holder = await self._claim(
            keys=[self._k(tenant_id, "own", session_id)],
            args=[owner, self._live_prefix(), "1" if take else "0"],
        )
        return None if holder is None else _text(holder)

    async def release_session(self, tenant_id: str, session_id: str, owner: str) -> None:
        await self._release(keys=[self._k(tenant_id, "own", session_id)], args=[owner])

    async def heartbeat(self, host: str, incarnation: str, ttl_s: float) -> None:
        await self._r.set(self.live_key(host), incarnation, px=max(1, int(ttl_s * 1000)))

    def live_key(self, host: str) -> str:
        """The key of `host`'s liveness (its value: the live incarnation)."""
        return self._live_prefix() + host

    async def list_messages(self, tenant_id: str, session_id: str) -> list[StoredMessage]:
        raw = await self._r.lrange(self._k(tenant_id, "hist", session_id), 0, -1)
        return [orjson.loads(m) for m in raw]

    async def list_turns(self, tenant_id: str, session_id: str) -> list[TurnRecord]:
        raw = await self._r.lrange(self._k(tenant_id, "turns", session_id), 0, -1)
        return [orjson.loads(m) for m in raw]

    # audit
    def _queue_audit(self, pipe: Pipeline, by_tenant: Mapping[str, Sequence[AuditEvent]]) -> None:
        """Queue RPUSHes: the tenant's log and, for events with a session, its index."""
        for tenant_id, events in by_tenant.items():
            if not events:
                continue
            encoded = [_dumps(e) for e in events]
            pipe.rpush(self._k(tenant_id, "audit"), *encoded)
            per_session: dict[str, list[bytes]] = {}
            for event, raw in zip(events, encoded, strict=True):
                sid = event.get("session_id")
                if isinstance(sid, str):
                    per_session.setdefault(sid, []).append(raw)
            for sid, items in per_session.items():
                pipe.rpush(self._k(tenant_id, "saudit", sid), *items)

    async def append_audit(self, tenant_id: str, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        async with self._r.pipeline(transaction=True) as pipe:
            self._queue_audit(pipe, {tenant_id: events})
            await pipe.execute()

    async def list_audit(self, tenant_id: str, session_id: str | None = None) -> list[AuditEvent]:
        key = (
            self._k(tenant_id, "audit")
            if session_id is None
            else self._k(tenant_id, "saudit", session_id)
        )
        return [orjson.loads(e) for e in await self._r.lrange(key, 0, -1)]

    # proposals
    def _open_member(self, tenant_id: str, proposal_id: str) -> str:
        return f"{_esc(tenant_id)}|{_esc(proposal_id)}"

    async def save_proposals(
        self,
        proposals: list[Proposal],
        audit: Sequence[AuditEvent],
        ledger: dict[str, LedgerEntry] | None = None,
    ) -> None:
        by_tenant: dict[str, list[AuditEvent]] = {}
        for event in audit:
            by_tenant.setdefault(str(event["tenant_id"]), []).append(event)
        open_key = f"{self._prefix}:open"
        due_key = f"{self._prefix}:due"
        confirmed_key = f"{self._prefix}:confirmed"
        async with self._r.pipeline(transaction=True) as pipe:
            for p in proposals:
                t, pid = p.tenant_id, p.proposal_id
                pipe.set(self._k(t, "prop", pid), p.model_dump_json())
                pipe.zadd(self._k(t, "props"), {pid: p.created_at})
                pipe.zadd(self._k(t, "sprops", p.session_id), {pid: p.created_at})
                if p.status in _OPEN:
                    pipe.zadd(open_key, {self._open_member(t, pid): p.created_at})
                else:
                    pipe.zrem(open_key, self._open_member(t, pid))
                if p.status is ProposalStatus.PENDING and p.expires_at is not None:
                    pipe.zadd(due_key, {self._open_member(t, pid): p.expires_at})
                else:
                    pipe.zrem(due_key, self._open_member(t, pid))
                if p.status is ProposalStatus.CONFIRMED:
                    pipe.zadd(confirmed_key, {self._open_member(t, pid): p.updated_at})
                else:
                    pipe.zrem(confirmed_key, self._open_member(t, pid))
                entry = (ledger or {}).get(pid)
                if entry is not None:
                    pipe.set(self._k(t, "ledger", pid), entry.model_dump_json())
            self._queue_audit(pipe, by_tenant)
            await pipe.execute()

    async def get_proposal(self, tenant_id: str, proposal_id: str) -> Proposal | None:
        raw = await self._r.get(self._k(tenant_id, "prop", proposal_id))
        return None if raw is None else Proposal.model_validate_json(raw)

    async def _mget_proposals(self, keys: list[str]) -> list[Proposal]:
        if not keys:
            return []
        return [Proposal.model_validate_json(r) for r in await self._r.mget(keys) if r is not None]

    async def list_proposals(
        self,
        tenant_id: str,
        session_id: str | None = None,
        status: ProposalStatus | None = None,
    ) -> list[Proposal]:
        index = (
            self._k(tenant_id, "props")
            if session_id is None
            else self._k(tenant_id, "sprops", session_id)
        )
        pids = await self._r.zrange(index, 0, -1)
        keys = [self._k(tenant_id, "prop", _text(x)) for x in pids]
        found = [
            p
            for p in await self._mget_proposals(keys)
            if p.tenant_id == tenant_id
            and session_id in (None, p.session_id)
            and status in (None, p.status)
        ]
        return sorted(found, key=lambda p: (p.created_at, p.proposal_id), reverse=True)

    async def due_proposals(self, now: float) -> list[Proposal]:
        members = await self._r.zrangebyscore(f"{self._prefix}:due", "-inf", now)
        return await self._members(members)

    async def open_proposals(self) -> list[Proposal]:
        return await self._members(await self._r.zrange(f"{self._prefix}:open", 0, -1))

    async def confirmed_proposals(self, before: float) -> list[Proposal]:
        members = await self._r.zrangebyscore(f"{self._prefix}:confirmed", "-inf", before)
        return [p for p in await self._members(members) if p.status is ProposalStatus.CONFIRMED]

    async def _members(self, members: list[Any]) -> list[Proposal]:
        keys = []
        for m in members:
            tenant, pid = _text(m).split("|", 1)
            keys.append(":".join((self._prefix, "t", tenant, "prop", pid)))
        return [p for p in await self._mget_proposals(keys) if p.status in _OPEN]

    # exactly-once execution ledger
    async def ledger_claim(self, tenant_id: str, proposal_id: str, at: float) -> LedgerEntry | None:
        key = self._k(tenant_id, "ledger", proposal_id)
        claim = LedgerEntry(state=LedgerState.DISPATCHING, at=at).model_dump_json()
        old = await self._r.set(key, claim, nx=True, get=True)
        return None if old is None else _ledger_entry(old)

    async def ledger_put(self, tenant_id: str, proposal_id: str, entry: LedgerEntry) -> None:
        await self._r.set(self._k(tenant_id, "ledger", proposal_id), entry.model_dump_json())

    # tenant data
    async def data_read(self, tenant_id: str, name: str) -> tuple[int, Any]:
        version, raw = await self._auto.execute(
            "MGET", self._k(tenant_id, "dver", name), self._k(tenant_id, "data", name)
        )
        return (0 if version is None else int(version)), None if raw is None else orjson.loads(raw)

    async def data_update(self, tenant_id: str, name: str, key: str, change: Change) -> Any:
        doc_key, ver_key = self._k(tenant_id, "data", name), self._k(tenant_id, "dver", name)
        applied_key = self._k(tenant_id, "dkey", name, key)

        async def body(pipe: Pipeline) -> Any:
            await pipe.watch(doc_key, applied_key)
            # one MGET: a consistent snapshot, so `change` never judges a document
            # that already holds this key's effect (its error would escape before EXEC)
            prev, raw = await pipe.mget([applied_key, doc_key])
            if prev is not None:
                return orjson.loads(prev)
            new, result = change(None if raw is None else orjson.loads(raw))  # may raise
            doc_raw, result_raw = _dumps(new), _dumps(result)
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(doc_key, doc_raw)
            pipe.set(applied_key, result_raw)
            pipe.incr(ver_key)
            await pipe.execute()
            return result

        return await self._optimistic(body)

    async def data_applied(self, tenant_id: str, name: str, key: str) -> bool:
        return bool(await self._r.exists(self._k(tenant_id, "dkey", name, key)))

    # lifecycle
    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._auto.close()
        await self._r.aclose()


def _unavailable_when_down(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise Unavailable(
                f"the store is not reachable ({type(exc).__name__}); retry shortly"
            ) from exc

    return call


# Every public coroutine method of the store: the one place store errors are mapped.
for _name, _method in list(vars(RedisStore).items()):
    if not _name.startswith("_") and _name != "close" and inspect.iscoroutinefunction(_method):
        setattr(RedisStore, _name, _unavailable_when_down(_method))


def redis_url_from_env() -> str | None:
    return os.environ.get("REDIS_URL", "").strip() or None


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}***@{rest.rpartition('@')[2]}" if "@" in rest else url


def redis_client(url: str, wait: float = 5.0, max_connections: int = 128) -> aioredis.Redis:
    """A client whose pool makes callers wait for a free connection instead of failing
    (a burst of concurrent turns must queue, not error with MaxConnectionsError)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=20,
        socket_connect_timeout=wait,
        socket_timeout=30,  # a stalled server fails a call instead of hanging it
        health_check_interval=30,
    )
    # from_pool: the client owns the pool, so aclose() disconnects it (Redis(connection_pool=)
    # would not, leaking every socket past RedisStore.close())
    return aioredis.Redis.from_pool(pool)


async def connect_store(url: str, prefix: str = "orc", wait: float = 5.0) -> RedisStore:
    """A `RedisStore` on `url`; raises `Unavailable` when the server doesn't answer."""
    client = redis_client(url, wait)
    try:
        await asyncio.wait_for(client.ping(), wait)
    except (RedisError, OSError, TimeoutError) as exc:
        await client.aclose()
        raise Unavailable(f"the store at {_redact(url)} does not answer: {exc}") from exc
    return RedisStore(client, prefix)
