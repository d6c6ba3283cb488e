"""The per-app context and the FastAPI dependencies every route uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from actors import annotate
from runtime import Backend, RateLimited, Settings, Unauthorized

from .auth import Authenticator, RateLimiter, bearer_key
from .drain import Drain
from .metrics import HttpMetrics


@dataclass
class GatewayContext:
    backend: Backend
    settings: Settings
    auth: Authenticator
    limiter: RateLimiter
    http_metrics: HttpMetrics
    drain: Drain


async def context_of(request: Request) -> GatewayContext:
    return cast(GatewayContext, request.app.state.gateway)


Ctx = Annotated[GatewayContext, Depends(context_of)]

# Documents the scheme in OpenAPI; the check itself is `require_tenant`.
_bearer = HTTPBearer(auto_error=False, description="A tenant API key.")


async def require_tenant(
    request: Request,
    ctx: Ctx,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller's tenant id: 401 without a known key, 429 over the tenant's rate."""
    key = bearer_key(request.headers.get("authorization"))
    if key is None:
        raise Unauthorized("missing bearer token")
    client = request.client.host if request.client else ""
    tenant = await ctx.auth.tenant_for(key, client)
    if tenant is None:
        raise Unauthorized("unknown API key")
    annotate(tenant_id=tenant)  # on the request's span, with tracing on
    wait = ctx.limiter.acquire(tenant)
    if wait > 0:
        raise RateLimited("rate limit exceeded for this tenant", retry_after=wait)
    return tenant


Tenant = Annotated[str, Depends(require_tenant)]
