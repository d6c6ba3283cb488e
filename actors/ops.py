"""The typed messages between the gateway and session actors.

The gateway sends *operations* (`SendOp`, `SessionOp`) to a session
host in batches (`SessionHost.run`, answered with an `Ack` that carries the
outcomes of ops that ended while it was held open) and collects the rest with
long polls (`SessionHost.poll`): each answer is a `Delivery` holding the events
of streaming turns and the `OpOutcome`s of finished operations, tagged with the
op's id. An op's events always come before its outcome; deliveries carry a sequence
number so the gateway applies them in the order the host made them. With
tracing on, each op carries the W3C `traceparent` of the gateway's span
(`trace`), so the host's spans join the message's trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from runtime.errors import WireError
from runtime.events import TurnEvent
from runtime.inbound import Inbound
from runtime.shapes import CloseOut, SessionDetail, TurnOut


@dataclass(frozen=True, slots=True)
class SendOp:
    """Run one user message (a turn)."""

    op_id: int
    msg: Inbound
    stream: bool = False  # the client streams: send events as they happen
    redirected: bool = False  # sent here because this host holds (or may take) the session
    trace: str = ""  # the W3C traceparent of the gateway's span ("" with tracing off)
    kind: Literal["send"] = "send"

    @property
    def request_id(self) -> str:
        return self.msg.request_id


@dataclass(frozen=True, slots=True)
class SessionOp:
    """`info`: the session's record, last usage and breaker state; `close`: close it,
    in its mailbox order."""

    op_id: int
    request_id: str
    tenant_id: str
    session_id: str
    kind: Literal["info", "close"]
    redirected: bool = False
    trace: str = ""  # the W3C traceparent of the gateway's span ("" with tracing off)


Op = SendOp | SessionOp
OpResult = TurnOut | SessionDetail | CloseOut  # a send's, an info's, a close's


def redirected(op: Op) -> Op:
    """The same op, re-sent to the host that holds its session."""
    return replace(op, redirected=True)


@dataclass(frozen=True, slots=True)
class OpOutcome:
    """How an op ended: `value` is its result (`ok`) or its wire error (runtime.errors)."""

    op_id: int
    ok: bool
    value: OpResult | WireError


@dataclass(frozen=True, slots=True)
class Ack:
    """`run`'s answer: how many ops it dispatched, and the outcomes of those that
    ended while the call was held open (every other outcome comes through `poll`)."""

    dispatched: int
    outcomes: tuple[OpOutcome, ...] = ()


@dataclass(frozen=True, slots=True)
class Delivery:
    seq: int  # per caller, from 0: the gateway applies deliveries in this order
    events: tuple[tuple[int, TurnEvent], ...] = ()
    outcomes: tuple[OpOutcome, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.events or self.outcomes)
