"""One MCP client session per server per process: opened on first use, kept open.

The session hosts and the proposal registry (separate processes) build their
MCP tools from infos discovered once (`runtime.tools.mcp`), without
connecting. The first call in a process opens a session (`mcp.Client`:
streamable HTTP for `url`, a spawned child for `command`); later calls share
it, concurrently. A session that fails (the server went away, the child
died) is dropped and the next call opens a new one.

The SDK's client runs on anyio task groups, which must be entered and left in
the same task: an owner task holds the session open (`_hold`) while callers,
in their own tasks, send requests through it. A session belongs to the event
loop that opened it; a call from another loop opens another
(`close_sessions()` closes the running loop's, at shutdown and in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import mcp.types as types
from mcp import Client, StdioServerParameters
from mcp.client import Transport
from mcp.client.streamable_http import streamable_http_client

from runtime.config.file import McpSection

from ..errors import ConfigError
from .endpoints import guard_library_logs, redact
from .envrefs import resolve_env_refs

log = logging.getLogger(__name__)

CLIENT_INFO = types.Implementation(name="orchestra", version="0.1.0")
SSE_READ_S = 300.0  # an HTTP server may hold a response stream open this long


def reason(exc: BaseException) -> str:
    """The first leaf of an exception (groups included), as `Type: message`."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def not_delivered(exc: BaseException | None) -> bool:
    """The session failed to connect (nothing sent), rather than mid-request."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout)


def resolved(where: str, section: McpSection) -> tuple[dict[str, str], dict[str, str]]:
    """The section's `headers` and `env` with `env:VAR` values read (`ConfigError`
    if one is not set)."""
    headers = resolve_env_refs(f"{where}.headers", section.headers)
    return headers, resolve_env_refs(f"{where}.env", section.env)


@contextlib.asynccontextmanager
async def connected(where: str, section: McpSection) -> AsyncIterator[Client]:
    """An open `mcp.Client` for `section`: no response cache, the call timeout as
    its read timeout, `headers` on every HTTP request, `env` over the SDK's
    default environment of a stdio child (which does not inherit ours)."""
    timeout_s = section.timeout_ms / 1000
    headers, env = resolved(where, section)
    async with contextlib.AsyncExitStack() as stack:
        server: Transport | StdioServerParameters
        if section.url is not None:
            timeout = httpx2.Timeout(timeout_s, read=max(timeout_s, SSE_READ_S))
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=headers, timeout=timeout)
            )
            server = streamable_http_client(section.url, http_client=http)
        elif section.command is not None:
            server = StdioServerParameters(command=section.command, args=section.args, env=env)
        else:
            raise ConfigError(f"{where}: give the server a `url` or a `command`")
        client = Client(server, cache=None, client_info=CLIENT_INFO, read_timeout_seconds=timeout_s)
        yield await stack.enter_async_context(client)


@dataclass
class _Held:
    """One opened session: its client, the task holding it open, and how it ended."""

    owner: asyncio.Task[None]
    stop: asyncio.Event
    client: Client | None = None
    failure: BaseException | None = None


class McpSession:
    """The process's session to one server (see the module docstring)."""

    def __init__(self, where: str, section: McpSection) -> None:
        resolved(where, section)  # a missing env: variable fails the build, not a call
        guard_library_logs()
        self.where = where
        self.section = section
        self.opened = 0  # sessions opened so far (one, unless one failed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._held: _Held | None = None

    def clean(self, text: str) -> str:
        """`text` naming the server's URL by its endpoint only."""
        return redact(text, self.section.url)

    async def client(self) -> Client:
        """The open session's client, opening one if there is none (errors: the
        SDK's or the transport's, as raised while connecting)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a session (and its lock) belongs to one loop
            self._loop, self._lock, self._held = loop, asyncio.Lock(), None
        async with self._lock:
            held = self._held
            if held is None or held.client is None or held.owner.done():
                held = self._held = await self._open(loop)
            assert held.client is not None
            return held.client

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Held:
        ready: asyncio.Future[Client] = loop.create_future()
        stop = asyncio.Event()
        held = _Held(loop.create_task(self._hold(ready, stop), name=self.where), stop)
        held.owner.add_done_callback(lambda task: _note_end(held, task))
        try:
            held.client = await ready
        except BaseException:
            held.owner.cancel()
            raise
        self.opened += 1
        return held

    async def _hold(self, ready: asyncio.Future[Client], stop: asyncio.Event) -> None:
        try:
            async with connected(self.where, self.section) as client:
                ready.set_result(client)
                await stop.wait()
        except Exception as exc:
            if ready.done():
                log.warning("%s: the MCP session ended: %s", self.where, self.clean(reason(exc)))
                raise
            ready.set_exception(exc)
        finally:
            if not ready.done():
                ready.cancel()

    async def lost(self, client: Client) -> BaseException | None:
        """A call on `client` got `Connection closed`: drop its session (the next
        call opens another) and say why it ended, when known."""
        held = self._held
        if held is None or held.client is not client:
            return None
        self._held = None
        if not held.owner.done():
            held.stop.set()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(held.owner), 1.0)
        return held.failure

    async def aclose(self) -> None:
        held, self._held = self._held, None
        if held is None or held.owner.done():
            return
        held.stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(held.owner), 5.0)
        except Exception:
            held.owner.cancel()
            with contextlib.suppress(BaseException):
                await held.owner


def _note_end(held: _Held, task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        held.failure = task.exception()


_SESSIONS: dict[str, McpSession] = {}


def session_for(name: str, section: McpSection) -> McpSession:
    """The process's one session object for server `name` (as configured)."""
    key = f"{name}\0{section.model_dump_json()}"
    found = _SESSIONS.get(key)
    if found is None:
        found = _SESSIONS[key] = McpSession(f"mcp.{name}", section)
    return found


async def close_sessions() -> None:
    """Close the sessions open in the running loop (at shutdown, in tests)."""
    loop = asyncio.get_running_loop()
    for session in list(_SESSIONS.values()):
        if session._loop is loop:
            await session.aclose()
