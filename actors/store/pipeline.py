"""`AutoPipeline`: commands from concurrent coroutines share one round trip.

A session host runs many turns at once; each turn reads the business snapshot
and writes its turn. Sent one by one, every command pays a full redis-py
round trip (pool checkout, timeout, send, parse): about 300 µs of CPU per
turn. Queued here instead, every command issued within one event-loop
iteration leaves in one non-transactional pipeline, and each caller gets its
own reply (or its own error) back: about 80 µs per turn
(`python -m loadtests.bench` shows the effect on the full path).

Only single commands go through it; a command that must be atomic with
others is one Lua script (`EVALSHA`), which Redis runs atomically anyway.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

Arg: TypeAlias = str | bytes | int | float  # what a Redis command takes


class AutoPipeline:
    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client
        self._pending: list[tuple[tuple[Arg, ...], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.round_trips = 0  # pipelines sent (tests read it)

    def submit(self, *args: Arg) -> asyncio.Future[Any]:
        """Queue one command; it leaves with every other command queued this iteration."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((args, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    async def execute(self, *args: Arg) -> Any:
        """Run one command (see `submit`)."""
        return await self.submit(*args)

    async def script(self, sha: str, source: str, keys: list[str], args: list[Arg]) -> Any:
        """`EVALSHA`, loading the script once if the server does not know it (a fresh
        or restarted server): a script is atomic, so it is one command here."""
        try:
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self._r.eval(source, len(keys), *keys, *args)

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[tuple[Arg, ...], asyncio.Future[Any]]]) -> None:
        self.round_trips += 1
        try:
            async with self._r.pipeline(transaction=False) as pipe:
                for args, _ in batch:
                    pipe.execute_command(*args)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the connection failed: every caller sees it
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (_, fut), reply in zip(batch, replies, strict=True):
            if fut.done():  # the caller gave up (cancelled)
                continue
            if isinstance(reply, Exception):
                fut.set_exception(reply)
            else:
                fut.set_result(reply)

    async def close(self) -> None:
        """Wait for pipelines under way (their callers are waiting for them too)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
