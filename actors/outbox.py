"""`Outbox`: what one caller (a gateway process) is owed by a session host.

Operations finish at their own pace; their events and outcomes collect here,
and the caller's long polls (`SessionHost.poll`) take them out as `Delivery`s.
Nothing waits for anything else: a finished op's outcome leaves with the next
delivery, and a delivery leaves as soon as a poll is waiting and there is an
outcome, a stream's first token or a tool or proposal event (at the end of the
event-loop iteration, so what is made together travels together), or, for the
rest of a stream's tokens, once the oldest of them has waited `token_flush_s`
(tokens of many streams travel in one delivery, a few tens of milliseconds
apart: one Ray reply per host per flush, not one per token).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from runtime.events import TurnEvent

from .ops import Delivery, OpOutcome

TOKEN_FLUSH_S = 0.025
HOLD_MISSES = 3  # holds in a row that caught no outcome before `run` stops holding
HOLD_PROBE_EVERY = 8  # then every 8th run still holds, to see if turns got quick again


class Outbox:
    def __init__(self, token_flush_s: float = TOKEN_FLUSH_S) -> None:
        self.token_flush_s = token_flush_s
        self._events: list[tuple[int, TurnEvent]] = []
        self._outcomes: list[OpOutcome] = []
        self._first_event_at = 0.0
        self._waiters: deque[asyncio.Future[Delivery]] = deque()
        self._seq = 0
        self._started: set[int] = set()  # ops whose tokens have begun
        self._urgent = False  # a stream's first event is waiting
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self.last_poll = time.monotonic()
        self._misses = 0  # this caller's runs in a row whose hold caught no outcome
        self._runs = 0

    def hold_s(self, hold_s: float) -> float:
        """How long this caller's next `run` stays open (`Hold`): `hold_s` while holds
        catch outcomes (turns that end within it, as at zero latency, where a held
        `run` carries its replies back in one call); none once `HOLD_MISSES` holds
        in a row caught nothing (turns that wait on a model or a tool, where holding
        only keeps the caller's next batch waiting for this one's answer), except
        every `HOLD_PROBE_EVERY`-th run, to notice when turns are quick again."""
        self._runs += 1
        if self._misses < HOLD_MISSES or self._runs % HOLD_PROBE_EVERY == 0:
            return hold_s
        return 0.0

    def held(self, caught: int) -> None:
        """A `run`'s hold ended having caught `caught` outcomes."""
        self._misses = 0 if caught else self._misses + 1

    def event(self, op_id: int, event: TurnEvent) -> None:
        if not self._events:
            self._first_event_at = time.monotonic()
        self._events.append((op_id, event))
        if event.kind != "token" or op_id not in self._started:
            # a stream's first token leaves at once (time to first token), and so do
            # the rarer tool and proposal events; later tokens wait for the window
            if event.kind == "token":
                self._started.add(op_id)
            self._urgent = True
            self._schedule()
        elif len(self._events) == 1 and not self._outcomes and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.token_flush_s, self._flush)

    def outcome(self, outcome: OpOutcome) -> None:
        self._started.discard(outcome.op_id)
        self._outcomes.append(outcome)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()  # a poll that timed out or was cancelled
        if not self._waiters or not (self._events or self._outcomes):
            return  # (the next poll looks again)
        delivery = Delivery(self._seq, tuple(self._events), tuple(self._outcomes))
        self._seq += 1
        self._events, self._outcomes, self._urgent = [], [], False
        self._waiters.popleft().set_result(delivery)

    async def next(self, wait_s: float) -> Delivery:
        """The next delivery (an empty one after `wait_s` with nothing to say)."""
        self.last_poll = time.monotonic()
        fut: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        if self._outcomes or self._urgent:
            self._schedule()
        elif self._events:
            age = time.monotonic() - self._first_event_at
            if age >= self.token_flush_s:
                self._schedule()
            elif self._timer is None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self.token_flush_s - age, self._flush)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), wait_s)
        except TimeoutError:
            if fut.done():  # delivered just as the wait ran out: not lost
                return fut.result()
            fut.cancel()
            return Delivery(-1)

    def pending(self) -> int:
        return len(self._events) + len(self._outcomes)


class Hold:
    """The outcomes of one `run` batch that end while the call is still open.

    `run` stays open until the first of its ops ends (and the others that end in
    the same event-loop iteration), until all have ended, or for `hold_s` at
    most; outcomes made by then travel in its reply, and later ones through the
    outbox. A result is never held for another op's turn: the first to end
    closes the hold. What this buys is batching: while a batch is open the
    gateway collects the next one, so at zero latency one call carries many
    messages and their replies, as when a batch was a unit of completion.

    Streaming ops are not held: their outcome must follow their events, which
    travel through the outbox.
    """

    def __init__(self, box: Outbox, count: int) -> None:
        self.box = box
        self.left = count
        self.outcomes: list[OpOutcome] = []
        self._open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closing = False
        if count <= 0:
            self._open.set_result(None)

    def outcome(self, outcome: OpOutcome) -> None:
        if self._open.done():
            self.box.outcome(outcome)
            return
        self.outcomes.append(outcome)
        self.left -= 1
        if self.left == 0:
            self._open.set_result(None)
        elif not self._closing:  # the end of this iteration: outcomes made together
            self._closing = True
            asyncio.get_running_loop().call_soon(self._close)

    def _close(self) -> None:
        if not self._open.done():
            self._open.set_result(None)

    async def wait(self, hold_s: float) -> tuple[OpOutcome, ...]:
        """The outcomes that ended within the hold (after it, the outbox takes them)."""
        if not self._open.done():
            timer = asyncio.get_running_loop().call_later(hold_s, self._close)
            try:
                await self._open
            finally:
                timer.cancel()
                self._close()
        return tuple(self.outcomes)
