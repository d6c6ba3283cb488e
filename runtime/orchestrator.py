"""`BaseOrchestrator`: the tool loop every agent type shares.

model -> tool calls -> results -> model, until the model answers in text.
Per user message it enforces the tier budgets, the session's circuit breaker,
tool timeouts and model retries; T1 tools run at once, T2/T3 become
proposals through the `ProposalPort`. Agent types only supply tools, a
system prompt, a greeting and a config preset.
"""

from __future__ import annotations

import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from functools import cached_property
from typing import Any

import orjson

from runtime.audit import AuditEvent, EventType
from runtime.config.presets import OrchestratorConfig
from runtime.inbound import Inbound
from runtime.proposals.model import Proposal, ProposalStatus, check_dependencies, proposal_event
from runtime.sessions.history import Compaction, History
from runtime.sessions.state import ProposalPort, SessionState, TurnResult, TurnScratch
from runtime.store.data import TenantData, TurnData
from runtime.store.payloads import SessionSnapshot, StepRecord
from runtime.store.protocol import SessionRecord, Store
from runtime.store.tenants import tenant_name

from . import logs, metrics, redact, telemetry, turnlog
from .approval import ApprovalPolicy
from .breaker import OPEN_MESSAGE, CircuitBreaker
from .errors import ToolValidationError, TurnAborted, classify
from .events import Emit, ProposalEvent, TokenEvent, ToolCallEvent
from .models.base import (
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    Plan,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolOutcome,
    ToolResultBlock,
    ToolUseBlock,
    collect,
)
from .principals import SYSTEM, Actor
from .retry import RetryPolicy, retry
from .sanitize import sanitize_for_prompt
from .tiers import Tier, TierCounter, exhausted_message
from .tools import Tool, ToolContext, ToolRegistry, redact_urls, run_tool

CONTEXTS_KEPT = 4096  # tenants' shared prompt contexts per agent (then started afresh)


