"""`Inbound`: one user message, the one envelope it travels in from the route to the turn.

The gateway's route builds it; the backend stamps when it arrived (`received`);
the router carries it to the session's host inside a `SendOp`; the pool, the
session core, the orchestrator and the proposal registry all read the same
object. Nothing re-declares its fields as a parameter list on the way, and its
request id is the one the logs of every process it crosses print.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from runtime.principals import TENANT_OWNER, Actor


@dataclass(frozen=True, slots=True)
class Inbound:
    """Who sent what to which session, and when it arrived."""

    tenant_id: str
    session_id: str
    text: str
    message_id: str = ""  # the client's id: a repeat returns the first result
    received_ns: int = 0  # wall-clock ns the gateway received it (soft-confirm order)
    request_id: str = ""  # the HTTP request's id, for the logs of every hop
    # who sent it: its soft confirm counts only if the proposal's policy allows them
    sender: Actor = field(default_factory=lambda: Actor(**TENANT_OWNER))
    # The proposals the client had shown when the user wrote it (API.md `seen`): they
    # count as delivered for this message.
    seen: tuple[str, ...] = ()
    # The caller relays the result to a client and reports its delivery itself
    # (`Backend.mark_delivered`); otherwise the result counts as delivered on return.
    relay: bool = False

    def received(self, request_id: str = "") -> Inbound:
        """This message stamped with its arrival time (now, unless already stamped)
        and with `request_id` unless it carries one."""
        if self.received_ns and (self.request_id or not request_id):
            return self
        return replace(
            self,
            received_ns=self.received_ns or time.time_ns(),
            request_id=self.request_id or request_id,
        )

    def arrived_by(self, ns: int) -> Inbound:
        """The same message, its arrival time bounded by `ns` (whichever is earlier)."""
        at = min(self.received_ns, ns) if self.received_ns else ns
        return self if at == self.received_ns else replace(self, received_ns=at)
