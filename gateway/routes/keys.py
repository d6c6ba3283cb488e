"""Principals: keys (/v1/keys, owner only) and end-user session tokens (/v1/session-tokens).

A key is shown once, when made (or rotated); lists never carry secrets. A
revoked key is dropped from this gateway's cache at once and refused by every
other gateway within its cache lifetime (`gateway.auth.KNOWN_TTL_S`).
"""

# No `from __future__ import annotations`: FastAPI reads the body models' types.

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.responses import Response
from typing_extensions import TypedDict

from runtime import MAX_TOKEN_TTL_S, BadRequest, CanOut, KeyOut, TokenOut, hash_key

from ..deps import Caller, Ctx, KeyHolder, Owner, abilities
from ..responses import FastJSON
from ..schemas import AGENT_DOC, COMMON_ERRORS, error_responses

router = APIRouter(tags=["principals"])

KeyId = Annotated[str, Path(min_length=1, max_length=100, description="A key id (`k_...`).")]


class KeyCreate(BaseModel):
    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"\S",
        description="The principal the key belongs to (a person or a system).",
    )
    role: Literal["owner", "staff"] = Field(
        description="`owner`: everything, keys included; `staff`: every session, approvals."
    )


class KeyMade(KeyOut):
    key: Annotated[str, Field(description="The key: shown this once, never again.")]


class KeyList(TypedDict):
    keys: list[KeyOut]


class TokenCreate(BaseModel):
    agent: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description=AGENT_DOC
    )
    subject: str = Field(min_length=1, max_length=200, description="The end user it is for.")
    ttl_s: int = Field(default=3600, ge=1, le=MAX_TOKEN_TTL_S, description="Lifetime in seconds.")


class TokenRevoke(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class Revoked(TypedDict):
    revoked: bool


class MeOut(TypedDict):
    principal: Annotated[str, Field(description="The caller's name (a subject's: its id).")]
    role: Literal["owner", "staff", "subject"]
    agent: Annotated[str | None, Field(description="A session token's agent.")]
    subject: Annotated[str | None, Field(description="A session token's subject.")]
    expires_at: Annotated[float | None, Field(description="A session token's expiry.")]
    can: Annotated[CanOut, Field(description="What the caller may reach.")]


@router.get(
    "/v1/me",
    response_model=MeOut,
    summary="Who the caller is: a key's principal and role, or a session token's binding",
    responses=error_responses(*COMMON_ERRORS),
)
async def me(caller: Caller) -> Response:
    return FastJSON(
        {
            "principal": caller.name,
            "role": caller.role,
            "agent": caller.agent or None,
            "subject": caller.subject or None,
            "expires_at": caller.expires_at,
            "can": abilities(caller),
        }
    )


@router.post(
    "/v1/keys",
    response_model=KeyMade,
    status_code=201,
    summary="Make a key for a named principal (owner only); the key is shown once",
    description=("A name already held by a principal of another role is a 409. Staff keys: 403."),
    responses=error_responses(403, 409, *COMMON_ERRORS),
)
async def create_key(body: KeyCreate, ctx: Ctx, caller: Owner) -> Response:
    out, key = await ctx.backend.create_key(caller.tenant_id, body.name, body.role)
    return FastJSON({**out, "key": key}, status_code=201)


@router.get(
    "/v1/keys",
    response_model=KeyList,
    summary="The tenant's live keys, without secrets (owner only)",
    responses=error_responses(403, *COMMON_ERRORS),
)
async def list_keys(ctx: Ctx, caller: Owner) -> Response:
    return FastJSON({"keys": await ctx.backend.list_keys(caller.tenant_id)})


@router.delete(
    "/v1/keys/{key_id}",
    response_model=Revoked,
    summary="Revoke a key: 401 on every gateway within 2 s (owner only)",
    responses=error_responses(403, 404, *COMMON_ERRORS),
)
async def revoke_key(key_id: KeyId, ctx: Ctx, caller: Owner) -> Response:
    ctx.auth.forget(await ctx.backend.revoke_key(caller.tenant_id, key_id))
    return FastJSON({"revoked": True})


@router.post(
    "/v1/keys/{key_id}/rotate",
    response_model=KeyMade,
    status_code=201,
    summary="A new key for the same principal; the old one is revoked (owner only)",
    responses=error_responses(403, 404, *COMMON_ERRORS),
)
async def rotate_key(key_id: KeyId, ctx: Ctx, caller: Owner) -> Response:
    out, key, old_hash = await ctx.backend.rotate_key(caller.tenant_id, key_id)
    ctx.auth.forget(old_hash)
    return FastJSON({**out, "key": key}, status_code=201)


@router.post(
    "/v1/session-tokens",
    response_model=TokenOut,
    status_code=201,
    summary="A short-lived token for one end user of one agent (owner or staff)",
    description=(
        "The token opens `POST /v1/sessions` for that agent and subject and every call on "
        "that session; anything else answers 404, and once expired or revoked, 401."
    ),
    responses=error_responses(*COMMON_ERRORS),
)
async def mint_token(body: TokenCreate, ctx: Ctx, caller: KeyHolder) -> Response:
    agents = {a["name"] for a in await ctx.backend.list_agents(caller.tenant_id)}
    if body.agent not in agents:
        raise BadRequest(f"unknown agent {body.agent!r}")
    out = await ctx.backend.mint_token(
        caller.tenant_id, body.agent, body.subject, body.ttl_s, caller.name
    )
    return FastJSON(out, status_code=201)


@router.post(
    "/v1/session-tokens/revoke",
    response_model=Revoked,
    summary="Revoke a session token (owner or staff): 401 with it from then on",
    responses=error_responses(*COMMON_ERRORS),
)
async def revoke_token(body: TokenRevoke, ctx: Ctx, caller: KeyHolder) -> Response:
    revoked = await ctx.backend.revoke_token(caller.tenant_id, body.token)
    if revoked:
        ctx.auth.forget(hash_key(body.token))
    return FastJSON({"revoked": revoked})
