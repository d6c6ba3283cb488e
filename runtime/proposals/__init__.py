"""Proposals: a write a tool asked for, waiting for a person, and how it is decided.

- `model`: `Proposal` and its state machine (`ProposalStatus`, the one guarded
  `transition()`), the soft-confirm window, dependency verdicts.
- `consent`: how the user's next message reads for a pending T2.
- `book`: `ProposalBook`, which creates, confirms, rejects, expires and executes
  proposals (the registry's logic; the Ray `ProposalRegistry` wraps it).
- `ledger`: exactly-once dispatch of an approved proposal's tool.
- `keyed_lock`: one asyncio lock per proposal id.
"""

from runtime.proposals.keyed_lock import KeyedLock
from runtime.proposals.model import Proposal, ProposalStatus, can_transition

__all__ = ["KeyedLock", "Proposal", "ProposalStatus", "can_transition"]
