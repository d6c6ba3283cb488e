"""Sessions and their messages: /v1/sessions..."""

# No `from __future__ import annotations` here: `MessageIn` is built per app
# (its length limit comes from the settings) and FastAPI must see the class.

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from runtime import MAX_PAGE, REQUEST_ID, BadRequest, Inbound, NotFound, Settings

from ..delivery import DeliveredJSON, Delivery
from ..deps import Caller, Ctx, Tenant, check_session
from ..middleware import fresh_id
from ..responses import FastJSON
from ..schemas import (
    COMMON_ERRORS,
    CloseOut,
    MessageList,
    SessionCreate,
    SessionDetail,
    SessionList,
    SessionOut,
    TurnDetail,
    TurnList,
    TurnOut,
    error_responses,
)
from ..sse import MEDIA_TYPE, stream_events, wants_event_stream

SessionId = Annotated[str, Path(min_length=1, max_length=200, description="A session id.")]
TurnNumber = Annotated[
    int, Path(ge=1, le=2**53, description="The turn's number in its session, from 1.")
]
ProposalId = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^p_[A-Za-z0-9_-]+$")]
MAX_SEEN = 50
# `message_id` and the `Idempotency-Key` header name the same thing: one limit, one error
MAX_MESSAGE_ID_CHARS = 200


def message_id_of(body_id: str | None, header: str | None) -> str:
    """The message's idempotency key: the body's `message_id`, else the
    `Idempotency-Key` header, else a fresh one. Over `MAX_MESSAGE_ID_CHARS`: 400."""
    for name, value in (("message_id", body_id), ("Idempotency-Key", header)):
        if value and len(value) > MAX_MESSAGE_ID_CHARS:
            raise BadRequest(
                f"{name} is {len(value)} characters long; the limit is {MAX_MESSAGE_ID_CHARS}"
            )
    return body_id or header or fresh_id()