class BaseOrchestrator(ABC):
    agent: str = ""  # its name in the catalog (the config's [agents.NAME])

    def __init__(
        self,
        config: OrchestratorConfig,
        model: Model,
        clock: Callable[[], float] = time.time,
        retry_policy: RetryPolicy | None = None,
        *,
        name: str = "",
    ) -> None:
        self.config = config
        self.model = model
        self.clock = clock
        self.retry_policy = retry_policy or RetryPolicy(max_attempts=config.max_model_attempts)
        # one copy of each tenant's context, shared by the sessions that cache it
        self._contexts: dict[tuple[str, int], dict[str, str]] = {}
        if name:
            self.agent = name

    # -- what agent types supply -------------------------------------------
    @abstractmethod
    def build_tools(self) -> list[Tool]: ...

    @abstractmethod
    def build_system_prompt(self, context: dict[str, str]) -> str: ...

    @abstractmethod
    def get_greeting(self, context: dict[str, str]) -> str: ...

    async def prompt_context(self, ctx: ToolContext) -> dict[str, str]:
        """The facts `build_system_prompt` and `get_greeting` are given (each value
        is sanitised before use). By default the tenant's name; an agent with data of
        its own reads it here (`ctx.store()`; a read is the turn's snapshot)."""
        return {"tenant_name": ctx.tenant_name}

    async def context_version(self, ctx: ToolContext) -> int:
        """Moves when what `prompt_context` reads changes: the cached context of a
        session is rebuilt then (and at the latest every `context_cache_ttl_ms`)."""
        return 0

    def script(self, text: str, tools: set[str]) -> Plan:
        """The calls the offline ScriptedModel makes for `text` (its `!tools`
        directive works for every agent, and failing a script the words of the
        text pick a tool; an agent may add keywords here)."""
        return []

    def narrate(self, outcome: ToolOutcome) -> str | None:
        """The offline ScriptedModel's sentence for a tool result (None: its own
        short summary)."""
        return None

    def gate(self, tool: str, args: dict[str, object], done: list[ToolOutcome]) -> str | None:
        """Before the ScriptedModel's next planned call, given the results so far:
        None makes the call, a text is said instead and the plan stops."""
        return None

    # -- shared machinery ---------------------------------------------------
    @cached_property
    def tools(self) -> ToolRegistry:
        return ToolRegistry(self.build_tools())

    def new_state(
        self,
        record: SessionRecord,
        snapshot: SessionSnapshot | None = None,
        messages: list[Message] | None = None,
    ) -> SessionState:
        breaker = CircuitBreaker(
            self.config.breaker_threshold, self.config.breaker_reset_ms / 1000, clock=self.clock
        )
        history = History(self.config.max_history_messages, messages or [])
        state = SessionState(record, history, breaker)
        if snapshot:
            state.history.summary = str(snapshot.get("summary", ""))
            breaker.restore(snapshot.get("breaker", {}))
            breaker.take_changes()  # restoring is not a transition of this turn
            state.pending_t2 = frozenset(snapshot.get("pending_t2", ()))
            state.last_usage = dict(snapshot.get("last_usage", state.last_usage))
            state.recent = dict(snapshot.get("recent", {}))
            state.turns = int(snapshot.get("turns", 0))
        return state

    async def context(self, state: SessionState, ctx: ToolContext) -> dict[str, str]:
        """The prompt context: cached per session (TTL) until its version moves, and
        sanitised (every field a tenant or user wrote goes through one sanitiser)."""
        now_ms = self.clock() * 1000
        version = await self.context_version(ctx)
        fresh = now_ms - state.context_at < self.config.context_cache_ttl_ms
        if state.context is not None and fresh and version == state.context_version:
            return state.context
        raw = await self.prompt_context(ctx)
        made = {k: sanitize_for_prompt(v) for k, v in raw.items()}
        key = (ctx.tenant_id, version)
        shared = self._contexts.get(key)
        if shared != made:  # new, or changed within a version: this one is the copy now
            if len(self._contexts) >= CONTEXTS_KEPT:
                self._contexts.clear()
            shared = self._contexts[key] = made
        state.context = shared
        state.context_at, state.context_version = now_ms, version
        return state.context

    def tool_context(
        self, rec: SessionRecord, data: TenantData, tenant_name: str, key: str | None = None
    ) -> ToolContext:
        return ToolContext(
            tenant_id=rec.tenant_id,
            session_id=rec.session_id,
            subject=rec.subject,
            agent=self.agent,
            tenant_name=tenant_name,
            idempotency_key=key,
            data=data,
        )

    async def run_turn(
        self,
        state: SessionState,
        msg: Inbound,
        store: Store,
        proposals: ProposalPort,
        *,
        emit: Emit | None = None,
    ) -> TurnResult:
        """One user message. `msg.received_ns` (wall-clock ns) is when the message was
        received: it soft-confirms only proposals shown before that. `emit`, when
        given, receives the turn's events as they happen (a streaming client)."""
        if not telemetry.enabled():
            return await self._run_turn(state, msg, store, proposals, emit)
        rec = state.record
        attrs = {
            telemetry.OPERATION: "invoke_agent",
            telemetry.AGENT: self.agent,
            telemetry.REQUEST_MODEL: self.config.model,
            telemetry.TENANT: rec.tenant_id,
            telemetry.SESSION: rec.session_id,
        }
        if telemetry.capture_content():
            attrs[telemetry.INPUT_MESSAGES] = telemetry.content(
                [{"role": "user", "parts": [{"type": "text", "content": msg.text}]}]
            )
        with telemetry.span(f"invoke_agent {self.agent}", attrs) as span:
            result = await self._run_turn(state, msg, store, proposals, emit)
            limits = self.config.recursion_budget
            for tier in Tier:
                left = max(0, limits.limit(tier) - result.usage[tier.value])
                span.set_attribute(telemetry.BUDGET_LEFT + tier.value, left)
            span.set_attribute(telemetry.BREAKER, state.breaker.current().value)
            span.set_attribute(telemetry.OUTCOME, "ok")
            steps = result.record["steps"] if result.record else []
            tokens_in = sum(_count(x, "input_tokens") for x in steps)
            tokens_out = sum(_count(x, "output_tokens") for x in steps)
            span.set_attribute(telemetry.INPUT_TOKENS, tokens_in)
            span.set_attribute(telemetry.OUTPUT_TOKENS, tokens_out)
            if telemetry.capture_content():
                span.set_attribute(
                    telemetry.OUTPUT_MESSAGES,
                    telemetry.content(
                        [
                            {
                                "role": "assistant",
                                "parts": [{"type": "text", "content": result.reply}],
                            }
                        ]
                    ),
                )
            return result

    async def _run_turn(
        self,
        state: SessionState,
        msg: Inbound,
        store: Store,
        proposals: ProposalPort,
        emit: Emit | None,
    ) -> TurnResult:
        text, sender = msg.text, msg.sender
        started = time.perf_counter()
        now = self.clock()
        rec = state.record
        turn = TurnScratch(
            state, TierCounter(self.config.recursion_budget), now, emit, sender=sender
        )
        turn.audit.append(
            {**_event(rec, "message", now, sender), "role": "user", "chars": len(text)}
        )
        metrics.child(metrics.MESSAGES, self.agent).inc()

        if state.pending_t2:  # T1-only sessions never touch the registry here
            t0 = time.perf_counter()
            decided = await proposals.on_user_message(msg.received(), now)
            asked_ms = (time.perf_counter() - t0) * 1000
            for p in decided:
                step = turnlog.proposal_step(now, p)
                step["ms"], asked_ms = round(asked_ms, 3), 0.0  # the registry's call, once
                turn.steps.append(step)
                turn.proposals[p.proposal_id] = p
                turn.send(ProposalEvent(p.public(sender)))
                if p.status is not ProposalStatus.PENDING:
                    state.pending_t2 = state.pending_t2 - {p.proposal_id}
                if p.status is ProposalStatus.EXECUTED:
                    state.context = None  # our own write: rebuild the context
                if p.awaiting:
                    turn.awaiting.append(p)
                if p.status is ProposalStatus.REJECTED and p.error_kind == "superseded":
                    turn.superseded.append(p)

        # The turn's tools share one view of the tenant's data (a document read once
        # is served from that read), and so does the prompt context.
        turn.ctx = self.tool_context(
            rec, TurnData(store, rec.tenant_id), await tenant_name(store, rec.tenant_id)
        )
        context = await self.context(state, turn.ctx)
        system = self.build_system_prompt(context) + _pending_note(turn)
        if state.history.summary:
            system += "\n\nEarlier in this conversation: " + state.history.summary
        new: list[Message] = [Message("user", (TextBlock(text),), at=now)]
        reply = await self._loop(turn, system, new, store)
        # Asked again, naming the action, after the answer (DESIGN.md "Soft confirm").
        ask = [ask_again(p) for p in turn.awaiting if p.proposal_id in state.pending_t2]
        self._drain_breaker(turn)
        # The reply holds the text the model wrote before its tool calls too: it is
        # kept once, in the turn's last message, not also beside the tool uses.
        new = [_tool_uses_only(m) for m in new]

        notices = [exhausted_message(t) for t in turn.exhausted] + (
            [OPEN_MESSAGE] if turn.breaker_blocked else []
        )
        # each notice once: not again when the model already said it
        final = " ".join([n for n in notices if n not in reply] + ([reply] if reply else []) + ask)
        new.append(Message("assistant", (TextBlock(final),), at=self.clock()))
        said = _event(rec, "message", self.clock(), SYSTEM)
        turn.audit.append({**said, "role": "assistant", "chars": len(final)})
        state.history.extend(new)  # a summary, if due, is made after the reply (SessionCore)
        usage = turn.counter.usage()
        state.last_usage = usage
        limits = self.config.recursion_budget
        turn.steps.append(
            turnlog.budget_step(self.clock(), usage, {t.value: limits.limit(t) for t in Tier})
        )
        state.turns += 1
        record = turnlog.finish(
            state.turns,
            msg.message_id,
            now,
            (time.perf_counter() - started) * 1000,
            self.agent,
            turn.steps,
            state.breaker.current().value,
        )
        for tier in Tier:
            depth = metrics.child(metrics.RECURSION_DEPTH, self.agent, tier.value)
            depth.observe(usage[tier.value])
        took = (time.perf_counter() - started) * 1000
        metrics.child(metrics.CHAT_DURATION, self.agent).observe(took)
        logs.event(
            "turn",
            tenant_id=rec.tenant_id,
            session_id=rec.session_id,
            agent=self.agent,
            ms=logs.now_ms(started),
            usage=usage,
            tools=[f"{c['tool']}:{c['status']}" for c in turn.calls],
            proposals=[f"{p.proposal_id}:{p.status.value}" for p in turn.proposals.values()],
        )
        created = [turn.proposals[pid] for pid in turn.written]
        return TurnResult(
            final,
            list(turn.proposals.values()),
            turn.calls,
            usage,
            new,
            turn.audit,
            created,
            sender=sender,
            record=record,
        )

    def commit(self, result: TurnResult, at: float, shown_ns: int) -> TurnResult:
        """The turn is about to be saved at `at`: its proposals become real now, and a
        T2's soft-confirm window starts now (not when the turn started)."""
        if not result.created:
            return result
        window = self.config.soft_confirm_window_ms / 1000
        final: dict[str, Proposal] = {}
        for p in result.created:
            expires = at + window if p.tier is Tier.T2 else None
            final[p.proposal_id] = p.model_copy(
                update={"expires_at": expires, "shown_ns": shown_ns, "updated_at": at}
            )
        check_dependencies(
            result.created[0].tenant_id,
            result.created[0].session_id,
            [d for p in final.values() for d in p.depends_on],
            final,
        )
        audit = [proposal_event(p, None, at, p.requested_by) for p in final.values()]
        return replace(
            result,
            proposals=[final.get(p.proposal_id, p) for p in result.proposals],
            created=list(final.values()),
            audit=result.audit + audit,
        )

    async def _loop(self, turn: TurnScratch, system: str, new: list[Message], store: Store) -> str:
        """The model's turn: it answers, calls tools, answers again... The reply is all
        the text it wrote, in order (what the `token` events streamed), also the text
        it wrote before a tool call."""
        said: list[str] = []
        budget = self.config.recursion_budget
        max_steps = budget.T1 + budget.T2 + budget.T3 + 3
        for _ in range(max_steps):
            try:
                response = await self._complete(turn, system, turn.state.history.messages + new)
            except TurnAborted:
                raise
            except Exception as exc:
                cls = classify(exc)
                metrics.child(metrics.ERRORS, self.agent, cls.value).inc()
                sorry = (
                    f"Sorry, I couldn't reach my language model ({cls.value}). Please try again."
                )
                return _then("".join(said), sorry)
            said.append(response.text)
            uses = response.tool_uses
            if not uses:
                return "".join(said)
            new.append(Message("assistant", response.content, at=self.clock()))
            results = [await self._call(turn, use, store) for use in uses]
            new.append(Message("user", tuple(results), at=self.clock()))
        return _then("".join(said), "I stopped here because this request needed too many steps.")

    async def _complete(
        self, turn: TurnScratch, system: str, messages: list[Message]
    ) -> ModelResponse:
        """One model call, streamed: text deltas go to the client as they come.

        A failure before this call's first delta reached the client is retried
        (classifier, backoff); after it, retrying would send the client text twice,
        so the turn is aborted (`TurnAborted`) and nothing of it is saved.
        """
        req = ModelRequest(
            system=system,
            messages=tuple(messages),
            tools=self.tools.specs(),
            model=self.config.model,
            max_tokens=self.config.max_tokens,
            temperature=self.config.temperature,
            script=self._script_for(turn),
            narrate=self.narrate,
            gate=self.gate,
        )
        sent = False

        async def attempt() -> ModelResponse:
            nonlocal sent
            if turn.emit is None:
                return await self.model.complete(req)

            async def forwarded() -> AsyncIterator[StreamEvent]:
                nonlocal sent
                async for event in self.model.stream(req):
                    if isinstance(event, TextDelta) and event.text:
                        turn.send(TokenEvent(event.text))
                        sent = True
                    yield event

            try:
                return await collect(forwarded())
            except Exception as exc:
                if sent:
                    raise TurnAborted(
                        f"the model failed in the middle of its answer ({classify(exc).value})"
                    ) from exc
                raise

        def on_retry(exc: BaseException, attempt: int, delay: float) -> None:
            metrics.child(metrics.RETRIES, classify(exc).value).inc()

        t0, at = time.perf_counter(), self.clock()
        name = self.model.name
        try:
            if telemetry.enabled():
                response = await self._traced_model_call(attempt, on_retry)
            else:
                response = await retry(attempt, self.retry_policy, on_retry=on_retry)
        except Exception as exc:
            ms = (time.perf_counter() - t0) * 1000
            turn.steps.append(turnlog.model_error_step(at, ms, name, classify(exc).value))
            raise
        ms = (time.perf_counter() - t0) * 1000
        turn.steps.append(
            turnlog.model_step(
                at,
                ms,
                name,
                response.usage.input_tokens,
                response.usage.output_tokens,
                len(response.tool_uses),
            )
        )
        metrics.child(metrics.MODEL_LATENCY, name).observe(ms)
        if response.usage.input_tokens or response.usage.output_tokens:
            metrics.child(metrics.MODEL_TOKENS, name, "input").inc(response.usage.input_tokens)
            metrics.child(metrics.MODEL_TOKENS, name, "output").inc(response.usage.output_tokens)
        return response

    async def summarise(self, plan: Compaction) -> str:
        """The summary's model call, off the reply's path: retried, timed and
        counted like a turn's, its failure counted by class (and raised)."""

        def on_retry(exc: BaseException, attempt: int, delay: float) -> None:
            metrics.child(metrics.RETRIES, classify(exc).value).inc()

        t0 = time.perf_counter()
        try:
            response = await retry(
                lambda: self.model.complete(plan.request), self.retry_policy, on_retry=on_retry
            )
        except Exception as exc:
            metrics.child(metrics.ERRORS, self.agent, classify(exc).value).inc()
            raise
        name = self.model.name
        metrics.child(metrics.MODEL_LATENCY, name).observe((time.perf_counter() - t0) * 1000)
        if response.usage.input_tokens or response.usage.output_tokens:
            metrics.child(metrics.MODEL_TOKENS, name, "input").inc(response.usage.input_tokens)
            metrics.child(metrics.MODEL_TOKENS, name, "output").inc(response.usage.output_tokens)
        return response.text

    async def _traced_model_call(
        self,
        attempt: Callable[[], Any],
        on_retry: Callable[[BaseException, int, float], None],
    ) -> ModelResponse:
        attrs = {
            telemetry.OPERATION: "chat",
            telemetry.REQUEST_MODEL: self.config.model,
            telemetry.AGENT: self.agent,
        }
        with telemetry.span(f"chat {self.config.model}", attrs, kind=telemetry.CLIENT) as span:
            response: ModelResponse = await retry(attempt, self.retry_policy, on_retry=on_retry)
            span.set_attribute(telemetry.INPUT_TOKENS, response.usage.input_tokens)
            span.set_attribute(telemetry.OUTPUT_TOKENS, response.usage.output_tokens)
            return response

    async def _call(self, turn: TurnScratch, use: ToolUseBlock, store: Store) -> ToolResultBlock:
        if not telemetry.enabled():
            return await self._call_untraced(turn, use, store)
        tool = self.tools.get(use.name)
        attrs = {
            telemetry.OPERATION: "execute_tool",
            telemetry.TOOL_NAME: use.name,
            telemetry.TOOL_CALL_ID: use.id,
            telemetry.TIER: tool.tier.value if tool else "T1",
        }
        if telemetry.capture_content():
            attrs[telemetry.TOOL_ARGUMENTS] = telemetry.content(use.input)
        with telemetry.span(f"execute_tool {use.name}", attrs) as span:
            block = await self._call_untraced(turn, use, store)
            none: StepRecord = {}
            step = next((x for x in reversed(turn.steps) if x["kind"] == "tool"), none)
            span.set_attribute(telemetry.OUTCOME, str(step.get("status", "")))
            if "proposal_id" in step:
                span.set_attribute(telemetry.PROPOSAL_ID, str(step["proposal_id"]))
                span.set_attribute(telemetry.PROPOSAL_STATUS, "PENDING")
            span.set_attribute(telemetry.BREAKER, turn.state.breaker.current().value)
            if telemetry.capture_content():
                span.set_attribute(telemetry.TOOL_RESULT, telemetry.content(block.content))
            return block

    async def _call_untraced(
        self, turn: TurnScratch, use: ToolUseBlock, store: Store
    ) -> ToolResultBlock:
        tool = self.tools.get(use.name)
        if tool is None:
            return self._record(turn, use, None, "unknown", f"No tool named {use.name}.", True)
        if not turn.counter.try_take(tool.tier):
            if tool.tier not in turn.exhausted:
                turn.exhausted.append(tool.tier)
            return self._record(turn, use, tool, "exhausted", exhausted_message(tool.tier), True)
        try:
            args = tool.parse(use.input)
        except ToolValidationError as exc:
            return self._record(turn, use, tool, "invalid", str(exc), True)
        if tool.tier is not Tier.T1:
            return await self._propose(turn, use, tool, args, tool.describe(args))
        breaker = turn.state.breaker
        if not breaker.allow():
            turn.breaker_blocked = True
            return self._record(turn, use, tool, "breaker_open", OPEN_MESSAGE, True)
        assert turn.ctx is not None
        timeout = self.config.executor_timeout_ms / 1000
        turn.send(ToolCallEvent(tool.name, tool.tier.value, "started"))
        t0 = time.perf_counter()
        status, content, is_error, why = "ok", "", False, ""
        try:
            result = await run_tool(tool, turn.ctx, args, timeout)  # capped, re-sent if idempotent
            # text stays text (an MCP tool's, an endpoint's): JSON only for the rest
            content = result if isinstance(result, str) else _json(result)
            breaker.record_success()
        except TimeoutError:
            status, is_error = "timeout", True
            content = f"{tool.name} timed out after {timeout:g}s."
            breaker.record_failure()
        except ToolValidationError as exc:  # bad input, not a broken tool
            status, content, is_error = "invalid", str(exc), True
            breaker.record_neutral()
        except Exception as exc:
            status, is_error = "error", True
            why = redact.reason(exc, scrub=redact_urls)
            content = f"{tool.name} failed: {why}"
            breaker.record_failure()
            metrics.child(metrics.ERRORS, self.agent, classify(exc).value).inc()
            rec = turn.state.record
            logs.tool_failed(
                exc, tool.name, tool.tier.value, rec.tenant_id, rec.session_id, scrub=redact_urls
            )
        ms = (time.perf_counter() - t0) * 1000
        metrics.child(metrics.TOOL_DURATION, tool.tier.value, tool.name, status).observe(ms)
        return self._record(turn, use, tool, status, content, is_error, ms=ms, reason=why)

    async def _propose(
        self,
        turn: TurnScratch,
        use: ToolUseBlock,
        tool: Tool,
        args: dict[str, object],
        preview: str,
    ) -> ToolResultBlock:
        """A draft: it exists for nobody until the turn is saved (`commit`)."""
        rec = turn.state.record
        proposal = Proposal(
            proposal_id="p_" + uuid.uuid4().hex[:16],
            tenant_id=rec.tenant_id,
            session_id=rec.session_id,
            agent=self.agent,
            subject=rec.subject,
            tool=tool.name,
            tier=tool.tier,
            args=args,
            preview=preview,
            depends_on=tuple(turn.written),  # writes of one message run in order
            created_at=turn.now,
            updated_at=turn.now,
            requested_by=turn.sender,
            policy=self.approval_policy(tool),
        )
        turn.proposals[proposal.proposal_id] = proposal
        turn.written.append(proposal.proposal_id)
        if tool.tier is Tier.T2:
            turn.state.pending_t2 = turn.state.pending_t2 | {proposal.proposal_id}
            how = "It runs when the user answers yes; a no or a correction drops it."
        else:
            how = "Waiting for your confirmation."
        # (its `proposal` event goes out when the turn's save creates it)
        block = self._record(
            turn,
            use,
            tool,
            "proposed",
            f"Proposed: {preview}. {how}",
            False,
            proposal_id=proposal.proposal_id,
        )
        turn.steps.append(
            turnlog.proposal_step(turnlog.step_at(turn.steps[-1]), proposal, "proposed")
        )
        return block

    def approval_policy(self, tool: Tool) -> ApprovalPolicy:
        """Who may approve a call of `tool`: its own policy, else its tier's."""
        if tool.approval is not None:
            return tool.approval
        return self.config.approval.T3 if tool.tier is Tier.T3 else self.config.approval.T2

    def _record(
        self,
        turn: TurnScratch,
        use: ToolUseBlock,
        tool: Tool | None,
        status: str,
        content: str,
        is_error: bool,
        *,
        ms: float = 0.0,
        proposal_id: str | None = None,
        reason: str = "",
    ) -> ToolResultBlock:
        tier = tool.tier if tool else Tier.T1
        at = self.clock()
        turn.steps.append(
            turnlog.tool_step(
                at - ms / 1000,
                ms,
                use.name,
                tier,
                use.id,
                status,
                use.input,
                content,
                is_error,
                proposal_id,
                output_is_json=status == "ok",  # a result: the JSON the model was given
            )
        )
        turn.calls.append({"tool": use.name, "tier": tier.value, "status": status})
        turn.send(ToolCallEvent.ended(use.name, tier.value, status))
        called = _event(turn.state.record, "tool_call", self.clock(), turn.sender or SYSTEM)
        event: AuditEvent = {**called, "tool": use.name, "tier": tier.value, "status": status}
        if reason:
            event["reason"] = reason
        turn.audit.append(event)
        return ToolResultBlock(use.id, content, is_error)

    def revise(self, superseded: Proposal, text: str) -> Plan:
        """The offline ScriptedModel's plan for a correction of `superseded` ("change it
        to 60 dollars"): the same tool with its number (its one numeric argument, or
        its price) replaced by the message's. An agent may override it."""
        number = re.search(r"\d+(?:\.\d+)?", text)
        numeric = [k for k, v in superseded.args.items() if isinstance(v, int | float)]
        if len(numeric) > 1:
            numeric = [k for k in numeric if k in ("price", "amount", "cost", "total")]
        if number is None or len(numeric) != 1:
            return []
        value = float(number.group(0))
        old = superseded.args[numeric[0]]
        new_value = int(value) if isinstance(old, int) and value.is_integer() else value
        return [(superseded.tool, {**superseded.args, numeric[0]: new_value})]

    def _script_for(self, turn: TurnScratch) -> Callable[[str, set[str]], Plan]:
        if not turn.superseded:
            return self.script
        superseded = turn.superseded

        def script(text: str, tools: set[str]) -> Plan:
            plan = self.script(text, tools)
            if plan:
                return plan
            return [c for p in superseded for c in self.revise(p, text) if c[0] in tools]

        return script

    def _drain_breaker(self, turn: TurnScratch) -> None:
        for old, new, at in turn.state.breaker.take_changes():
            metrics.child(metrics.BREAKER_CHANGES, new.value).inc()
            turn.steps.append(turnlog.breaker_step(at, old.value, new.value))
            changed = _event(turn.state.record, "breaker", at, SYSTEM)
            turn.audit.append({**changed, "from": old.value, "to": new.value})


