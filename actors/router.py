"""`SessionRouter`: the gateway's client for session actors.

Routes a session id to its actor: in `hosted` placement by rendezvous
hashing over the live `SessionHost`s, in `dedicated` placement to a named
actor per session (get-or-create, race-free). Operations bound for one actor
are micro-batched: everything submitted while the previous call to that actor
is busy travels in the next Ray call, tagged with a per-caller sequence number
the host dispatches in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from typing import Any

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

from runtime.errors import Unavailable
from runtime.logs import REQUEST_ID
from runtime.settings import Settings

from .common import HOST_PREFIX, SESSION_PREFIX, Envelope, host_name, unwrap
from .host import Op, SessionHost


class Batcher:
    """Batches operations for one actor.

    An operation leaves at once when no call to the actor is in flight;
    otherwise it waits for the next call, which leaves when a call comes back
    or when the oldest waiting operation has waited `max_wait_s`, whichever
    is first. Under load one Ray call so carries many messages (DESIGN,
    Performance budget), and a call stuck on a slow model or tool delays the
    messages behind it by `max_wait_s` at most.
    """

    def __init__(self, handle: Any, max_wait_s: float = 0.05) -> None:
        self.handle = handle
        self.caller = uuid.uuid4().hex
        self.max_wait_s = max_wait_s
        self.calls = 0  # Ray calls made (tests and stats read it)
        self._seq = 0
        self._open: set[int] = set()  # seqs sent and not yet answered
        self._queue: list[tuple[Op, asyncio.Future[Envelope]]] = []
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, op: Op) -> asyncio.Future[Envelope]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Envelope] = loop.create_future()
        if not self._queue and self._open:  # the first to wait: start its clock
            self._timer = loop.call_later(self.max_wait_s, self._send)
        self._queue.append((op, fut))
        if not self._scheduled and not self._open:
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False
        if not self._open:
            self._send()

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._queue:
            return
        batch, self._queue = self._queue, []
        seq, self._seq = self._seq, self._seq + 1
        self.calls += 1
        self._open.add(seq)
        ref = self.handle.run.remote(self.caller, seq, [op for op, _ in batch], min(self._open))
        task = asyncio.get_running_loop().create_task(self._deliver(seq, ref, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, seq: int, ref: Any, batch: list[tuple[Op, asyncio.Future[Envelope]]]
    ) -> None:
        try:
            results: list[Envelope] = await ref
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
        except (RayActorError, ActorUnavailableError, ActorDiedError) as exc:
            # The actor died or is restarting mid-call: each op either finished
            # (its turn was saved) or never ran; none is retried blindly.
            error: Envelope = (
                False,
                ("unavailable", f"session host unavailable ({type(exc).__name__}); retry"),
            )
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(error)
        except Exception as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_result((False, ("internal", type(exc).__name__)))
        finally:
            self._open.discard(seq)
            self._send()  # what waited for this call goes now


HOST_REFRESH_S = 10.0
SEND_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)  # ~4 s: a restarting host comes back in ~1-2 s


def rendezvous(key: str, nodes: list[str]) -> str:
    """Highest-random-weight choice: stable, and moves few keys when nodes change."""
    return max(nodes, key=lambda n: hashlib.blake2b(f"{n}|{key}".encode(), digest_size=8).digest())


class SessionRouter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._batchers: dict[str, Batcher] = {}
        self._resolving: dict[str, asyncio.Future[Batcher]] = {}
        self.hosts: list[str] = [host_name(i) for i in range(settings.hosts)]
        self._refreshed = time.monotonic()
        self._refreshing: asyncio.Task[list[str]] | None = None

    def refresh_hosts(self) -> list[str]:
        """Re-read the live hosts (new ones join the hash ring)."""
        found = sorted(
            a["name"]
            for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == self.settings.namespace and a["name"].startswith(HOST_PREFIX)
        )
        if found:
            self.hosts = found
        return self.hosts

    def _maybe_refresh(self) -> None:
        """Every 10 s, re-read the hosts in the background (scale-out joins the ring)."""
        if self.settings.placement != "hosted" or self._refreshing is not None:
            return
        if time.monotonic() - self._refreshed < HOST_REFRESH_S:
            return
        self._refreshed = time.monotonic()
        task = asyncio.ensure_future(asyncio.to_thread(self.refresh_hosts))
        self._refreshing = task

        def done(t: asyncio.Task[list[str]]) -> None:
            self._refreshing = None
            if not t.cancelled():
                t.exception()  # a failed refresh keeps the old ring

        task.add_done_callback(done)

    def actor_name(self, session_id: str) -> str:
        if self.settings.placement == "dedicated":
            return SESSION_PREFIX + session_id
        return rendezvous(session_id, self.hosts)

    async def _batcher(self, name: str) -> Batcher:
        """The actor's batcher. Callers resume in call order (one shared future),
        so the order of their submissions is their arrival order."""
        batcher = self._batchers.get(name)
        if batcher is not None:
            return batcher
        pending = self._resolving.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._resolve(name))
            self._resolving[name] = pending
            pending.add_done_callback(lambda _: self._resolving.pop(name, None))
        return await asyncio.shield(pending)

    async def _resolve(self, name: str) -> Batcher:
        if name.startswith(SESSION_PREFIX):
            handle = await asyncio.to_thread(self._dedicated, name)
        else:
            handle = await asyncio.to_thread(ray.get_actor, name, namespace=self.settings.namespace)
        return self._batchers.setdefault(name, Batcher(handle))

    def _dedicated(self, name: str) -> Any:
        return SessionHost.options(  # type: ignore[attr-defined]
            name=name,
            namespace=self.settings.namespace,
            lifetime="detached",
            get_if_exists=True,
        ).remote(self.settings.model_dump(), "dedicated")

    async def call(self, session_id: str, op: Op) -> Any:
        self._maybe_refresh()
        name = self.actor_name(session_id)
        try:
            batcher = await self._batcher(name)
        except ValueError as exc:  # no such actor (yet): not started or being replaced
            raise Unavailable(f"session host {name} is not available", retry_after=1.0) from exc
        return unwrap(await batcher.submit(op))

    async def send(
        self, tenant_id: str, session_id: str, text: str, message_id: str | None = None
    ) -> dict[str, Any]:
        """Send one message. With a `message_id` the host dedupes, so a message whose
        host died mid-turn is retried (with backoff) instead of failing: it runs
        once whether or not the dead host had saved it."""
        op = ("send", REQUEST_ID.get(), tenant_id, session_id, text, message_id or "")
        delays = SEND_RETRY_DELAYS if message_id else ()
        for delay in delays:
            try:
                result: dict[str, Any] = await self.call(session_id, op)
                return result
            except Unavailable:
                await asyncio.sleep(delay)
        result = await self.call(session_id, op)
        return result

    async def info(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        try:
            op = ("info", REQUEST_ID.get(), tenant_id, session_id)
            result: dict[str, Any] = await self.call(session_id, op)
        except Unavailable:  # reads are idempotent: one retry once the host is back
            await asyncio.sleep(0.5)
            result = await self.call(session_id, op)
        return result

    async def close(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        op = ("close", REQUEST_ID.get(), tenant_id, session_id)
        result: dict[str, Any] = await self.call(session_id, op)
        if self.settings.placement == "dedicated":
            batcher = self._batchers.pop(self.actor_name(session_id), None)
            if batcher is not None:
                ray.kill(batcher.handle, no_restart=True)
        return result

    def handles(self) -> list[Any]:
        return [b.handle for b in self._batchers.values()]
