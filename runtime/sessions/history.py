"""Conversation history: a window of the newest messages plus a running summary.

The window never starts inside a tool exchange: a cut lands only on a user
message that carries text (a new turn), so a tool call is never separated
from its result.

A summary is planned (`plan`: the cut and the model request), made off the
reply's path by whoever holds the session, and applied (`apply`) to the window
it was planned on: only a summary removes messages from the window's front, and
one is made at a time, so the cut still lands where it was planned. Until it
lands the window may grow past its soft bound, up to `overfull` (twice the
bound), where a turn waits for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtime.models.base import Message, Model, ModelRequest, ToolUseBlock, user_text
from runtime.sanitize import sanitize_for_prompt


def is_turn_start(msg: Message) -> bool:
    return msg.role == "user" and not msg.is_tool_result


def cut_index(messages: Sequence[Message], keep: int) -> int:
    """The first index to keep so that at most `keep` messages remain (if possible).

    The result is always a turn start (or len(messages) when there is no turn
    start at all), so tool calls and results stay together.
    """
    start = max(0, len(messages) - keep)
    for i in range(start, len(messages)):
        if is_turn_start(messages[i]):
            return i
    # No turn starts inside the window: keep the whole latest turn.
    for i in range(len(messages) - 1, -1, -1):
        if is_turn_start(messages[i]):
            return i
    # No turn start anywhere (a loaded tail that begins inside a tool exchange):
    # keep nothing rather than a tool result whose call is missing.
    return len(messages)


class History:
    """The model-facing window of one session."""

    def __init__(
        self, max_messages: int, messages: Sequence[Message] = (), summary: str = ""
    ) -> None:
        self.max_messages = max_messages
        self.messages: list[Message] = list(messages)
        self.summary = summary

    def extend(self, messages: Sequence[Message]) -> None:
        self.messages.extend(messages)

    def needs_compaction(self) -> bool:
        """Compact in chunks (hysteresis) so a long chat summarises rarely."""
        return len(self.messages) > self.max_messages + max(2, self.max_messages // 2)

    def overfull(self) -> bool:
        """Past this a turn must not start before the summary lands (the window
        would outgrow what a reload reads back: `LOAD_FACTOR` times the bound)."""
        return len(self.messages) > 2 * self.max_messages

    def plan(self, model_name: str = "") -> Compaction | None:
        """The summary of the overflow to make, or None when nothing can be cut."""
        idx = cut_index(self.messages, self.max_messages)
        if idx == 0:
            return None
        req = ModelRequest(
            system=(
                "Summarise this conversation in 2-3 sentences, keeping names, "
                f"decisions and open requests. Earlier summary: {self.summary or 'none'}"
            ),
            messages=(user_text(_transcript(self.messages[:idx])),),
            model=model_name,
            max_tokens=300,
            purpose="summary",
        )
        return Compaction(idx, req)

    def apply(self, plan: Compaction, text: str) -> list[Message]:
        """The summary of `plan` made: it replaces the messages it covers (returned)."""
        # Sanitised once here, not on every turn that puts it in the system prompt.
        self.summary = sanitize_for_prompt(text, 600) or self.summary
        dropped = self.messages[: plan.cut]
        self.messages = self.messages[plan.cut :]
        return dropped

    async def compact(self, model: Model, model_name: str = "") -> list[Message]:
        """Summarise the overflow into `summary` now; returns the messages dropped."""
        plan = self.plan(model_name)
        if plan is None:
            return []
        response = await model.complete(plan.request)
        return self.apply(plan, response.text)


LOAD_FACTOR = 3  # a reload reads back up to this many times the window's bound


@dataclass(frozen=True, slots=True)
class Compaction:
    """A summary to make: the window's first `cut` messages, through `request`."""

    cut: int
    request: ModelRequest


def _transcript(messages: Sequence[Message]) -> str:
    lines = []
    for m in messages:
        if m.is_tool_result:
            continue
        calls = [b.name for b in m.content if isinstance(b, ToolUseBlock)]
        text = m.text or ("(used " + ", ".join(calls) + ")" if calls else "")
        if text:
            lines.append(f"{m.role}: {text}")
    return "\n".join(lines)
