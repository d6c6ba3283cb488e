"""Delivered, not saved: the gateway reports which proposals reached the client.

A pending T2 may be soft-confirmed only by a message sent after the proposal
was delivered (DESIGN.md "Delivered before confirmed"). The runtime saves a
turn whether or not its client is still there, so only the gateway can tell:
a proposal is delivered when the response that carried it completes with the
client connected, a JSON body sent whole or an SSE stream sent through `done`.

The stamp is recorded just before the last bytes are written, once the
client is known to be connected: a client that has read the body may answer
at once, and its answer must find the delivery already recorded. A client
that left earlier (the server saw it go) gets no stamp; its next message is
unclear for those proposals and the agent shows them again. A failure to
record a delivery is logged, not raised: the reply still goes out, and the
proposal is only asked about once more. A registry that does not answer
within `RECORD_TIMEOUT_S` does not hold the reply back either.
"""

from __future__ import annotations

import asyncio
import logging
import time

import anyio
from starlette.types import Receive, Scope, Send

from runtime import Backend, TurnOut, log_event, pending_ids

from .responses import FastJSON

RECORD_TIMEOUT_S = 2.0


class Delivery:
    """Records that a turn's pending proposals reached one session's client."""

    def __init__(self, backend: Backend, tenant_id: str, session_id: str) -> None:
        self.backend = backend
        self.tenant_id = tenant_id
        self.session_id = session_id

    async def __call__(self, result: TurnOut) -> None:
        ids = pending_ids(result)
        if not ids:
            return
        try:
            async with asyncio.timeout(RECORD_TIMEOUT_S):
                await self.backend.mark_delivered(
                    self.tenant_id, self.session_id, ids, time.time_ns()
                )
        except Exception as exc:
            log_event(
                "delivery_not_recorded",
                logging.WARNING,
                session_id=self.session_id,
                error=type(exc).__name__,
            )


async def client_gone(receive: Receive) -> bool:
    """Has the client disconnected? (Never waits: a pending receive is cancelled.)"""
    with anyio.CancelScope() as scope:
        scope.cancel()
        message = await receive()
        return bool(message.get("type") == "http.disconnect")
    return False


class DeliveredJSON(FastJSON):
    """A turn's JSON body; its pending proposals are delivered when it is sent whole."""

    def __init__(self, result: TurnOut, deliver: Delivery) -> None:
        super().__init__(result)
        self.result = result
        self.deliver = deliver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        # only a reply that shows pending T2s asks whether its client is still there
        if pending_ids(self.result) and not await client_gone(receive):
            await self.deliver(self.result)
        await send({"type": "http.response.body", "body": self.body})