def _event(rec: SessionRecord, kind: EventType, at: float, by: Actor) -> AuditEvent:
    """What every audit event of the session has; its type adds its own fields."""
    return {
        "type": kind,
        "at": at,
        "session_id": rec.session_id,
        "tenant_id": rec.tenant_id,
        "by": by,
    }


def _count(step: StepRecord, field: str) -> int:
    """A step's integer field (a model step's token counts), 0 where it has none."""
    n = step.get(field, 0)
    return n if isinstance(n, int) else 0


def ask_again(p: Proposal) -> str:
    """The question a reply ends with while `p` waits for a clear answer."""
    return f"Shall I go ahead with {p.preview}? Reply yes or no."


def _pending_note(turn: TurnScratch) -> str:
    """What the model is told of proposals this message did not settle."""
    notes = []
    for p in turn.superseded:
        notes.append(
            f"The user corrected the proposed {p.preview}: it was dropped; propose the "
            "corrected action."
        )
    for p in turn.awaiting:
        notes.append(
            f"Still waiting for a clear yes or no: {p.preview}. Answer the user's "
            "message; do not propose it again."
        )
    return "\n\n" + "\n".join(notes) if notes else ""


def _json(result: object) -> str:
    return orjson.dumps(result, default=str).decode()


def _then(said: str, note: str) -> str:
    """The model's text, then a note of ours (not streamed) after a space."""
    return f"{said} {note}" if said else note


def _tool_uses_only(msg: Message) -> Message:
    """An assistant message that called tools, without its text (the reply has it)."""
    if msg.role != "assistant" or not msg.tool_uses or not msg.text:
        return msg
    return Message("assistant", msg.tool_uses, at=msg.at)
