"""One pure-ASGI middleware for every HTTP request of the gateway.

- request id: `X-Request-ID` in (when well-formed) or a new one, echoed out;
- body limit: a body over `max_body` bytes is a 413, decided on the raw
  bytes before anything parses them (by `Content-Length`, then by counting
  what arrives, so chunked uploads are held to the same limit);
- HTTP metrics by route template;
- with tracing on, a server span per request (`{method} {route}`), continuing
  an incoming W3C `traceparent`;
- the guard: an exception nobody handled becomes a generic 500 JSON error
  (logged here with its trace; the client never sees one).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actors import request_span, tracing_enabled
from runtime import REQUEST_ID, BadRequest, OrchestraError, TooLarge, log_event

from .errors import orchestra_error_response
from .metrics import HttpMetrics

log = logging.getLogger("orchestra.gateway")

REQUEST_ID_HEADER = "X-Request-ID"
_RID_OK = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# New request ids: a random per-process prefix and a counter (unique across
# replicas and restarts, and a tenth of uuid4's cost on every request).
_RID_PREFIX = os.urandom(8).hex()
_RID_COUNTER = itertools.count(1)


def fresh_id() -> str:
    """A new id, unique across processes (32 hex characters)."""
    return f"{_RID_PREFIX}{next(_RID_COUNTER):016x}"


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1").strip()
            if _RID_OK.match(text):
                return text
            break
    return fresh_id()


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class _TooLarge(Exception):
    pass


class _BadLength(Exception):
    pass


async def _read_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, list[Message]]:
    """The whole body (<= limit bytes) and any non-body message received meanwhile."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError as exc:
                raise _BadLength from exc
            if declared < 0:
                raise _BadLength
            if declared > limit:
                raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]  # e.g. http.disconnect
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), []


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int, http_metrics: HttpMetrics) -> None:
        self.app = app
        self.max_body = max_body
        self.http_metrics = http_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope)
        REQUEST_ID.set(rid)  # follows the message into the actors (runtime.logs)
        scope.setdefault("state", {})["request_id"] = rid
        method: str = scope.get("method", "GET")
        if not tracing_enabled():
            await self._serve(scope, receive, send, rid, method)
            return
        # tracing on: the request's span, a child of an incoming `traceparent`
        with request_span(method, scope.get("headers", ())) as span:
            status = await self._serve(scope, receive, send, rid, method)
            span.update_name(f"{method} {route_template(scope)}")
            span.set_attribute("http.route", route_template(scope))
            span.set_attribute("http.response.status_code", status)
            span.set_attribute("orchestra.request_id", rid)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, rid: str, method: str
    ) -> int:
        """Serve the request; its status (500 when it failed before answering)."""
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        t0 = time.perf_counter()
        try:
            inner_receive = receive
            if method not in _NO_BODY:
                try:
                    body, pending = await _read_body(scope, receive, self.max_body)
                except _TooLarge:
                    response = orchestra_error_response(
                        TooLarge(f"request body over {self.max_body} bytes")
                    )
                    response.headers["Connection"] = "close"
                    await response(scope, receive, send_with_id)
                    return status
                except _BadLength:
                    response = orchestra_error_response(BadRequest("invalid Content-Length"))
                    await response(scope, receive, send_with_id)
                    return status
                inner_receive = _replay(body, pending, receive)
            await self.app(scope, inner_receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s (request %s)", method, scope.get("path"), rid)
            if started:
                raise  # the response is under way; the server closes the connection
            response = orchestra_error_response(
                OrchestraError(f"internal error (request id {rid})")
            )
            await response(scope, receive, send_with_id)
        finally:
            ms = (time.perf_counter() - t0) * 1000
            route = route_template(scope)
            self.http_metrics.observe(method, route, status, ms)
            log_event("http", method=method, route=route, status=status, ms=round(ms, 3))
        return status


def _replay(body: bytes, pending: list[Message], receive: Receive) -> Receive:
    """A `receive` that hands out the buffered body once, then defers to the server."""
    queue: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    queue.extend(pending)

    async def replay() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replay
