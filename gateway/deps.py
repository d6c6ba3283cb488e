"""The per-app context and the FastAPI dependencies every route uses.

Who may call what: `Caller` is any principal (a key or a session token);
`KeyHolder` an owner or staff key (a session token gets 404, as for a resource
of another tenant); `Owner` an owner key (staff get 403). `check_session` and
`check_proposal` hold a session token to its one (agent, subject): anything
else is 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from actors import annotate
from runtime import (
    Backend,
    CanOut,
    Forbidden,
    NotFound,
    Principal,
    RateLimited,
    Settings,
    Unauthorized,
)

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

# Documents the scheme in OpenAPI; the check itself is `require_principal`.
_bearer = HTTPBearer(
    auto_error=False, description="An API key (owner or staff) or an end-user session token."
)


async def require_principal(
    request: Request,
    ctx: Ctx,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller: 401 without a live key or token, 429 over the tenant's rate."""
    key = bearer_key(request.headers.get("authorization"))
    if key is None:
        raise Unauthorized("missing bearer token")
    client = request.client.host if request.client else ""
    who = await ctx.auth.principal_for(key, client)
    if who is None:
        raise Unauthorized("unknown, revoked or expired credential")
    annotate(tenant_id=who.tenant_id)  # on the request's span, with tracing on
    wait = ctx.limiter.acquire(who.tenant_id)
    if wait > 0:
        raise RateLimited("rate limit exceeded for this tenant", retry_after=wait)
    return who


Caller = Annotated[Principal, Depends(require_principal)]


async def require_key(caller: Caller) -> Principal:
    """An owner or staff key; a session token reaches nothing here (404)."""
    if caller.is_token:
        raise NotFound("not found")
    return caller


KeyHolder = Annotated[Principal, Depends(require_key)]


async def require_owner(caller: KeyHolder) -> Principal:
    if not caller.is_owner:
        raise Forbidden("owner only: a staff key cannot manage keys")
    return caller


Owner = Annotated[Principal, Depends(require_owner)]


def abilities(caller: Principal) -> CanOut:
    """What `caller` may reach, by the same rules as `require_key` and `require_owner`
    (`GET /v1/me`'s `can`: a client lays itself out by it)."""
    key = not caller.is_token
    return {"list_sessions": key, "list_inbox": key, "manage_keys": key and caller.is_owner}


async def require_tenant(caller: KeyHolder) -> str:
    """The tenant of an owner or staff key (routes a session token never reaches)."""
    return caller.tenant_id


Tenant = Annotated[str, Depends(require_tenant)]


async def check_session(ctx: GatewayContext, caller: Principal, session_id: str) -> None:
    """A session token reaches only its own (agent, subject)'s sessions: else 404."""
    if caller.is_token:
        party = await ctx.backend.session_party(caller.tenant_id, session_id)
        if party is None or not caller.sees(*party):
            raise NotFound(f"session {session_id} not found")


async def check_proposal(ctx: GatewayContext, caller: Principal, proposal_id: str) -> None:
    """A session token reaches only its own sessions' proposals: else 404."""
    if caller.is_token:
        party = await ctx.backend.proposal_party(caller.tenant_id, proposal_id)
        if party is None or not caller.sees(*party):
            raise NotFound(f"proposal {proposal_id} not found")
