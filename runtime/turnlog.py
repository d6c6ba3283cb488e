"""The turn inspector's record: what one turn did, step by step, with durations.

The orchestrator appends a plain dict per step while the turn runs (a model
call, a tool call, a proposal made or decided, a breaker change, the budget
at the end) and `finish` turns them into one bounded record, saved with the
turn in the same atomic write (`Store.save_turn`, as `TurnWrite.turn`). A turn keeps
at most `MAX_STEPS` steps, and a session its last `KEEP_TURNS` turns.

Recording must cost the turn next to nothing, so arguments, results and errors
are kept as their JSON text, cut to `KEPT_CHARS` (the text the model saw: the
history holds the same, uncut), and redacted and capped to `SHOWN_CHARS` when
they are read (`public`, through `runtime.redact`): a turn pays one slice per
value, a reader pays the redaction.
"""

from __future__ import annotations

from typing import Literal

import orjson

from runtime.proposals.model import Proposal, ProposalStatus

from .redact import shown_json
from .shapes import TurnDetail, TurnStep, TurnSummary
from .store.payloads import StepRecord, TurnRecord
from .tiers import Tier

MAX_STEPS = 64  # per turn; later steps are counted, not kept
KEEP_TURNS = 50  # per session, newest kept
SHOWN_CHARS = 1024  # of one argument set, result or error, as served
KEPT_CHARS = SHOWN_CHARS + 512  # as kept (the slack: a secret across the cut is still seen)
Value = Literal["arguments", "result", "error"]  # a step's values, kept as JSON text


# How the turn's first step, the registry's reading of the message, decided a T2.
_DECISION = {
    ProposalStatus.CONFIRMED: "soft_confirm",
    ProposalStatus.EXECUTED: "soft_confirm",
    ProposalStatus.FAILED: "soft_confirm",  # confirmed, then failed (or a dependency did)
    ProposalStatus.REJECTED: "reject",
    ProposalStatus.EXPIRED: "expire",
    ProposalStatus.PENDING: "unclear",
}


def model_step(
    at: float, ms: float, model: str, input_tokens: int, output_tokens: int, tool_calls: int
) -> StepRecord:
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


def model_error_step(at: float, ms: float, model: str, error: str) -> StepRecord:
    step: StepRecord = {
        "kind": "model",
        "at": at,
        "ms": round(ms, 3),
        "model": model,
        "status": "error",
    }
    _keep(step, "error", error)
    return step


def tool_step(
    at: float,
    ms: float,
    tool: str,
    tier: Tier,
    call_id: str,
    status: str,
    arguments: object,
    output: str,
    is_error: bool,
    proposal_id: str | None = None,
    *,
    output_is_json: bool = False,
) -> StepRecord:
    """`output` is the text the model was given: JSON when `output_is_json` (a
    tool's result), else a message."""
    step: StepRecord = {
        "kind": "tool",
        "at": at,
        "ms": round(ms, 3),
        "tool": tool,
        "tier": tier.value,
        "call_id": call_id,
        "status": status,
    }
    _keep(step, "arguments", arguments)
    _keep(step, "error" if is_error else "result", output, output_is_json)
    if proposal_id is not None:
        step["proposal_id"] = proposal_id
    return step


def proposal_step(at: float, p: Proposal, decision: str | None = None) -> StepRecord:
    step: StepRecord = {
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
        _keep(step, "result", p.result)
    return step


def breaker_step(at: float, old: str, new: str) -> StepRecord:
    return {"kind": "breaker", "at": at, "ms": 0.0, "from": old, "to": new}


def budget_step(at: float, used: dict[str, int], limits: dict[str, int]) -> StepRecord:
    left = {tier: max(0, limits[tier] - n) for tier, n in used.items()}
    return {"kind": "budget", "at": at, "ms": 0.0, "used": dict(used), "left": left}


def finish(
    n: int,
    message_id: str,
    at: float,
    ms: float,
    agent: str,
    steps: list[StepRecord],
    breaker: str,
) -> TurnRecord:
    """The turn's record (API.md "Agents and turns"): steps in time order, bounded."""
    ordered = sorted(steps, key=step_at)  # stable: ties keep their order
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


def step_at(step: StepRecord) -> float:
    """When the step started (epoch seconds)."""
    at = step["at"]
    return float(at) if isinstance(at, int | float) else 0.0


def summary(record: TurnRecord) -> TurnSummary:
    """A turn as the list shows it: its record without the steps, and their count."""
    return {
        "n": record["n"],
        "message_id": record["message_id"],
        "at": record["at"],
        "ms": record["ms"],
        "agent": record["agent"],
        "breaker": record["breaker"],
        "steps_cut": record["steps_cut"],
        "step_count": len(record["steps"]) + record["steps_cut"],
    }


def _keep(step: StepRecord, field: Value, value: object, is_json: bool = False) -> None:
    """Set `step[field]` to the value's JSON text, cut to KEPT_CHARS, and
    `{field}_chars` (the full length) when it was cut."""
    text = str(value) if is_json else orjson.dumps(value, default=str).decode()
    step[field] = text[:KEPT_CHARS]
    if len(text) <= KEPT_CHARS:
        return
    if field == "arguments":
        step["arguments_chars"] = len(text)
    elif field == "result":
        step["result_chars"] = len(text)
    else:
        step["error_chars"] = len(text)


def public(record: TurnRecord) -> TurnDetail:
    """A kept record as API.md serves it: each argument set, result and error as a
    JSON value, redacted and capped to `SHOWN_CHARS` (a cut one as its cut text)."""
    return {
        "n": record["n"],
        "message_id": record["message_id"],
        "at": record["at"],
        "ms": record["ms"],
        "agent": record["agent"],
        "breaker": record["breaker"],
        "steps": [_public_step(step) for step in record["steps"]],
        "steps_cut": record["steps_cut"],
    }


def _public_step(step: StepRecord) -> TurnStep:
    """One kept step as served: its values shown, the lengths they were cut from gone."""
    out = step.copy()
    arguments_chars = out.pop("arguments_chars", None)
    result_chars = out.pop("result_chars", None)
    error_chars = out.pop("error_chars", None)
    if "arguments" in out:
        out["arguments"] = shown_json(str(out["arguments"]), arguments_chars, SHOWN_CHARS)
    if "result" in out:
        out["result"] = shown_json(str(out["result"]), result_chars, SHOWN_CHARS)
    if "error" in out:
        out["error"] = shown_json(str(out["error"]), error_chars, SHOWN_CHARS)
    return out
