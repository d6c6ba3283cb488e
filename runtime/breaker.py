"""Per-session circuit breaker: a state machine with one guarded transition."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from .errors import BreakerTransitionError

Clock = Callable[[], float]

OPEN_MESSAGE = (
    "Some of my tools are failing right now, so I've paused using them for a moment. "
    "Please try again in about a minute."
)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_ALLOWED: dict[BreakerState, frozenset[BreakerState]] = {
    BreakerState.CLOSED: frozenset({BreakerState.OPEN}),
    BreakerState.OPEN: frozenset({BreakerState.HALF_OPEN}),
    BreakerState.HALF_OPEN: frozenset({BreakerState.CLOSED, BreakerState.OPEN}),
}


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; half-opens after `reset_s`.

    In HALF_OPEN one trial call is let through: success closes, failure reopens.
    `on_change(old, new)` observes every transition; without one, transitions are
    kept (with the clock's time) until `take_changes()` (a session's audit and
    metrics, with no closure per session). Slotted: one per live session.
    """

    __slots__ = (
        "_changes",
        "_clock",
        "_on_change",
        "_trial_in_flight",
        "failures",
        "opened_at",
        "reset_s",
        "state",
        "threshold",
    )

    def __init__(
        self,
        threshold: int = 3,
        reset_s: float = 60.0,
        *,
        clock: Clock,
        on_change: Callable[[BreakerState, BreakerState], None] | None = None,
    ) -> None:
        self.threshold = threshold
        self.reset_s = reset_s
        self._clock = clock
        self._on_change = on_change
        self._changes: list[tuple[BreakerState, BreakerState, float]] | None = None
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self._trial_in_flight = False

    def transition(self, target: BreakerState) -> None:
        if target not in _ALLOWED[self.state]:
            raise BreakerTransitionError(self.state.value, target.value)
        old, self.state = self.state, target
        if target is BreakerState.OPEN:
            self.opened_at = self._clock()
        if self._on_change is not None:
            self._on_change(old, target)
        elif self._changes is None:
            self._changes = [(old, target, self._clock())]
        else:
            self._changes.append((old, target, self._clock()))

    def take_changes(self) -> list[tuple[BreakerState, BreakerState, float]]:
        """The transitions since the last call (old, new, when), oldest first."""
        changes, self._changes = self._changes, None
        return changes or []

    def current(self) -> BreakerState:
        """The state now, moving OPEN -> HALF_OPEN once the reset time passed."""
        if self.state is BreakerState.OPEN and self._clock() - self.opened_at >= self.reset_s:
            self.transition(BreakerState.HALF_OPEN)
            self._trial_in_flight = False
        return self.state

    def allow(self) -> bool:
        """May a tool be called now? In HALF_OPEN, only the one trial call."""
        state = self.current()
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self.failures = 0
        if self.state is BreakerState.HALF_OPEN:
            self._trial_in_flight = False
            self.transition(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self._trial_in_flight = False
            self.transition(BreakerState.OPEN)
        elif self.state is BreakerState.CLOSED and self.failures >= self.threshold:
            self.transition(BreakerState.OPEN)

    def record_neutral(self) -> None:
        """The call said nothing about health (e.g. it rejected its input).

        Frees the HALF_OPEN trial slot so the next call can be the trial;
        without this the breaker would stay half-open and refuse every call.
        """
        self._trial_in_flight = False

    def snapshot(self) -> dict[str, float | int | str]:
        return {"state": self.state.value, "failures": self.failures, "opened_at": self.opened_at}

    def restore(self, snap: dict[str, float | int | str]) -> None:
        self.state = BreakerState(str(snap.get("state", "closed")))
        self.failures = int(snap.get("failures", 0))
        self.opened_at = float(snap.get("opened_at", 0.0))
