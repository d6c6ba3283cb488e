"""`create_app(backend, settings)`: the FastAPI gateway of API.md over one `Backend`."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from runtime import Backend, Settings

from .auth import Authenticator, RateLimiter
from .deps import GatewayContext
from .drain import Drain, sigterm_drains
from .errors import install_error_handlers
from .metrics import HttpMetrics
from .middleware import GatewayMiddleware
from .routes import agents, apidocs, keys, ops, proposals, sessions, ui

_NO_OTEL: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

Hook = Callable[[], Awaitable[None]]
Hooks = Hook | Sequence[Hook] | None

DESCRIPTION = """\
Orchestra runs tool-using AI agents for many businesses (tenants).

Every `/v1` call carries `Authorization: Bearer <key or session token>`: an
owner or staff key of a tenant, or an end user's session token (one session).
A missing, unknown, revoked or expired credential is a 401; another tenant's
resource, or one outside a session token's session, is a 404; a proposal the
caller may see but not approve is a 403. Errors are JSON:
`{"error": {"type": "<snake_case>", "message": "..."}}`. Each response carries
an `X-Request-ID` (the caller's, when it sends one).
"""


def _hooks(hooks: Hooks) -> list[Hook]:
    if hooks is None:
        return []
    if callable(hooks):
        return [hooks]
    return list(hooks)


def create_app(
    backend: Backend,
    settings: Settings,
    *,
    on_startup: Hooks = None,
    on_shutdown: Hooks = None,
    drain: Drain | None = None,
) -> FastAPI:
    """The gateway app. `on_startup`/`on_shutdown` run in the server's event loop.

    With a `drain` (a server process: `gateway.serve`), SIGTERM drains first
    (`gateway.drain`); without one, the app never touches signal handlers.
    """
    startup, shutdown = _hooks(on_startup), _hooks(on_shutdown)
    handles_sigterm = drain is not None
    drain = drain or Drain(settings.drain_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for hook in startup:
            await hook()
        # Everything built so far (imports, Ray, the app) lives as long as the
        # process: keep it out of the collector's full passes (shorter pauses).
        gc.freeze()
        try:
            if handles_sigterm:
                async with sigterm_drains(drain, settings.grace_s):
                    yield
            else:
                yield
        finally:
            for hook in reversed(shutdown):
                await hook()

    http_metrics = HttpMetrics()
    ctx = GatewayContext(
        backend=backend,
        settings=settings,
        auth=Authenticator(
            backend.authenticate,
            unknown_limiter=RateLimiter(
                settings.unknown_key_rate_per_s, settings.unknown_key_burst
            ),
        ),
        limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
        http_metrics=http_metrics,
        drain=drain,
    )
    app = FastAPI(
        title="Orchestra",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs is ours (routes/apidocs: Swagger UI from a package, offline, under the
        # CSP); FastAPI's own pages load their scripts from a CDN.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # Metrics are Prometheus (/metrics). FastAPI's native OpenTelemetry, which
        # checks the global OTel providers on every request, is on only when asked.
        telemetry=None if os.environ.get("ORCHESTRA_OTEL") == "1" else _NO_OTEL,
    )
    app.state.gateway = ctx
    install_error_handlers(app)
    app.include_router(sessions.build_router(settings))
    app.include_router(agents.router)
    app.include_router(proposals.router)
    app.include_router(ops.router)
    app.include_router(keys.router)
    app.include_router(ui.build_router())  # the web console at /ui (not in OpenAPI)
    app.include_router(apidocs.build_router())  # Swagger UI at /docs, offline
    app.add_middleware(
        GatewayMiddleware, max_body=settings.max_message_bytes, http_metrics=http_metrics
    )
    return app
