"""Proposals: list, get, confirm, reject (/v1/proposals...)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from runtime import ProposalStatus

from ..deps import Ctx, Tenant
from ..responses import FastJSON
from ..schemas import COMMON_ERRORS, ProposalList, ProposalOut, error_responses

router = APIRouter(prefix="/v1/proposals", tags=["proposals"])

ProposalId = Annotated[str, Path(min_length=1, max_length=200, description="A proposal id.")]


@router.get(
    "",
    response_model=ProposalList,
    summary="The tenant's proposals, newest first",
    responses=error_responses(*COMMON_ERRORS),
)
async def list_proposals(
    ctx: Ctx,
    tenant: Tenant,
    session_id: Annotated[
        str | None, Query(max_length=200, description="Only this session's proposals.")
    ] = None,
    status: Annotated[ProposalStatus | None, Query(description="Only this status.")] = None,
) -> Response:
    found = await ctx.backend.list_proposals(tenant, session_id or None, status)
    return FastJSON({"proposals": found})


@router.get(
    "/{proposal_id}",
    response_model=ProposalOut,
    summary="One proposal",
    responses=error_responses(404, *COMMON_ERRORS),
)
async def get_proposal(proposal_id: ProposalId, ctx: Ctx, tenant: Tenant) -> Response:
    return FastJSON(await ctx.backend.get_proposal(tenant, proposal_id))


@router.post(
    "/{proposal_id}/confirm",
    response_model=ProposalOut,
    summary="Confirm a PENDING proposal; the proposal after execution (EXECUTED or FAILED)",
    description=(
        "A proposal that is not PENDING is a 409 `invalid_transition` whose error carries "
        "its current `status`. Confirming twice, or concurrently, executes it once."
    ),
    responses=error_responses(404, 409, *COMMON_ERRORS),
)
async def confirm(proposal_id: ProposalId, ctx: Ctx, tenant: Tenant) -> Response:
    return FastJSON(await ctx.backend.confirm(tenant, proposal_id))


@router.post(
    "/{proposal_id}/reject",
    response_model=ProposalOut,
    summary="Reject a PENDING proposal (409 if not PENDING)",
    responses=error_responses(404, 409, *COMMON_ERRORS),
)
async def reject(proposal_id: ProposalId, ctx: Ctx, tenant: Tenant) -> Response:
    return FastJSON(await ctx.backend.reject(tenant, proposal_id))
