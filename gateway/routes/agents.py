"""The deployment's agents (/v1/agents): what a client may open a session with."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ..deps import Ctx, Tenant
from ..responses import FastJSON
from ..schemas import COMMON_ERRORS, AgentList, error_responses

router = APIRouter(prefix="/v1/agents", tags=["sessions"])


@router.get(
    "",
    response_model=AgentList,
    summary=(
        "The agents of this deployment (built-in and configured), in catalog order, "
        "each with its preset and its tools"
    ),
    responses=error_responses(*COMMON_ERRORS),
)
async def list_agents(ctx: Ctx, tenant: Tenant) -> Response:
    return FastJSON({"agents": await ctx.backend.list_agents(tenant)})
