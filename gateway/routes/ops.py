"""Operations: /healthz, /readyz, /metrics (no auth) and /v1/audit."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from runtime import RETRY_NOT_READY_S, NotFound, Unavailable

from ..deps import Caller, Ctx, check_session
from ..errors import orchestra_error_response
from ..metrics import CONTENT_TYPE, merge_expositions
from ..responses import FastJSON
from ..schemas import COMMON_ERRORS, AuditList, StatusOut, error_responses

router = APIRouter()
log = logging.getLogger("orchestra.gateway")

READY_TIMEOUT_S = 2.0
METRICS_TIMEOUT_S = 5.0


@router.get("/healthz", response_model=StatusOut, tags=["ops"], summary="The process is up")
async def healthz() -> Response:
    return FastJSON({"status": "ok"})


@router.get(
    "/readyz",
    response_model=StatusOut,
    tags=["ops"],
    summary="Ready when the runtime (Ray, store) is reachable and the process is not draining",
    responses=error_responses(503),
)
async def readyz(ctx: Ctx) -> Response:
    if ctx.drain.draining:  # SIGTERM: out of rotation, still serving (gateway/drain.py)
        return orchestra_error_response(
            Unavailable(
                "not ready: this gateway is draining before it stops",
                retry_after=ctx.drain.retry_after_s(),
            )
        )
    try:
        ready = await asyncio.wait_for(ctx.backend.ready(), READY_TIMEOUT_S)
    except Exception as exc:
        log.warning("readiness check failed: %s", type(exc).__name__)
        ready = False
    if ready:
        return FastJSON({"status": "ready"})
    return orchestra_error_response(
        Unavailable("not ready: the runtime is unreachable", retry_after=RETRY_NOT_READY_S)
    )


@router.get(
    "/metrics",
    tags=["ops"],
    summary="Prometheus metrics of the whole cluster plus this gateway",
    response_class=Response,
    responses=error_responses(
        503, extra={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}}
    ),
)
async def metrics(ctx: Ctx) -> Response:
    """A backend that cannot be scraped still leaves this gateway's own metrics
    (with `orchestra_gateway_backend_metrics_up 0`), so the scrape itself succeeds."""
    try:
        texts = list(await asyncio.wait_for(ctx.backend.metrics_texts(), METRICS_TIMEOUT_S))
        ctx.http_metrics.backend_up.set(1)
    except Exception as exc:
        log.warning("could not collect runtime metrics: %s", type(exc).__name__)
        texts = []
        ctx.http_metrics.backend_up.set(0)
    texts.append(ctx.http_metrics.exposition())
    return Response(merge_expositions(texts), media_type=CONTENT_TYPE)


@router.get(
    "/v1/audit",
    response_model=AuditList,
    tags=["audit"],
    summary="The tenant's audit events, oldest first",
    description="A session token reads its own session's events only, with `session_id`.",
    responses=error_responses(404, *COMMON_ERRORS),
)
async def audit(
    ctx: Ctx,
    caller: Caller,
    session_id: Annotated[
        str | None, Query(max_length=200, description="Only this session's events.")
    ] = None,
) -> Response:
    if caller.is_token:
        if not session_id:
            raise NotFound("a session token reads its own session's audit only")
        await check_session(ctx, caller, session_id)
    return FastJSON({"events": await ctx.backend.audit(caller.tenant_id, session_id or None)})
