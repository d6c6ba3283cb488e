"""The turn inspector's record: what one turn did, step by step, with durations.

The orchestrator appends a plain dict per step while the turn runs (a model
call, a tool call, a proposal made or decided, a breaker change, the budget
at the end) and `finish` turns them into one bounded record, saved with the
turn in the same atomic write (`Store.save_turn(turn=...)`). Arguments,
results and errors are redacted and capped (`runtime.redact`); a turn keeps
at most `MAX_STEPS` steps, and a session its last `KEEP_TURNS` turns.
"""

from __future__ import annotations

from typing import Any

from runtime.proposals.model import Proposal, ProposalStatus

from .redact import shown

MAX_STEPS = 64  # per turn; later steps are counted, not kept
KEEP_TURNS = 50  # per session, newest kept
SHOWN_CHARS = 1024  # of one argument set, result or error

S = ProposalStatus

# How the turn's first step, the registry's reading of the message, decided a T2.
_DECISION = {
    S.CONFIRMED: "soft_confirm",
    S.EXECUTED: "soft_confirm",
    S.FAILED: "soft_confirm",  # confirmed, then failed (or a dependency did)
    S.REJECTED: "reject",
    S.EXPIRED: "expire",
    S.PENDING: "unclear",
}


def model_step(
    at: float, ms: float, model: str, input_tokens: int, output_tokens: int, tool_calls: int
) -> dict[str, Any]:
    return {
        "kind": "model",
        "at": at,
        "ms": round(ms, 3),
        "model": model,
        "status": "ok",
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "tool_calls": tool_calls,
    }


def model_error_step(at: float, ms: float, model: str, error: str) -> dict[str, Any]:
    return {
        "kind": "model",
        "at": at,
        "ms": round(ms, 3),
        "model": model,
        "status": "error",
        "error": shown(error, SHOWN_CHARS),
    }


def tool_step(
    at: float,
    ms: float,
    tool: str,
    tier: str,
    call_id: str,
    status: str,
    arguments: Any,
    output: Any,
    is_error: bool,
    proposal_id: str | None = None,
) -> dict[str, Any]:
    step: dict[str, Any] = {
        "kind": "tool",
        "at": at,
        "ms": round(ms, 3),
        "tool": tool,
        "tier": tier,
        "call_id": call_id,
        "status": status,
        "arguments": shown(arguments, SHOWN_CHARS),
    }
    step["error" if is_error else "result"] = shown(output, SHOWN_CHARS)
    if proposal_id is not None:
        step["proposal_id"] = proposal_id
    return step


def proposal_step(at: float, p: Proposal, decision: str | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {
        "kind": "proposal",
        "at": at,
        "ms": 0.0,
        "proposal_id": p.proposal_id,
        "tool": p.tool,
        "tier": p.tier.value,
        "status": p.status.value,
        "decision": decision or _DECISION.get(p.status, "unclear"),
    }
    if p.result is not None:
        step["result"] = shown(p.result, SHOWN_CHARS)
    return step


def breaker_step(at: float, old: str, new: str) -> dict[str, Any]:
    return {"kind": "breaker", "at": at, "ms": 0.0, "from": old, "to": new}


def budget_step(at: float, used: dict[str, int], limits: dict[str, int]) -> dict[str, Any]:
    left = {tier: max(0, limits[tier] - n) for tier, n in used.items()}
    return {"kind": "budget", "at": at, "ms": 0.0, "used": dict(used), "left": left}


def finish(
    n: int,
    message_id: str,
    at: float,
    ms: float,
    agent: str,
    steps: list[dict[str, Any]],
    breaker: str,
) -> dict[str, Any]:
    """The turn's record (API.md "Agents and turns"): steps in time order, bounded."""
    ordered = sorted(steps, key=lambda s: float(s["at"]))  # stable: ties keep their order
    return {
        "n": n,
        "message_id": message_id,
        "at": at,
        "ms": round(ms, 3),
        "agent": agent,
        "breaker": breaker,
        "steps": ordered[:MAX_STEPS],
        "steps_cut": max(0, len(ordered) - MAX_STEPS),
    }


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """A turn as the list shows it: its record without the steps, and their count."""
    out = {k: v for k, v in record.items() if k != "steps"}
    out["step_count"] = len(record.get("steps", ())) + int(record.get("steps_cut", 0))
    return out
