"""`ScriptedModel`: a deterministic, offline model that behaves like a real one.

It plans tool calls from the user's latest text: an explicit directive

    !tools lookup*3; refund {"order_id": "o-1"}

calls any tool by name, exactly as written (so every tool source is testable
offline); otherwise the agent's own script (`ModelRequest.script`: a
`Planner` of keywords, or a declared agent's `[[agents.NAME.script]]` rules)
may propose calls, and failing that the words of the text pick one of the
agent's tools and fill its arguments (`understand`). It runs one planned call
per response (`ModelRequest.gate` may stop a plan after a result), then answers
with the results in short sentences (`ModelRequest.narrate`, else
`phrasing.summarise`): never a JSON dump. It reports words as tokens (`usage`).

Like a real model it takes time and streams: `latency_s` before each call,
`ttft_s` before the first token, then `tokens_per_s` (0: all at once). With
`sigma` > 0 each delay is drawn lognormally around its median (seeded, so a
run is reproducible). A directive is bounded (`MAX_CALLS`, `MAX_DIRECTIVE`
characters): a bad one is answered with a clear message, not a stall.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from collections.abc import AsyncIterator
from functools import lru_cache

from .base import (
    Message,
    ModelRequest,
    ModelResponse,
    Narrator,
    Plan,
    StreamEnd,
    StreamEvent,
    TextBlock,
    TextDelta,
    ToolOutcome,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
    collect,
)
from .phrasing import join_lines, summarise
from .understand import Understood, understand

MAX_CALLS = 50  # per directive
MAX_DIRECTIVE = 4096  # characters
_WORDS = re.compile(r"\S+\s*|\s+")


class DirectiveError(ValueError):
    pass


def directive(text: str) -> Plan:
    """`!tools name*N {json}; ...` -> the calls, bounded in count and size."""
    if len(text) > MAX_DIRECTIVE:
        raise DirectiveError(f"a !tools directive is at most {MAX_DIRECTIVE} characters")
    plan: Plan = []
    for item in text[len("!tools") :].split(";"):
        item = item.strip()
        if not item:
            continue
        name, _, rest = item.partition(" ")
        name, _, times = name.partition("*")
        if times and not (times.isascii() and times.isdigit()):  # 0-9 only (not ², ٣)
            raise DirectiveError(f"{name}*{times}: the count must be a whole number")
        count = int(times or 1)
        if len(plan) + count > MAX_CALLS:
            raise DirectiveError(f"a !tools directive makes at most {MAX_CALLS} calls")
        try:
            args = json.loads(rest) if rest.strip() else {}
        except json.JSONDecodeError as exc:
            raise DirectiveError(f"{name}: the arguments are not JSON ({exc.msg})") from exc
        if not isinstance(args, dict):
            raise DirectiveError(f"{name}: the arguments must be a JSON object")
        plan.extend((name, dict(args)) for _ in range(count))
    return plan


def _since_prompt(messages: tuple[Message, ...]) -> tuple[str, list[ToolOutcome], int]:
    """The latest user text, the tool calls after it with their results, and how
    many calls were made."""
    uses: dict[str, ToolUseBlock] = {}
    results: list[ToolResultBlock] = []
    calls = 0
    prompt = ""
    for msg in reversed(messages):
        if msg.role == "assistant":
            calls += len(msg.tool_uses)
            uses.update((u.id, u) for u in msg.tool_uses)
        elif msg.is_tool_result:
            results = [b for b in msg.content if isinstance(b, ToolResultBlock)] + results
        else:
            prompt = msg.text
            break
    outcomes = []
    for r in results:
        use = uses.get(r.tool_use_id)
        name, args = (use.name, dict(use.input)) if use is not None else ("", {})
        outcomes.append(ToolOutcome(name, args, r.content, r.is_error))
    return prompt, outcomes, calls


def _answer(
    prompt: str, outcomes: list[ToolOutcome], narrate: Narrator | None, note: str = ""
) -> str:
    if not outcomes:
        if note:
            return note
        if not prompt.strip():
            return "How can I help?"
        return "Got it. Ask me anything, or tell me what you'd like to change."
    lines = [(narrate(o) if narrate is not None else None) or summarise(o) for o in outcomes]
    return join_lines(lines + ([note] if note else []))


def _note(understood: Understood) -> str:
    """What to say when the text names a tool but not all it needs, or several tools."""
    if understood.missing:
        needs = " and ".join(m.replace("_", " ") for m in understood.missing)
        return f"I can do that with {understood.tool}, but I need the {needs}."
    if understood.ambiguous:
        return f"Which one do you mean: {', '.join(understood.ambiguous)}?"
    return ""


def _names(request: ModelRequest) -> set[str]:
    return {t.name for t in request.tools}


@lru_cache(maxsize=8192)
def _words(text: str) -> int:
    """How many words `text` holds (cached: a history's texts recur in every request)."""
    return len(text.split())


def usage(request: ModelRequest, said: str) -> Usage:
    """Words as tokens: what the request holds in, what the answer says out."""
    n = _words(request.system) + sum(msg.words() for msg in request.messages)
    return Usage(input_tokens=n, output_tokens=len(said.split()))


class ScriptedModel:
    name = "scripted"

    def __init__(
        self,
        latency_s: float = 0.0,
        *,
        ttft_s: float = 0.0,
        tokens_per_s: float = 0.0,
        sigma: float = 0.0,
        seed: int = 7,
    ) -> None:
        self.latency_s = latency_s
        self.ttft_s = ttft_s
        self.tokens_per_s = tokens_per_s
        self.sigma = sigma
        self._rng = random.Random(seed)

    def _draw(self, median: float) -> float:
        if median <= 0:
            return 0.0
        return median * math.exp(self._rng.gauss(0.0, self.sigma)) if self.sigma else median

    def delay(self) -> float:
        """The wait before a call's first token: `latency_s` and `ttft_s`, each drawn
        anew (lognormal around its median with `sigma`; fixed when it is 0). Every
        call of `stream` or `complete` draws one, in call order."""
        return self._draw(self.latency_s) + self._draw(self.ttft_s)

    def _reply(self, request: ModelRequest) -> tuple[str, ToolUseBlock | None]:
        if request.purpose == "summary":
            texts = [m.text for m in request.messages if m.role == "user" and m.text]
            return "Earlier: " + " | ".join(texts)[-400:], None
        prompt, outcomes, calls = _since_prompt(request.messages)
        try:
            plan, note = self._plan(prompt, request)
        except DirectiveError as exc:
            return f"I can't run that directive: {exc}.", None
        exact = prompt.strip().startswith("!tools")  # a directive calls exactly what it says
        if calls < len(plan):
            name, args = plan[calls]
            gate = None if exact or not calls else request.gate
            said = gate(name, args, outcomes) if gate is not None else None
            if said is None:
                use_id = f"tu_{len(request.messages)}_{calls}"
                return "", ToolUseBlock(id=use_id, name=name, input=args)
            note = said
        return _answer(prompt, outcomes, request.narrate, note), None

    def plan(self, text: str, tools: set[str], request: ModelRequest) -> Plan:
        """The calls for `text`: a `!tools` directive as written, else the agent's
        script, else the one tool its words name (`understand`), if any."""
        return self._plan(text, request, tools)[0]

    def _plan(
        self, text: str, request: ModelRequest, tools: set[str] | None = None
    ) -> tuple[Plan, str]:
        """The plan, and what to say when the words name a tool but not all it needs."""
        raw = text.strip()
        if raw.startswith("!tools"):
            return directive(raw), ""
        if request.script is not None:
            planned = request.script(raw, tools if tools is not None else _names(request))
            if planned:
                return planned, ""
        understood = understand(raw, request.tools)
        return understood.plan, "" if understood.plan else _note(understood)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        delay = self.delay()
        if delay:
            await asyncio.sleep(delay)
        text, use = self._reply(request)
        if use is not None:
            yield use
            yield StreamEnd("tool_use", usage(request, f"{use.name} {json.dumps(use.input)}"))
            return
        gap = 1.0 / self.tokens_per_s if self.tokens_per_s > 0 else 0.0
        for i, word in enumerate(_WORDS.findall(text)):
            if gap and i:
                await asyncio.sleep(gap)
            yield TextDelta(word)
        yield StreamEnd(usage=usage(request, text))

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if self.tokens_per_s > 0:  # paced: as long as the stream takes
            return await collect(self.stream(request))
        delay = self.delay()
        if delay:
            await asyncio.sleep(delay)
        text, use = self._reply(request)  # what `stream` would yield, collected
        if use is not None:
            spent = usage(request, f"{use.name} {json.dumps(use.input)}")
            return ModelResponse((use,), stop_reason="tool_use", usage=spent)
        return ModelResponse((TextBlock(text),) if text else (), usage=usage(request, text))
