"""Proposals: list, get, confirm, reject (/v1/proposals...)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from runtime import NotFound, ProposalStatus

from ..deps import Caller, Ctx, check_proposal, check_session
from ..responses import FastJSON
from ..schemas import COMMON_ERRORS, ProposalList, ProposalOut, error_responses

router = APIRouter(prefix="/v1/proposals", tags=["proposals"])

ProposalId = Annotated[str, Path(min_length=1, max_length=200, description="A proposal id.")]


@router.get(
    "",
    response_model=ProposalList,
    summary="The tenant's proposals, newest first",
    description=(
        "`can_approve=me`: only those the caller may confirm now (its inbox). A session "
        "token lists its own session's proposals only, with `session_id` (404 otherwise)."
    ),
    responses=error_responses(404, *COMMON_ERRORS),
)
async def list_proposals(
    ctx: Ctx,
    caller: Caller,
    session_id: Annotated[
        str | None, Query(max_length=200, description="Only this session's proposals.")
    ] = None,
    status: Annotated[ProposalStatus | None, Query(description="Only this status.")] = None,
    can_approve: Annotated[
        Literal["me"] | None, Query(description="`me`: only those the caller may confirm now.")
    ] = None,
) -> Response:
    if caller.is_token:
        if not session_id:
            raise NotFound("a session token lists its own session's proposals only")
        await check_session(ctx, caller, session_id)
    found = await ctx.backend.list_proposals(
        caller.tenant_id, session_id or None, status, caller.actor(), can_approve == "me"
    )
    return FastJSON({"proposals": found})


@router.get(
    "/{proposal_id}",
    response_model=ProposalOut,
    summary="One proposal",
    responses=error_responses(404, *COMMON_ERRORS),
)
async def get_proposal(proposal_id: ProposalId, ctx: Ctx, caller: Caller) -> Response:
    await check_proposal(ctx, caller, proposal_id)
    return FastJSON(await ctx.backend.get_proposal(caller.tenant_id, proposal_id, caller.actor()))


@router.post(
    "/{proposal_id}/confirm",
    response_model=ProposalOut,
    summary="Confirm a PENDING proposal; the proposal after execution (EXECUTED or FAILED)",
    description=(
        "A proposal that is not PENDING is a 409 `invalid_transition` whose error carries "
        "its current `status`. Confirming twice, or concurrently, executes it once. A "
        "caller the proposal's policy does not allow: 403 `forbidden`, naming who may; a "
        "second approval by one principal: 409 `already_approved`. Below the policy's "
        "quorum: 200 with the proposal still PENDING, its `approvals` and `needs`."
    ),
    responses=error_responses(403, 404, 409, *COMMON_ERRORS),
)
async def confirm(proposal_id: ProposalId, ctx: Ctx, caller: Caller) -> Response:
    await check_proposal(ctx, caller, proposal_id)
    return FastJSON(await ctx.backend.confirm(caller.tenant_id, proposal_id, caller.actor()))


@router.post(
    "/{proposal_id}/reject",
    response_model=ProposalOut,
    summary="Reject a PENDING proposal (409 if not PENDING, 403 if the policy does not allow)",
    responses=error_responses(403, 404, 409, *COMMON_ERRORS),
)
async def reject(proposal_id: ProposalId, ctx: Ctx, caller: Caller) -> Response:
    await check_proposal(ctx, caller, proposal_id)
    return FastJSON(await ctx.backend.reject(caller.tenant_id, proposal_id, caller.actor()))
