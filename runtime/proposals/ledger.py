"""Exactly-once dispatch of an approved proposal's tool, driven by the ledger.

The ledger is the source of truth:

- before the tool is called, DISPATCHING is recorded under the proposal id (the
  tool's idempotency key); the result is journaled as DONE, or the failure as
  FAILED, together with the proposal's final status (`ProposalBook`);
- a repeat (a concurrent confirm, a retry, recovery after a crash) that finds
  DONE returns the journaled result and FAILED the journaled error, without
  calling the tool;
- DISPATCHING found again means a dispatch was cut short (the caller holds the
  proposal's lock, so none is in flight here): a tool declared `idempotent` is
  dispatched again with the same key; any other is never run twice: it ends
  FAILED with the kind `outcome_unknown` for a person to reconcile, unless it can
  tell that the cut-short call had no effect (`Tool.outcome`).

A call is `runtime.tools.run.run_tool`: an idempotent tool's call whose effect
cannot be read is sent again with the same key (backoff, `retries`, inside the
agent's tool timeout). What is still unreadable after that (a timeout, a
dropped connection, a 5xx, an unreadable or off-schema result) is asked of
`Tool.outcome` when the tool has one, else ends FAILED with `outcome_unknown`.
Only a refusal (a 4xx, a `ToolError`) is a plain FAILED. The reason is said
once: a tool's message says what happened, `unknown()` adds that whether it
took effect is unknown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from runtime import logs, metrics, redact, telemetry
from runtime.errors import ToolError, ToolOutcomeUnknown, ToolValidationError
from runtime.proposals.model import Proposal
from runtime.store.protocol import LedgerEntry, LedgerState, Store
from runtime.tools import Tool, ToolContext, cap_result, redact_urls, run_tool

OUTCOME_UNKNOWN = "outcome_unknown"


@dataclass(frozen=True)
class DispatchResult:
    executed: bool
    result: object = None
    error: str | None = None
    error_kind: str = ""

    def entry(self, at: float, attempts: int) -> LedgerEntry:
        """The ledger entry that journals this outcome."""
        state = LedgerState.DONE if self.executed else LedgerState.FAILED
        return LedgerEntry(
            state=state,
            at=at,
            attempts=attempts,
            result=self.result,
            error=self.error,
            error_kind=self.error_kind,
        )


def unknown(p: Proposal, why: str) -> DispatchResult:
    metrics.child(metrics.OUTCOME_UNKNOWN, p.tool).inc()
    return DispatchResult(
        False,
        error=f"{redact_urls(why)}; whether it took effect is unknown: check before retrying",
        error_kind=OUTCOME_UNKNOWN,
    )


async def dispatch(
    store: Store,
    tool: Tool,
    ctx: ToolContext,
    p: Proposal,
    timeout_s: float,
    clock: Callable[[], float] = time.time,
) -> tuple[DispatchResult, int, bool]:
    """Run `p`'s tool at most once (see the module docstring).

    Returns the outcome, the dispatch attempts so far, and whether the outcome is
    new (to be journaled) rather than read back from the ledger."""
    prior = await store.ledger_claim(p.tenant_id, p.proposal_id, clock())
    attempts = 1
    if prior is not None:
        if prior.state is LedgerState.DONE:
            return DispatchResult(True, prior.result), prior.attempts, False
        if prior.state is LedgerState.FAILED:
            error = prior.error or "execution failed earlier"
            return (
                DispatchResult(False, error=error, error_kind=prior.error_kind),
                prior.attempts,
                False,
            )
        if not tool.idempotent:  # DISPATCHING: cut short by a crash
            applied = None if tool.outcome is None else await tool.outcome(ctx)
            if applied is None:
                return unknown(p, "its execution was interrupted"), prior.attempts, True
            if applied:
                return DispatchResult(True, None), prior.attempts, True
        attempts = prior.attempts + 1
        metrics.child(metrics.REDISPATCHES, p.tool).inc()
        await store.ledger_put(
            p.tenant_id,
            p.proposal_id,
            LedgerEntry(state=LedgerState.DISPATCHING, at=clock(), attempts=attempts),
        )
    if not telemetry.enabled():
        return await _call(tool, ctx, p, timeout_s), attempts, True
    attrs = {
        telemetry.OPERATION: "execute_tool",
        telemetry.TOOL_NAME: p.tool,
        telemetry.TOOL_CALL_ID: p.proposal_id,  # also the tool's idempotency key
        telemetry.TIER: p.tier.value,
        telemetry.PROPOSAL_ID: p.proposal_id,
    }
    if telemetry.capture_content():
        attrs[telemetry.TOOL_ARGUMENTS] = telemetry.content(p.args)
    with telemetry.span(f"execute_tool {p.tool}", attrs) as span:
        outcome = await _call(tool, ctx, p, timeout_s)
        span.set_attribute(
            telemetry.OUTCOME, outcome.error_kind or ("ok" if outcome.executed else "error")
        )
        if telemetry.capture_content():
            span.set_attribute(telemetry.TOOL_RESULT, telemetry.content(outcome.result))
        return outcome, attempts, True


async def _call(tool: Tool, ctx: ToolContext, p: Proposal, timeout_s: float) -> DispatchResult:
    """One dispatch: `run_tool` sends an idempotent tool's call again (same key)
    while `timeout_s` lasts; what is left unreadable is asked of `tool.outcome`,
    else it is `outcome_unknown`."""
    t0 = time.perf_counter()
    try:
        args = tool.parse(p.args)
    except (ToolError, ValueError) as exc:  # arguments it refuses: it did not run
        return DispatchResult(False, error=str(exc))
    try:
        result = await run_tool(tool, ctx, args, timeout_s)
    except (TimeoutError, ToolOutcomeUnknown) as exc:  # it may have taken effect
        ms = (time.perf_counter() - t0) * 1000
        status = "timeout" if isinstance(exc, TimeoutError) else "unknown"
        metrics.child(metrics.TOOL_DURATION, p.tier.value, p.tool, status).observe(ms)
        why = str(exc) or f"timed out after {timeout_s:g}s"
        applied = None if tool.outcome is None else await tool.outcome(ctx)
        if applied is None:
            return unknown(p, why)
        if not applied:
            return DispatchResult(False, error=f"{redact_urls(why)}; it did not run")
        if tool.idempotent:  # it took effect: the same key returns its result
            try:
                result = await tool.invoke(ctx, args)
            except Exception:
                return DispatchResult(True, None)
            return DispatchResult(True, cap_result(tool.name, result, tool.max_result_bytes))
        return DispatchResult(True, None)
    except (ToolError, ValueError) as exc:  # the tool refused: it did not run
        if isinstance(exc, ToolError) and not isinstance(exc, ToolValidationError):
            logs.tool_failed(
                exc,
                p.tool,
                p.tier.value,
                p.tenant_id,
                p.session_id,
                scrub=redact_urls,
                proposal_id=p.proposal_id,
            )
        return DispatchResult(False, error=redact.reason(exc, scrub=redact_urls))
    except Exception as exc:  # a bug or an outage in the tool: its short reason, logged once
        logs.tool_failed(
            exc,
            p.tool,
            p.tier.value,
            p.tenant_id,
            p.session_id,
            scrub=redact_urls,
            proposal_id=p.proposal_id,
        )
        return DispatchResult(
            False, error=f"{type(exc).__name__}: {redact.reason(exc, scrub=redact_urls)}"
        )
    ms = (time.perf_counter() - t0) * 1000
    metrics.child(metrics.TOOL_DURATION, p.tier.value, p.tool, "ok").observe(ms)
    return DispatchResult(True, result)
