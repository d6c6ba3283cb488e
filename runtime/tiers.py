"""Trust tiers of tools and the per-message recursion budget.

T1 reads run at once; T2 writes become proposals soft-confirmed by the user's
next message; T3 (money, deletion) become proposals only an explicit confirm
runs. Each tier has its own per-message budget, so exhausting one never blocks
another.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Tier(StrEnum):
    T1 = "T1"
    T2 = "T2"
    T3 = "T3"


def exhausted_message(tier: Tier) -> str:
    """The exact reply sentence when a tier's budget for this message is spent."""
    return f"I've exhausted my capability for {tier.value} operations."


class RecursionBudget(BaseModel):
    """How many tool calls of each tier one user message may trigger."""

    model_config = ConfigDict(frozen=True, extra="forbid")  # a typo'd tier is an error

    T1: int = Field(default=10, ge=0)
    T2: int = Field(default=3, ge=0)
    T3: int = Field(default=1, ge=0)

    def limit(self, tier: Tier) -> int:
        return int(getattr(self, tier.value))


class TierCounter:
    """Counts tool calls per tier for one user message."""

    __slots__ = ("_budget", "_used")

    def __init__(self, budget: RecursionBudget) -> None:
        self._budget = budget
        self._used: dict[Tier, int] = {t: 0 for t in Tier}

    def try_take(self, tier: Tier) -> bool:
        """Take one unit of `tier`; False (and nothing taken) when exhausted."""
        if self._used[tier] >= self._budget.limit(tier):
            return False
        self._used[tier] += 1
        return True

    def used(self, tier: Tier) -> int:
        return self._used[tier]

    def usage(self) -> dict[str, int]:
        return {t.value: n for t, n in self._used.items()}
