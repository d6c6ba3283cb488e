"""Calling a tool: re-sends of an idempotent tool, the time budget, the result cap.

`run_tool(tool, ctx, args, budget_s)` is how the orchestrator (reads) and the
dispatcher (approved writes) call a tool, whatever its source:

- one attempt is the tool's `invoke` (an HTTP or MCP tool bounds it by its own
  `timeout_ms`); `budget_s`, the agent's tool timeout, bounds all of them;
- an attempt whose effect cannot be read (`ToolOutcomeUnknown`, a
  `TimeoutError`) or that the tool did not take (`ToolUnavailable`: no
  connection, 429, 408) is sent again, with the same context and so the same
  idempotency key, after a backoff (`runtime.retry.RetryPolicy`, or the
  tool's `Retry-After` when it gave one), at most `tool.retries` times, and
  only for an `idempotent` tool while the budget lasts;
- a refusal (`ToolValidationError`, any other `ToolError`, another exception)
  ends it at once;
- giving up, the error says the worst that may have happened: a
  `TimeoutError` if the last attempt got no answer, else `ToolOutcomeUnknown`
  if any attempt may have taken effect, else the last error.

The result is capped (`cap_result`): when its JSON is over the tool's
`max_result_bytes`, the caller gets `{"truncated": true, "note": ..., "text":
<the first bytes of the JSON>}`, whose JSON fits the cap, and nothing larger
reaches the model, the history or the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson

from .. import metrics
from ..errors import ToolError, ToolOutcomeUnknown, ToolUnavailable
from ..retry import RetryPolicy
from .base import Args, Tool, ToolContext

RETRY_POLICY = RetryPolicy(max_delay=2.0)
Sleep = Callable[[float], Awaitable[None]]


def cap_result(name: str, result: object, max_bytes: int) -> object:
    """`result`, or its truncated form when its JSON is over `max_bytes`."""
    raw = orjson.dumps(result, default=str)
    if len(raw) <= max_bytes:
        return result
    return truncated(name, raw, max_bytes, f"{len(raw)} bytes")


def truncated(name: str, raw: bytes, max_bytes: int, answered: str) -> dict[str, object]:
    """The truncated form of a result whose JSON (or body) `raw` is too large:
    its first bytes as text, with a note; its own JSON fits `max_bytes`."""
    keep = max_bytes
    while True:
        text = raw[: max(keep, 0)].decode(errors="ignore")
        note = (
            f"{name} answered {answered}; only the first {len(text.encode())} bytes are "
            f"kept (max_result_bytes = {max_bytes})"
        )
        capped: dict[str, object] = {"truncated": True, "note": note, "text": text}
        over = len(orjson.dumps(capped)) - max_bytes
        if over <= 0 or keep <= 0:
            return capped
        keep -= over


def _may_have_run(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError | ToolOutcomeUnknown)


def _resendable(exc: BaseException) -> bool:
    return _may_have_run(exc) or isinstance(exc, ToolUnavailable)


def _why(tool: Tool, exc: BaseException) -> str:
    text = str(exc)
    if not text:
        return f"{tool.name} got no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
    return text


async def run_tool(
    tool: Tool,
    ctx: ToolContext,
    args: Args,
    budget_s: float,
    *,
    policy: RetryPolicy = RETRY_POLICY,
    sleep: Sleep = asyncio.sleep,
) -> object:
    """The tool's capped result (see the module docstring)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    sent = 0
    maybe_ran = False
    while True:
        sent += 1
        try:
            async with asyncio.timeout_at(deadline):
                result = await tool.invoke(ctx, args)
            return cap_result(tool.name, result, tool.max_result_bytes)
        except Exception as exc:
            last = exc
        if isinstance(last, TimeoutError) and loop.time() >= deadline:
            # the budget, not the attempt, ran out
            raise TimeoutError(f"{tool.name} timed out after {budget_s:g}s{_times(sent)}") from last
        if maybe_ran and not _resendable(last):  # refused now, but an earlier one may have run
            raise ToolOutcomeUnknown(f"{_why(tool, last)}{_times(sent)}") from last
        maybe_ran = maybe_ran or _may_have_run(last)
        if not (tool.idempotent and _resendable(last)):
            raise last
        hint = last.retry_after if isinstance(last, ToolError) else None
        delay = min(policy.max_delay, hint) if hint is not None else policy.delay(sent)
        if sent > tool.retries or loop.time() + delay >= deadline:
            raise _given_up(tool, last, sent, maybe_ran, budget_s) from last
        metrics.child(metrics.TOOL_RESENDS, tool.name).inc()
        await sleep(delay)


def _times(sent: int) -> str:
    return f" (sent {sent} times)" if sent > 1 else ""


def _given_up(
    tool: Tool, last: Exception, sent: int, maybe_ran: bool, budget_s: float
) -> Exception:
    why = f"{_why(tool, last)}{_times(sent)}"
    if sent <= tool.retries:
        why += f"; no time left to send it again within {budget_s:g}s"
    if isinstance(last, TimeoutError):
        return TimeoutError(why)
    if maybe_ran:
        return ToolOutcomeUnknown(why)
    return ToolUnavailable(why)