_SSE_DOC = {
    "description": (
        "With `Accept: text/event-stream`: events as the turn makes them: `token` (data "
        '`{"text": ...}`, model text as it is produced), `tool_call` (started, then its '
        "status), `proposal` (created or changed), then `done` whose data is the JSON body, "
        "or `error` when the turn fails after the stream began."
    ),
    "schema": {"type": "string"},
}


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/v1/sessions", tags=["sessions"])
    max_chars = settings.max_message_bytes

    class MessageIn(BaseModel):
        text: str = Field(
            min_length=1,
            max_length=max_chars,
            description=(
                f"The user's message. The whole request body may not exceed {max_chars} "
                "bytes (413 otherwise)."
            ),
        )
        message_id: str | None = Field(
            default=None,
            min_length=1,
            description=(
                "Optional idempotency key (or send an `Idempotency-Key` header): a retry "
                "with the same id returns the first reply instead of running twice. At most "
                f"{MAX_MESSAGE_ID_CHARS} characters, as the header (400 `bad_request` above)."
            ),
        )
        seen: list[ProposalId] = Field(
            default_factory=list,
            max_length=MAX_SEEN,
            description=(
                "The proposals the client had shown when the user wrote this message: a "
                "pending T2 is soft-confirmed only by a message sent after it was delivered "
                "or that names it here."
            ),
        )

    @router.post(
        "",
        response_model=SessionOut,
        status_code=201,
        summary="Create a session, or get the active one for (tenant, agent, subject)",
        description=(
            "201 with a new session, or 200 with the existing active session for "
            "(tenant, agent, subject); concurrent identical calls yield one session. "
            "An unknown agent is a 400 `bad_request`."
        ),
        responses=error_responses(
            *COMMON_ERRORS,
            extra={200: {"model": SessionOut, "description": "The existing active session."}},
        ),
    )
    async def create_session(body: SessionCreate, ctx: Ctx, caller: Caller) -> Response:
        if not caller.sees(body.agent, body.subject):  # a token opens its own session only
            raise NotFound(f"no session of agent {body.agent} for this token")
        session, created = await ctx.backend.create_session(
            caller.tenant_id, body.agent, body.subject
        )
        return FastJSON(session, status_code=201 if created else 200)

    @router.get(
        "",
        response_model=SessionList,
        summary="The tenant's sessions, newest first, a page at a time",
        description=(
            "Filters are exact matches. `next_cursor` is opaque: pass it back as `cursor` "
            "for the next page (null on the last). A limit outside 1-100 is a 422, a "
            "cursor that is not one this API gave is a 400 `bad_request`."
        ),
        responses=error_responses(*COMMON_ERRORS),
    )
    async def list_sessions(
        ctx: Ctx,
        tenant: Tenant,
        agent: Annotated[str | None, Query(max_length=64, description="Only this agent.")] = None,
        subject: Annotated[
            str | None, Query(max_length=200, description="Only this end user.")
        ] = None,
        status: Annotated[
            Literal["active", "closed"] | None, Query(description="Only this status.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 20,
        cursor: Annotated[
            str | None, Query(max_length=500, description="`next_cursor` of the previous page.")
        ] = None,
    ) -> Response:
        found, next_cursor = await ctx.backend.list_sessions(
            tenant, agent or None, subject or None, status, limit, cursor or None
        )
        return FastJSON({"sessions": found, "next_cursor": next_cursor})

    @router.get(
        "/{session_id}",
        response_model=SessionDetail,
        summary="A session, with the last turn's tier usage and its breaker state",
        responses=error_responses(404, *COMMON_ERRORS),
    )
    async def get_session(session_id: SessionId, ctx: Ctx, caller: Caller) -> Response:
        await check_session(ctx, caller, session_id)
        return FastJSON(await ctx.backend.get_session(caller.tenant_id, session_id))

    @router.get(
        "/{session_id}/messages",
        response_model=MessageList,
        summary="The session's messages, in order",
        responses=error_responses(404, *COMMON_ERRORS),
    )
    async def list_messages(session_id: SessionId, ctx: Ctx, caller: Caller) -> Response:
        await check_session(ctx, caller, session_id)
        messages = await ctx.backend.list_messages(caller.tenant_id, session_id)
        return FastJSON({"messages": messages})

    @router.get(
        "/{session_id}/turns",
        response_model=TurnList,
        summary="The session's turns (the newest are kept), without their steps",
        responses=error_responses(404, *COMMON_ERRORS),
    )
    async def list_turns(session_id: SessionId, ctx: Ctx, caller: Caller) -> Response:
        await check_session(ctx, caller, session_id)  # scoped like the session
        return FastJSON({"turns": await ctx.backend.list_turns(caller.tenant_id, session_id)})

    @router.get(
        "/{session_id}/turns/{n}",
        response_model=TurnDetail,
        summary="One turn, step by step: model calls, tool calls, proposals, budget, breaker",
        description=(
            "Each step with its start and duration. Tool arguments, results and errors are "
            "redacted (secrets) and capped. 404 for a turn not (or no longer) kept."
        ),
        responses=error_responses(404, *COMMON_ERRORS),
    )
    async def get_turn(session_id: SessionId, n: TurnNumber, ctx: Ctx, caller: Caller) -> Response:
        await check_session(ctx, caller, session_id)
        return FastJSON(await ctx.backend.get_turn(caller.tenant_id, session_id, n))

    @router.delete(
        "/{session_id}",
        response_model=CloseOut,
        summary="Close a session (later messages to it get 409)",
        responses=error_responses(404, *COMMON_ERRORS),
    )
    async def close_session(session_id: SessionId, ctx: Ctx, caller: Caller) -> Response:
        await check_session(ctx, caller, session_id)
        return FastJSON(await ctx.backend.close_session(caller.tenant_id, session_id))

    @router.post(
        "/{session_id}/messages",
        response_model=TurnOut,
        summary="Send a message; the reply, tool calls and proposals of the turn",
        description=(
            "Messages to one session are processed one at a time in arrival order. "
            f"With `Accept: {MEDIA_TYPE}` the same turn streams as server-sent events."
        ),
        responses=error_responses(
            404, 409, *COMMON_ERRORS, extra={200: {"content": {MEDIA_TYPE: _SSE_DOC}}}
        ),
    )
    async def post_message(
        session_id: SessionId, body: MessageIn, request: Request, ctx: Ctx, caller: Caller
    ) -> Response:
        await check_session(ctx, caller, session_id)
        message_id = message_id_of(body.message_id, request.headers.get("idempotency-key"))
        msg = Inbound(
            caller.tenant_id,
            session_id,
            body.text,
            message_id,
            seen=tuple(body.seen),
            relay=True,
            sender=caller.actor(),
        ).received(REQUEST_ID.get())
        deliver = Delivery(ctx.backend, caller.tenant_id, session_id)
        if wants_event_stream(request.headers.get("accept")):
            return await stream_events(await ctx.backend.stream_message(msg), deliver)
        return DeliveredJSON(await ctx.backend.send_message(msg), deliver)

    return router
